//! `margintop bench --replay FILE`: where the time of `report --replay
//! --json` goes, phase by phase, on one core. Each phase is timed on its
//! own over the same recording, best of `repeat` runs.

use crate::engine::{Desk, Ingest};
use crate::exchange::deribit::hot;
use crate::exchange::recording::RecordLine;
use crate::margin::account::value_account;
use crate::margin::book::PreparedModel;
use crate::margin::liquidation::joint_distances;
use crate::margin::stress::{
    desk_stress_results, parse_scenarios, StressScenario, BUILTIN_SCENARIOS,
};
use crate::report::{build_report, Freshness, ReportOptions, Thresholds};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The phases' times (best of the runs).
#[derive(Clone, Debug, Default)]
pub struct Breakdown {
    pub lines: usize,
    pub bytes: usize,
    pub accounts: usize,
    /// Every line read as the replay reads it: tickers and index ticks
    /// straight to their events, the rest through a `serde_json::Value`.
    pub parse: Duration,
    /// Every line to a `serde_json::Value` (how every line was read before
    /// the fast path), for comparison.
    pub value_parse: Duration,
    /// Every line through the engine: parse, validate, apply, revalue.
    pub ingest: Duration,
    /// The report, as `report --replay` builds it (all of the below).
    pub report: Duration,
    /// Reading the file into lines (best of the runs).
    pub read: Duration,
    /// Ingest, report and JSON again, on every core (the fastest run), and
    /// the number of cores.
    pub all_cores: AllCores,
    pub cores: usize,
    /// Of the report: each account's margin alone ...
    pub margin: Duration,
    /// ... its stress scenarios ...
    pub stress: Duration,
    /// ... and the desk's liquidation distances (joint moves).
    pub liquidation: Duration,
    /// The report to pretty JSON.
    pub json: Duration,
}

/// One run of ingest, report and JSON on every core, phase by phase.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllCores {
    pub ingest: Duration,
    pub report: Duration,
    pub json: Duration,
}

impl AllCores {
    pub fn total(&self) -> Duration {
        self.ingest + self.report + self.json
    }
}

impl Breakdown {
    /// Ingest, report and JSON: the work of `report --replay --json` after
    /// reading the file.
    pub fn total(&self) -> Duration {
        self.ingest + self.report + self.json
    }
}

impl std::fmt::Display for Breakdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let total = ms(self.total());
        let share = |d: Duration| 100.0 * ms(d) / total;
        writeln!(
            f,
            "recording: {} lines, {:.1} MB, {} accounts; one core, best of the runs",
            self.lines,
            self.bytes as f64 / 1e6,
            self.accounts
        )?;
        writeln!(
            f,
            "report --replay --json      {:>9.1} ms  (ingest + report + json)",
            total
        )?;
        let mb_s = |d: Duration| format!("{:.0} MB/s", self.bytes as f64 / 1e6 / d.as_secs_f64());
        let rows = [
            ("ingest", self.ingest, mb_s(self.ingest)),
            ("  of which JSON parsing", self.parse, mb_s(self.parse)),
            (
                "  (all lines as Value)",
                self.value_parse,
                mb_s(self.value_parse),
            ),
            ("report", self.report, String::new()),
            ("  margin", self.margin, String::new()),
            ("  stress", self.stress, String::new()),
            ("  liquidation", self.liquidation, String::new()),
            ("json", self.json, String::new()),
        ];
        let a = self.all_cores;
        let cores = format!("all of it on {} cores", self.cores);
        let file = format!("reading and all, {} cores", self.cores);
        let rows = [
            &rows[..],
            &[
                (cores.as_str(), a.total(), String::new()),
                ("  ingest", a.ingest, mb_s(a.ingest)),
                ("  report", a.report, String::new()),
                ("  json", a.json, String::new()),
                ("reading the file", self.read, mb_s(self.read)),
                (file.as_str(), self.read + a.total(), String::new()),
            ],
        ]
        .concat();
        for (name, d, note) in rows {
            writeln!(
                f,
                "  {name:<25} {:>9.1} ms {:>5.1} %  {note}",
                ms(d),
                share(d)
            )?;
        }
        Ok(())
    }
}

/// Time each phase of replaying `lines` into a report, best of `repeat`,
/// on one core; then the report again on every core. `read` is the time
/// reading the file took.
pub fn run(lines: &[String], repeat: usize, read: Duration) -> Result<Breakdown, String> {
    let cores = crate::parallel::threads();
    crate::parallel::set_threads(1);
    let b = phases(lines, repeat);
    crate::parallel::set_threads(0);
    let mut b = b?;
    b.cores = cores;
    b.read = read;
    b.all_cores = all_cores(lines, repeat)?;
    Ok(b)
}

/// Ingest, report and JSON on every core: the fastest of `repeat` runs.
fn all_cores(lines: &[String], repeat: usize) -> Result<AllCores, String> {
    let models = crate::margin::config::load_models(None).map_err(|e| e.to_string())?;
    let scenarios = parse_scenarios(BUILTIN_SCENARIOS, "built-in scenarios")?;
    let opts = ReportOptions {
        scenarios: &scenarios,
        thresholds: Thresholds::default(),
    };
    let mut fastest: Option<AllCores> = None;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let (ingest, as_of) = Ingest::replay(models.clone(), None, lines)?;
        let ingested = t.elapsed();
        let fresh = |id| Some(Freshness::from_update(ingest.inputs_t(id), as_of, 60_000));
        let report = build_report(&ingest.desk, &fresh, as_of, &opts);
        let reported = t.elapsed();
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::hint::black_box(text);
        let run = AllCores {
            ingest: ingested,
            report: reported - ingested,
            json: t.elapsed() - reported,
        };
        if fastest.is_none_or(|f| run.total() < f.total()) {
            fastest = Some(run);
        }
    }
    Ok(fastest.unwrap_or_default())
}

fn phases(lines: &[String], repeat: usize) -> Result<Breakdown, String> {
    let models = crate::margin::config::load_models(None).map_err(|e| e.to_string())?;
    let scenarios = parse_scenarios(BUILTIN_SCENARIOS, "built-in scenarios")?;
    let mut b = Breakdown {
        lines: lines.len(),
        bytes: lines.iter().map(|l| l.len() + 1).sum(),
        ..Breakdown::default()
    };
    let best = |slot: &mut Duration, d: Duration, first: bool| {
        if first || d < *slot {
            *slot = d;
        }
    };
    for run in 0..repeat.max(1) {
        let first = run == 0;
        let t = Instant::now();
        for l in lines {
            match hot::parse(l) {
                Some(h) => drop(std::hint::black_box(h)),
                None => drop(std::hint::black_box(RecordLine::parse(l))),
            }
        }
        best(&mut b.parse, t.elapsed(), first);

        let t = Instant::now();
        for l in lines {
            std::hint::black_box(serde_json::from_str::<Value>(l).ok());
        }
        best(&mut b.value_parse, t.elapsed(), first);

        let t = Instant::now();
        let (ingest, as_of) = Ingest::replay(models.clone(), None, lines)?;
        best(&mut b.ingest, t.elapsed(), first);
        let desk = &ingest.desk;
        b.accounts = desk.account_count();

        let opts = ReportOptions {
            scenarios: &scenarios,
            thresholds: Thresholds::default(),
        };
        let fresh = |id| Some(Freshness::from_update(ingest.inputs_t(id), as_of, 60_000));
        let t = Instant::now();
        let report = build_report(desk, &fresh, as_of, &opts);
        best(&mut b.report, t.elapsed(), first);

        let t = Instant::now();
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::hint::black_box(text);
        best(&mut b.json, t.elapsed(), first);

        let [margin, stress, liquidation] = parts(desk, &scenarios);
        best(&mut b.margin, margin, first);
        best(&mut b.stress, stress, first);
        best(&mut b.liquidation, liquidation, first);
    }
    Ok(b)
}

/// Every account's margin, timed alone, and the desk's stress results and
/// liquidation distances as the report finds them (all accounts at once).
fn parts(desk: &Desk, scenarios: &[StressScenario]) -> [Duration; 3] {
    let mut times = [Duration::ZERO; 3];
    let all: Vec<_> = (0..desk.account_count())
        .map(|id| desk.inputs(id, &[]))
        .collect();
    for inputs in &all {
        let Some(config) = inputs.model().cloned() else {
            continue;
        };
        let (acct, now) = (&inputs.account, inputs.now_ms);
        let mut model = PreparedModel::new(config, &acct.currency);
        let t = Instant::now();
        let priced = value_account(acct, &inputs.instruments, &inputs.market, &mut model, now);
        std::hint::black_box(priced);
        times[0] += t.elapsed();
    }
    let refs: Vec<_> = all.iter().collect();
    let t = Instant::now();
    std::hint::black_box(desk_stress_results(&refs, scenarios));
    times[1] = t.elapsed();
    let t = Instant::now();
    std::hint::black_box(joint_distances(&refs));
    times[2] = t.elapsed();
    times
}

//! `margintop report`: replay a recording, print the report at its end.

use super::RiskArgs;
use margintop::config::Config;
use margintop::engine::Ingest;
use margintop::report::backtest::add_backtest;
use margintop::report::var::add_var;
use margintop::report::{build_report, render_table, Freshness, Report, ReportOptions, Thresholds};
use margintop::risk::history::History;
use margintop::risk::Settings;
use std::path::PathBuf;

/// The sample recording shipped with margintop (config/samples/README.md).
pub const SAMPLE: &str = include_str!("../../config/samples/deribit_2022-06-02.jsonl");

#[derive(clap::Args, Default)]
pub struct ReportArgs {
    /// Configuration file (default: config.toml in the platform config
    /// directory, if any): health thresholds (check.*) and the longest
    /// recording line read (engine.max_line_bytes) come from it.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Recording to replay (JSON lines, docs/recording.md). Default: the shipped sample.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Print the report as JSON (docs/report.md) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Add each account's and the desk's VaR and ES (HS, FHS, MC) over the
    /// shipped history, as the config's [var] section says (README, "VaR and ES").
    #[arg(long)]
    pub var: bool,
    /// Add each account's backtest: its VaR (HS, FHS) walked through the last
    /// [var] backtest_days of the shipped history, and every loaded margin
    /// model's coverage of the same daily losses (`margintop backtest`).
    #[arg(long)]
    pub backtest: bool,
    #[command(flatten)]
    pub risk: RiskArgs,
    /// Account data older than this (milliseconds, recording clock) is stale.
    #[arg(long, default_value_t = 60_000)]
    pub stale_after_ms: i64,
}

/// What a report adds to the replay's figures on request.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extras {
    /// VaR and ES (`--var`).
    pub var: Option<Settings>,
    /// Backtests over this many days (`--backtest`), VaR as `Settings` says.
    pub backtest: Option<(Settings, usize)>,
}

/// Replay `lines` as fast as possible and build the report at their end.
pub fn replay_report(
    lines: impl Iterator<Item = String>,
    risk: &RiskArgs,
    stale_after_ms: i64,
    thresholds: Thresholds,
    extras: Extras,
) -> Result<Report, String> {
    let (mut report, ingest) = replay_desk(lines, risk, stale_after_ms, thresholds)?;
    if extras.var.is_none() && extras.backtest.is_none() {
        return Ok(report);
    }
    // The shipped history only: a report never touches the network. It
    // takes milliseconds to read, so only a report that uses it reads it.
    let history = History::shipped();
    if let Some(settings) = extras.var {
        add_var(&mut report, &ingest.desk, &history, settings);
    }
    if let Some((settings, days)) = extras.backtest {
        let mut bar = super::progress::Bar::new("backtest");
        add_backtest(
            &mut report,
            &ingest.desk,
            &history,
            settings,
            days,
            &mut |d, n| bar.show(d, n),
        );
    }
    Ok(report)
}

/// Replay `lines` as fast as possible: the report at their end, and the
/// engine's state there.
pub fn replay_desk(
    lines: impl Iterator<Item = String>,
    risk: &RiskArgs,
    stale_after_ms: i64,
    thresholds: Thresholds,
) -> Result<(Report, Ingest), String> {
    let models = risk.models()?;
    let scenarios = risk.scenarios()?;
    let (ingest, as_of) = Ingest::replay(models, risk.model.clone(), lines)?;
    let opts = ReportOptions {
        scenarios: &scenarios,
        thresholds,
    };
    let fresh = |id| {
        Some(Freshness {
            error: ingest.error(id),
            unknown: ingest.unknown_reason(id),
            ..Freshness::from_update(ingest.inputs_t(id), as_of, stale_after_ms)
        })
    };
    let mut report = build_report(&ingest.desk, &fresh, as_of, &opts);
    report.warnings = ingest.stats.warnings();
    Ok((report, ingest))
}

pub fn print(report: &Report, json: bool) -> Result<(), String> {
    if json {
        let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        super::out(&format!("{text}\n"))?;
    } else {
        super::out(&render_table(report))?;
    }
    Ok(())
}

pub fn run(args: ReportArgs) -> Result<(), String> {
    let (config, _) = Config::load(args.config.as_deref())?;
    let lines: Vec<String> = match &args.replay {
        Some(path) => super::read_lines(path, config.engine.max_line_bytes)?,
        None => SAMPLE.lines().map(str::to_string).collect(),
    };
    let thresholds = Thresholds {
        warn_mm_ratio: config.check.warn_mm_ratio,
        critical_mm_ratio: config.check.critical_mm_ratio,
    };
    let report = replay_report(
        lines.into_iter(),
        &args.risk,
        args.stale_after_ms,
        thresholds,
        Extras {
            var: args.var.then(|| config.var.settings()),
            backtest: (args.backtest).then(|| config.var.backtest()),
        },
    )?;
    print(&report, args.json)
}

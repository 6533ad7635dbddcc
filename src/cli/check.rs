//! `margintop check`: one line per account and an exit status, for scripts.

use super::report::{print, replay_report, Extras};
use super::RiskArgs;
use margintop::config::Config;
use margintop::engine::live::{AccountSnapshot, Snapshot};
use margintop::engine::Desk;
use margintop::exchange::feed::{now_ms, LinkState};
use margintop::monitor;
use margintop::report::var::add_var;
use margintop::report::{
    build_report, AccountReport, Freshness, Health, Report, ReportOptions, Thresholds,
};
use margintop::risk::history::History;
use margintop::risk::Settings;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Configuration file (default: config.toml in the platform config directory).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Check the state at the end of a recording instead of connecting.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Print the report as JSON (docs/report.md) instead of one line per account.
    #[arg(long)]
    pub json: bool,
    /// With --replay: play the recording through the live engine at this
    /// multiple of its recorded pace (1 = as recorded, 0 = as fast as possible).
    #[arg(long, value_name = "X", requires = "replay")]
    pub speed: Option<f64>,
    /// Wait at most this long for a complete snapshot (default: check.timeout_ms).
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    #[command(flatten)]
    pub risk: RiskArgs,
}

pub fn run(args: CheckArgs) -> Result<u8, String> {
    let (config, path) = Config::load(args.config.as_deref())?;
    let thresholds = Thresholds {
        warn_mm_ratio: config.check.warn_mm_ratio,
        critical_mm_ratio: config.check.critical_mm_ratio,
    };
    let runtime = super::runtime;
    // VaR is computed only when a limit or a rule needs it.
    let rules_need_var = (config.alert_rules()?.iter()).any(|r| r.condition.metric.needs_var());
    let var =
        (config.check.warn_var_ratio.is_some() || rules_need_var).then(|| config.var.settings());
    let report = match (&args.replay, args.speed) {
        (Some(file), Some(speed)) => {
            let lines = super::read_lines(file, config.engine.max_line_bytes)?;
            runtime()?.block_on(replay_paced(
                lines,
                speed,
                &args.risk,
                config.engine.stale_after_ms,
                thresholds,
                var,
            ))?
        }
        (Some(file), None) => replay_report(
            super::read_lines(file, config.engine.max_line_bytes)?.into_iter(),
            &args.risk,
            config.engine.stale_after_ms,
            thresholds,
            Extras {
                var,
                backtest: None,
            },
        )?,
        (None, _) => {
            let base = path
                .as_deref()
                .and_then(|p| p.parent())
                .map(|p| p.to_path_buf());
            // A day at most: a deadline past the clock's range would panic.
            let ms = args.timeout_ms.unwrap_or(config.check.timeout_ms);
            let timeout = Duration::from_millis(ms.min(86_400_000));
            runtime()?.block_on(live(
                &config,
                base.as_deref(),
                &args.risk,
                thresholds,
                timeout,
                var,
            ))?
        }
    };
    if report.accounts.is_empty() {
        let why: String = report.warnings.iter().map(|w| format!("; {w}")).collect();
        return Err(format!("no account data arrived{why}"));
    }
    alert(&config, &report)?;
    let limit = config.check.warn_var_ratio;
    if args.json {
        print(&report, true)?;
    } else {
        let lines: String = (report.accounts.iter())
            .map(|a| {
                line(a) + &var_over(a, limit).map_or(String::new(), |w| format!(" — {w}")) + "\n"
            })
            .collect();
        super::out(&lines)?;
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    }
    // A VaR over its limit is a warning (exit 1) at least.
    let code = |a: &AccountReport| match var_over(a, limit) {
        Some(_) => a.health.exit_code().max(1),
        None => a.health.exit_code(),
    };
    Ok(report.accounts.iter().map(code).max().unwrap_or(3))
}

/// Apply the configured rules to the report once and hand what they raise
/// to the sinks (audit log, hook, webhook), each also on stderr. A check
/// keeps no state between runs: a rule that holds raises on every run.
fn alert(config: &Config, report: &Report) -> Result<(), String> {
    use margintop::alerting::{audit::Entry, report_readings, Evaluator, Sinks};
    let rules = config.alert_rules()?;
    if rules.is_empty() {
        return Ok(());
    }
    let fired = Evaluator::new(rules).observe(report.as_of, &report_readings(report));
    let (mut sinks, problem) = Sinks::new(&config.alerting);
    let entries: Vec<Entry> = fired.iter().map(Entry::rule).collect();
    for f in &fired {
        eprintln!("alert: {} {}", f.level.name(), f.message);
    }
    let problems = problem.into_iter().chain(sinks.deliver(&entries));
    for p in problems.chain(sinks.finish()).collect::<Vec<_>>() {
        eprintln!("margintop: {p}");
    }
    Ok(())
}

/// "VaR 99% is 62% of the margin balance (limit 50%)" when the account's
/// HS VaR over its margin balance reaches `limit`.
fn var_over(a: &AccountReport, limit: Option<f64>) -> Option<String> {
    let (limit, hs, mb) = (limit?, a.var.as_ref()?.hs.as_ref()?, a.margin_balance?);
    let share = hs.var_99 / mb;
    (mb > 0.0 && share >= limit).then(|| {
        format!(
            "VaR 99% (HS) is {:.0}% of the margin balance (limit {:.0}%)",
            share * 100.0,
            limit * 100.0
        )
    })
}

fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |r| format!("{:.1}%", r * 100.0))
}

fn line(a: &AccountReport) -> String {
    let num = |v: Option<f64>| v.map_or("n/a".into(), |x| format!("{x:.4}"));
    // Why the account is not current or not known, when it is not: the
    // exchange's refusal, else why stale and what is not known.
    let troubled = matches!(a.health, Health::Unknown | Health::Stale);
    let mut why: Vec<&str> = a.error.iter().map(String::as_str).collect();
    if why.is_empty() && troubled {
        why.extend(a.stale_reason.as_deref().filter(|_| a.stale));
        why.extend(a.warnings.first().map(String::as_str));
    }
    let why = match why.is_empty() {
        true => String::new(),
        false => format!(" — {}", why.join("; ")),
    };
    // A cross account whose local totals are incomplete is judged on the
    // exchange's: say which figure the verdict stands on.
    let mm_ratio = match a.basis {
        Some("exchange") => format!("{} (exchange's)", pct(a.exchange.mm_ratio_usd())),
        _ => pct(a.mm_ratio),
    };
    format!(
        "{} {} {} {} mm_ratio {} im_ratio {} equity {} {} headroom {} {} age {}{why}",
        a.account,
        a.currency,
        a.margin_model,
        a.health.label(),
        mm_ratio,
        pct(a.im_ratio),
        num(a.equity),
        a.currency,
        num(a.headroom),
        a.currency,
        a.data_age_ms.map_or("n/a".into(), |ms| format!("{ms} ms")),
    )
}

/// Every configured account (and every subaccount found) has a complete,
/// current view, and every connection is live.
fn ready(config: &Config, snap: &Snapshot) -> bool {
    let configured = config.accounts.iter().all(|a| {
        a.currencies().iter().all(|c| {
            snap.accounts
                .iter()
                .any(|v| v.label == a.label && v.currency == *c)
        })
    });
    // An account the exchange refused to describe will not get better by waiting.
    let settled = |v: &AccountSnapshot| (v.complete && !v.stale) || v.error().is_some();
    configured
        && snap.accounts.iter().all(settled)
        && snap.links.values().all(|l| *l == LinkState::Live)
}

/// A connection problem that no waiting will fix (a refused key, a server
/// that cannot be reached by a link never live), or nothing at all after the
/// timeout.
fn connection_error(
    config: &Config,
    snap: &Snapshot,
    live: &HashSet<String>,
    timed_out: bool,
) -> Option<String> {
    for a in &config.accounts {
        let state = snap.links.get(&a.label);
        if let Some(why) = state.and_then(|s| super::links::hopeless(&a.label, s, live)) {
            return Some(format!("account {why}"));
        }
        if !timed_out || snap.accounts.iter().any(|v| v.label == a.label) {
            continue;
        }
        return Some(match state {
            Some(LinkState::Down(why)) => format!("account {}: {why}", a.label),
            _ => format!("account {}: no connection within the timeout", a.label),
        });
    }
    None
}

async fn live(
    config: &Config,
    base: Option<&std::path::Path>,
    risk: &RiskArgs,
    thresholds: Thresholds,
    timeout: Duration,
    var: Option<Settings>,
) -> Result<Report, String> {
    let models = risk.models()?;
    let scenarios = risk.scenarios()?;
    let mon = monitor::start(config, base, models, None)?;
    let mut rx = mon.snapshots.clone();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last: Arc<Snapshot>;
    let mut live = HashSet::new();
    loop {
        let timed_out = tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err();
        last = rx.borrow().clone();
        super::links::note_live(&mut live, &last);
        if let Some(e) = connection_error(config, &last, &live, timed_out) {
            mon.stop().await;
            return Err(e);
        }
        if timed_out || ready(config, &last) {
            break;
        }
    }
    let engine = mon.stop().await.ok_or("the engine stopped unexpectedly")?;
    let opts = ReportOptions {
        scenarios: &scenarios,
        thresholds,
    };
    let fresh = freshness(&engine.ingest.desk, &last);
    let mut report = build_report(&engine.ingest.desk, &fresh, now_ms(), &opts);
    report.warnings = last.warnings.clone();
    if let Some(s) = var {
        let (history, problem) = live_history(config).await;
        report.warnings.extend(problem);
        add_var(&mut report, &engine.ingest.desk, &history, s);
    }
    if let Some(r) = risk.model.as_ref() {
        report
            .warnings
            .push(format!("every account valued with {r}"));
    }
    Ok(report)
}

/// The VaR history of a live check, as the dashboards have it: the
/// shipped days and the cache, extended from the first account's exchange
/// up to yesterday (and cached); on failure what could be had, and why.
async fn live_history(config: &Config) -> (History, Option<String>) {
    match config.accounts.first() {
        Some(a) => {
            let path = margintop::history_store::cache_path();
            margintop::history_store::refresh(a.url(), now_ms(), path.as_deref()).await
        }
        None => (History::shipped(), None),
    }
}

/// Play a recording through the live engine at `speed`, then report.
async fn replay_paced(
    lines: Vec<String>,
    speed: f64,
    risk: &RiskArgs,
    stale_after_ms: i64,
    thresholds: Thresholds,
    var: Option<Settings>,
) -> Result<Report, String> {
    if speed.is_nan() || speed < 0.0 {
        return Err("--speed must be 0 (as fast as possible) or positive".into());
    }
    let models = risk.models()?;
    let scenarios = risk.scenarios()?;
    let mon = monitor::start_replay(lines, speed, models, risk.model.clone(), stale_after_ms);
    let mut engine = mon
        .finish()
        .await
        .ok_or("the engine stopped unexpectedly")?;
    let as_of = engine
        .ingest
        .stats
        .last_t
        .ok_or("the recording holds no entries")?;
    let last = engine.snapshot(as_of);
    let fresh = freshness(&engine.ingest.desk, &last);
    let opts = ReportOptions {
        scenarios: &scenarios,
        thresholds,
    };
    let mut report = build_report(&engine.ingest.desk, &fresh, as_of, &opts);
    report.warnings = last.warnings.clone();
    if let Some(s) = var {
        add_var(&mut report, &engine.ingest.desk, &History::shipped(), s);
    }
    Ok(report)
}

/// Freshness of each account as the engine saw it (connections and data
/// age, and why not current); an account with incomplete data counts as
/// stale. Accounts the snapshot no longer shows (removed subaccounts) are
/// left out.
fn freshness<'a>(desk: &'a Desk, last: &'a Snapshot) -> impl Fn(usize) -> Option<Freshness> + 'a {
    move |id| {
        let a = desk.account(id);
        let v = (last.accounts.iter()).find(|v| v.label == a.label && v.currency == a.currency)?;
        Some(Freshness {
            data_age_ms: v.data_age_ms,
            stale: v.stale || !v.complete,
            reason: v.stale_reason.clone(),
            error: v.error(),
            unknown: v.unknown.clone(),
        })
    }
}

//! `margintop report`: replay a recording, print the report at its end.

use super::RiskArgs;
use margintop::config::Config;
use margintop::engine::{Desk, Ingest};
use margintop::report::var::add_var;
use margintop::report::{build_report, render_table, Freshness, Report, ReportOptions, Thresholds};
use margintop::risk::history::History;
use margintop::risk::Settings;
use std::path::PathBuf;

/// The sample recording shipped with margintop (config/samples/README.md).
const SAMPLE: &str = include_str!("../../config/samples/deribit_2022-06-02.jsonl");

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
    #[command(flatten)]
    pub risk: RiskArgs,
    /// Account data older than this (milliseconds, recording clock) is stale.
    #[arg(long, default_value_t = 60_000)]
    pub stale_after_ms: i64,
}

/// Replay `lines` as fast as possible and build the report at their end.
pub fn replay_report(
    lines: impl Iterator<Item = String>,
    risk: &RiskArgs,
    stale_after_ms: i64,
    thresholds: Thresholds,
    var: Option<Settings>,
) -> Result<Report, String> {
    let models = risk.models()?;
    let scenarios = risk.scenarios()?;
    let mut ingest = Ingest::new(Desk::new(models, 0), risk.model.clone());
    for line in lines {
        ingest.line(&line);
    }
    let as_of = ingest
        .stats
        .last_t
        .ok_or("the recording holds no entries")?;
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
    // The shipped history only: a report never touches the network.
    if let Some(settings) = var {
        add_var(&mut report, &ingest.desk, &History::shipped(), settings);
    }
    Ok(report)
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
        args.var.then(|| config.var.settings()),
    )?;
    print(&report, args.json)
}

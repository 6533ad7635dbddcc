//! `margintop backtest`: replay a recording, then walk its accounts' books
//! through history (docs/risk.md §6) and print the tests.

use super::report::replay_desk;
use super::RiskArgs;
use margintop::config::Config;
use margintop::report::backtest::{add_backtest, render};
use margintop::report::Thresholds;
use margintop::risk::history::History;
use std::path::PathBuf;

/// The recording backtested when none is given: dated 2026-01-01, so that
/// the shipped history covers the default window and test days before it
/// (the report's 2022 sample has only 403 days of DVOL before it).
pub const SAMPLE: &str = include_str!("../../config/samples/deribit_2026-01-01.jsonl");

#[derive(clap::Args, Default)]
pub struct BacktestArgs {
    /// Configuration file (default: config.toml in the platform config
    /// directory, if any): the VaR window and test days come from its [var].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Recording to replay (JSON lines, docs/recording.md): the books are
    /// those at its end. Default: the shipped 2026-01-01 sample.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Only this account (its label).
    #[arg(long, value_name = "LABEL")]
    pub account: Option<String>,
    /// Test days T (default: [var] backtest_days, 500).
    #[arg(long, value_name = "T")]
    pub days: Option<usize>,
    /// Print the report with each account's `backtest` as JSON (docs/report.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub risk: RiskArgs,
    /// Account data older than this (milliseconds, recording clock) is stale.
    #[arg(long, default_value_t = 60_000)]
    pub stale_after_ms: i64,
}

pub fn run(args: BacktestArgs) -> Result<(), String> {
    let (config, _) = Config::load(args.config.as_deref())?;
    let lines: Vec<String> = match &args.replay {
        Some(path) => super::read_lines(path, config.engine.max_line_bytes)?,
        None => SAMPLE.lines().map(str::to_string).collect(),
    };
    let (settings, days) = config.var.backtest();
    let days = args.days.unwrap_or(days);
    if days == 0 {
        return Err("--days must be at least 1".into());
    }
    let thresholds = Thresholds {
        warn_mm_ratio: config.check.warn_mm_ratio,
        critical_mm_ratio: config.check.critical_mm_ratio,
    };
    let (mut report, ingest) = replay_desk(
        lines.into_iter(),
        &args.risk,
        args.stale_after_ms,
        thresholds,
    )?;
    if let Some(label) = &args.account {
        report.accounts.retain(|a| &a.account == label);
        if report.accounts.is_empty() {
            return Err(format!("the recording has no account {label:?}"));
        }
    }
    let mut bar = super::progress::Bar::new("backtest");
    add_backtest(
        &mut report,
        &ingest.desk,
        &History::shipped(),
        settings,
        days,
        &mut |d, n| bar.show(d, n),
    );
    drop(bar);
    if args.json {
        super::report::print(&report, true)
    } else {
        super::out(&render(&report))
    }
}

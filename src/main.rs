//! margintop command line.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "margintop",
    version,
    about = "Terminal risk monitor for crypto derivatives accounts (Deribit portfolio margin, Greeks, stress, liquidation distance)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a recording and print the risk report at its end.
    Report(cli::report::ReportArgs),
    /// Connect (or replay), wait for a complete snapshot, print one line per
    /// account and exit 0 healthy, 1 warning, 2 critical or stale, 3 on a
    /// configuration or connection error. For scripts and cron.
    Check(cli::check::CheckArgs),
    /// Monitor the configured accounts and write every message to a
    /// recording (FORMATS.md §1, secrets redacted) until Ctrl-C or --duration-s.
    Record(cli::record::RecordArgs),
    /// Measure the full live path on loopback (WebSocket → parse → engine →
    /// snapshot) with a synthetic desk: tick-to-snapshot latency and the
    /// highest sustained message rate.
    Bench(cli::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Report(args)) => cli::report::run(args).map(|()| 0),
        Some(Command::Check(args)) => cli::check::run(args),
        Some(Command::Record(args)) => cli::record::run(args).map(|()| 0),
        Some(Command::Bench(args)) => cli::bench::run(args).map(|()| 0),
        None => {
            eprintln!("margintop: the live dashboards are not built yet; showing the report of the shipped sample recording.");
            eprintln!("           `margintop --help` lists what works: report, check, record.\n");
            cli::report::run(cli::report::ReportArgs::sample()).map(|()| 0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("margintop: {e}");
            ExitCode::from(3)
        }
    }
}

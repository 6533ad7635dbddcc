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
    /// Without a subcommand: watch the configured accounts, or the demo.
    #[command(flatten)]
    watch: cli::watch::WatchArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a recording and print the risk report at its end.
    Report(cli::report::ReportArgs),
    /// Replay a recording, walk each account's book through the last T days
    /// of history and test whether its VaR (HS, FHS) and its maintenance
    /// margin under every loaded model would have held (README, "Backtests").
    Backtest(cli::backtest::BacktestArgs),
    /// Connect (or replay), wait for a complete snapshot, print one line per
    /// account and exit 0 healthy, 1 warning, 2 critical or stale, 3 on a
    /// configuration or connection error. For scripts and cron.
    Check(cli::check::CheckArgs),
    /// Monitor the configured accounts and write every message to a
    /// recording (docs/recording.md, secrets redacted) until Ctrl-C or --duration-s.
    Record(cli::record::RecordArgs),
    /// Run the built-in demo exchange (Deribit API v2 on loopback) until Ctrl-C;
    /// connect to it with client_id "demo", client_secret "demo", subaccounts = true.
    DemoServer(cli::demo::DemoArgs),
    /// Measure the full live path on loopback (WebSocket → parse → engine →
    /// snapshot) with a synthetic desk: tick-to-snapshot latency and the
    /// highest sustained message rate.
    Bench(cli::bench::BenchArgs),
    /// Run the demo exchange for days of simulated time (daily cycle,
    /// crashes, connection faults) under a real monitor and say whether
    /// memory, queue depth and snapshot build times stay flat (exit 1 if not).
    Soak(cli::soak::SoakArgs),
}

/// A panic anywhere (a connection task, the engine) ends the whole process
/// with its message: a monitor half alive would show numbers nobody updates.
fn exit_on_panic() {
    let print = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        print(info);
        eprintln!("margintop: stopped after an internal error (above); please report it");
        std::process::exit(101);
    }));
}

/// mimalloc: a replay allocates and frees a string or an event for every
/// line, on several threads, and mimalloc takes its memory from the system
/// in huge pages (a desk's report --replay: 260 page faults instead of
/// 11,400; the median run 10-15 % faster). Counted, so that a soak can read
/// the heap in use.
#[global_allocator]
static ALLOCATOR: margintop::heap::Counting<mimalloc::MiMalloc> =
    margintop::heap::Counting(mimalloc::MiMalloc);

fn main() -> ExitCode {
    exit_on_panic();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Report(args)) => cli::report::run(args).map(|()| 0),
        Some(Command::Backtest(args)) => cli::backtest::run(args).map(|()| 0),
        Some(Command::Check(args)) => cli::check::run(args),
        Some(Command::Record(args)) => cli::record::run(args).map(|()| 0),
        Some(Command::Bench(args)) => cli::bench::run(args).map(|()| 0),
        Some(Command::DemoServer(args)) => cli::demo::run(args).map(|()| 0),
        Some(Command::Soak(args)) => cli::soak::run(args),
        None => cli::watch::run(cli.watch).map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("margintop: {e}");
            ExitCode::from(3)
        }
    }
}

//! `margintop bench`: the end-to-end tick-to-snapshot benchmark.

use margintop::bench::{self, BenchOptions};
use margintop::synthetic::desk::{recording, Shape};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Accounts on the synthetic desk.
    #[arg(long, default_value_t = 100)]
    pub accounts: usize,
    /// Positions per account.
    #[arg(long, default_value_t = 50)]
    pub positions: usize,
    /// Paced phase: ticker messages per second.
    #[arg(long, default_value_t = 2_000)]
    pub rate: u32,
    /// Paced phase: how long, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Flood phase: tickers sent as fast as the path takes them.
    #[arg(long, default_value_t = 100_000)]
    pub flood: usize,
    /// Write the desk's recording to FILE instead (--accounts, --positions
    /// options each plus a perpetual hedge, on the real 2026-08-01 chain,
    /// then --rounds of tickers and index ticks) and stop.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub write_desk: Option<PathBuf>,
    /// Rounds of the written desk.
    #[arg(long, default_value_t = 21)]
    pub rounds: usize,
    /// Time `report --replay FILE --json` phase by phase instead
    /// (ingest, margin, stress, liquidation, JSON).
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Runs of each phase of --replay (the best is shown).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    if let Some(path) = &args.write_desk {
        return write_desk(path, &args);
    }
    if let Some(path) = &args.replay {
        let read = || super::read_lines(path, margintop::exchange::recording::MAX_LINE_BYTES);
        let mut fastest = std::time::Duration::MAX;
        let mut lines = Vec::new();
        for _ in 0..args.repeat.max(1) {
            let t = std::time::Instant::now();
            lines = std::hint::black_box(read()?);
            fastest = fastest.min(t.elapsed());
        }
        let b = bench::replay::run(&lines, args.repeat, fastest)?;
        println!("{b}");
        return Ok(());
    }
    let bad_seconds = args.seconds.is_nan() || args.seconds <= 0.0;
    if args.rate == 0 || bad_seconds || args.accounts == 0 || args.positions == 0 {
        return Err("--rate, --seconds, --accounts and --positions must be positive".into());
    }
    let opts = BenchOptions {
        accounts: args.accounts,
        positions: args.positions,
        rate: args.rate,
        seconds: args.seconds,
        flood: args.flood,
    };
    let runtime = super::runtime()?;
    let report = runtime.block_on(bench::run(opts))?;
    println!("{report}");
    Ok(())
}

fn write_desk(path: &std::path::Path, args: &BenchArgs) -> Result<(), String> {
    let shape = Shape {
        accounts: args.accounts,
        options: args.positions,
        rounds: args.rounds,
    };
    let lines = recording(&shape)?;
    let text = lines.join("\n") + "\n";
    std::fs::write(path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!(
        "wrote {}: {} lines, {:.1} MB",
        path.display(),
        lines.len(),
        text.len() as f64 / 1e6
    );
    Ok(())
}

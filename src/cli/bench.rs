//! `margintop bench`: the end-to-end tick-to-snapshot benchmark.

use margintop::bench::{self, BenchOptions};

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
}

pub fn run(args: BenchArgs) -> Result<(), String> {
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

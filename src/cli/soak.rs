//! `margintop soak`: days of the demo exchange at an accelerated clock,
//! with crashes and connection faults, watched by a real monitor; says
//! whether memory, the engine's queue and snapshot build times stay flat.

use margintop::demo::soak::{self, SoakOptions};
use std::time::Duration;

#[derive(clap::Args)]
pub struct SoakArgs {
    /// Simulated days.
    #[arg(long, default_value_t = 7.0)]
    pub days: f64,
    /// Simulated seconds per real second (at 3600, seven days take under
    /// three minutes).
    #[arg(long, default_value_t = 3600.0, value_parser = super::watch::parse_speed)]
    pub speed: f64,
    /// Inject a fault into each connection about every S real seconds
    /// (a drop, a frame that is not JSON, duplicated messages, a silent
    /// spell); 0 for none.
    #[arg(long, value_name = "S", default_value_t = 20.0)]
    pub faults_every_s: f64,
    /// Real seconds between samples.
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    pub sample_s: f64,
    /// Seed of the simulated market.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

/// Exit 0 when flat, 1 when not.
pub fn run(args: SoakArgs) -> Result<u8, String> {
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if !positive(args.days) || args.days > 365.0 || !positive(args.sample_s) {
        return Err("--days must be in (0, 365] and --sample-s positive".into());
    }
    if !(args.faults_every_s.is_finite() && args.faults_every_s >= 0.0) {
        return Err("--faults-every-s must be 0 (none) or a number of seconds".into());
    }
    let seconds = |s: f64, what: &str| {
        Duration::try_from_secs_f64(s)
            .map_err(|_| format!("{what} is not a usable number of seconds"))
    };
    let opts = SoakOptions {
        days: args.days,
        speed: args.speed,
        chaos_every: match args.faults_every_s {
            0.0 => None,
            s => Some(seconds(s, "--faults-every-s")?),
        },
        sample_every: seconds(args.sample_s, "--sample-s")?,
        seed: args.seed,
    };
    let report = super::runtime()?.block_on(soak::run(opts, |day, d| {
        eprintln!("margintop soak: day {day} done: {d}");
    }))?;
    println!("{report}");
    Ok(if report.problems().is_empty() { 0 } else { 1 })
}

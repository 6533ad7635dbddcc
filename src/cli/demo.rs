//! `margintop demo-server`: the demo exchange on its own, for another
//! terminal's `margintop`, `check` or `record`.

use margintop::demo::server::{self, DemoOptions};
use std::net::SocketAddr;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub listen: SocketAddr,
    /// Seed of the simulated market.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Start a market crash this many seconds after start.
    #[arg(long, value_name = "S")]
    pub crash_after_s: Option<u64>,
    /// Simulated seconds per real second: 3600 lives a day in 24 minutes,
    /// through the 08:00 UTC settlement and expiries.
    #[arg(long, value_name = "N", default_value_t = 1.0, value_parser = super::watch::parse_speed)]
    pub speed: f64,
    /// Start the simulated clock here instead of now, e.g.
    /// 2026-12-04T07:50:00Z (UTC), to watch an expiry in a few minutes.
    #[arg(long, value_name = "TIME", value_parser = parse_utc)]
    pub start: Option<i64>,
}

/// `YYYY-MM-DDTHH:MM[:SS]Z` in UTC, to epoch milliseconds.
fn parse_utc(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a UTC time like 2026-12-04T07:50:00Z");
    let (date, time) = s
        .strip_suffix('Z')
        .and_then(|t| t.split_once('T'))
        .ok_or_else(bad)?;
    let num = |t: &str| t.parse::<u32>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    let ([y, mo, da], 2..=3) = (d.as_slice(), t.len()) else {
        return Err(bad());
    };
    let (y, mo, da) = (num(y)?, num(mo)?, num(da)?);
    let (h, mi, se) = (num(t[0])?, num(t[1])?, t.get(2).map_or(Ok(0), |x| num(x))?);
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&da)
        || h > 23
        || mi > 59
        || se > 59
    {
        return Err(bad());
    }
    let days = margintop::model::instrument::days_from_civil(y as i64, mo, da);
    if margintop::model::instrument::civil(days) != (y as i64, mo, da) {
        return Err(bad());
    }
    Ok(days * 86_400_000 + ((h * 3600 + mi * 60 + se) as i64) * 1000)
}

pub fn run(args: DemoArgs) -> Result<(), String> {
    if !args.listen.ip().is_loopback() {
        return Err(format!(
            "the demo exchange listens on loopback only, not {}",
            args.listen
        ));
    }
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let opts = DemoOptions { seed: args.seed, time_scale: args.speed, start_ms: args.start, ..DemoOptions::default() };
        let demo = server::start(args.listen, opts).await.map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        eprintln!("margintop demo exchange on {} (Ctrl-C to stop). Config for it:", demo.url());
        eprintln!("  [[accounts]]\n  label = \"demo\"\n  url = \"{}\"\n  client_id_env = \"DEMO_ID\"      # export DEMO_ID=demo\n  client_secret_env = \"DEMO_SECRET\"  # export DEMO_SECRET=demo\n  subaccounts = true", demo.url());
        if args.speed > 1.0 {
            eprintln!("  [connection]\n  clock_rate = {}      # the demo's clock runs {}× real time", args.speed, args.speed);
        }
        if let Some(s) = args.crash_after_s {
            tokio::time::sleep(std::time::Duration::from_secs(s)).await;
            demo.crash();
            eprintln!("margintop demo exchange: crash started");
        }
        let _ = tokio::signal::ctrl_c().await;
        demo.stop();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::parse_utc;

    #[test]
    fn utc_times_parse_to_epoch_milliseconds() {
        // 2022-09-30 08:00:00 UTC, a Deribit expiry (epoch ms from its API).
        assert_eq!(parse_utc("2022-09-30T08:00:00Z"), Ok(1_664_524_800_000));
        assert_eq!(parse_utc("2022-09-30T08:00Z"), Ok(1_664_524_800_000));
        for bad in [
            "2022-09-30 08:00Z",
            "2022-02-30T08:00Z",
            "2022-09-30T24:00Z",
            "2022-09-30T08:00",
        ] {
            assert!(parse_utc(bad).is_err(), "{bad}");
        }
    }
}

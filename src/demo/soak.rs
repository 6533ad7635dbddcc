//! `margintop soak`: the demo exchange at an accelerated clock for days of
//! simulated time, with a crash every other simulated day and its
//! recovery on the days between (so that the index stays in range and the
//! chain's size depends on the calendar, not on a drift), and faults
//! injected into its connections, watched by a real monitor in the same
//! process.
//! It samples the process's heap in use and resident memory, the engine's
//! queue depth and its snapshot build times, and says per simulated day
//! whether they stay flat.

use super::server::{self, DemoOptions};
use crate::config::{Config, ConnectionConfig};
use crate::engine::live::Snapshot;
use crate::engine::stats::{BuildTimes, BUILD_BUCKETS_S};
use crate::margin::config::load_models;
use crate::monitor;
use std::fmt;
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;
/// Simulated hour of the day's crash or recovery (UTC): well away from
/// the 08:00 cycle.
const CRASH_HOUR: i64 = 14;

#[derive(Clone, Debug)]
pub struct SoakOptions {
    /// Simulated days to run.
    pub days: f64,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// A fault per connection about this often (None: no faults).
    pub chaos_every: Option<Duration>,
    /// Real time between samples.
    pub sample_every: Duration,
    pub seed: u64,
}

/// What one simulated day looked like.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Day {
    pub samples: usize,
    /// Largest resident set seen, MiB (None where /proc is not there).
    pub rss_mib: Option<f64>,
    /// The heap in use, MiB: the median of the day's samples (big
    /// answers, such as an instrument list after a reconnect, make brief
    /// peaks; a leak moves the median). None off glibc.
    pub heap_mib: Option<f64>,
    heap_samples: Vec<f64>,
    pub queue_max: usize,
    /// Snapshot build times over the day: upper bounds of the buckets
    /// holding the median and the 99th percentile, seconds.
    pub build_p50_s: f64,
    pub build_p99_s: f64,
    pub builds: u64,
    /// Link connects during the day (reconnects after the faults).
    pub connects: u64,
    /// Samples in which every book was complete and current.
    pub all_current: usize,
    /// Books with positions at the day's last sample.
    pub books: usize,
}

/// The whole run: per day, and whether it stayed flat.
#[derive(Clone, Debug)]
pub struct SoakReport {
    pub options: SoakOptions,
    pub days: Vec<Day>,
    pub queue_capacity: usize,
    pub wall: Duration,
    pub settlements: i64,
    pub crashes: usize,
    pub recoveries: usize,
}

/// Flat means: from the second day to the last, the largest heap in use
/// grew by at most 10 % (the first day is the warm-up: caches, the first
/// listings), or where the heap cannot be read the resident set; the
/// engine's queue never held more than a tenth of its capacity; the last
/// day's p99 build time is within two buckets of the second day's.
pub const MEMORY_GROWTH_LIMIT: f64 = 0.10;
pub const QUEUE_LIMIT: f64 = 0.10;

impl SoakReport {
    /// Why it is not flat (empty: flat).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let limit = (self.queue_capacity as f64 * QUEUE_LIMIT) as usize;
        for (i, d) in self.days.iter().enumerate() {
            if d.queue_max > limit {
                out.push(format!(
                    "day {}: queue depth {} over {limit}",
                    i + 1,
                    d.queue_max
                ));
            }
        }
        let (Some(second), Some(last)) = (self.days.get(1), self.days.last()) else {
            return out;
        };
        let (what, a, b) = match (second.heap_mib, last.heap_mib) {
            (Some(a), Some(b)) => ("heap in use", Some(a), Some(b)),
            _ => ("RSS", second.rss_mib, last.rss_mib),
        };
        if let (Some(a), Some(b)) = (a, b) {
            if b > a * (1.0 + MEMORY_GROWTH_LIMIT) {
                out.push(format!("{what} grew from {a:.1} MiB (day 2) to {b:.1} MiB"));
            }
        }
        let bucket = |s: f64| BUILD_BUCKETS_S.partition_point(|&u| u < s);
        if bucket(last.build_p99_s) > bucket(second.build_p99_s) + 2 {
            out.push(format!(
                "p99 snapshot build went from {} (day 2) to {}",
                secs(second.build_p99_s),
                secs(last.build_p99_s)
            ));
        }
        out
    }
}

/// Run the soak; `progress` hears of each finished simulated day.
pub async fn run(opts: SoakOptions, progress: impl Fn(usize, &Day)) -> Result<SoakReport, String> {
    let demo_opts = DemoOptions {
        seed: opts.seed,
        time_scale: opts.speed,
        chaos_every: opts.chaos_every,
        ..DemoOptions::default()
    };
    let demo = server::start_in_process(demo_opts).await?;
    let mon = monitor::start_with(
        &soak_config(&demo.url(), opts.speed),
        None,
        &server::demo_credentials(),
        load_models(None).map_err(|e| e.to_string())?,
        None,
    )?;
    let start_ms = exchange_now(&demo);
    let end_ms = start_ms + (opts.days * DAY_MS as f64) as i64;
    let started = Instant::now();
    let mut report = SoakReport {
        options: opts.clone(),
        days: Vec::new(),
        queue_capacity: 0,
        wall: Duration::ZERO,
        settlements: 0,
        crashes: 0,
        recoveries: 0,
    };
    let mut day = Day::default();
    let mut day_start = Sample::of(&mon.snapshots.borrow());
    let mut next_crash = next_at(start_ms, CRASH_HOUR);
    // Bounded: the simulated clock reaches the end at `speed`, or the
    // run gives up at twice the time that should take.
    let limit = Duration::from_secs_f64(opts.days * 86_400.0 / opts.speed * 2.0 + 30.0);
    loop {
        tokio::time::sleep(opts.sample_every).await;
        let now_ms = exchange_now(&demo);
        let snap = mon.snapshots.borrow().clone();
        report.queue_capacity = snap.stats.queue_capacity;
        day.sample(&snap);
        if now_ms >= next_crash {
            if let Ok(mut s) = demo.state.lock() {
                match report.crashes > report.recoveries {
                    true => s.recover(),
                    false => s.crash(),
                }
            }
            match report.crashes > report.recoveries {
                true => report.recoveries += 1,
                false => report.crashes += 1,
            }
            next_crash = next_at(now_ms, CRASH_HOUR);
        }
        let day_no = ((now_ms - start_ms) / DAY_MS) as usize;
        let done = now_ms >= end_ms || started.elapsed() > limit;
        if day_no > report.days.len() || done {
            day.close(&day_start, &snap);
            progress(report.days.len() + 1, &day);
            report.days.push(std::mem::take(&mut day));
            day_start = Sample::of(&snap);
        }
        if done {
            report.settlements = (now_ms - 8 * 3_600_000).div_euclid(DAY_MS)
                - (start_ms - 8 * 3_600_000).div_euclid(DAY_MS);
            break;
        }
    }
    report.wall = started.elapsed();
    mon.stop().await;
    demo.stop();
    if report.wall > limit {
        return Err(format!(
            "the simulated clock did not reach {} days in {:?}",
            opts.days, limit
        ));
    }
    Ok(report)
}

/// The demo key, with timeouts short enough that a silent connection is
/// noticed and reconnected within seconds, believing the demo's clock.
fn soak_config(url: &str, speed: f64) -> Config {
    Config {
        accounts: vec![server::demo_account(url)],
        connection: ConnectionConfig {
            request_timeout_ms: 3_000,
            stall_timeout_ms: 3_000,
            reconnect_min_ms: 100,
            reconnect_max_ms: 1_000,
            max_requests_per_s: 1_000,
            clock_rate: speed.max(1.0),
            ..ConnectionConfig::default()
        },
        ..Config::default()
    }
}

fn exchange_now(demo: &server::DemoServer) -> i64 {
    demo.state.lock().map_or(0, |s| s.market.now_ms)
}

/// The first `hour`:00 UTC after `ms`.
fn next_at(ms: i64, hour: i64) -> i64 {
    let offset = hour * 3_600_000;
    (ms - offset).div_euclid(DAY_MS) * DAY_MS + offset + DAY_MS
}

/// The engine's cumulative counts at one moment.
struct Sample {
    builds: BuildTimes,
    connects: u64,
}

impl Sample {
    fn of(snap: &Snapshot) -> Sample {
        Sample {
            builds: snap.stats.build_times.clone(),
            connects: snap.stats.connects.values().sum(),
        }
    }
}

impl Day {
    fn sample(&mut self, snap: &Snapshot) {
        self.samples += 1;
        self.rss_mib = match (self.rss_mib, resident_mib()) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.heap_samples.extend(heap_mib());
        self.queue_max = self.queue_max.max(snap.stats.queue_depth);
        let books = snap.accounts.iter().filter(|v| !v.positions.is_empty());
        if books.clone().all(|v| v.complete && !v.stale) {
            self.all_current += 1;
        }
        self.books = books.count();
    }

    /// The day's build times and connects: the counts at its end less
    /// those at its start.
    fn close(&mut self, start: &Sample, snap: &Snapshot) {
        let end = &snap.stats.build_times;
        let counts: Vec<u64> = (end.buckets.iter().zip(&start.builds.buckets))
            .map(|(e, s)| e.saturating_sub(*s))
            .collect();
        self.builds = counts.iter().sum();
        self.build_p50_s = quantile(&counts, 0.5);
        self.build_p99_s = quantile(&counts, 0.99);
        self.connects = Sample::of(snap).connects.saturating_sub(start.connects);
        let heap = &mut self.heap_samples;
        heap.sort_by(f64::total_cmp);
        self.heap_mib = heap.get(heap.len() / 2).copied();
    }
}

/// The upper bound of the bucket holding quantile `q` (the last bucket,
/// beyond the bounds, reads as infinity).
fn quantile(counts: &[u64], q: f64) -> f64 {
    let total: u64 = counts.iter().sum();
    let want = (q * total as f64).ceil() as u64;
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= want.max(1) {
            return BUILD_BUCKETS_S.get(i).copied().unwrap_or(f64::INFINITY);
        }
    }
    0.0
}

/// Bytes the allocator has handed out and not had back, in MiB: the heap
/// in use, which a leak grows. An allocator keeps freed memory for reuse,
/// so the resident set stays near its highest heap for good: the heap is
/// what says whether anything is kept that should not be. The `margintop`
/// binary counts it (`crate::heap`); elsewhere (a test binary) glibc's
/// counters say it.
fn heap_mib() -> Option<f64> {
    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    crate::heap::in_use().map(mib).or_else(glibc_heap_mib)
}

/// The heap in use by glibc's malloc, in MiB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc_heap_mib() -> Option<f64> {
    /// glibc's `struct mallinfo2` (malloc.h, glibc 2.33 and later).
    #[repr(C)]
    struct MallInfo2 {
        arena: usize,
        ordblks: usize,
        smblks: usize,
        hblks: usize,
        hblkhd: usize,
        usmblks: usize,
        fsmblks: usize,
        uordblks: usize,
        fordblks: usize,
        keepcost: usize,
    }
    extern "C" {
        fn mallinfo2() -> MallInfo2;
    }
    // SAFETY: mallinfo2 takes nothing and returns a struct by value; it
    // only reads the allocator's counters (summed over every arena).
    let m = unsafe { mallinfo2() };
    Some((m.uordblks + m.hblkhd) as f64 / (1024.0 * 1024.0))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_heap_mib() -> Option<f64> {
    None
}

/// This process's resident set in MiB, from /proc (Linux).
fn resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn secs(s: f64) -> String {
    match s {
        s if s.is_infinite() => "> 0.5 s".into(),
        s if s < 0.001 => format!("≤ {:.0} µs", s * 1e6),
        s => format!("≤ {:.1} ms", s * 1e3),
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |m: Option<f64>| m.map_or("n/a".into(), |r| format!("{r:.1}"));
        write!(
            f,
            "{:>8} {:>8} {:>6} {:>10} {:>10} {:>8} {:>8} {:>6} {:>7}/{}",
            mib(self.heap_mib),
            mib(self.rss_mib),
            self.queue_max,
            secs(self.build_p50_s),
            secs(self.build_p99_s),
            self.builds,
            self.connects,
            self.books,
            self.all_current,
            self.samples
        )
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "soak: {} simulated days at {}× in {:.0} s; {} settlements, {} crashes, {} recoveries; faults {}",
            o.days,
            o.speed,
            self.wall.as_secs_f64(),
            self.settlements,
            self.crashes,
            self.recoveries,
            o.chaos_every.map_or("off".into(), |d| format!("about every {:?} per connection", d))
        )?;
        writeln!(
            f,
            "{:>4} {:>8} {:>8} {:>6} {:>10} {:>10} {:>8} {:>8} {:>6} {:>9}",
            "day",
            "heap MiB",
            "RSS MiB",
            "queue",
            "build p50",
            "build p99",
            "builds",
            "connects",
            "books",
            "current"
        )?;
        for (i, d) in self.days.iter().enumerate() {
            writeln!(f, "{:>4} {d}", i + 1)?;
        }
        let problems = self.problems();
        if problems.is_empty() {
            write!(
                f,
                "flat: heap in use within {:.0} % of day 2, queue under {:.0} % of its {} places, p99 build steady",
                MEMORY_GROWTH_LIMIT * 100.0,
                QUEUE_LIMIT * 100.0,
                self.queue_capacity
            )
        } else {
            write!(f, "NOT FLAT: {}", problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_the_bounds_of_the_buckets_holding_them() {
        let mut counts = vec![0; BUILD_BUCKETS_S.len() + 1];
        counts[2] = 98; // ≤ 50 µs
        counts[5] = 1; // ≤ 500 µs
        counts[BUILD_BUCKETS_S.len()] = 1; // beyond 0.5 s
        assert_eq!(quantile(&counts, 0.5), 0.00005);
        assert_eq!(quantile(&counts, 0.99), 0.0005);
        assert_eq!(quantile(&counts, 1.0), f64::INFINITY);
    }

    #[test]
    fn growth_past_the_limits_is_named() {
        let day = |heap: f64, queue: usize, p99: f64| Day {
            heap_mib: Some(heap),
            rss_mib: Some(heap * 3.0),
            queue_max: queue,
            build_p99_s: p99,
            ..Day::default()
        };
        let report = |days: Vec<Day>| SoakReport {
            options: SoakOptions {
                days: 3.0,
                speed: 3600.0,
                chaos_every: None,
                sample_every: Duration::from_secs(1),
                seed: 1,
            },
            days,
            queue_capacity: 1000,
            wall: Duration::ZERO,
            settlements: 3,
            crashes: 2,
            recoveries: 1,
        };
        let flat = report(vec![
            day(50.0, 3, 0.0001),
            day(80.0, 2, 0.0001),
            day(87.0, 9, 0.00025),
        ]);
        assert!(flat.problems().is_empty(), "{:?}", flat.problems());
        let leaking = report(vec![
            day(50.0, 3, 0.0001),
            day(80.0, 2, 0.0001),
            day(89.0, 2, 0.0001),
        ]);
        assert_eq!(leaking.problems().len(), 1);
        let behind = report(vec![
            day(50.0, 300, 0.0001),
            day(80.0, 2, 0.0001),
            day(80.0, 2, 0.01),
        ]);
        assert_eq!(behind.problems().len(), 2, "{:?}", behind.problems());
    }

    #[test]
    fn the_crash_comes_at_the_next_crash_hour() {
        let day = 20_000 * DAY_MS;
        assert_eq!(next_at(day + 3_600_000, 14), day + 14 * 3_600_000);
        assert_eq!(
            next_at(day + 15 * 3_600_000, 14),
            day + 14 * 3_600_000 + DAY_MS
        );
    }
}

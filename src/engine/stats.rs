//! What the engine counts about its own work, for the metrics exporter:
//! how long snapshots take to build, how far behind the feed it is, how
//! often each link came back. Counts are cumulative from start, so a
//! reader that sees only some snapshots (the watch channel keeps the
//! newest) still reads every build and every reconnect.

use std::collections::BTreeMap;
use std::time::Duration;

/// Upper bounds of the build-time buckets, seconds: 10 µs to 0.5 s, three
/// per decade (the demo's snapshots take 10–100 µs; a slow one is what the
/// tail should show).
pub const BUILD_BUCKETS_S: [f64; 15] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5,
];

/// A histogram of snapshot build times (cumulative from start).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildTimes {
    /// Builds per bucket of `BUILD_BUCKETS_S`, then one for longer builds
    /// (not cumulative: each build is counted in one bucket).
    pub buckets: [u64; BUILD_BUCKETS_S.len() + 1],
    pub sum_s: f64,
    pub count: u64,
}

impl BuildTimes {
    pub fn observe(&mut self, took: Duration) {
        let s = took.as_secs_f64();
        let i = BUILD_BUCKETS_S.partition_point(|&upper| upper < s);
        self.buckets[i] += 1;
        self.sum_s += s;
        self.count += 1;
    }
}

/// The engine's own figures, as of a snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EngineStats {
    /// Feed items waiting in the engine's queue when the snapshot was built.
    pub queue_depth: usize,
    /// The queue's capacity (a depth near it means the engine falls behind).
    pub queue_capacity: usize,
    pub build_times: BuildTimes,
    /// Times each link went live (its first connection included).
    pub connects: BTreeMap<String, u64>,
    /// Messages that could not be read, by kind (`frame`: not JSON at all).
    pub parse_errors: BTreeMap<String, u64>,
    /// Values refused at the validation boundary (implausible numbers).
    pub rejected: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_lands_in_the_first_bucket_whose_bound_it_does_not_exceed() {
        let mut t = BuildTimes::default();
        t.observe(Duration::from_micros(50)); // on a bound: that bucket
        t.observe(Duration::from_micros(51));
        t.observe(Duration::from_millis(2));
        t.observe(Duration::from_secs(3)); // beyond every bound
        assert_eq!(t.buckets[2], 1);
        assert_eq!(t.buckets[3], 1);
        assert_eq!(t.buckets[7], 1, "2 ms is within 2.5 ms");
        assert_eq!(t.buckets[BUILD_BUCKETS_S.len()], 1);
        assert_eq!(t.count, 4);
        assert!((t.sum_s - 3.002101).abs() < 1e-12);
    }
}

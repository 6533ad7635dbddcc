//! Live model tracking: the local maintenance margin against the one the
//! exchange reports, compared once per exchange report from the first
//! snapshot on. A model that matches the exchange on a crash-period
//! snapshot can still drift on a live book (a parameter changed on the
//! exchange, a position kind modelled differently): this keeps the
//! evidence, and says when the gap lasts.

use std::collections::HashMap;
use std::hash::Hash;

/// The gap between local and exchange maintenance margin, as a share of
/// the larger of the two (so it lies in [−1, 1]; +0.05 = local 5 % above).
/// Both zero is agreement; a figure that is not finite compares nothing.
pub fn gap_share(local: f64, exchange: f64) -> Option<f64> {
    if !(local.is_finite() && exchange.is_finite()) {
        return None;
    }
    let scale = local.abs().max(exchange.abs());
    Some(match scale > 0.0 {
        true => (local - exchange) / scale,
        false => 0.0,
    })
}

/// What the comparison has shown so far for one account.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MmTracking {
    /// Exchange reports compared.
    pub reports: u64,
    /// The newest gap, signed (`gap_share`).
    pub last: f64,
    /// The mean size of the gap over every report.
    pub mean_abs: f64,
    /// The largest size of the gap.
    pub max_abs: f64,
    /// The exchange's time of the newest report compared.
    pub as_of: i64,
}

impl MmTracking {
    fn add(&mut self, share: f64, as_of: i64) {
        self.reports += 1;
        self.last = share;
        // A running mean: no sum that grows without bound over weeks.
        self.mean_abs += (share.abs() - self.mean_abs) / self.reports as f64;
        self.max_abs = self.max_abs.max(share.abs());
        self.as_of = as_of;
    }
}

/// One comparison: local and exchange MM, and the exchange's report time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pair {
    pub local: f64,
    pub exchange: f64,
    pub as_of: i64,
}

/// Every account's tracking, and since when (local time) a gap above the
/// tolerance has lasted.
#[derive(Clone, Debug)]
pub struct Tracker<K> {
    tracks: HashMap<K, MmTracking>,
    beyond: HashMap<K, i64>,
}

impl<K> Default for Tracker<K> {
    fn default() -> Self {
        Tracker {
            tracks: HashMap::new(),
            beyond: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash + Clone> Tracker<K> {
    /// Compare `pair` when it is a report not seen before; `now` is local
    /// time. A gap above `tolerance` starts (or continues) a divergence,
    /// one within it ends it.
    pub fn observe(&mut self, key: &K, pair: Pair, tolerance: f64, now: i64) {
        let track = self.tracks.entry(key.clone()).or_default();
        if track.reports > 0 && pair.as_of <= track.as_of {
            return;
        }
        let Some(share) = gap_share(pair.local, pair.exchange) else {
            return;
        };
        track.add(share, pair.as_of);
        match share.abs() > tolerance {
            true => {
                self.beyond.entry(key.clone()).or_insert(now);
            }
            false => {
                self.beyond.remove(key);
            }
        }
    }

    pub fn tracking(&self, key: &K) -> Option<MmTracking> {
        self.tracks.get(key).copied()
    }

    /// The gap and since when, once it has lasted `lasting_ms` at `now`.
    pub fn divergence(&self, key: &K, lasting_ms: i64, now: i64) -> Option<(f64, i64)> {
        let since = *self.beyond.get(key)?;
        let last = self.tracks.get(key)?.last;
        (now - since >= lasting_ms).then_some((last, since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(local: f64, exchange: f64, as_of: i64) -> Pair {
        Pair {
            local,
            exchange,
            as_of,
        }
    }

    #[test]
    fn the_gap_is_a_share_of_the_larger_figure() {
        assert_eq!(gap_share(1.25, 1.0), Some(0.2));
        assert_eq!(gap_share(1.0, 1.25), Some(-0.2));
        assert_eq!(gap_share(0.0, 0.0), Some(0.0));
        assert_eq!(gap_share(0.0, 2.0), Some(-1.0));
        assert_eq!(gap_share(f64::NAN, 1.0), None);
        assert_eq!(gap_share(1.0, f64::INFINITY), None);
    }

    #[test]
    fn statistics_count_each_report_once() {
        let mut t = Tracker::default();
        let key = "a";
        // Gaps +0.10, −0.20 (1.0 vs 1.25), 0: mean size 0.1, max 0.2.
        t.observe(&key, pair(1.0, 0.9, 10), 0.5, 0);
        t.observe(&key, pair(1.0, 0.9, 10), 0.5, 1); // the same report again
        t.observe(&key, pair(1.0, 1.25, 20), 0.5, 2);
        t.observe(&key, pair(2.0, 2.0, 30), 0.5, 3);
        let s = t.tracking(&key).unwrap();
        assert_eq!(s.reports, 3);
        assert_eq!(s.last, 0.0);
        assert!((s.mean_abs - 0.1).abs() < 1e-15, "{s:?}");
        assert!((s.max_abs - 0.2).abs() < 1e-15, "{s:?}");
        assert_eq!(s.as_of, 30);
    }

    #[test]
    fn a_divergence_is_reported_once_it_lasts_and_ends_on_agreement() {
        let mut t = Tracker::default();
        let key = 7_usize;
        t.observe(&key, pair(1.0, 1.0, 1), 0.05, 1_000);
        assert_eq!(t.divergence(&key, 60_000, 1_000), None);
        // 10 % apart from local time 5 s on.
        t.observe(&key, pair(1.0, 0.9, 2), 0.05, 5_000);
        t.observe(&key, pair(1.0, 0.9, 3), 0.05, 30_000);
        assert_eq!(t.divergence(&key, 60_000, 64_999), None);
        let (gap, since) = t.divergence(&key, 60_000, 65_000).unwrap();
        assert_eq!(since, 5_000);
        assert!((gap - 0.1).abs() < 1e-15);
        // Back within the tolerance: over.
        t.observe(&key, pair(1.0, 0.99, 4), 0.05, 70_000);
        assert_eq!(t.divergence(&key, 60_000, 200_000), None);
        // A non-finite figure compares nothing and changes nothing.
        t.observe(&key, pair(f64::NAN, 0.99, 5), 0.05, 71_000);
        assert_eq!(t.tracking(&key).unwrap().reports, 4);
    }
}

//! When to take positions and balances again without waiting for a
//! reconnect: right after each daily settlement and expiry (08:00 UTC on
//! the exchange's clock), again while a settled position is still held,
//! and every so often in any case. Pure bookkeeping: the engine asks, and
//! sends the requests to the connections.

use crate::model::instrument::EXPIRY_HOUR_UTC;
use std::collections::HashMap;

const DAY_MS: i64 = 86_400_000;

/// The most recent daily settlement at or before `ms` (epoch ms, UTC).
pub fn settlement_before(ms: i64) -> i64 {
    let offset = EXPIRY_HOUR_UTC * 3_600_000;
    (ms - offset).div_euclid(DAY_MS) * DAY_MS + offset
}

/// Timing of re-snapshots, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResyncTiming {
    /// After the exchange's clock passes a settlement, wait this long (the
    /// exchange needs a moment to settle) before asking.
    pub after_settlement_ms: i64,
    /// While a position past expiry is still held, ask again this often.
    pub retry_ms: i64,
    /// Ask at least this often in any case (0 = never).
    pub every_ms: i64,
}

impl Default for ResyncTiming {
    fn default() -> Self {
        ResyncTiming {
            after_settlement_ms: 5_000,
            retry_ms: 30_000,
            every_ms: 600_000,
        }
    }
}

/// Re-snapshot schedule of every private connection (by account label).
#[derive(Debug, Default)]
pub struct Resync {
    timing: ResyncTiming,
    /// The latest settlement the exchange's clock has passed.
    settlement: Option<i64>,
    /// Local time at which each connection is due.
    due: HashMap<String, i64>,
    /// Local time of each connection's last snapshot (asked or at connect).
    last: HashMap<String, i64>,
}

impl Resync {
    pub fn new(timing: ResyncTiming) -> Resync {
        Resync {
            timing,
            ..Resync::default()
        }
    }

    /// A connection took its snapshots (it has just connected, or was asked).
    pub fn snapshotted(&mut self, label: &str, now: i64) {
        self.last.insert(label.to_string(), now);
        self.due.remove(label);
    }

    /// The exchange's clock reads `pricing_ms`: when it has passed a new
    /// settlement, every connection is due shortly. True when the clock is
    /// in a new day's session (or seen for the first time): instruments may
    /// have expired since the last look.
    pub fn observe_clock(&mut self, pricing_ms: i64, now: i64) -> bool {
        if pricing_ms <= 0 {
            return false;
        }
        let settlement = settlement_before(pricing_ms);
        let before = self.settlement.replace(settlement);
        if before.is_some_and(|b| settlement > b) {
            let at = now + self.timing.after_settlement_ms;
            for label in self.last.keys() {
                self.due.entry(label.clone()).or_insert(at);
            }
        }
        before != Some(settlement)
    }

    /// Connections to ask now. `holds_expired` says whether a connection's
    /// accounts still hold a position past expiry.
    pub fn take_due(&mut self, now: i64, holds_expired: impl Fn(&str) -> bool) -> Vec<String> {
        let t = self.timing;
        let mut out: Vec<String> = (self.last.iter())
            .filter(|(label, &last)| {
                let since = now - last;
                self.due.get(*label).is_some_and(|&at| now >= at)
                    || (t.every_ms > 0 && since >= t.every_ms)
                    || (since >= t.retry_ms && holds_expired(label))
            })
            .map(|(label, _)| label.clone())
            .collect();
        out.sort();
        for label in &out {
            self.snapshotted(label, now);
        }
        out
    }

    /// A connection is gone for good (a removed subaccount).
    pub fn forget(&mut self, label: &str) {
        self.last.remove(label);
        self.due.remove(label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2022-09-30 08:00:00 UTC, a Deribit expiry.
    const EXPIRY: i64 = 1_664_524_800_000;

    #[test]
    fn settlement_is_the_last_eight_utc() {
        assert_eq!(settlement_before(EXPIRY), EXPIRY);
        assert_eq!(settlement_before(EXPIRY - 1), EXPIRY - DAY_MS);
        assert_eq!(settlement_before(EXPIRY + DAY_MS - 1), EXPIRY);
    }

    #[test]
    fn due_after_a_settlement_then_again_while_expired_positions_stay() {
        let timing = ResyncTiming {
            after_settlement_ms: 100,
            retry_ms: 1_000,
            every_ms: 0,
        };
        let mut r = Resync::new(timing);
        r.snapshotted("a", 0);
        assert!(r.observe_clock(EXPIRY - 10, 0), "first sight");
        assert!(!r.observe_clock(EXPIRY - 5, 0));
        assert!(r.take_due(50, |_| false).is_empty());
        assert!(r.observe_clock(EXPIRY + 10, 60)); // the clock crosses 08:00
        assert!(r.take_due(100, |_| true).is_empty(), "not before the delay");
        assert_eq!(r.take_due(160, |_| true), vec!["a".to_string()]);
        assert!(r.take_due(500, |_| true).is_empty());
        assert_eq!(r.take_due(1_160, |_| true), vec!["a".to_string()]);
        assert!(r.take_due(5_000, |_| false).is_empty(), "settled: no more");
    }

    #[test]
    fn periodic_resync() {
        let timing = ResyncTiming {
            every_ms: 1_000,
            ..ResyncTiming::default()
        };
        let mut r = Resync::new(timing);
        r.snapshotted("a", 0);
        assert!(r.take_due(999, |_| false).is_empty());
        assert_eq!(r.take_due(1_000, |_| false), vec!["a".to_string()]);
        r.forget("a");
        assert!(r.take_due(10_000, |_| false).is_empty());
    }
}

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
    /// Local time at which the exchange will have settled the current
    /// day's session, counted from when it was first seen (at a crossing,
    /// or at the monitor's first sight of the clock).
    settled_by: Option<i64>,
    /// Whether that session began with a crossing seen live.
    crossed: bool,
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
    /// Snapshots that arrive while the exchange is still settling after a
    /// crossing may have been asked for before 08:00 (a connection going
    /// live just as the clock crosses): they are taken again once it has.
    pub fn snapshotted(&mut self, label: &str, now: i64) {
        self.last.insert(label.to_string(), now);
        match self.settled_by {
            Some(at) if self.crossed && now < at => self.due.insert(label.to_string(), at),
            _ => self.due.remove(label),
        };
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
        if before == Some(settlement) {
            return false;
        }
        let at = now + self.timing.after_settlement_ms;
        self.settled_by = Some(at);
        self.crossed = before.is_some_and(|b| settlement > b);
        if self.crossed {
            for label in self.last.keys() {
                self.due.entry(label.clone()).or_insert(at);
            }
        }
        true
    }

    /// Connections to ask now. `holds_expired` says whether a connection's
    /// accounts still hold a position past expiry: such a connection is
    /// asked once the exchange has settled if its snapshot is older than
    /// that (the clock may have crossed 08:00 before the monitor first
    /// looked at it), then every `retry_ms`.
    pub fn take_due(&mut self, now: i64, holds_expired: impl Fn(&str) -> bool) -> Vec<String> {
        let t = self.timing;
        let settled = self.settled_by.filter(|&at| now >= at);
        let mut out: Vec<String> = (self.last.iter())
            .filter(|(label, &last)| {
                let since = now - last;
                let stale_expired = || settled.is_some_and(|at| last < at) || since >= t.retry_ms;
                self.due.get(*label).is_some_and(|&at| now >= at)
                    || (t.every_ms > 0 && since >= t.every_ms)
                    || (holds_expired(label) && stale_expired())
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
    fn a_snapshot_taken_while_the_exchange_settles_is_taken_again() {
        let timing = ResyncTiming {
            after_settlement_ms: 100,
            retry_ms: 60_000,
            every_ms: 0,
        };
        let mut r = Resync::new(timing);
        r.observe_clock(EXPIRY - 10, 0);
        // The connection asked before 08:00; its answer lands just after.
        r.observe_clock(EXPIRY + 10, 60);
        r.snapshotted("a", 70);
        assert!(r.take_due(100, |_| true).is_empty(), "not before the delay");
        assert_eq!(r.take_due(160, |_| true), vec!["a".to_string()]);
        // A connection that goes live after the exchange has settled is not.
        r.snapshotted("b", 200);
        assert!(r.take_due(10_000, |_| false).is_empty());
    }

    #[test]
    fn expired_positions_seen_at_first_sight_are_asked_again_once_settled() {
        let timing = ResyncTiming {
            after_settlement_ms: 100,
            retry_ms: 60_000,
            every_ms: 0,
        };
        let mut r = Resync::new(timing);
        // Snapshots taken before 08:00; the clock is first seen after it.
        r.snapshotted("a", 0);
        r.snapshotted("b", 0);
        assert!(r.observe_clock(EXPIRY + 10, 20));
        let holds = |l: &str| l == "a";
        assert!(r.take_due(100, holds).is_empty(), "not before the delay");
        assert_eq!(r.take_due(120, holds), vec!["a".to_string()]);
        assert!(r.take_due(1_000, holds).is_empty(), "then every retry_ms");
        assert_eq!(r.take_due(60_120, holds), vec!["a".to_string()]);
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

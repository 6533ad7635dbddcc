//! Deribit's request rate limit, per connection of the demo exchange: a
//! pool of credits (at most 50 000) refilled at 10 000 a second, each
//! request costing 500 — 20 requests a second sustained, bursts of 100.
//! A request the pool cannot pay is answered with 10028
//! "too_many_requests" and the connection is closed, as Deribit does.

use std::time::Instant;

const MAX: f64 = 50_000.0;
const REFILL_PER_S: f64 = 10_000.0;
const COST: f64 = 500.0;

pub(super) struct Credits {
    left: f64,
    at: Instant,
}

impl Credits {
    pub(super) fn new() -> Credits {
        Credits {
            left: MAX,
            at: Instant::now(),
        }
    }

    /// Pay for a request made at `now`; false when the pool cannot.
    pub(super) fn pay(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * REFILL_PER_S;
        self.left = (self.left + refill).min(MAX);
        self.at = now;
        if self.left < COST {
            return false;
        }
        self.left -= COST;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_of_a_hundred_then_twenty_a_second() {
        let mut c = Credits::new();
        let t0 = Instant::now();
        assert_eq!((0..150).filter(|_| c.pay(t0)).count(), 100);
        // A second later: twenty more, not twenty-one.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!((0..30).filter(|_| c.pay(t1)).count(), 20);
        // Idle for a minute: the pool is full again, never more.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..150).filter(|_| c.pay(t2)).count(), 100);
    }
}

//! Faults the demo exchange can inject into its connections, as the test
//! server of `tests/live.rs` does, for soak runs: a connection dropped, a
//! frame that is not JSON, messages sent twice, a connection that goes
//! silent (nothing sent, nothing answered) for a while.

use super::market::Rng;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// How long a stalled connection stays silent.
const STALL: Duration = Duration::from_secs(4);

/// One connection's faults: one about every `every`, drawn at random.
pub(super) struct Chaos {
    every: Duration,
    next: Instant,
    rng: Rng,
    silent_until: Option<Instant>,
}

impl Chaos {
    pub(super) fn new(every: Duration, seed: u64) -> Chaos {
        let mut rng = Rng::new(seed);
        let next = Instant::now() + every.mul_f64(0.5 + rng.uniform());
        Chaos {
            every,
            next,
            rng,
            silent_until: None,
        }
    }

    /// What of `out` is sent now: None drops the connection.
    pub(super) fn apply(&mut self, out: Vec<Message>) -> Option<Vec<Message>> {
        let now = Instant::now();
        if self.silent_until.is_some_and(|t| now < t) {
            return Some(Vec::new());
        }
        if now < self.next || out.is_empty() {
            return Some(out);
        }
        self.next = now + self.every.mul_f64(0.5 + self.rng.uniform());
        match self.rng.next_u64() % 4 {
            0 => None,
            1 => {
                let garbage = Message::text("{\"jsonrpc\": \"2.0\", \"method\": subscr");
                Some(std::iter::once(garbage).chain(out).collect())
            }
            2 => Some(out.iter().chain(&out).cloned().collect()),
            _ => {
                self.silent_until = Some(now + STALL);
                Some(Vec::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_fault_comes_and_between_faults_messages_pass() {
        let mut chaos = Chaos::new(Duration::ZERO, 1);
        let batch = || vec![Message::text("a"), Message::text("b")];
        let (mut dropped, mut garbage, mut doubled, mut silent) = (0, 0, 0, 0);
        for _ in 0..200 {
            chaos.silent_until = None;
            match chaos.apply(batch()) {
                None => dropped += 1,
                Some(m) if m.len() == 3 => garbage += 1,
                Some(m) if m.len() == 4 => doubled += 1,
                Some(m) if m.is_empty() => silent += 1,
                Some(m) => panic!("{m:?}"),
            }
        }
        assert!(dropped > 20 && garbage > 20 && doubled > 20 && silent > 20);
        let mut calm = Chaos::new(Duration::from_secs(3600), 1);
        assert_eq!(calm.apply(batch()), Some(batch()));
    }
}

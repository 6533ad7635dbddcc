//! What the dashboards remember between snapshots: each account's mm_ratio
//! and equity and each index price, sampled once a second, and the rate of
//! messages; the realized volatility of an index from its samples.

use crate::engine::live::Snapshot;
use crate::model::AccountKey;
use std::collections::{HashMap, VecDeque};

/// Points of history kept per account and per index (one a second: ten minutes).
pub const HISTORY: usize = 600;

/// An account's recent (mm_ratio, equity), oldest first.
pub type History = VecDeque<(f64, f64)>;

/// Index returns needed before a realized volatility is shown.
pub const MIN_RETURNS: usize = 30;

#[derive(Clone, Debug)]
pub struct Trends {
    /// mm_ratio and equity since start, by account, one point a second.
    pub history: HashMap<AccountKey, History>,
    /// Index prices by index name, (pricing ms, price), one a second.
    pub indices: HashMap<String, VecDeque<(i64, f64)>>,
    last_sample: i64,
    /// Messages a second over the last sampled second (status bar).
    pub message_rate: Option<f64>,
    last_messages: Option<(i64, u64)>,
}

impl Default for Trends {
    fn default() -> Trends {
        Trends {
            history: HashMap::new(),
            indices: HashMap::new(),
            last_sample: i64::MIN,
            message_rate: None,
            last_messages: None,
        }
    }
}

impl Trends {
    /// Once a second (by the snapshot's clock) each account's mm_ratio and
    /// equity and each index price; stale or incomplete accounts are not
    /// sampled.
    pub fn sample(&mut self, snap: &Snapshot) {
        if snap.as_of < self.last_sample.saturating_add(1000) {
            return;
        }
        self.last_sample = snap.as_of;
        if let Some((t, n)) = self.last_messages {
            let secs = (snap.as_of - t) as f64 / 1000.0;
            if secs > 0.0 {
                self.message_rate = Some(snap.messages.saturating_sub(n) as f64 / secs);
            }
        }
        self.last_messages = Some((snap.as_of, snap.messages));
        for v in snap.accounts.iter().filter(|v| v.complete && !v.stale) {
            // A cross account's trend is its totals' (equity in USD).
            let equity = v.cross.as_ref().map_or(v.risk.equity, |c| c.equity_usd);
            let (Some(r), e) = (v.judged_mm_ratio(), equity) else {
                continue;
            };
            push_capped(self.history.entry(v.key()).or_default(), (r, e));
        }
        for (name, price) in &snap.indices {
            let h = self.indices.entry(name.clone()).or_default();
            // Only new pricing times: a quiet feed adds no zero returns.
            if h.back().is_none_or(|(t, _)| snap.pricing_ms > *t) {
                push_capped(h, (snap.pricing_ms, *price));
            }
        }
    }

    /// Realized volatility of an index over one day, from the sampled
    /// prices (log returns, scaled by their mean spacing), and how many
    /// returns it rests on; None until `MIN_RETURNS` are in.
    pub fn daily_sigma(&self, index_name: &str) -> Option<(f64, usize)> {
        let h = self.indices.get(index_name)?;
        let returns: Vec<f64> = h
            .iter()
            .zip(h.iter().skip(1))
            .filter(|(a, b)| a.1 > 0.0 && b.1 > 0.0)
            .map(|(a, b)| (b.1 / a.1).ln())
            .collect();
        if returns.len() < MIN_RETURNS {
            return None;
        }
        let (first, last) = (h.front()?.0, h.back()?.0);
        let spacing_s = (last - first) as f64 / 1000.0 / returns.len() as f64;
        if spacing_s <= 0.0 {
            return None;
        }
        let n = returns.len() as f64;
        let mean = returns.iter().sum::<f64>() / n;
        let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Some(((var * 86_400.0 / spacing_s).sqrt(), returns.len()))
    }
}

fn push_capped<T>(h: &mut VecDeque<T>, v: T) {
    if h.len() == HISTORY {
        h.pop_front();
    }
    h.push_back(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realized_volatility_of_sampled_prices() {
        // Alternating ±1 % log returns, one a second: daily σ = 1 % × √86400
        // (sample standard deviation of n returns: × √(n/(n−1))).
        let mut trends = Trends::default();
        let mut p = 100.0_f64;
        let h = trends.indices.entry("btc_usd".into()).or_default();
        for i in 0..=40 {
            h.push_back((i * 1000, p));
            p *= if i % 2 == 0 {
                0.01_f64.exp()
            } else {
                (-0.01_f64).exp()
            };
        }
        let (sigma, n) = trends.daily_sigma("btc_usd").unwrap();
        assert_eq!(n, 40);
        let expected = 0.01 * (40.0_f64 / 39.0).sqrt() * 86_400f64.sqrt();
        assert!(
            (sigma / expected - 1.0).abs() < 1e-9,
            "{sigma} vs {expected}"
        );
        trends.indices.get_mut("btc_usd").unwrap().truncate(10);
        assert_eq!(trends.daily_sigma("btc_usd"), None, "too few returns");
    }
}

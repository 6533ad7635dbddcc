//! The demo market's own past, kept as it happens: candles of each index,
//! of its volatility index (the 30-day at-the-money implied vol, as
//! Deribit's DVOL is), and of each future's mark, for
//! `get_volatility_index_data` and `get_tradingview_chart_data`. The last
//! day at one-minute resolution and the last 30 days at one hour bound
//! the memory whatever the run's length.

use std::collections::{BTreeMap, VecDeque};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const MINUTES_KEPT: usize = 1_440;
const HOURS_KEPT: usize = 720;

/// Open, high, low and close over `[t, t + resolution)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candle {
    pub t: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

impl Candle {
    fn new(t: i64, v: f64) -> Candle {
        Candle {
            t,
            open: v,
            high: v,
            low: v,
            close: v,
        }
    }

    fn add(&mut self, v: f64) {
        self.high = self.high.max(v);
        self.low = self.low.min(v);
        self.close = v;
    }

    fn merge(&mut self, c: &Candle) {
        self.high = self.high.max(c.high);
        self.low = self.low.min(c.low);
        self.close = c.close;
    }
}

/// One series at two resolutions.
#[derive(Clone, Debug, Default)]
struct Series {
    minutes: VecDeque<Candle>,
    hours: VecDeque<Candle>,
}

fn push(list: &mut VecDeque<Candle>, step: i64, kept: usize, t: i64, v: f64) {
    let start = t.div_euclid(step) * step;
    match list.back_mut() {
        Some(c) if c.t == start => c.add(v),
        Some(c) if c.t > start => {} // time never runs back; ignore it if it does
        _ => {
            list.push_back(Candle::new(start, v));
            if list.len() > kept {
                list.pop_front();
            }
        }
    }
}

impl Series {
    fn observe(&mut self, t: i64, v: f64) {
        push(&mut self.minutes, MINUTE_MS, MINUTES_KEPT, t, v);
        push(&mut self.hours, HOUR_MS, HOURS_KEPT, t, v);
    }

    /// Candles of `resolution_ms` (a multiple of a minute) within
    /// `[start, end]`, from the finest series that covers `start`.
    fn range(&self, start: i64, end: i64, resolution_ms: i64) -> Vec<Candle> {
        let minutes_cover = self.minutes.front().is_some_and(|c| c.t <= start);
        let source = match (resolution_ms < HOUR_MS, minutes_cover) {
            (true, _) | (false, true) => &self.minutes,
            (false, false) => &self.hours,
        };
        let step = resolution_ms.max(MINUTE_MS);
        let mut out: Vec<Candle> = Vec::new();
        for c in source.iter().filter(|c| c.t >= start && c.t <= end) {
            let bucket = c.t.div_euclid(step) * step;
            match out.last_mut() {
                Some(last) if last.t == bucket => last.merge(c),
                _ => out.push(Candle { t: bucket, ..*c }),
            }
        }
        out
    }
}

/// Every series of the demo market, by name ("BTC" index, "BTC DVOL",
/// an instrument's name for its mark).
#[derive(Clone, Debug, Default)]
pub struct History {
    series: BTreeMap<String, Series>,
}

impl History {
    pub fn observe(&mut self, name: &str, t: i64, v: f64) {
        if !v.is_finite() {
            return;
        }
        match self.series.get_mut(name) {
            Some(s) => s.observe(t, v),
            None => {
                let mut s = Series::default();
                s.observe(t, v);
                self.series.insert(name.to_string(), s);
            }
        }
    }

    /// Candles of a series (empty when it is unknown).
    pub fn candles(&self, name: &str, start: i64, end: i64, resolution_ms: i64) -> Vec<Candle> {
        self.series
            .get(name)
            .map_or_else(Vec::new, |s| s.range(start, end, resolution_ms))
    }

    /// Forget a series (an instrument that expired).
    pub fn forget(&mut self, name: &str) {
        self.series.remove(name);
    }
}

/// A resolution as Deribit writes it (a number of `unit_ms`, or "1D") in
/// milliseconds; `allowed` lists the ones the method takes.
pub fn resolution_ms(text: &str, allowed: &[&str], unit_ms: i64) -> Option<i64> {
    if !allowed.contains(&text) {
        return None;
    }
    match text {
        "1D" => Some(86_400_000),
        n => n.parse::<i64>().ok().map(|n| n * unit_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_make_candles_and_candles_aggregate() {
        let mut h = History::default();
        let t0 = 1_700_000_040_000 - 1_700_000_040_000 % HOUR_MS;
        for (dt, v) in [
            (0, 10.0),
            (20_000, 12.0),
            (50_000, 9.0),
            (60_000, 11.0),
            (130_000, 15.0),
        ] {
            h.observe("BTC", t0 + dt, v);
        }
        let minutes = h.candles("BTC", t0, t0 + HOUR_MS, MINUTE_MS);
        assert_eq!(
            minutes[0],
            Candle {
                t: t0,
                open: 10.0,
                high: 12.0,
                low: 9.0,
                close: 9.0
            }
        );
        assert_eq!(minutes.len(), 3);
        let five = h.candles("BTC", t0, t0 + HOUR_MS, 5 * MINUTE_MS);
        assert_eq!(
            five,
            vec![Candle {
                t: t0,
                open: 10.0,
                high: 15.0,
                low: 9.0,
                close: 15.0
            }]
        );
        assert!(h.candles("ETH", t0, t0 + HOUR_MS, MINUTE_MS).is_empty());
        h.observe("BTC", t0 + 2 * HOUR_MS, f64::NAN);
        assert_eq!(h.candles("BTC", t0, t0 + 3 * HOUR_MS, HOUR_MS).len(), 1);
    }

    #[test]
    fn a_day_of_minutes_and_a_month_of_hours_are_kept() {
        let mut h = History::default();
        for m in 0..(3 * 1_440) {
            h.observe("BTC", m * MINUTE_MS, m as f64);
        }
        let s = &h.series["BTC"];
        assert_eq!(s.minutes.len(), MINUTES_KEPT);
        assert_eq!(s.hours.len(), 72);
        // Older than a day: hourly candles answer.
        let early = h.candles("BTC", 0, 2 * HOUR_MS, HOUR_MS);
        assert_eq!(early.len(), 3);
        assert_eq!((early[1].open, early[1].close), (60.0, 119.0));
    }

    #[test]
    fn resolutions_are_deribits() {
        let allowed = ["1", "60", "1D"];
        assert_eq!(resolution_ms("60", &allowed, MINUTE_MS), Some(HOUR_MS));
        assert_eq!(resolution_ms("60", &allowed, 1_000), Some(MINUTE_MS));
        assert_eq!(resolution_ms("1D", &allowed, 1_000), Some(86_400_000));
        assert_eq!(resolution_ms("7", &allowed, 1_000), None);
    }
}

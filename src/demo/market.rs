//! A simulated crypto derivatives market, seeded and reproducible.
//!
//! Each index follows a jump-diffusion: geometric Brownian motion at a
//! daily vol near what BTC and ETH show (BTC ~50 %, ETH ~65 % a year), plus
//! rare jumps (about two a day, ±1–2 %). A crash, when triggered, pulls the
//! index down by a drawn 15–40 % over a few minutes while implied vols rise
//! by up to 80 %, then lets both settle. Futures carry a basis over the index
//! (an annualised carry), the perpetual trades near the index, and options
//! are marked with Black-76 at the calibrated smile (`smile.rs`) on their
//! forward — so the demo's marks are the risk core's own.

use super::smile::{self, Smile};
use crate::model::instrument::civil;
use crate::model::{Instrument, Kind, Quote};
use crate::pricing::{self, years_between};

/// SplitMix64 with Box–Muller normals: small, fast, and the same on every platform.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// A crash in progress.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Crash {
    /// Log-move still to come (its size).
    remaining: f64,
    /// Log-move per second while it lasts.
    per_second: f64,
    /// 1 for a fall, -1 for a recovery.
    direction: f64,
    /// Multiplier of implied vols; decays back to 1 after the fall.
    vol_boost: f64,
}

/// One underlying: its index and how it moves.
#[derive(Clone, Debug)]
pub struct Underlying {
    pub base: String,
    pub index_name: String,
    pub index: f64,
    pub annual_vol: f64,
    /// Expected jumps per day and their size (standard deviation of the log-jump).
    pub jumps_per_day: f64,
    pub jump_sd: f64,
    /// Annualised futures carry over the index.
    pub basis: f64,
    pub smile: Smile,
    /// The perpetual's premium over the index (a fraction); it wanders
    /// around a small positive mean, and funding follows it.
    pub perp_premium: f64,
    crash: Option<Crash>,
    vol_boost: f64,
    /// The log-fall of the last crash not yet recovered.
    last_crash: f64,
}

/// The perpetual premium's mean, spread (stationary standard deviation)
/// and half-life: it spends most of its time inside Deribit's ±0.05 %
/// dead band, where no funding is paid, and leaves it now and then.
const PREMIUM_MEAN: f64 = 0.0002;
const PREMIUM_SD: f64 = 0.0006;
const PREMIUM_HALF_LIFE_S: f64 = 3_600.0;

const MS_PER_DAY: i64 = 86_400_000;
const SECONDS_PER_YEAR: f64 = 365.0 * 86_400.0;

/// The simulated market: underlyings, their listed instruments, the clock.
#[derive(Clone, Debug)]
pub struct SimMarket {
    pub now_ms: i64,
    pub underlyings: Vec<Underlying>,
    pub instruments: Vec<Instrument>,
    /// What expired in the last 30 days.
    pub expired: Vec<Instrument>,
    rng: Rng,
    /// Draws for the perpetual premium, apart from the index's: adding the
    /// premium left every seeded index path as it was.
    premium_rng: Rng,
}

impl SimMarket {
    /// BTC and ETH near their 2026-06 levels, with a listed chain at `now_ms`.
    pub fn new(seed: u64, now_ms: i64) -> SimMarket {
        let underlyings = vec![
            underlying("BTC", 72_600.0, 0.50, smile::BTC),
            underlying("ETH", 1_980.0, 0.65, smile::ETH),
        ];
        let mut market = SimMarket {
            now_ms,
            underlyings,
            instruments: Vec::new(),
            expired: Vec::new(),
            rng: Rng::new(seed),
            premium_rng: Rng::new(seed ^ 0x9E7),
        };
        market.instruments = market.listing();
        market
    }

    /// After an expiry: what has expired leaves the list, what is still
    /// listed stays (strikes once listed are never withdrawn while they
    /// live, as on Deribit), and the day's new expiries and strikes around
    /// today's index are added. Returns the instruments added.
    pub fn relist(&mut self) -> Vec<Instrument> {
        let now = self.now_ms;
        let (live, gone): (Vec<Instrument>, Vec<Instrument>) =
            std::mem::take(&mut self.instruments)
                .into_iter()
                .partition(|i| i.expiry_ms().is_none_or(|e| e > now));
        self.instruments = live;
        // Expired instruments stay listable (`expired = true`) for a month.
        self.expired.extend(gone);
        let month_ago = now - 30 * MS_PER_DAY;
        self.expired
            .retain(|i| i.expiry_ms().is_some_and(|e| e > month_ago));
        let known: std::collections::HashSet<String> =
            self.instruments.iter().map(|i| i.name.clone()).collect();
        let added: Vec<Instrument> = (self.listing().into_iter())
            .filter(|i| !known.contains(&i.name))
            .collect();
        self.instruments.extend(added.iter().cloned());
        added
    }

    /// The chain Deribit would list now: perpetual, dated futures, and
    /// options on daily, weekly, monthly and quarterly expiries, strikes
    /// around the money.
    fn listing(&self) -> Vec<Instrument> {
        let mut out = Vec::new();
        for u in &self.underlyings {
            out.push(Instrument::parse(&format!("{}-PERPETUAL", u.base)).expect("perpetual name"));
            for (expiry, label) in expiries(self.now_ms) {
                let t = years_between(self.now_ms, expiry);
                if let Ok(f) = Instrument::parse(&format!("{}-{label}", u.base)) {
                    if t > 7.0 / 365.0 {
                        out.push(f);
                    }
                }
                for strike in strikes(u.index, t) {
                    for cp in ["C", "P"] {
                        if let Ok(o) =
                            Instrument::parse(&format!("{}-{label}-{strike}-{cp}", u.base))
                        {
                            out.push(o);
                        }
                    }
                }
            }
        }
        out
    }

    pub fn underlying(&self, base: &str) -> Option<&Underlying> {
        self.underlyings.iter().find(|u| u.base == base)
    }

    /// Advance the market by `dt_ms`.
    pub fn step(&mut self, dt_ms: i64) {
        self.now_ms += dt_ms;
        let dt = dt_ms as f64 / 1000.0;
        for u in &mut self.underlyings {
            let sigma = u.annual_vol * u.vol_boost * (dt / SECONDS_PER_YEAR).sqrt();
            let mut log_move = sigma * self.rng.normal() - 0.5 * sigma * sigma;
            if self.rng.uniform() < u.jumps_per_day * dt / 86_400.0 {
                log_move += u.jump_sd * self.rng.normal();
            }
            if let Some(c) = &mut u.crash {
                let fall = (c.per_second * dt).min(c.remaining);
                c.remaining -= fall;
                log_move -= c.direction * fall;
                u.vol_boost = c.vol_boost;
                if c.remaining <= 0.0 {
                    u.crash = None;
                }
            } else if u.vol_boost > 1.0 {
                // After a crash, vols relax with a half-life of ten minutes.
                u.vol_boost = 1.0 + (u.vol_boost - 1.0) * 0.5_f64.powf(dt / 600.0);
            }
            u.index *= log_move.exp();
            // Ornstein–Uhlenbeck, sampled exactly over the step.
            let keep = 0.5_f64.powf(dt / PREMIUM_HALF_LIFE_S);
            let noise = PREMIUM_SD * (1.0 - keep * keep).sqrt() * self.premium_rng.normal();
            u.perp_premium = PREMIUM_MEAN + (u.perp_premium - PREMIUM_MEAN) * keep + noise;
        }
    }

    /// The volatility index of `base`, as Deribit's DVOL: the 30-day
    /// at-the-money implied vol, in percent.
    pub fn dvol(&self, base: &str) -> Option<f64> {
        let u = self.underlying(base)?;
        let t = 30.0 / 365.0;
        let f = forward(u, t);
        Some(u.smile.vol(f, f, t) * u.vol_boost * 100.0)
    }

    /// The perpetual's funding rate over eight hours, Deribit's way: the
    /// premium less a ±0.05 % dead band, capped at ±0.5 %. Positive: longs pay.
    pub fn funding_8h(&self, base: &str) -> f64 {
        let p = self.underlying(base).map_or(0.0, |u| u.perp_premium);
        (p.max(0.0005) + p.min(-0.0005)).clamp(-0.005, 0.005)
    }

    /// Start a crash on `base`: a 15–40 % fall over two to five minutes.
    pub fn crash(&mut self, base: &str) {
        let depth = 0.15 + 0.25 * self.rng.uniform();
        let seconds = 120.0 + 180.0 * self.rng.uniform();
        let boost = 1.4 + 0.4 * self.rng.uniform();
        if let Some(u) = self.underlyings.iter_mut().find(|u| u.base == base) {
            let remaining = -(1.0 - depth).ln();
            u.crash = Some(Crash {
                remaining,
                per_second: remaining / seconds,
                direction: 1.0,
                vol_boost: boost,
            });
            u.vol_boost = boost;
            u.last_crash = remaining;
        }
    }

    /// Win back the last crash's fall on `base`, as fast as it came (a
    /// soak alternates the two so that its index stays in range).
    pub fn recover(&mut self, base: &str) {
        if let Some(u) = self.underlyings.iter_mut().find(|u| u.base == base) {
            let remaining = std::mem::take(&mut u.last_crash);
            if remaining > 0.0 {
                u.crash = Some(Crash {
                    remaining,
                    per_second: remaining / 180.0,
                    direction: -1.0,
                    vol_boost: u.vol_boost,
                });
            }
        }
    }

    pub fn crashing(&self, base: &str) -> bool {
        self.underlying(base).is_some_and(|u| u.crash.is_some())
    }

    /// The exchange's quote for a listed instrument now.
    pub fn quote(&self, inst: &Instrument) -> Option<Quote> {
        let u = self.underlying(&inst.base)?;
        let (mark, iv, forward) = match inst.kind {
            Kind::Perpetual => (u.index * (1.0 + u.perp_premium), None, None),
            Kind::Future { expiry_ms } => (
                forward(u, years_between(self.now_ms, expiry_ms)),
                None,
                None,
            ),
            Kind::Option {
                option_type,
                strike,
                expiry_ms,
            } => {
                let t = years_between(self.now_ms, expiry_ms).max(0.0);
                let f = forward(u, t);
                let iv = u.smile.vol(strike, f, t) * u.vol_boost;
                (
                    pricing::coin_price(option_type, f, strike, t, iv),
                    Some(iv),
                    Some(f),
                )
            }
        };
        Some(Quote {
            mark_price: mark,
            mark_iv: iv,
            underlying_price: forward,
            index_price: Some(u.index),
            timestamp: self.now_ms,
        })
    }
}

fn underlying(base: &str, index: f64, annual_vol: f64, smile: Smile) -> Underlying {
    Underlying {
        base: base.into(),
        index_name: format!("{}_usd", base.to_ascii_lowercase()),
        index,
        annual_vol,
        jumps_per_day: 2.0,
        jump_sd: 0.012,
        basis: 0.06,
        smile,
        perp_premium: PREMIUM_MEAN,
        crash: None,
        vol_boost: 1.0,
        last_crash: 0.0,
    }
}

fn forward(u: &Underlying, t: f64) -> f64 {
    u.index * (u.basis * t).exp()
}

/// Strikes around the index: steps of about 2.5 % of it near the money, the
/// range widening with time to expiry (±2.5σ√T, at least ±10 %).
fn strikes(index: f64, t: f64) -> Vec<u64> {
    let step = nice_step(index * 0.025);
    let half_width = (2.5 * 0.6 * t.sqrt()).max(0.10);
    let lo = ((index * (1.0 - half_width).max(0.2)) / step).floor() as i64;
    let hi = ((index * (1.0 + half_width)) / step).ceil() as i64;
    (lo.max(1)..=hi).map(|k| (k as f64 * step) as u64).collect()
}

/// A round step (1, 2 or 5 × a power of ten) near `x`.
fn nice_step(x: f64) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= x)
        .unwrap_or(10.0 * p)
}

/// Expiries listed at `now_ms` (08:00 UTC): the next three days, the next
/// three Fridays, the last Fridays of the next three months, and of the
/// quarter months of the next year (Deribit's calendar; a test compares it
/// with a real chain's). Returns (expiry ms, "DDMMMYY") without duplicates.
pub fn expiries(now_ms: i64) -> Vec<(i64, String)> {
    let today = now_ms.div_euclid(MS_PER_DAY);
    let at8 = |day: i64| day * MS_PER_DAY + 8 * 3_600_000;
    let mut days: Vec<i64> = Vec::new();
    let first = if at8(today) > now_ms {
        today
    } else {
        today + 1
    };
    days.extend(first..first + 3);
    // 1970-01-01 was a Thursday: day % 7 == 1 is a Friday.
    let fridays: Vec<i64> = (first..first + 400)
        .filter(|d| d.rem_euclid(7) == 1)
        .collect();
    days.extend(fridays.iter().take(3));
    let last_friday_of = |y: i64, m: u32| {
        fridays
            .iter()
            .copied()
            .filter(|d| civil(*d).0 == y && civil(*d).1 == m)
            .max()
    };
    let (y0, m0, _) = civil(first);
    for k in 0..12 {
        let (y, m) = (
            y0 + (m0 as i64 - 1 + k) / 12,
            ((m0 as i64 - 1 + k) % 12) as u32 + 1,
        );
        if k < 3 || m % 3 == 0 {
            if let Some(d) = last_friday_of(y, m) {
                days.push(d);
            }
        }
    }
    days.sort();
    days.dedup();
    days.into_iter()
        .filter(|d| at8(*d) > now_ms)
        .map(|d| (at8(d), label(d)))
        .collect()
}

/// Deribit's expiry label, e.g. "4FEB26".
fn label(day: i64) -> String {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let (y, m, d) = civil(day);
    format!("{d}{}{:02}", MONTHS[m as usize - 1], y % 100)
}

//! Black-76 on a forward, in Deribit's units (docs/design.md).
//!
//! Deribit prices its options with Black-76 on the option's own forward
//! (`underlying_price`) and a zero rate, so the discount factor is 1 and the
//! USD value of one contract on one coin is `F·N(d1) − K·N(d2)` for a call.
//! The Greeks follow what Deribit publishes on its tickers:
//! delta `N(d1)` (put `N(d1) − 1`), gamma per 1 USD, vega in USD per vol
//! point, theta in USD per calendar day, rho in USD per 1 % rate (the
//! spot-Black–Scholes form `T·K·N(d2)/100` that Deribit reports).

use super::normal::{cdf, pdf};
use serde::Serialize;

/// Calendar days in Deribit's year for time to expiry.
pub const DAYS_PER_YEAR: f64 = 365.0;
/// Milliseconds in that year.
pub const MS_PER_YEAR: f64 = DAYS_PER_YEAR * 86_400_000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OptionType {
    Call,
    Put,
}

/// Value and sensitivities of one option on one unit of the underlying, in USD.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Greeks {
    pub price: f64,
    pub delta: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
    pub rho: f64,
}

impl Greeks {
    /// Deribit's net-transaction delta in coin for an inverse option: the
    /// forward delta less the premium held in coin (`delta − price/F`).
    pub fn net_delta(&self, forward: f64) -> f64 {
        self.delta - self.price / forward
    }
}

/// Time to expiry in years from epoch milliseconds; negative once expired.
#[inline]
pub fn years_between(now_ms: i64, expiry_ms: i64) -> f64 {
    (expiry_ms - now_ms) as f64 / MS_PER_YEAR
}

#[inline]
fn intrinsic(opt: OptionType, f: f64, k: f64) -> f64 {
    match opt {
        OptionType::Call => (f - k).max(0.0),
        OptionType::Put => (k - f).max(0.0),
    }
}

/// True when the option has no time value left to model: expired, or no
/// volatility. Those cases are priced at intrinsic value, never NaN.
#[inline]
fn degenerate(t: f64, sigma: f64) -> bool {
    !(t > 0.0 && sigma > 0.0)
}

/// USD value of one option. `f`, `k` > 0; `t` in years; `sigma` a fraction.
#[inline]
pub fn price(opt: OptionType, f: f64, k: f64, t: f64, sigma: f64) -> f64 {
    if degenerate(t, sigma) {
        return intrinsic(opt, f, k);
    }
    // Rounding can leave a far out-of-the-money value a hair below zero:
    // price_with_total_vol floors it at intrinsic.
    price_with_total_vol(opt, f, k, (f / k).ln(), sigma * t.sqrt())
}

/// USD value from precomputed pieces: `ln_fk = ln(F/K)` and total vol
/// `sd = σ√T > 0`. Scenario grids reuse `ln(F/K)` and `√T` across moves.
#[inline]
pub fn price_with_total_vol(opt: OptionType, f: f64, k: f64, ln_fk: f64, sd: f64) -> f64 {
    if sd.is_nan() || sd <= 0.0 {
        return intrinsic(opt, f, k);
    }
    let d1 = ln_fk / sd + 0.5 * sd;
    let d2 = d1 - sd;
    let value = match opt {
        OptionType::Call => f * cdf(d1) - k * cdf(d2),
        OptionType::Put => k * cdf(-d2) - f * cdf(-d1),
    };
    value.max(intrinsic(opt, f, k))
}

/// Value and all Greeks of one option, in Deribit's units.
pub fn greeks(opt: OptionType, f: f64, k: f64, t: f64, sigma: f64) -> Greeks {
    if degenerate(t, sigma) {
        return expired_greeks(opt, f, k);
    }
    let sqrt_t = t.sqrt();
    let sd = sigma * sqrt_t;
    let d1 = (f / k).ln() / sd + 0.5 * sd;
    let d2 = d1 - sd;
    let phi = pdf(d1);
    // Each side uses the tail it needs, so a far out-of-the-money value keeps
    // its relative precision instead of being a difference of two numbers near 1.
    let (value, delta, rho) = match opt {
        OptionType::Call => {
            let (n_d1, n_d2) = (cdf(d1), cdf(d2));
            (f * n_d1 - k * n_d2, n_d1, t * k * n_d2 / 100.0)
        }
        OptionType::Put => {
            let (n_md1, n_md2) = (cdf(-d1), cdf(-d2));
            (k * n_md2 - f * n_md1, -n_md1, -t * k * n_md2 / 100.0)
        }
    };
    Greeks {
        price: value.max(intrinsic(opt, f, k)),
        delta,
        gamma: phi / (f * sd),
        vega: f * phi * sqrt_t / 100.0,
        theta: -f * phi * sigma / (2.0 * sqrt_t) / DAYS_PER_YEAR,
        rho,
    }
}

/// The delta of `greeks`, alone (the same operations, so the same bits):
/// a margin search needs no other sensitivity.
pub fn delta(opt: OptionType, f: f64, k: f64, t: f64, sigma: f64) -> f64 {
    if degenerate(t, sigma) {
        return expired_greeks(opt, f, k).delta;
    }
    let sd = sigma * t.sqrt();
    let d1 = (f / k).ln() / sd + 0.5 * sd;
    match opt {
        OptionType::Call => cdf(d1),
        OptionType::Put => -cdf(-d1),
    }
}

/// At or after expiry: intrinsic value, a step delta, no other sensitivity.
fn expired_greeks(opt: OptionType, f: f64, k: f64) -> Greeks {
    let itm_call = if f > k {
        1.0
    } else if f < k {
        0.0
    } else {
        0.5
    };
    let delta = match opt {
        OptionType::Call => itm_call,
        OptionType::Put => itm_call - 1.0,
    };
    Greeks {
        price: intrinsic(opt, f, k),
        delta,
        ..Greeks::default()
    }
}

/// Value in coin of an inverse option (USD value over the forward).
#[inline]
pub fn coin_price(opt: OptionType, f: f64, k: f64, t: f64, sigma: f64) -> f64 {
    price(opt, f, k, t, sigma) / f
}

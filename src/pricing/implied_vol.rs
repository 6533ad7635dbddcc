//! Implied volatility from a Black-76 price.
//!
//! Works on the out-of-the-money side (put–call parity moves an in-the-money
//! price there), where the price has full relative precision, and solves for
//! the total volatility `s = σ√T` by Newton's method on `ln(price)` against
//! `ln(s)`. That function is smooth and nearly linear far out of the money,
//! where plain Newton on the price stalls. A bracket that shrinks with every
//! evaluation falls back to bisection whenever a Newton step would leave it,
//! so the solver always converges.

use super::black76::OptionType;
use super::normal::{cdf, pdf};
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum IvError {
    /// Inputs that are not finite or not positive.
    InvalidInput(&'static str),
    /// At or after expiry the price carries no volatility.
    Expired,
    /// The price is outside the no-arbitrage bounds (intrinsic, upper bound).
    OutOfBounds { price: f64, lower: f64, upper: f64 },
    /// Volatility would be above the solver's search range.
    TooHigh,
}

impl fmt::Display for IvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IvError::InvalidInput(what) => write!(f, "invalid input to implied vol: {what}"),
            IvError::Expired => write!(f, "option is expired: no implied volatility"),
            IvError::OutOfBounds {
                price,
                lower,
                upper,
            } => write!(
                f,
                "price {price} is outside the no-arbitrage bounds [{lower}, {upper}]"
            ),
            IvError::TooHigh => write!(f, "implied volatility is above the search range"),
        }
    }
}

impl std::error::Error for IvError {}

/// Largest total volatility σ√T searched (σ = 500 % over 10 years is ≈ 15.8).
const MAX_TOTAL_VOL: f64 = 40.0;
const MIN_TOTAL_VOL: f64 = 1e-12;

/// Implied volatility (a fraction) from a USD price of one option on one coin.
pub fn implied_vol(
    opt: OptionType,
    f: f64,
    k: f64,
    t: f64,
    price_usd: f64,
) -> Result<f64, IvError> {
    for (v, name) in [(f, "forward"), (k, "strike")] {
        if !(v.is_finite() && v > 0.0) {
            return Err(IvError::InvalidInput(name));
        }
    }
    if !price_usd.is_finite() {
        return Err(IvError::InvalidInput("price"));
    }
    if !(t.is_finite() && t > 0.0) {
        return Err(IvError::Expired);
    }
    let (lower, upper) = match opt {
        OptionType::Call => ((f - k).max(0.0), f),
        OptionType::Put => ((k - f).max(0.0), k),
    };
    if !(price_usd > lower && price_usd < upper) {
        return Err(IvError::OutOfBounds {
            price: price_usd,
            lower,
            upper,
        });
    }
    // Out-of-the-money value by parity (C − P = F − K).
    let otm_call = k >= f;
    let target = match (opt, otm_call) {
        (OptionType::Call, true) | (OptionType::Put, false) => price_usd,
        (OptionType::Call, false) => price_usd - (f - k),
        (OptionType::Put, true) => price_usd - (k - f),
    };
    if target <= 0.0 {
        // Parity lost the time value to rounding: nothing left to invert.
        return Err(IvError::OutOfBounds {
            price: price_usd,
            lower,
            upper,
        });
    }
    let s = solve_total_vol(f, k, otm_call, target)?;
    Ok(s / t.sqrt())
}

/// Implied volatility from an inverse option's coin price (USD price / F).
pub fn implied_vol_coin(
    opt: OptionType,
    f: f64,
    k: f64,
    t: f64,
    price_coin: f64,
) -> Result<f64, IvError> {
    implied_vol(opt, f, k, t, price_coin * f)
}

/// Out-of-the-money value as a function of total volatility `s`.
#[inline]
fn otm_value(f: f64, k: f64, call: bool, s: f64) -> f64 {
    let d1 = (f / k).ln() / s + 0.5 * s;
    let d2 = d1 - s;
    if call {
        f * cdf(d1) - k * cdf(d2)
    } else {
        k * cdf(-d2) - f * cdf(-d1)
    }
}

fn solve_total_vol(f: f64, k: f64, call: bool, target: f64) -> Result<f64, IvError> {
    let ln_target = target.ln();
    let mut lo = MIN_TOTAL_VOL.ln();
    let mut hi = MAX_TOTAL_VOL.ln();
    if otm_value(f, k, call, MAX_TOTAL_VOL) < target {
        return Err(IvError::TooHigh);
    }
    // Start at the inflection point of price in s, or an ATM estimate.
    let moneyness = (f / k).ln().abs();
    let s0 = if moneyness > 1e-8 {
        (2.0 * moneyness).sqrt()
    } else {
        (2.0 * std::f64::consts::PI).sqrt() * target / f
    };
    let mut x = s0.clamp(MIN_TOTAL_VOL, MAX_TOTAL_VOL).ln();
    for _ in 0..200 {
        let s = x.exp();
        let value = otm_value(f, k, call, s);
        if value <= 0.0 {
            // Below the smallest representable price: search higher.
            lo = x;
            x = 0.5 * (lo + hi);
            continue;
        }
        let h = value.ln() - ln_target;
        if h > 0.0 {
            hi = x;
        } else {
            lo = x;
        }
        // d ln(value) / d ln(s) = s · F·φ(d1) / value.
        let d1 = (f / k).ln() / s + 0.5 * s;
        let slope = s * f * pdf(d1) / value;
        let mut next = x - h / slope;
        if !(next.is_finite() && next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - x).abs() < 1e-15 * x.abs().max(1.0) || hi - lo < 1e-15 {
            return Ok(next.exp());
        }
        x = next;
    }
    Ok(x.exp())
}

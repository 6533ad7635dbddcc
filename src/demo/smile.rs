//! The demo market's implied-volatility surface, calibrated to real chains.
//!
//! Model: σ(x, T) = β0 + β1·ln T + β2·x + β3·x², with x = ln(K/F)/√T (moneyness
//! scaled by time) and T in years. Calibration is ordinary least squares
//! (nalgebra's SVD) over every row of a Deribit chain snapshot with a mark IV,
//! at least two days to expiry and |x| ≤ 1.5; one fit per currency.
//! The constants below are that fit on the 2026-06-01 08:42 UTC snapshot in
//! tests/fixtures/data/ (BTC index ≈ 72,600, ETH ≈ 1,980); a test recomputes
//! them from the file.

use nalgebra::{DMatrix, DVector};

/// Coefficients [β0, β1, β2, β3] of the surface.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Smile(pub [f64; 4]);

/// Fitted on deribit_options_snapshot_20260601T084252Z.csv, BTC rows.
pub const BTC: Smile = Smile([
    0.40706172128116763,
    0.016465847246537,
    -0.07189441037392524,
    0.11901339362101385,
]);
/// Fitted on the same snapshot, ETH rows.
pub const ETH: Smile = Smile([
    0.5647921798037034,
    0.027300626787776446,
    -0.06752473349010585,
    0.09111156946725349,
]);

/// Vol floor and cap of the surface, so extreme strikes stay plausible.
const MIN_VOL: f64 = 0.15;
const MAX_VOL: f64 = 3.0;

impl Smile {
    /// Implied vol for strike `k`, forward `f`, `t` years to expiry.
    pub fn vol(&self, k: f64, f: f64, t: f64) -> f64 {
        let t = t.max(1.0 / 365.0);
        let x = (k / f).ln() / t.sqrt();
        let [b0, b1, b2, b3] = self.0;
        (b0 + b1 * t.ln() + b2 * x + b3 * x * x).clamp(MIN_VOL, MAX_VOL)
    }
}

/// One observation: strike, forward, years to expiry, mark IV (fraction).
pub type Observation = (f64, f64, f64, f64);

/// Least-squares fit of the surface to observations (see the module text
/// for which rows count). None if fewer than four rows qualify.
pub fn fit(observations: &[Observation]) -> Option<Smile> {
    let rows: Vec<[f64; 5]> = observations
        .iter()
        .filter(|(k, f, t, iv)| *t >= 2.0 / 365.0 && *iv > 0.0 && *k > 0.0 && *f > 0.0)
        .map(|&(k, f, t, iv)| {
            let x = (k / f).ln() / t.sqrt();
            [1.0, t.ln(), x, x * x, iv]
        })
        .filter(|r| r[2].abs() <= 1.5)
        .collect();
    if rows.len() < 4 {
        return None;
    }
    let a = DMatrix::from_fn(rows.len(), 4, |i, j| rows[i][j]);
    let b = DVector::from_fn(rows.len(), |i, _| rows[i][4]);
    let beta = a.svd(true, true).solve(&b, 1e-12).ok()?;
    Some(Smile([beta[0], beta[1], beta[2], beta[3]]))
}

//! The scenario sets of the three methods (docs/risk.md §4): historical moves
//! as they happened (HS), rescaled to today's volatility (FHS), and
//! correlated Monte Carlo draws from the EWMA covariance (MC).

use super::window::Window;
use nalgebra::{DMatrix, SymmetricEigen};

/// EWMA decay.
pub const LAMBDA: f64 = 0.94;
/// Moves that seed the EWMA recursion.
const SEED_MOVES: usize = 30;

/// Factor moves, one row per scenario, one column per factor.
pub type Scenarios = Vec<Vec<f64>>;

/// Historical simulation: the window's moves.
pub fn hs(w: &Window) -> Scenarios {
    w.moves.clone()
}

/// Each factor's EWMA variance before each move, and after the last
/// (`out.len() == moves + 1`).
fn ewma_variances(x: &[f64]) -> Vec<f64> {
    let seed = x.len().clamp(1, SEED_MOVES);
    let mut s2 = x.iter().take(seed).map(|v| v * v).sum::<f64>() / seed as f64;
    let mut out = Vec::with_capacity(x.len() + 1);
    out.push(s2);
    for v in x {
        s2 = LAMBDA * s2 + (1.0 - LAMBDA) * v * v;
        out.push(s2);
    }
    out
}

/// Filtered HS: every factor's moves rescaled by its EWMA volatility today
/// over its volatility at the time.
pub fn fhs(w: &Window) -> Scenarios {
    let mut out = w.moves.clone();
    for f in 0..w.factors.len() {
        let x: Vec<f64> = w.moves.iter().map(|m| m[f]).collect();
        let s2 = ewma_variances(&x);
        let today = s2[x.len()].sqrt();
        for (t, row) in out.iter_mut().enumerate() {
            let then = s2[t].sqrt();
            // A factor that never moved stays unmoved.
            row[f] = if then > 0.0 { x[t] * today / then } else { 0.0 };
        }
    }
    out
}

/// The EWMA covariance of the factors after the window's last move.
pub fn ewma_covariance(w: &Window) -> DMatrix<f64> {
    let n = w.factors.len();
    let seed = w.len().clamp(1, SEED_MOVES);
    let mut cov = DMatrix::zeros(n, n);
    for m in w.moves.iter().take(seed) {
        let x = nalgebra::DVector::from_column_slice(m);
        cov += &x * x.transpose() / seed as f64;
    }
    for m in &w.moves {
        let x = nalgebra::DVector::from_column_slice(m);
        cov = cov * LAMBDA + (&x * x.transpose()) * (1.0 - LAMBDA);
    }
    cov
}

/// A covariance's correlations (unit diagonal; 0 where a factor never moved).
pub fn correlation(cov: &DMatrix<f64>) -> DMatrix<f64> {
    let sd: Vec<f64> = (0..cov.nrows()).map(|i| cov[(i, i)].sqrt()).collect();
    DMatrix::from_fn(cov.nrows(), cov.ncols(), |i, j| match i == j {
        true => 1.0,
        false if sd[i] > 0.0 && sd[j] > 0.0 => cov[(i, j)] / (sd[i] * sd[j]),
        false => 0.0,
    })
}

/// A lower Cholesky factor of `cov`, after raising every eigenvalue below
/// 1e-12 × trace to that floor; true when that was needed.
pub fn cholesky_repaired(cov: &DMatrix<f64>) -> (DMatrix<f64>, bool) {
    let n = cov.nrows();
    let floor = 1e-12 * cov.trace().max(f64::MIN_POSITIVE);
    let eig = SymmetricEigen::new(cov.clone());
    let repaired = eig.eigenvalues.iter().any(|&l| l < floor);
    let m = match repaired {
        false => cov.clone(),
        true => {
            let lambda = eig.eigenvalues.map(|l| l.max(floor));
            let q = &eig.eigenvectors;
            let mut m = q * DMatrix::from_diagonal(&lambda) * q.transpose();
            // Symmetric to the last bit, for the factorisation.
            m = (&m + m.transpose()) * 0.5;
            m
        }
    };
    let l = match m.clone().cholesky() {
        Some(c) => c.l(),
        // The floor keeps the matrix positive definite; this only guards
        // against a matrix of zeros (a window with no moves).
        None => DMatrix::zeros(n, n),
    };
    (l, repaired)
}

/// The distribution of MC draws.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Draws {
    Normal,
    /// Student-t with `nu` > 2 degrees of freedom, scaled to the covariance.
    StudentT {
        nu: f64,
    },
}

/// `paths` correlated draws of the factor moves, from a fixed seed: the
/// same draws for every book (common random numbers).
pub fn mc(cov: &DMatrix<f64>, paths: usize, seed: u64, draws: Draws) -> (Scenarios, bool) {
    let (l, repaired) = cholesky_repaired(cov);
    let n = cov.nrows();
    let mut rng = Rng::new(seed);
    let mut z = vec![0.0; n];
    let out = (0..paths)
        .map(|_| {
            for v in z.iter_mut() {
                *v = rng.normal();
            }
            let scale = match draws {
                Draws::Normal => 1.0,
                Draws::StudentT { nu } => {
                    (nu / rng.chi_square(nu)).sqrt() * ((nu - 2.0) / nu).sqrt()
                }
            };
            (0..n)
                .map(|i| (0..=i).map(|j| l[(i, j)] * z[j]).sum::<f64>() * scale)
                .collect()
        })
        .collect();
    (out, repaired)
}

/// xoshiro256** seeded by SplitMix64: small, fast, and the same stream on
/// every platform and version (so a seed always gives the same paths).
pub struct Rng {
    s: [u64; 4],
    spare: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
            spare: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform on (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Marsaglia's polar method).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        loop {
            let (u, v) = (2.0 * self.uniform() - 1.0, 2.0 * self.uniform() - 1.0);
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let k = (-2.0 * s.ln() / s).sqrt();
                self.spare = Some(v * k);
                return u * k;
            }
        }
    }

    /// χ² with `nu` degrees of freedom: 2 × Gamma(nu / 2), by Marsaglia and
    /// Tsang's method.
    pub fn chi_square(&mut self, nu: f64) -> f64 {
        2.0 * self.gamma(nu / 2.0)
    }

    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            // Boost: Gamma(a) = Gamma(a + 1) × U^(1/a).
            let u = self.uniform();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::history::Series;
    use crate::risk::window::Factor;

    fn window(moves: Vec<Vec<f64>>) -> Window {
        let n = moves[0].len();
        Window {
            factors: (0..n)
                .map(|i| Factor {
                    name: format!("f{i}"),
                    index: format!("f{i}"),
                    series: Series::Price(format!("F{i}")),
                    proxy: false,
                })
                .collect(),
            days: (0..moves.len() as i32).collect(),
            moves,
            horizon: 1,
        }
    }

    #[test]
    fn fhs_on_a_constant_volatility_series_is_hs() {
        // |x| constant: the EWMA variance never changes, the ratio is 1.
        let moves: Vec<Vec<f64>> = (0..200)
            .map(|i| vec![if i % 3 == 0 { 0.02 } else { -0.02 }])
            .collect();
        let w = window(moves);
        let (h, f) = (hs(&w), fhs(&w));
        for (a, b) in h.iter().zip(&f) {
            assert!((a[0] - b[0]).abs() < 1e-15, "{a:?} {b:?}");
        }
    }

    #[test]
    fn fhs_scales_to_todays_volatility() {
        // Calm then stormy: old calm moves are scaled up.
        let moves: Vec<Vec<f64>> = (0..300)
            .map(|i| vec![if i < 200 { 0.01 } else { 0.05 } * if i % 2 == 0 { 1.0 } else { -1.0 }])
            .collect();
        let f = fhs(&window(moves));
        assert!(f[10][0].abs() > 0.045, "{}", f[10][0]);
        assert!((f[299][0].abs() - 0.05).abs() < 1e-3);
    }

    #[test]
    fn ewma_seeds_on_thirty_moves_then_decays() {
        let x: Vec<f64> = (0..40).map(|i| 0.01 * (i as f64 - 20.0)).collect();
        let s2 = ewma_variances(&x);
        let seed: f64 = x[..30].iter().map(|v| v * v).sum::<f64>() / 30.0;
        assert!((s2[0] - seed).abs() < 1e-18);
        let mut by_hand = seed;
        for v in &x {
            by_hand = 0.94 * by_hand + 0.06 * v * v;
        }
        assert!((s2[40] - by_hand).abs() < 1e-15);
        let w = window(x.iter().map(|&v| vec![v, -v]).collect());
        let cov = ewma_covariance(&w);
        assert!((cov[(0, 0)] - by_hand).abs() < 1e-15);
        assert!((cov[(0, 1)] + by_hand).abs() < 1e-15);
        assert!((correlation(&cov)[(0, 1)] + 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_cholesky_factor_reproduces_the_covariance() {
        let cov = DMatrix::from_row_slice(
            3,
            3,
            &[
                4e-4, 1.2e-4, -3e-4, 1.2e-4, 9e-4, -2e-4, -3e-4, -2e-4, 2.5e-3,
            ],
        );
        let (l, repaired) = cholesky_repaired(&cov);
        assert!(!repaired);
        let back = &l * l.transpose();
        assert!((back - &cov).abs().max() < 1e-12);
        // Lower triangular.
        assert_eq!(l[(0, 1)], 0.0);
    }

    #[test]
    fn a_matrix_that_is_not_positive_definite_is_repaired_and_flagged() {
        // Correlations 0.9, 0.9 and −0.9: no such three variables exist.
        let cov = DMatrix::from_row_slice(3, 3, &[1.0, 0.9, 0.9, 0.9, 1.0, -0.9, 0.9, -0.9, 1.0]);
        assert!(cov.clone().cholesky().is_none());
        let (l, repaired) = cholesky_repaired(&cov);
        assert!(repaired);
        let back = &l * l.transpose();
        let eig = SymmetricEigen::new(back.clone()).eigenvalues;
        assert!(eig.iter().all(|&e| e >= 1e-12 * 3.0 * 0.999), "{eig}");
        // Two identical factors (ETH's vol borrowed from BTC's): singular.
        let twins = DMatrix::from_row_slice(2, 2, &[1e-3, 1e-3, 1e-3, 1e-3]);
        let (l, repaired) = cholesky_repaired(&twins);
        assert!(repaired);
        assert!((&l * l.transpose() - &twins).abs().max() < 1e-12);
    }

    #[test]
    fn draws_have_the_covariance_asked_and_a_seed_repeats_them() {
        let cov = DMatrix::from_row_slice(2, 2, &[4e-4, 3e-4, 3e-4, 9e-4]);
        for draws in [Draws::Normal, Draws::StudentT { nu: 5.0 }] {
            let (s, _) = mc(&cov, 200_000, 7, draws);
            let n = s.len() as f64;
            let c = |i: usize, j: usize| s.iter().map(|r| r[i] * r[j]).sum::<f64>() / n;
            // Sampling error of a second moment at 200k draws: a few %.
            for (i, j) in [(0, 0), (0, 1), (1, 1)] {
                let rel = (c(i, j) / cov[(i, j)] - 1.0).abs();
                assert!(rel < 0.05, "{draws:?} ({i},{j}) off by {rel}");
            }
            assert_eq!(s[..10], mc(&cov, 10, 7, draws).0[..]);
        }
    }
}

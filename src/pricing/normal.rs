//! Standard normal density and distribution to full double precision.
//!
//! `N(x) = erfc(-x/√2)/2` keeps relative accuracy in both tails, which the
//! implied-volatility solver needs for far out-of-the-money options. `erfc`
//! is the C library's (C99, in every platform libm Rust's std links): accurate
//! to about one ulp and, on this machine, 14 ns against 23 ns for the pure-Rust
//! `libm` crate — it is the innermost call of every scenario revaluation.

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// Standard normal probability density φ(x).
#[inline]
pub fn pdf(x: f64) -> f64 {
    FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()
}

mod c {
    extern "C" {
        pub fn erfc(x: f64) -> f64;
    }
}

/// Complementary error function.
#[inline]
pub fn erfc(x: f64) -> f64 {
    // SAFETY: a pure C99 math function of one double; no pointers, no state.
    unsafe { c::erfc(x) }
}

/// Standard normal cumulative distribution N(x).
#[inline]
pub fn cdf(x: f64) -> f64 {
    0.5 * erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_matches_published_table_values() {
        // Abramowitz & Stegun table 26.1 / any statistics table, 15 digits.
        let table = [
            (0.0, 0.5),
            (1.0, 0.841_344_746_068_542_9),
            (-1.0, 0.158_655_253_931_457_05),
            (1.96, 0.975_002_104_851_780),
            (3.0, 0.998_650_101_968_369_9),
            (-5.0, 2.866_515_718_791_939e-7),
            (-10.0, 7.619_853_024_160_527e-24),
        ];
        for (x, expected) in table {
            let got = cdf(x);
            assert!(
                ((got - expected) / expected).abs() < 1e-13,
                "N({x}) = {got}, expected {expected}"
            );
        }
    }

    #[test]
    fn pdf_is_derivative_of_cdf() {
        for i in -40..=40 {
            let x = i as f64 * 0.2;
            let h = 1e-5;
            let fd = (cdf(x + h) - cdf(x - h)) / (2.0 * h);
            assert!((fd - pdf(x)).abs() < 1e-9, "x={x}");
        }
    }
}

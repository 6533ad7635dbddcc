//! Would a VaR model have held? The standard tests of an exception
//! sequence (docs/risk.md §6): Kupiec's proportion of failures,
//! Christoffersen's independence and conditional coverage, and the Basel
//! traffic light; and a margin's coverage of daily losses.

use crate::pricing::normal::erfc;

/// Likelihood ratios below this are rounding noise: reported as 0.
const LR_NOISE: f64 = 1e-9;

/// The exception tests of one model over a walk.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coverage {
    /// Test days (T) and exceptions (x) among them.
    pub days: usize,
    pub exceptions: usize,
    /// The VaR's confidence α (0.99): exceptions are expected on 1 − α of days.
    pub alpha: f64,
    pub lr_pof: f64,
    pub p_pof: f64,
    pub lr_ind: f64,
    pub p_ind: f64,
    pub lr_cc: f64,
    pub p_cc: f64,
    pub zone: Zone,
}

impl Coverage {
    /// Exceptions a correct model has on average: T × (1 − α).
    pub fn expected(&self) -> f64 {
        self.days as f64 * (1.0 - self.alpha)
    }
}

/// The Basel traffic light.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    Green,
    Yellow,
    Red,
}

impl Zone {
    pub fn name(self) -> &'static str {
        match self {
            Zone::Green => "green",
            Zone::Yellow => "yellow",
            Zone::Red => "red",
        }
    }

    /// The zone in words for a 99 % VaR: a colour alone says nothing on a
    /// monochrome terminal or in a log.
    pub fn meaning(self) -> &'static str {
        match self {
            Zone::Green => "green: consistent with 99 %",
            Zone::Yellow => "yellow: more exceptions than 99 % explains",
            Zone::Red => "red: the model understates the risk",
        }
    }
}

/// The tests of an exception sequence (true = exception on that day).
pub fn coverage(exceptions: &[bool], alpha: f64) -> Coverage {
    let days = exceptions.len();
    let x = exceptions.iter().filter(|e| **e).count();
    let lr_pof = denoised(kupiec(days, x, 1.0 - alpha));
    let lr_ind = denoised(christoffersen(exceptions));
    let lr_cc = lr_pof + lr_ind;
    Coverage {
        days,
        exceptions: x,
        alpha,
        lr_pof,
        p_pof: chi2_1_survival(lr_pof),
        lr_ind,
        p_ind: chi2_1_survival(lr_ind),
        lr_cc,
        p_cc: chi2_2_survival(lr_cc),
        zone: zone(days, x, alpha),
    }
}

fn denoised(lr: f64) -> f64 {
    if lr < LR_NOISE {
        0.0
    } else {
        lr
    }
}

/// n·ln(q), 0 when n is 0 (the term drops out, whatever q).
fn n_ln(n: usize, q: f64) -> f64 {
    if n == 0 {
        0.0
    } else {
        n as f64 * q.ln()
    }
}

/// Kupiec's LR_pof for x exceptions in T days at exception rate p.
pub fn kupiec(days: usize, x: usize, p: f64) -> f64 {
    if days == 0 {
        return 0.0;
    }
    let observed = x as f64 / days as f64;
    let null = n_ln(days - x, 1.0 - p) + n_ln(x, p);
    let fitted = n_ln(days - x, 1.0 - observed) + n_ln(x, observed);
    -2.0 * null + 2.0 * fitted
}

/// Christoffersen's LR_ind from the transitions of consecutive days.
pub fn christoffersen(exceptions: &[bool]) -> f64 {
    let mut n = [[0usize; 2]; 2];
    for w in exceptions.windows(2) {
        n[w[0] as usize][w[1] as usize] += 1;
    }
    let [[n00, n01], [n10, n11]] = n;
    let all = n00 + n01 + n10 + n11;
    if all == 0 {
        return 0.0;
    }
    let rate = |hits: usize, of: usize| {
        if of == 0 {
            0.0
        } else {
            hits as f64 / of as f64
        }
    };
    let (pi0, pi1, pi) = (
        rate(n01, n00 + n01),
        rate(n11, n10 + n11),
        rate(n01 + n11, all),
    );
    let null = n_ln(n00 + n10, 1.0 - pi) + n_ln(n01 + n11, pi);
    let fitted = n_ln(n00, 1.0 - pi0) + n_ln(n01, pi0) + n_ln(n10, 1.0 - pi1) + n_ln(n11, pi1);
    -2.0 * null + 2.0 * fitted
}

/// P(χ²(1) > x) = erfc(√(x/2)).
pub fn chi2_1_survival(x: f64) -> f64 {
    erfc((x.max(0.0) / 2.0).sqrt())
}

/// P(χ²(2) > x) = e^(−x/2).
pub fn chi2_2_survival(x: f64) -> f64 {
    (-x.max(0.0) / 2.0).exp()
}

/// The traffic light's zones for T days at confidence α: yellow from the
/// smallest n with binomial(T, 1 − α) CDF(n) ≥ 0.95, red from the smallest
/// with CDF(n) ≥ 0.9999 (T = 250 at 99 %: yellow from 5, red from 10).
pub fn zone_starts(days: usize, alpha: f64) -> (usize, usize) {
    let p = 1.0 - alpha;
    // The pmf by its recurrence, from (1 − p)^T; exact enough in doubles
    // for any T a backtest has (the first term is > 1e-300 up to T ≈ 68,000).
    let mut pmf = (1.0 - p).powi(days as i32);
    let mut cdf = 0.0;
    let (mut yellow, mut red) = (None, None);
    for n in 0..=days {
        cdf += pmf;
        if yellow.is_none() && cdf >= 0.95 {
            yellow = Some(n);
        }
        if cdf >= 0.9999 {
            red = Some(n);
            break;
        }
        pmf *= (days - n) as f64 / (n + 1) as f64 * p / (1.0 - p);
    }
    let red = red.unwrap_or(days + 1);
    (yellow.unwrap_or(red), red)
}

/// The zone of x exceptions in T days.
pub fn zone(days: usize, x: usize, alpha: f64) -> Zone {
    let (yellow, red) = zone_starts(days, alpha);
    match x {
        x if x >= red => Zone::Red,
        x if x >= yellow => Zone::Yellow,
        _ => Zone::Green,
    }
}

/// How a margin held against each day's loss: a day whose loss exceeds
/// it (strictly) is an exception.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MarginCoverage {
    pub exceptions: usize,
    /// Exceptions over test days.
    pub share: f64,
    /// The largest loss beyond the margin (0 when none).
    pub worst_excess: f64,
}

/// A constant `margin` against the daily P&Ls.
pub fn margin_coverage(pnl: &[f64], margin: f64) -> MarginCoverage {
    let excess: Vec<f64> = pnl.iter().map(|p| -p - margin).collect();
    let exceptions = excess.iter().filter(|e| **e > 0.0).count();
    MarginCoverage {
        exceptions,
        share: exceptions as f64 / pnl.len().max(1) as f64,
        worst_excess: excess.iter().fold(0.0, |w, e| w.max(*e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn kupiec_by_hand() {
        // T = 250, x = 5, p = 0.01:
        //   null   = 245·ln 0.99 + 5·ln 0.01 = −2.462332 − 23.025851 = −25.488183
        //   fitted = 245·ln 0.98 + 5·ln 0.02 = −4.949663 − 19.560115 = −24.509778
        //   LR = −2(−25.488183) + 2(−24.509778) = 1.956810
        //   p = erfc(√(1.956810/2)) = erfc(0.989144) = 0.161855
        let c = coverage(&exceptions(250, &[10, 60, 110, 160, 210]), 0.99);
        assert_eq!(c.exceptions, 5);
        assert!(close(c.lr_pof, 1.956_810, 1e-6), "{}", c.lr_pof);
        assert!(close(c.p_pof, 0.161_855, 1e-6), "{}", c.p_pof);
        // No exception at all: LR = −2·250·ln 0.99 = 5.025168, p = 0.024982.
        let none = coverage(&[false; 250], 0.99);
        assert!(close(none.lr_pof, 5.025_168, 1e-6) && close(none.p_pof, 0.024_982, 1e-6));
        // Exactly the expected rate: no evidence against the model.
        let right = coverage(&exceptions(500, &[1, 100, 200, 300, 400]), 0.99);
        assert_eq!((right.lr_pof, right.p_pof), (0.0, 1.0));
    }

    #[test]
    fn christoffersen_by_hand() {
        // 0 0 1 1 0 0 0 1 0 0 0 0 1 0 0 0 0 0 0 0: 19 transitions,
        //   n00 = 12, n01 = 3, n10 = 3, n11 = 1;
        //   π0 = 3/15 = 0.2, π1 = 1/4 = 0.25, π = 4/19.
        //   null   = 15·ln(15/19) + 4·ln(4/19) = −3.545832 − 6.232578 = −9.778410
        //   fitted = 12·ln 0.8 + 3·ln 0.2 + 3·ln 0.75 + ln 0.25
        //          = −2.677723 − 4.828314 − 0.863046 − 1.386294 = −9.755377
        //   LR_ind = 2(9.778410 − 9.755377) = 0.046066
        //   p = erfc(√0.023033) = erfc(0.151767) = 0.830055
        let seq: Vec<bool> = [0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
            .iter()
            .map(|v| *v == 1)
            .collect();
        let c = coverage(&seq, 0.95);
        assert!(close(c.lr_ind, 0.046_066_4, 1e-6), "{}", c.lr_ind);
        assert!(close(c.p_ind, 0.830_055, 1e-6), "{}", c.p_ind);
        // Kupiec at 5 %, 4 of 20: 5.591147; conditional coverage adds
        // them, and χ²(2)'s survival is e^(−x/2).
        assert!(close(c.lr_pof, 5.591_147, 1e-6), "{}", c.lr_pof);
        assert!(close(c.lr_cc, 5.637_213, 1e-6) && close(c.p_cc, 0.059_689, 1e-6));
        // Exceptions in a run are dependent: a clustered sequence scores
        // higher than a spread one with the same count.
        let clustered = coverage(&exceptions(250, &[100, 101, 102, 103, 104]), 0.99);
        let spread = coverage(&exceptions(250, &[10, 60, 110, 160, 210]), 0.99);
        assert!(
            clustered.lr_ind > 5.0 && clustered.p_ind < 0.05,
            "{clustered:?}"
        );
        assert!(spread.lr_ind < clustered.lr_ind);
    }

    #[test]
    fn chi2_survival_matches_its_table() {
        // The 5 % and 1 % critical values of χ²(1) and χ²(2).
        assert!(close(chi2_1_survival(3.841_459), 0.05, 1e-7));
        assert!(close(chi2_1_survival(6.634_897), 0.01, 1e-7));
        assert!(close(chi2_2_survival(5.991_465), 0.05, 1e-7));
        assert!(close(chi2_2_survival(9.210_340), 0.01, 1e-7));
        assert_eq!(chi2_1_survival(0.0), 1.0);
    }

    #[test]
    fn the_traffic_light() {
        assert_eq!(zone_starts(250, 0.99), (5, 10));
        assert_eq!(zone_starts(500, 0.99), (9, 15));
        for (x, z) in [(0, Zone::Green), (4, Zone::Green), (5, Zone::Yellow)] {
            assert_eq!(zone(250, x, 0.99), z, "{x}");
        }
        for (x, z) in [(9, Zone::Yellow), (10, Zone::Red), (30, Zone::Red)] {
            assert_eq!(zone(250, x, 0.99), z, "{x}");
        }
    }

    #[test]
    fn a_margin_covers_the_days_it_exceeds() {
        let pnl = [-0.5, 0.2, -1.25, -1.0, -0.9];
        let m = margin_coverage(&pnl, 1.0);
        // −1.0 equals the margin: not an exception (strictly greater).
        assert_eq!(m.exceptions, 1);
        assert!(close(m.share, 0.2, 1e-15) && close(m.worst_excess, 0.25, 1e-15));
        assert_eq!(margin_coverage(&pnl, 2.0).worst_excess, 0.0);
    }

    fn exceptions(days: usize, at: &[usize]) -> Vec<bool> {
        (0..days).map(|d| at.contains(&d)).collect()
    }
}

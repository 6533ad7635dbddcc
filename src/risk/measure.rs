//! VaR and ES from a set of scenario P&Ls (docs/risk.md §3), and the Euler
//! allocation of ES to the parts of a book.

use serde::Serialize;

/// A confidence level as an exact fraction, so that the tail's size is
/// counted in integers (in floating point 1000 × (1 − 0.99) is just over
/// 10 and would round up to 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    pub per_mille: u32,
}

pub const P99: Level = Level { per_mille: 990 };
pub const P975: Level = Level { per_mille: 975 };

impl Level {
    /// The number of scenarios in the tail of `n`: ceil(n × (1 − α)), at
    /// least 1.
    pub fn tail(self, n: usize) -> usize {
        let out = (n as u64) * u64::from(1000 - self.per_mille);
        (out.div_ceil(1000) as usize).max(1)
    }
}

/// The three figures reported, in the P&Ls' unit; negative when the book
/// gains in the tail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Measures {
    pub var_99: f64,
    pub es_975: f64,
    pub es_99: f64,
}

/// The scenarios of the `level` tail: the largest losses, largest first
/// (ties in scenario order, so the result never depends on sorting noise).
/// The tail of a lower level starts with that of a higher one.
pub fn tail(pnl: &[f64], level: Level) -> Vec<usize> {
    let k = level.tail(pnl.len()).min(pnl.len());
    let mut order: Vec<usize> = (0..pnl.len()).collect();
    let by_loss = |a: &usize, b: &usize| pnl[*a].total_cmp(&pnl[*b]).then(a.cmp(b));
    // Only the tail needs an order: select it, then sort it.
    if k > 0 && k < order.len() {
        order.select_nth_unstable_by(k - 1, by_loss);
    }
    order.truncate(k);
    order.sort_unstable_by(by_loss);
    order
}

/// VaR at `level`: the k-th largest loss.
pub fn var(pnl: &[f64], level: Level) -> Option<f64> {
    tail(pnl, level).last().map(|&i| -pnl[i])
}

/// ES at `level`: the mean of the k largest losses.
pub fn es(pnl: &[f64], level: Level) -> Option<f64> {
    mean_loss(pnl, &tail(pnl, level))
}

fn mean_loss(pnl: &[f64], tail: &[usize]) -> Option<f64> {
    (!tail.is_empty()).then(|| -tail.iter().map(|&i| pnl[i]).sum::<f64>() / tail.len() as f64)
}

/// VaR 99 %, ES 97.5 % and ES 99 % of the P&Ls (None: no scenarios),
/// and the ES 97.5 % tail (for contributions).
pub fn measures_and_tail(pnl: &[f64]) -> Option<(Measures, Vec<usize>)> {
    let t975 = tail(pnl, P975);
    let t99 = &t975[..P99.tail(pnl.len()).min(t975.len())];
    // + 0.0: a book that never moves has a VaR of 0, not −0.
    let m = Measures {
        var_99: -pnl[*t99.last()?] + 0.0,
        es_975: mean_loss(pnl, &t975)? + 0.0,
        es_99: mean_loss(pnl, t99)? + 0.0,
    };
    Some((m, t975))
}

/// VaR 99 %, ES 97.5 % and ES 99 % of the P&Ls (None: no scenarios).
pub fn measures(pnl: &[f64]) -> Option<Measures> {
    measures_and_tail(pnl).map(|(m, _)| m)
}

/// A part's contribution to the ES of a whole whose tail is `tail`: the
/// mean of the part's loss over those scenarios. The parts of a whole add
/// up to its ES.
pub fn contribution_over(tail: &[usize], part: &[f64]) -> f64 {
    -tail.iter().map(|&i| part[i]).sum::<f64>() / tail.len().max(1) as f64
}

/// A part's contribution to the ES of the whole at `level`.
pub fn contribution(whole: &[f64], part: &[f64], level: Level) -> f64 {
    contribution_over(&tail(whole, level), part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_counted_exactly() {
        assert_eq!(P99.tail(1000), 10);
        assert_eq!(P975.tail(1000), 25);
        assert_eq!(P99.tail(250), 3); // 2.5 rounds up
        assert_eq!(P99.tail(10), 1);
        assert_eq!(P99.tail(0), 1);
        assert_eq!(P975.tail(10_000), 250);
    }

    #[test]
    fn var_is_the_kth_loss_and_es_the_mean_of_the_tail() {
        // Losses 1..=1000 in a shuffled order.
        let pnl: Vec<f64> = (0..1000)
            .map(|i| -(((i * 389) % 1000) as f64 + 1.0))
            .collect();
        let m = measures(&pnl).unwrap();
        assert_eq!(m.var_99, 991.0);
        assert_eq!(m.es_99, (991..=1000).sum::<i32>() as f64 / 10.0);
        assert_eq!(m.es_975, (976..=1000).sum::<i32>() as f64 / 25.0);
        assert!(m.es_99 >= m.var_99);
        assert_eq!(measures(&[]), None);
    }

    #[test]
    fn the_tail_is_the_same_as_a_full_sort_ties_in_scenario_order() {
        let pnl: Vec<f64> = (0..997)
            .map(|i| ((i * 7919 % 503) as f64 - 250.0).round())
            .collect();
        let mut full: Vec<usize> = (0..pnl.len()).collect();
        full.sort_by(|&a, &b| pnl[a].total_cmp(&pnl[b]).then(a.cmp(&b)));
        for level in [P99, P975] {
            let k = level.tail(pnl.len());
            assert_eq!(tail(&pnl, level), full[..k].to_vec());
        }
        let (m, t) = measures_and_tail(&pnl).unwrap();
        assert_eq!(t, full[..P975.tail(997)].to_vec());
        assert_eq!(m.var_99, -pnl[full[P99.tail(997) - 1]]);
    }

    #[test]
    fn a_book_that_never_moves_has_zero_var_not_minus_zero() {
        let m = measures(&[0.0; 100]).unwrap();
        assert!(
            m.var_99.is_sign_positive() && m.es_975.is_sign_positive(),
            "{m:?}"
        );
    }

    #[test]
    fn a_book_that_gains_everywhere_has_a_negative_var() {
        let pnl: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(var(&pnl, P99), Some(-1.0));
    }

    #[test]
    fn contributions_add_up_to_the_es() {
        let a: Vec<f64> = (0..500)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) * 0.3)
            .collect();
        let b: Vec<f64> = (0..500)
            .map(|i| ((i * 53 % 97) as f64 - 48.0) * 0.7)
            .collect();
        let whole: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let sum = contribution(&whole, &a, P975) + contribution(&whole, &b, P975);
        assert!((sum - es(&whole, P975).unwrap()).abs() < 1e-9);
    }
}

//! Distance to liquidation: the smallest move of the underlying, down and
//! up, at which maintenance margin reaches the margin balance, with both
//! recomputed at the shocked state under the account's own model.
//!
//! Option books make the margin curve non-monotone, so a bracket is first
//! found by scanning outward from today on an even grid, then narrowed by
//! bisection. A liquidation point between two scan points that both look
//! safe can be missed only if the curve dips and recovers within one step.

use super::account::{account_risk, value_book, Instruments};
use super::book::PreparedModel;
use crate::model::valuation::Shock;
use crate::model::{Account, MarketState};
use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Liquidation {
    /// Fraction of the index (−0.231 = 23.1 % down); None: none within range.
    pub down_move: Option<f64>,
    pub down_price: Option<f64>,
    pub up_move: Option<f64>,
    pub up_price: Option<f64>,
}

/// How close to the boundary bisection goes, as a fraction of the index.
const MOVE_TOLERANCE: f64 = 1e-7;

/// Search both sides. `index_price` converts moves to prices.
pub fn liquidation_distance(
    account: &Account,
    instruments: &Instruments,
    market: &MarketState,
    model: &mut PreparedModel,
    now_ms: i64,
    index_price: Option<f64>,
) -> Liquidation {
    let search = model.config.liquidation_search();
    let mut shortfall = |m: f64| {
        let shock = Shock::price_move(m);
        let book = value_book(account, instruments, market, model, now_ms, &|_| shock);
        let risk = account_risk(account, model, &book.sums, &book.warnings, now_ms);
        risk.margin.maintenance_margin - risk.margin_balance
    };
    let down = find_side(&mut shortfall, -search.down, search.steps);
    let up = find_side(&mut shortfall, search.up, search.steps);
    let price = |m: Option<f64>| m.and_then(|m| index_price.map(|p| p * (1.0 + m)));
    Liquidation {
        down_move: down,
        down_price: price(down),
        up_move: up,
        up_price: price(up),
    }
}

/// First move from 0 toward `limit` where `shortfall ≥ 0`.
fn find_side(shortfall: &mut impl FnMut(f64) -> f64, limit: f64, steps: usize) -> Option<f64> {
    if shortfall(0.0) >= 0.0 {
        return Some(0.0);
    }
    let mut safe = 0.0;
    for i in 1..=steps {
        let m = limit * i as f64 / steps as f64;
        if shortfall(m) >= 0.0 {
            return Some(bisect(shortfall, safe, m));
        }
        safe = m;
    }
    None
}

/// Narrow [safe, breach] until it is shorter than the tolerance; returns the breach side.
fn bisect(shortfall: &mut impl FnMut(f64) -> f64, mut safe: f64, mut breach: f64) -> f64 {
    for _ in 0..100 {
        if (breach - safe).abs() < MOVE_TOLERANCE {
            break;
        }
        let mid = 0.5 * (safe + breach);
        if shortfall(mid) >= 0.0 {
            breach = mid;
        } else {
            safe = mid;
        }
    }
    breach
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_crossing_not_a_later_one() {
        // Breach between 0.2 and 0.3, safe again after 0.5.
        let mut f = |m: f64| if (0.25..0.5).contains(&m) { 1.0 } else { -1.0 };
        let got = find_side(&mut f, 1.0, 10).unwrap();
        assert!((got - 0.25).abs() < 1e-6, "{got}");
    }

    #[test]
    fn none_within_range() {
        let mut f = |_m: f64| -1.0;
        assert_eq!(find_side(&mut f, -0.9, 20), None);
    }
}

//! A cross-collateral account revalued in full, in USD: its totals, each
//! scenario with positions and collateral moved together, the liquidation
//! distance, and what a 10 % fall of each coin alone would cost.

use crate::margin::cross::{
    cross_liquidation, is_stable, moved_coins, value_cross, wallets, CrossTotals,
};
use crate::margin::inputs::CrossInputs;
use crate::margin::liquidation::Liquidation;
use crate::margin::stress::StressScenario;
use std::collections::BTreeMap;

/// The move of a coin alone that `coin_down` is asked about.
pub const COIN_DOWN: f64 = -0.10;

/// A scenario and the account's totals in it.
#[derive(Clone, Debug)]
pub struct CrossScenario {
    pub name: String,
    /// The move of the one coin held, else the scenario's generic move.
    pub price_move: f64,
    /// The move of each coin, when positions lie on several.
    pub moves: BTreeMap<String, f64>,
    pub vol_move: f64,
    pub after: CrossTotals,
}

#[derive(Clone, Debug)]
pub struct CrossAnalysis {
    /// Incomplete also when a wallet's model is not loaded.
    pub totals: CrossTotals,
    pub stress: Vec<CrossScenario>,
    /// Searched only on complete totals.
    pub liquidation: Liquidation,
    /// Per coin that is not a stable coin: the change of equity in USD if
    /// it alone fell by `COIN_DOWN` (its positions and balance revalued).
    pub coin_down: BTreeMap<String, f64>,
}

impl CrossAnalysis {
    /// Each scenario's line in USD, positions and collateral moved
    /// together; `known`: the totals may be shown.
    pub fn scenario_rows(&self, known: bool) -> Vec<super::ScenarioRow> {
        let shown = |v| super::shown(known, v);
        (self.stress.iter())
            .map(|s| super::ScenarioRow {
                name: s.name.clone(),
                price_move: s.price_move,
                moves: s.moves.clone(),
                vol_move: s.vol_move,
                pnl: shown(s.after.equity_usd - self.totals.equity_usd),
                margin_balance: shown(s.after.margin_balance_usd),
                maintenance_margin: shown(s.after.maintenance_margin_usd),
                mm_ratio: s.after.mm_ratio().and_then(shown),
            })
            .collect()
    }
}

pub fn analyse_cross(inputs: &CrossInputs, scenarios: &[StressScenario]) -> CrossAnalysis {
    let mut wallets = wallets(inputs);
    let (instruments, market, now) = (&inputs.instruments, &inputs.market, inputs.now_ms);
    let mut totals = value_cross(&mut wallets, instruments, market, now, &|_| 0.0, 0.0);
    // A wallet under a model not loaded is not in the totals.
    totals.complete &= wallets.len() == inputs.wallets.len();
    let coins = moved_coins(&wallets, instruments);
    let stress = (scenarios.iter())
        .map(|s| {
            let mv = |coin: &str| s.move_for(coin);
            CrossScenario {
                name: s.name.clone(),
                price_move: match &coins[..] {
                    [one] => s.move_for(one),
                    _ => s.price_move,
                },
                moves: match coins.len() {
                    0 | 1 => BTreeMap::new(),
                    _ => coins.iter().map(|c| (c.clone(), s.move_for(c))).collect(),
                },
                vol_move: s.vol_move,
                after: value_cross(&mut wallets, instruments, market, now, &mv, s.vol_move),
            }
        })
        .collect();
    let liquidation = match totals.complete {
        true => cross_liquidation(&mut wallets, instruments, market, now),
        false => Liquidation::default(),
    };
    let currencies: Vec<String> = (totals.wallets.iter())
        .map(|w| w.currency.clone())
        .filter(|c| !is_stable(c))
        .collect();
    let coin_down = (currencies.into_iter())
        .map(|coin| {
            let mv = |c: &str| if c == coin { COIN_DOWN } else { 0.0 };
            let after = value_cross(&mut wallets, instruments, market, now, &mv, 0.0);
            (coin.clone(), after.equity_usd - totals.equity_usd)
        })
        .collect();
    CrossAnalysis {
        totals,
        stress,
        liquidation,
        coin_down,
    }
}

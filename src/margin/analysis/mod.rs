//! One account fully revalued, as typed results: its money and margin,
//! the valued positions, the liquidation distance, each stress scenario's
//! outcome, the risk matrices and the Greeks by expiry; the same book
//! under every loaded model; a book after hypothetical trades. Pure: the
//! report only shapes these for output, the screens only draw them.

mod compare;
mod cross;
mod matrices;
mod whatif;

pub use compare::{under_each_model, ModelFigures};
pub use cross::{analyse_cross, CrossAnalysis, CrossScenario, COIN_DOWN};
pub use matrices::{by_expiry, risk_matrices, risk_matrix, ExpiryGreeks, RiskMatrix};
pub use whatif::{with_trades, Trade};

use super::account::{value_account, AccountRisk, Instruments, ValuedBook};
use super::book::PreparedModel;
use super::inputs::AccountInputs;
use super::liquidation::{liquidation_distance, Liquidation};
use super::stress::{stress_result, StressResult, StressScenario};
use crate::model::Account;
use std::collections::BTreeMap;

/// A scenario and what the account would have in it.
#[derive(Clone, Debug)]
pub struct ScenarioOutcome {
    pub name: String,
    /// The move of the account's underlying (the scenario's generic move
    /// when the book holds several underlyings: see `moves`).
    pub price_move: f64,
    /// The move of each underlying coin, when the book holds several.
    pub moves: BTreeMap<String, f64>,
    pub vol_move: f64,
    pub result: StressResult,
}

/// An account revalued in full under its own model.
#[derive(Clone, Debug)]
pub struct AccountAnalysis {
    pub risk: AccountRisk,
    pub book: ValuedBook,
    /// Searched only when every position is valued and there are some.
    pub liquidation: Liquidation,
    pub stress: Vec<ScenarioOutcome>,
    /// The standard table of the grid on every index held, main index first.
    pub matrices: Vec<RiskMatrix>,
    pub expiries: Vec<ExpiryGreeks>,
}

/// Revalue the account of `inputs` in full, with `scenarios` (None: its
/// model is not loaded).
pub fn analyse_account(
    inputs: &AccountInputs,
    scenarios: &[StressScenario],
) -> Option<AccountAnalysis> {
    let AccountInputs {
        account: acct,
        instruments,
        market,
        now_ms,
        ..
    } = inputs;
    let now = *now_ms;
    let config = inputs.model()?.clone();
    let mut model = PreparedModel::new(config.clone(), &acct.currency);
    let (risk, book) = value_account(acct, instruments, market, &mut model, now);
    let index_price = book.positions.first().map(|p| p.index_price);
    let liquidation = if risk.complete && !book.positions.is_empty() {
        liquidation_distance(acct, instruments, market, &mut model, now, index_price)
    } else {
        Liquidation::default()
    };
    let bases = held_bases(acct, instruments);
    let stress = (scenarios.iter())
        .map(|s| {
            let result = stress_result(acct, instruments, market, &mut model, now, s);
            ScenarioOutcome {
                name: s.name.clone(),
                price_move: match &bases[..] {
                    [one] => s.move_for(one),
                    [] => s.move_for(&acct.currency),
                    _ => s.price_move,
                },
                moves: match bases.len() {
                    0 | 1 => BTreeMap::new(),
                    _ => bases.iter().map(|b| (b.clone(), s.move_for(b))).collect(),
                },
                vol_move: s.vol_move,
                result,
            }
        })
        .collect();
    let matrices = risk_matrices(inputs, &config, &book);
    let expiries = by_expiry(instruments, &book);
    Some(AccountAnalysis {
        risk,
        book,
        liquidation,
        stress,
        matrices,
        expiries,
    })
}

/// The underlying coins of an account's positions ("BTC", "ETH"), sorted.
fn held_bases(acct: &Account, instruments: &Instruments) -> Vec<String> {
    let mut bases: Vec<String> = (acct.positions.iter())
        .filter_map(|p| instruments.get(&p.instrument).map(|i| i.base.clone()))
        .collect();
    bases.sort();
    bases.dedup();
    bases
}

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
use super::liquidation::{liquidation_with, Joint, Liquidation};
use super::stress::{stress_results, StressResult, StressScenario};
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

/// One scenario's line as screens and reports show it: figures that lean
/// on what could not be valued, or that are not finite, are None.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ScenarioRow {
    pub name: String,
    /// The move of the account's underlying (the scenario's generic move
    /// when the book holds several underlyings: see `moves`).
    pub price_move: f64,
    /// The move of each underlying coin, when the book holds several.
    pub moves: BTreeMap<String, f64>,
    pub vol_move: f64,
    pub pnl: Option<f64>,
    /// Margin under the account's own model in the scenario.
    pub margin_balance: Option<f64>,
    pub maintenance_margin: Option<f64>,
    pub mm_ratio: Option<f64>,
}

/// A finite value that may be shown (`known`: what it leans on was valued).
pub(crate) fn shown(known: bool, v: f64) -> Option<f64> {
    (known && v.is_finite()).then_some(v)
}

impl AccountAnalysis {
    /// Each scenario's line, in the account's currency. The P&L stands on
    /// the valued positions alone; the margin after it needs all of them.
    pub fn scenario_rows(&self) -> Vec<ScenarioRow> {
        let known = |v| shown(self.risk.complete, v);
        (self.stress.iter())
            .map(|s| ScenarioRow {
                name: s.name.clone(),
                price_move: s.price_move,
                moves: s.moves.clone(),
                vol_move: s.vol_move,
                pnl: shown(true, s.result.pnl),
                margin_balance: known(s.result.margin_balance),
                maintenance_margin: known(s.result.maintenance_margin),
                mm_ratio: s.result.mm_ratio.and_then(known),
            })
            .collect()
    }
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
    analyse_account_with(inputs, scenarios, Found::default())
}

/// What a pass over a whole desk already found for one account: the joint
/// move's liquidation distances (`liquidation::joint_distances`) and the
/// stress results (`stress::desk_stress_results`).
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub joint: Option<Joint>,
    pub stress: Option<Vec<StressResult>>,
}

/// `analyse_account`, with what a desk-wide pass already found.
pub fn analyse_account_with(
    inputs: &AccountInputs,
    scenarios: &[StressScenario],
    found: Found,
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
        let m = (acct, instruments, market);
        liquidation_with(m, &mut model, now, index_price, found.joint)
    } else {
        Liquidation::default()
    };
    let bases = held_bases(acct, instruments);
    let results = found
        .stress
        .unwrap_or_else(|| stress_results(acct, instruments, market, &mut model, now, scenarios));
    let stress = (scenarios.iter().zip(results))
        .map(|(s, result)| ScenarioOutcome {
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

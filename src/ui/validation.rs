//! The validation screen's figures: the open account's book walked through
//! history (risk::backtest) and every loaded margin model's coverage of
//! the same daily losses. Like VaR they are computed on a blocking thread
//! from a copy of the engine's inputs, once per book (`Analyst::backtest`).

use crate::engine::live::AccountSnapshot;
use crate::margin::analysis::under_each_model;
use crate::margin::inputs::AccountInputs;
use crate::model::{AccountKey, Collateral};
use crate::risk::backtest::{walk, Walk};
use crate::risk::coverage::{margin_coverage, MarginCoverage};
use crate::risk::history::History;
use crate::risk::{DeskInputs, Market, Settings};

/// What a backtest was computed from: the account and its book.
#[derive(Clone, Debug, PartialEq)]
pub struct Basis {
    pub key: AccountKey,
    /// The positions (instrument, size): a new book is a new backtest.
    pub positions: Vec<(String, u64)>,
}

impl Basis {
    pub fn of(v: &AccountSnapshot) -> Basis {
        Basis {
            key: v.key(),
            positions: (v.positions.iter())
                .map(|p| (p.instrument.clone(), p.size.to_bits()))
                .collect(),
        }
    }
}

/// A margin model's coverage of the walk's losses.
#[derive(Clone, Debug)]
pub struct ModelCoverage {
    pub model: String,
    pub maintenance_margin: f64,
    pub coverage: MarginCoverage,
    /// The account's own model.
    pub own: bool,
}

/// The open account's backtest.
#[derive(Clone, Debug)]
pub struct Backtest {
    pub basis: Basis,
    /// The walk of the account alone (its one holder), or why there is none.
    pub walk: Result<Walk, String>,
    pub margins: Vec<ModelCoverage>,
}

/// The backtest of the account of `basis`: its holder of the desk's
/// `inputs` walked over `days` test days, and the margins of `account`
/// (its engine inputs) under every loaded model against the same losses.
pub fn compute(
    mut inputs: DeskInputs,
    account: Option<AccountInputs>,
    basis: Basis,
    history: &History,
    settings: Settings,
    days: usize,
) -> Backtest {
    let cross = (account.as_ref()).is_some_and(|a| a.account.collateral == Collateral::Cross);
    let currency = if cross { "USD" } else { &basis.key.currency };
    (inputs.holders).retain(|h| h.label == basis.key.label && h.currency == currency);
    let m = Market {
        instruments: &inputs.instruments,
        market: &inputs.market,
        now_ms: inputs.now_ms,
    };
    let walk = match inputs.holders.is_empty() {
        true => Err("the account has no book to walk".to_string()),
        false => walk(
            inputs.holders.clone(),
            &m,
            history,
            settings,
            days,
            &mut |_, _| {},
        ),
    };
    let margins = match (&walk, &account) {
        (Ok(w), Some(a)) if !cross => coverages(w, a),
        _ => Vec::new(),
    };
    Backtest {
        basis,
        walk,
        margins,
    }
}

/// Each loaded model's maintenance margin of the book now, against the
/// walk's daily losses.
fn coverages(w: &Walk, a: &AccountInputs) -> Vec<ModelCoverage> {
    let Some(Ok(tracks)) = w.results.first() else {
        return Vec::new();
    };
    (under_each_model(a).into_iter())
        .filter(|f| f.complete && f.maintenance_margin.is_finite())
        .map(|f| ModelCoverage {
            own: f.model == a.account.model,
            coverage: margin_coverage(&tracks.pnl, f.maintenance_margin),
            maintenance_margin: f.maintenance_margin,
            model: f.model,
        })
        .collect()
}

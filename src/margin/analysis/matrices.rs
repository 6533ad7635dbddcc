//! The grid of a book as a table (P&L by price move × vol move, per index
//! held) and its Greeks by expiry.

use crate::margin::account::{value_account, Instruments, ValuedBook};
use crate::margin::book::PreparedModel;
use crate::margin::config::ModelConfig;
use crate::margin::inputs::AccountInputs;
use serde::Serialize;

/// The standard table of a model's grid on one index: P&L in the account
/// currency, before the model's aggregation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RiskMatrix {
    /// The grid's model (the account's own, or deribit_pm for standard margin).
    pub model: String,
    pub index_name: String,
    pub price_moves: Vec<f64>,
    pub vol_moves: Vec<&'static str>,
    pub pnl: Vec<Vec<Option<f64>>>,
}

/// The Greeks of the positions of one expiry on one index.
#[derive(Clone, Debug, Serialize)]
pub struct ExpiryGreeks {
    pub expiry: String,
    /// The index of the expiry's positions (delta is in its coin).
    pub index_name: String,
    pub delta: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
}

/// One row per expiry and index, nearest first.
pub fn by_expiry(instruments: &Instruments, book: &ValuedBook) -> Vec<ExpiryGreeks> {
    let mut out: Vec<(Option<i64>, ExpiryGreeks)> = Vec::new();
    for p in &book.positions {
        let inst = instruments.get(&p.instrument);
        let label = inst.map_or("?", |i| i.expiry_label()).to_string();
        let index_name = inst.map_or("?", |i| i.index_name.as_str()).to_string();
        // One row per expiry and index: deltas of two coins never add up.
        let same =
            |(e, g): &(Option<i64>, ExpiryGreeks)| *e == p.expiry_ms && g.index_name == index_name;
        let slot = match out.iter().position(same) {
            Some(i) => i,
            None => {
                out.push((
                    p.expiry_ms,
                    ExpiryGreeks {
                        expiry: label,
                        index_name,
                        delta: 0.0,
                        gamma: 0.0,
                        vega: 0.0,
                        theta: 0.0,
                    },
                ));
                out.len() - 1
            }
        };
        let g = &mut out[slot].1;
        g.delta += p.contribution.net_delta;
        g.gamma += p.contribution.gamma;
        g.vega += p.contribution.vega;
        g.theta += p.contribution.theta;
    }
    out.sort_by(|(a, g), (b, h)| {
        (a.unwrap_or(i64::MAX), &g.index_name).cmp(&(b.unwrap_or(i64::MAX), &h.index_name))
    });
    out.into_iter().map(|(_, g)| g).collect()
}

/// The standard table of the account's grid as price × vol rows.
pub fn risk_matrix(
    inputs: &AccountInputs,
    config: &ModelConfig,
    book: &ValuedBook,
) -> Option<RiskMatrix> {
    risk_matrices(inputs, config, book).into_iter().next()
}

/// The standard table of the account's grid on every index it holds, main
/// index first (each in the account currency, that index alone moved).
pub fn risk_matrices(
    inputs: &AccountInputs,
    config: &ModelConfig,
    book: &ValuedBook,
) -> Vec<RiskMatrix> {
    let acct = &inputs.account;
    let (mut model, sums) = match config {
        ModelConfig::RiskMatrix(_) => (
            PreparedModel::new(config.clone(), &acct.currency),
            book.sums.clone(),
        ),
        ModelConfig::Standard(_) => {
            let Some(pm) = inputs.models.get("deribit_pm").cloned() else {
                return Vec::new();
            };
            let mut model = PreparedModel::new(pm, &acct.currency);
            let (_, b) = value_account(
                acct,
                &inputs.instruments,
                &inputs.market,
                &mut model,
                inputs.now_ms,
            );
            (model, b.sums)
        }
    };
    let mut out = Vec::new();
    for s in sums.per_index.iter().filter(|s| s.positions > 0) {
        let Some(grid) = model.grid(&s.index_name) else {
            continue;
        };
        let (price_moves, vol_moves, pnl) = grid.standard_table(&s.vector);
        out.push(RiskMatrix {
            model: config_name(&model),
            index_name: s.index_name.clone(),
            price_moves,
            vol_moves,
            pnl,
        });
    }
    out
}

fn config_name(model: &PreparedModel) -> String {
    model.config.name().to_string()
}

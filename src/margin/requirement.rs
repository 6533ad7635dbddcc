//! Initial and maintenance margin from an account's sums.

use super::book::{BookSums, PreparedModel};
use super::config::{DeltaShockRule, ModelConfig, RiskMatrixModel, RollShockRule, VolMove};
use super::grid::Table;
use crate::model::AddOns;
use crate::pricing::years_between;
use serde::Serialize;

/// Where the worst case of a risk matrix lies.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorstScenario {
    pub index_name: String,
    pub table: &'static str,
    /// Position in the model's flat scenario vector.
    pub index: usize,
    pub price_move: f64,
    pub vol_move: &'static str,
}

/// The parts of a margin requirement, in the account currency.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Breakdown {
    pub worst_case: f64,
    pub worst_scenario: Option<WorstScenario>,
    pub roll_shock: f64,
    pub delta_shock: f64,
    pub short_option_minimum: f64,
    pub risk_matrix_margin: f64,
    pub add_ons: f64,
    pub initial_margin: f64,
    pub maintenance_margin: f64,
}

/// Margin of an account from its sums at pricing time `now_ms`.
pub fn requirement(
    model: &PreparedModel,
    sums: &BookSums,
    add_ons: &AddOns,
    now_ms: i64,
) -> Breakdown {
    match &model.config {
        ModelConfig::Standard(_) => Breakdown {
            add_ons: add_ons.total(),
            initial_margin: sums.sm_initial + add_ons.total(),
            maintenance_margin: sums.sm_maintenance,
            ..Breakdown::default()
        },
        ModelConfig::RiskMatrix(rm) => risk_matrix_requirement(rm, model, sums, add_ons, now_ms),
    }
}

fn risk_matrix_requirement(
    rm: &RiskMatrixModel,
    model: &PreparedModel,
    sums: &BookSums,
    add_ons: &AddOns,
    now_ms: i64,
) -> Breakdown {
    let mut b = Breakdown {
        add_ons: add_ons.total(),
        ..Breakdown::default()
    };
    let currency = rm.currency(&model.currency);
    let mut worst_loss = -1.0;
    for s in sums.per_index.iter().filter(|s| s.positions > 0) {
        let (Some(grid), Some(pair)) = (model.built_grid(&s.index_name), rm.pair(&s.index_name))
        else {
            continue;
        };
        let (loss, at) = grid.worst_aggregated(&s.vector, s.usd_per_unit);
        let som = pair.short_option_minimum * s.short_option_contracts * s.coin_in_settlement;
        b.worst_case += loss;
        b.short_option_minimum += (som - loss).max(0.0);
        if loss > worst_loss {
            worst_loss = loss;
            let sc = grid.scenarios[at];
            b.worst_scenario = Some(WorstScenario {
                index_name: s.index_name.clone(),
                table: match sc.table {
                    Table::Standard => "standard",
                    Table::Extended => "extended",
                },
                index: at,
                price_move: sc.price_move,
                vol_move: VolMove::label(sc.vol),
            });
        }
        if let Some(ccy) = currency {
            if let RollShockRule::PerExpiryNetDelta = rm.roll_shock {
                for (expiry, nd) in &s.net_delta_by_expiry {
                    let rate = match expiry {
                        Some(e) => {
                            let t = years_between(now_ms, *e).max(0.0);
                            ((ccy.annualised_move_risk * t).exp() - 1.0)
                                .max(ccy.min_annualised_move)
                        }
                        None => ccy.min_annualised_move,
                    };
                    b.roll_shock += nd.abs() * rate * s.coin_in_settlement;
                }
            }
        }
        if let DeltaShockRule::ExcessOverThreshold = rm.delta_shock {
            let threshold = pair.delta_total_liq_shock_threshold;
            let delta_usd = (s.net_delta * s.index_price).abs();
            if threshold > 0.0 && delta_usd > threshold {
                let phase = ((delta_usd - threshold) / threshold).min(1.0);
                b.delta_shock +=
                    pair.max_delta_shock * s.net_delta.abs() * phase * s.coin_in_settlement;
            }
        }
    }
    if let RollShockRule::PerPosition = rm.roll_shock {
        b.roll_shock += sums.roll_per_position;
    }
    b.risk_matrix_margin = b.worst_case + b.short_option_minimum + b.roll_shock + b.delta_shock;
    b.initial_margin = rm.im_factor * b.risk_matrix_margin + b.add_ons;
    b.maintenance_margin = rm.mm_factor * b.risk_matrix_margin;
    b
}

//! One book under every loaded margin model, side by side: what the same
//! positions would need under Deribit's portfolio margin, its standard
//! margin, SPAN-16, or any model in `config/models/`.

use super::matrices::{risk_matrix, RiskMatrix};
use crate::margin::account::value_account;
use crate::margin::book::PreparedModel;
use crate::margin::config::ModelConfig;
use crate::margin::inputs::AccountInputs;

#[derive(Clone, Debug, PartialEq)]
pub struct ModelFigures {
    pub model: String,
    pub initial_margin: f64,
    pub maintenance_margin: f64,
    pub margin_balance: f64,
    /// None when the margin balance is not positive.
    pub mm_ratio: Option<f64>,
    /// False when a position could not be valued under this model.
    pub complete: bool,
    /// The model's own risk matrix (None for standard margin).
    pub matrix: Option<RiskMatrix>,
}

/// The account's margin under each model of `inputs.models`, in name order.
pub fn under_each_model(inputs: &AccountInputs) -> Vec<ModelFigures> {
    inputs
        .models
        .iter()
        .map(|(name, config)| under_model(&inputs.under_model(name), config))
        .collect()
}

fn under_model(inputs: &AccountInputs, config: &ModelConfig) -> ModelFigures {
    let acct = &inputs.account;
    let mut model = PreparedModel::new(config.clone(), &acct.currency);
    let (risk, book) = value_account(
        acct,
        &inputs.instruments,
        &inputs.market,
        &mut model,
        inputs.now_ms,
    );
    let matrix = match config {
        ModelConfig::RiskMatrix(_) => risk_matrix(inputs, config, &book),
        ModelConfig::Standard(_) => None,
    };
    ModelFigures {
        model: acct.model.clone(),
        initial_margin: risk.margin.initial_margin,
        maintenance_margin: risk.margin.maintenance_margin,
        margin_balance: risk.margin_balance,
        mm_ratio: risk.mm_ratio,
        complete: risk.complete,
        matrix,
    }
}

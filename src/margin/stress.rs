//! Stress scenarios: full revaluation of a book under a named or custom
//! (price move, vol move), with moves per underlying where they differ.

use super::account::Instruments;
use crate::model::valuation::{resolve, scenario_pnl};
use crate::model::{Account, MarketState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const BUILTIN_SCENARIOS: &str = include_str!("../../config/scenarios.toml");

/// One stress scenario as written in `config/scenarios.toml`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StressScenario {
    pub name: String,
    /// Move of every underlying not listed in `moves` (−0.39 = 39 % down).
    pub price_move: f64,
    /// Relative change of every option's implied vol (0.5 = vols × 1.5).
    #[serde(default)]
    pub vol_move: f64,
    /// Moves per base coin ("BTC" = −0.388), where the day differed by coin.
    #[serde(default)]
    pub moves: BTreeMap<String, f64>,
    #[serde(default)]
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    scenario: Vec<StressScenario>,
}

/// Parse a scenarios file; `origin` names it in errors.
pub fn parse_scenarios(text: &str, origin: &str) -> Result<Vec<StressScenario>, String> {
    let file: ScenarioFile = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
    for s in &file.scenario {
        let moves = std::iter::once(s.price_move).chain(s.moves.values().copied());
        if moves.into_iter().any(|m| !(m > -1.0 && m.is_finite()))
            || !(s.vol_move > -1.0 && s.vol_move.is_finite())
        {
            return Err(format!(
                "{origin}: scenario {:?}: moves must be finite and above -100 %",
                s.name
            ));
        }
    }
    Ok(file.scenario)
}

impl StressScenario {
    pub fn custom(price_move: f64, vol_move: f64) -> StressScenario {
        StressScenario {
            name: format!(
                "custom {:+.1}% / vol {:+.0}%",
                price_move * 100.0,
                vol_move * 100.0
            ),
            price_move,
            vol_move,
            moves: BTreeMap::new(),
            source: String::new(),
        }
    }

    pub fn move_for(&self, base: &str) -> f64 {
        self.moves.get(base).copied().unwrap_or(self.price_move)
    }
}

/// P&L of the account's positions under the scenario, in its currency.
/// Positions that cannot be valued are left out (the account's warnings say so).
pub fn stress_pnl(
    account: &Account,
    instruments: &Instruments,
    market: &MarketState,
    now_ms: i64,
    s: &StressScenario,
) -> f64 {
    let mut pnl = 0.0;
    for pos in &account.positions {
        let Some(inst) = instruments.get(&pos.instrument) else {
            continue;
        };
        let Ok(r) = resolve(inst, market, now_ms, 1.0) else {
            continue;
        };
        let sigma = r.sigma * (1.0 + s.vol_move);
        pnl += pos.size * scenario_pnl(inst, &r, s.move_for(&inst.base), sigma);
    }
    pnl
}

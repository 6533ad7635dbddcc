//! Stress scenarios: full revaluation of a book under a named or custom
//! (price move, vol move), with moves per underlying where they differ.

use super::account::{account_risk, AccountRisk, Instruments, PreparedBook, SharedPrices};
use super::book::PreparedModel;
use super::inputs::{by_model_and_currency, AccountInputs};
use crate::model::valuation::Shock;
use crate::model::{Account, Instrument, MarketState};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

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

/// What a scenario does to an account, all in its currency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StressResult {
    /// Change of equity: full revaluation of every position.
    pub pnl: f64,
    pub margin_balance: f64,
    pub maintenance_margin: f64,
    /// None when the shocked margin balance is not positive.
    pub mm_ratio: Option<f64>,
}

/// Revalue the account, and its margin under its own model, in the scenario.
/// Positions that cannot be valued are left out (the account's warnings say so).
pub fn stress_result(
    account: &Account,
    instruments: &Instruments,
    market: &MarketState,
    model: &mut PreparedModel,
    now_ms: i64,
    s: &StressScenario,
) -> StressResult {
    let one = std::slice::from_ref(s);
    stress_results(account, instruments, market, model, now_ms, one)[0]
}

/// `stress_result` for each scenario: the account's quotes are read and
/// its unshocked state valued once for all of them.
pub fn stress_results(
    account: &Account,
    instruments: &Instruments,
    market: &MarketState,
    model: &mut PreparedModel,
    now_ms: i64,
    scenarios: &[StressScenario],
) -> Vec<StressResult> {
    let book = PreparedBook::new(account, instruments, market, now_ms, true);
    let mut stressed = Stressed {
        account,
        book,
        model,
        now_ms,
    };
    let base = stressed.risk(&|_| Shock::NONE, None);
    (scenarios.iter())
        .map(|s| stressed.result(&base, s, None))
        .collect()
}

/// `stress_results` for many accounts (None where the model is not
/// loaded). Accounts under one model and currency are valued scenario by
/// scenario together, so an instrument several of them hold is priced once
/// per scenario; the figures are `stress_results`'s.
pub fn desk_stress_results(
    all: &[&AccountInputs],
    scenarios: &[StressScenario],
) -> Vec<Option<Vec<StressResult>>> {
    let groups = by_model_and_currency(all);
    let found = crate::parallel::map(&groups, |g| group_results(all, g, scenarios));
    let mut out: Vec<Option<Vec<StressResult>>> = vec![None; all.len()];
    for (group, results) in groups.iter().zip(found) {
        for (&n, r) in group.iter().zip(results) {
            out[n] = Some(r);
        }
    }
    out
}

/// Each account of `group` (indices into `all`, one model and currency)
/// under every scenario, in the group's order.
fn group_results(
    all: &[&AccountInputs],
    group: &[usize],
    scenarios: &[StressScenario],
) -> Vec<Vec<StressResult>> {
    let mut models: Vec<PreparedModel> = (group.iter())
        .filter_map(|&n| {
            Some(PreparedModel::new(
                all[n].model()?.clone(),
                &all[n].account.currency,
            ))
        })
        .collect();
    let mut numbers = HashMap::new();
    let mut members: Vec<Stressed> = (group.iter().zip(models.iter_mut()))
        .map(|(&n, model)| {
            let i = all[n];
            let mut book = PreparedBook::new(&i.account, &i.instruments, &i.market, i.now_ms, true);
            book.number(&mut numbers);
            Stressed {
                account: &i.account,
                book,
                model,
                now_ms: i.now_ms,
            }
        })
        .collect();
    let mut shared = SharedPrices::new(numbers.len());
    let bases: Vec<AccountRisk> = (members.iter_mut())
        .map(|m| m.risk(&|_| Shock::NONE, Some(&mut shared)))
        .collect();
    let mut out = vec![Vec::with_capacity(scenarios.len()); members.len()];
    for s in scenarios {
        shared.clear();
        for ((m, base), results) in members.iter_mut().zip(&bases).zip(&mut out) {
            results.push(m.result(base, s, Some(&mut shared)));
        }
    }
    out
}

/// An account's book read once, valued under many scenarios.
struct Stressed<'a, 'm> {
    account: &'a Account,
    book: PreparedBook<'a>,
    model: &'m mut PreparedModel,
    now_ms: i64,
}

impl Stressed<'_, '_> {
    fn risk(
        &mut self,
        shock: &dyn Fn(&Instrument) -> Shock,
        shared: Option<&mut SharedPrices>,
    ) -> AccountRisk {
        let after = self.book.value_shared(self.model, shock, false, shared);
        account_risk(
            self.account,
            self.model,
            &after.sums,
            &after.notes,
            self.now_ms,
        )
    }

    fn result(
        &mut self,
        base: &AccountRisk,
        s: &StressScenario,
        shared: Option<&mut SharedPrices>,
    ) -> StressResult {
        let shock = |inst: &Instrument| Shock {
            price: 1.0 + s.move_for(&inst.base),
            vol: 1.0 + s.vol_move,
        };
        let after = self.risk(&shock, shared);
        StressResult {
            pnl: after.equity - base.equity,
            margin_balance: after.margin_balance,
            maintenance_margin: after.margin.maintenance_margin,
            mm_ratio: after.mm_ratio,
        }
    }
}

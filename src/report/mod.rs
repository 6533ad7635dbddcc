//! The risk report (docs/report.md): built from a desk, printed as JSON or
//! as a readable table.

pub mod backtest;
mod cross;
pub mod health;
mod table;
pub mod var;

pub use crate::margin::analysis::{under_each_model, ExpiryGreeks, ModelFigures};
pub use cross::{CurrencyExchange, CurrencyReport};
pub use health::{time_of_day_utc, verdict, Health, Standing, Thresholds};
pub use table::render_table;

use crate::engine::{AccountId, Desk};
use crate::margin::analysis::{analyse_account_with, AccountAnalysis, Found};
use crate::margin::book::IndexSums;
use crate::margin::inputs::{AccountInputs, CrossInputs};
use crate::margin::liquidation::{joint_distances, Liquidation};
use crate::margin::requirement::Breakdown;
use crate::margin::stress::{desk_stress_results, StressScenario};
use crate::model::Collateral;
use serde::Serialize;
use std::collections::BTreeMap;

pub const REPORT_VERSION: u32 = 1;

/// The risk matrix object of the report: the core's table, as is.
pub type RiskMatrixReport = crate::margin::analysis::RiskMatrix;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub version: u32,
    pub as_of: i64,
    pub accounts: Vec<AccountReport>,
    /// Problems with the input as a whole (bad recording lines…).
    pub warnings: Vec<String>,
    /// The desk's VaR and ES and the factors' correlations (`--var`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desk: Option<var::DeskReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AccountReport {
    pub account: String,
    pub currency: String,
    pub margin_model: String,
    /// segregated, or cross: one entry for every wallet of the account,
    /// amounts in USD (docs/report.md).
    pub collateral: &'static str,
    /// What a cross account's health was judged on: local, or exchange
    /// (its totals, when the local ones are incomplete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<&'static str>,
    /// ok, warning, critical, liquidation, stale or unknown.
    pub health: Health,
    pub stale: bool,
    /// Why the data is stale or incomplete (link down, no quote for X since T, …).
    pub stale_reason: Option<String>,
    /// The exchange's refusal to describe the account (health "error").
    pub error: Option<String>,
    pub data_age_ms: Option<i64>,
    pub balance: Option<f64>,
    pub margin_balance: Option<f64>,
    pub equity: Option<f64>,
    pub options_value: Option<f64>,
    pub futures_session_upl: Option<f64>,
    pub initial_margin: Option<f64>,
    pub maintenance_margin: Option<f64>,
    pub mm_ratio: Option<f64>,
    pub im_ratio: Option<f64>,
    pub headroom: Option<f64>,
    pub headroom_usd: Option<f64>,
    pub exchange: ExchangeReport,
    pub greeks: GreeksReport,
    /// Per index held (several for e.g. a USDC account with BTC and ETH).
    pub greeks_by_index: Vec<IndexGreeksReport>,
    pub greeks_by_expiry: Vec<ExpiryGreeks>,
    pub margin: Breakdown,
    pub positions: Vec<PositionReport>,
    pub risk_matrix: Option<RiskMatrixReport>,
    /// The risk matrix on every index the account holds, `risk_matrix` first.
    pub risk_matrices: Vec<RiskMatrixReport>,
    pub stress: Vec<StressReport>,
    pub liquidation: Liquidation,
    /// A cross account's wallets, one per currency.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub currencies: Vec<CurrencyReport>,
    /// VaR and ES (`--var`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub var: Option<var::VarReport>,
    /// Backtests of the VaR models and the margin models (`--backtest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backtest: Option<backtest::BacktestReport>,
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ExchangeReport {
    pub initial_margin: Option<f64>,
    pub maintenance_margin: Option<f64>,
    pub equity: Option<f64>,
    pub as_of: Option<i64>,
    /// A cross account's totals (`total_*_usd`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin_balance_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_margin_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_margin_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equity_usd: Option<f64>,
}

impl ExchangeReport {
    /// A cross account's MM over its margin balance, on the exchange's totals.
    pub fn mm_ratio_usd(&self) -> Option<f64> {
        let (mm, mb) = (self.maintenance_margin_usd?, self.margin_balance_usd?);
        (mb > 0.0).then(|| mm / mb)
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct GreeksReport {
    pub delta_total: f64,
    pub delta: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
    /// `delta_total` in USD at the index.
    pub delta_total_usd: Option<f64>,
    /// Change of the USD delta for a 1 % move (gamma × index² / 100).
    pub gamma_usd_1pct: Option<f64>,
    /// Vega and theta in coin (USD figures over the index).
    pub vega_coin: Option<f64>,
    pub theta_coin: Option<f64>,
}

/// One index's part of an account's Greeks.
#[derive(Clone, Debug, Serialize)]
pub struct IndexGreeksReport {
    pub index_name: String,
    pub index_price: f64,
    /// Net-transaction delta in the index's coin.
    pub delta_total: f64,
    pub delta_total_usd: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PositionReport {
    pub instrument: String,
    pub size: f64,
    pub mark_price: f64,
    pub index_price: f64,
    pub delta: f64,
    /// Delta in USD at the index.
    pub delta_usd: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
}

/// A stress scenario's object of the report: the core's line, as is.
pub type StressReport = crate::margin::analysis::ScenarioRow;

/// Report settings.
pub struct ReportOptions<'a> {
    pub scenarios: &'a [StressScenario],
    pub thresholds: Thresholds,
}

/// A finite number, or None with a warning naming it.
fn checked(name: &str, v: f64, warnings: &mut Vec<String>) -> Option<f64> {
    if v.is_finite() {
        Some(v)
    } else {
        warnings.push(format!("{name} could not be computed"));
        None
    }
}

/// How current an account's inputs are, and why not.
#[derive(Clone, Debug, PartialEq)]
pub struct Freshness {
    pub data_age_ms: Option<i64>,
    pub stale: bool,
    /// Why the data is stale or incomplete, in words.
    pub reason: Option<String>,
    /// What the exchange refused about the account: its health is an error.
    pub error: Option<String>,
    /// Why the account's numbers are not fully known: its health is unknown.
    pub unknown: Option<String>,
}

impl Freshness {
    /// Inputs taken as current (revaluations of the engine's copy).
    pub const CURRENT: Freshness = Freshness {
        data_age_ms: None,
        stale: false,
        reason: None,
        error: None,
        unknown: None,
    };

    /// From the local time of the last update and the staleness limit.
    pub fn from_update(updated: Option<i64>, as_of: i64, stale_after_ms: i64) -> Freshness {
        let data_age_ms = updated.map(|t| (as_of - t).max(0));
        let stale = data_age_ms.is_none_or(|age| age > stale_after_ms);
        Freshness {
            data_age_ms,
            stale,
            reason: stale.then(|| match data_age_ms {
                Some(age) => format!("no update for {age} ms (limit {stale_after_ms} ms)"),
                None => "no data yet".into(),
            }),
            error: None,
            unknown: None,
        }
    }
}

/// Build the report of every account on the desk at local time `as_of`;
/// `freshness` gives None for an account to leave out (one no longer watched).
pub fn build_report(
    desk: &Desk,
    freshness: &dyn Fn(AccountId) -> Option<Freshness>,
    as_of: i64,
    opts: &ReportOptions,
) -> Report {
    let mut segregated: Vec<(AccountInputs, Freshness)> = Vec::new();
    let mut cross: BTreeMap<&str, Vec<AccountId>> = BTreeMap::new();
    for id in 0..desk.account_count() {
        let a = desk.account(id);
        match a.collateral {
            Collateral::Cross => cross.entry(a.label.as_str()).or_default().push(id),
            Collateral::Segregated => {
                segregated.extend(freshness(id).map(|f| (desk.inputs(id, &[]), f)));
            }
        }
    }
    // Liquidation distances and stress for the whole desk at once: accounts
    // holding the same instruments share their pricing at each step of the
    // search and in each scenario.
    let all: Vec<&AccountInputs> = segregated.iter().map(|(i, _)| i).collect();
    let joint = joint_distances(&all);
    let stress = desk_stress_results(&all, opts.scenarios);
    let found = (joint.into_iter().zip(stress)).map(|(joint, stress)| Found { joint, stress });
    let work: Vec<_> = segregated.iter().zip(found).collect();
    let mut accounts = crate::parallel::map(&work, |((inputs, f), found)| {
        account_report_with(inputs, f.clone(), opts, found.clone())
    });
    // A cross account is one entry, whatever number of wallets it has.
    for ids in cross.into_values() {
        let wallets: Vec<(AccountInputs, Freshness)> = (ids.into_iter())
            .filter_map(|id| Some((desk.inputs(id, &[]), freshness(id)?)))
            .collect();
        accounts.extend(cross_account_report(wallets, opts));
    }
    Report {
        version: REPORT_VERSION,
        as_of,
        accounts,
        warnings: Vec::new(),
        desk: None,
    }
}

/// The one report of a cross-collateral account from each of its wallets'
/// inputs and freshness (None: no wallet).
pub fn cross_account_report(
    wallets: Vec<(AccountInputs, Freshness)>,
    opts: &ReportOptions,
) -> Option<AccountReport> {
    let mut parts = Vec::new();
    let mut unknown = Vec::new();
    let mut inputs = Vec::new();
    for (i, fresh) in wallets {
        let ccy = &i.account.currency;
        unknown.extend(fresh.unknown.as_ref().map(|u| format!("{ccy}: {u}")));
        parts.push(account_report(&i, fresh, opts));
        inputs.push(i);
    }
    let cross = CrossInputs::from_wallets(inputs)?;
    Some(cross::cross_report(&cross, parts, unknown, opts))
}

/// The report of one account from its inputs (the engine's copy of them).
pub fn account_report(
    inputs: &AccountInputs,
    fresh: Freshness,
    opts: &ReportOptions,
) -> AccountReport {
    account_report_with(inputs, fresh, opts, Found::default())
}

/// `account_report`, with what the desk-wide passes already found.
fn account_report_with(
    inputs: &AccountInputs,
    fresh: Freshness,
    opts: &ReportOptions,
    found: Found,
) -> AccountReport {
    match analyse_account_with(inputs, opts.scenarios, found) {
        Some(a) => shape(inputs, &a, fresh, opts),
        None => unknown_model(inputs, fresh),
    }
}

/// An analysis as the report says it: numbers that lean on what is not
/// known are left out, with the reasons in `warnings`.
fn shape(
    inputs: &AccountInputs,
    a: &AccountAnalysis,
    fresh: Freshness,
    opts: &ReportOptions,
) -> AccountReport {
    let acct = &inputs.account;
    let (risk, book) = (&a.risk, &a.book);
    let mut warnings: Vec<String> = risk.notes.iter().map(ToString::to_string).collect();
    let Freshness {
        data_age_ms,
        stale,
        reason,
        error,
        unknown,
    } = fresh;
    // What the exchange refused or what could not be believed comes first:
    // the rest follows from it.
    if let Some(u) = &unknown {
        warnings.insert(0, format!("not fully known: {u}"));
    }
    if let Some(e) = &error {
        warnings.insert(0, format!("the exchange refused: {e}"));
    }
    // Numbers that lean on what is not known are not given.
    let known = risk.complete && unknown.is_none();
    if stale {
        let why = (reason.as_deref()).unwrap_or("disconnected, or no update within the limit");
        warnings.push(format!("data is stale: {why}"));
    }
    if !risk.complete {
        warnings.push("margin leaves out positions that could not be valued".into());
    }
    if risk.mm_ratio.is_none() {
        warnings.push("mm_ratio undefined: margin balance is not positive".into());
    }
    let margin_num = |name: &str, v: f64, w: &mut Vec<String>| {
        if known {
            checked(name, v, w)
        } else {
            None
        }
    };
    let stress = a.scenario_rows();
    for s in stress.iter().filter(|s| s.pnl.is_none()) {
        warnings.push(format!("{} could not be computed", s.name));
    }
    let sums = &book.sums;
    AccountReport {
        account: acct.label.clone(),
        currency: acct.currency.clone(),
        margin_model: acct.model.clone(),
        collateral: "segregated",
        basis: None,
        health: verdict(
            Standing {
                refused: error.is_some(),
                stale,
                judged: known.then_some((risk.margin.maintenance_margin, risk.mm_ratio)),
            },
            &opts.thresholds,
        ),
        stale,
        stale_reason: reason,
        error,
        data_age_ms,
        balance: checked("balance", risk.balance, &mut warnings),
        margin_balance: margin_num("margin_balance", risk.margin_balance, &mut warnings),
        equity: margin_num("equity", risk.equity, &mut warnings),
        options_value: margin_num("options_value", risk.options_value, &mut warnings),
        futures_session_upl: margin_num(
            "futures_session_upl",
            risk.futures_session_upl,
            &mut warnings,
        ),
        initial_margin: margin_num("initial_margin", risk.margin.initial_margin, &mut warnings),
        maintenance_margin: margin_num(
            "maintenance_margin",
            risk.margin.maintenance_margin,
            &mut warnings,
        ),
        mm_ratio: risk.mm_ratio.filter(|v| v.is_finite() && known),
        im_ratio: risk.im_ratio.filter(|v| v.is_finite() && known),
        headroom: margin_num("headroom", risk.headroom, &mut warnings),
        headroom_usd: risk.headroom_usd.filter(|v| v.is_finite() && known),
        exchange: ExchangeReport {
            initial_margin: acct.exchange.initial_margin,
            maintenance_margin: acct.exchange.maintenance_margin,
            equity: acct.exchange.equity,
            as_of: (acct.exchange.as_of > 0).then_some(acct.exchange.as_of),
            ..ExchangeReport::default()
        },
        greeks: greeks(sums),
        greeks_by_index: greeks_by_index(sums),
        greeks_by_expiry: a.expiries.clone(),
        margin: risk.margin.clone(),
        positions: book
            .positions
            .iter()
            .map(|p| PositionReport {
                instrument: p.instrument.clone(),
                size: p.size,
                mark_price: p.mark_price,
                index_price: p.index_price,
                delta: p.contribution.delta,
                delta_usd: p.contribution.delta * p.index_price,
                gamma: p.contribution.gamma,
                vega: p.contribution.vega,
                theta: p.contribution.theta,
            })
            .collect(),
        risk_matrix: a.matrices.first().cloned(),
        risk_matrices: a.matrices.clone(),
        stress,
        liquidation: a.liquidation.clone(),
        currencies: Vec::new(),
        var: None,
        backtest: None,
        warnings,
    }
}

/// Account Greeks in Deribit's units, and in USD and coin at the index
/// (None when the book spans several indices or has none).
fn greeks(sums: &crate::margin::BookSums) -> GreeksReport {
    let held: Vec<&IndexSums> = sums.per_index.iter().filter(|s| s.positions > 0).collect();
    let index = match held[..] {
        [s] => Some(s.index_price),
        _ => None,
    };
    // USD figures add up across indices; each coin's at its own index.
    let usd =
        |f: &dyn Fn(&IndexSums) -> f64| (!held.is_empty()).then(|| held.iter().map(|s| f(s)).sum());
    GreeksReport {
        delta_total: sums.net_delta,
        delta: sums.delta,
        gamma: sums.gamma,
        vega: sums.vega,
        theta: sums.theta,
        delta_total_usd: usd(&|s| s.net_delta * s.index_price),
        gamma_usd_1pct: usd(&|s| s.gamma * s.index_price * s.index_price / 100.0),
        vega_coin: index.map(|i| sums.vega / i),
        theta_coin: index.map(|i| sums.theta / i),
    }
}

/// The Greeks of each index the book holds (deltas in that index's coin).
fn greeks_by_index(sums: &crate::margin::BookSums) -> Vec<IndexGreeksReport> {
    (sums.per_index.iter())
        .filter(|s| s.positions > 0)
        .map(|s| IndexGreeksReport {
            index_name: s.index_name.clone(),
            index_price: s.index_price,
            delta_total: s.net_delta,
            delta_total_usd: s.net_delta * s.index_price,
            gamma: s.gamma,
            vega: s.vega,
            theta: s.theta,
        })
        .collect()
}

/// The report of an account whose model is not loaded: no numbers, a reason.
fn unknown_model(inputs: &AccountInputs, fresh: Freshness) -> AccountReport {
    let acct = &inputs.account;
    AccountReport {
        account: acct.label.clone(),
        currency: acct.currency.clone(),
        margin_model: acct.model.clone(),
        collateral: "segregated",
        basis: None,
        health: Health::Unknown,
        stale: fresh.stale,
        stale_reason: fresh.reason.clone(),
        error: fresh.error.clone(),
        data_age_ms: fresh.data_age_ms,
        balance: Some(acct.balance),
        margin_balance: None,
        equity: None,
        options_value: None,
        futures_session_upl: None,
        initial_margin: None,
        maintenance_margin: None,
        mm_ratio: None,
        im_ratio: None,
        headroom: None,
        headroom_usd: None,
        exchange: ExchangeReport::default(),
        greeks: GreeksReport::default(),
        greeks_by_index: Vec::new(),
        greeks_by_expiry: Vec::new(),
        margin: Breakdown::default(),
        positions: Vec::new(),
        risk_matrix: None,
        risk_matrices: Vec::new(),
        stress: Vec::new(),
        liquidation: Liquidation::default(),
        currencies: Vec::new(),
        var: None,
        backtest: None,
        warnings: vec![format!("unknown margin model {:?}", acct.model)],
    }
}

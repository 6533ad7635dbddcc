//! One report entry for a cross-collateral account (docs/report.md): the
//! per-currency reports of its wallets folded into one, judged on its
//! totals in USD, with each currency's part listed.

use super::{
    checked, verdict, AccountReport, ExchangeReport, GreeksReport, Health, IndexGreeksReport,
    ReportOptions, Standing,
};
use crate::margin::analysis::{analyse_cross, CrossAnalysis};
use crate::margin::cross::{exchange_totals, is_stable, usd_rate, CrossTotals};
use crate::margin::inputs::CrossInputs;
use crate::margin::liquidation::Liquidation;
use crate::margin::requirement::Breakdown;
use crate::model::UsdTotals;
use serde::Serialize;

/// One currency's part of a cross-collateral account.
#[derive(Clone, Debug, Serialize)]
pub struct CurrencyReport {
    pub currency: String,
    pub balance: f64,
    pub equity: Option<f64>,
    /// USD per unit of the currency (named so after FORMATS §2.2).
    pub index_price: Option<f64>,
    /// index (the currency's index), exchange (implied by its summary) or par.
    pub rate_source: Option<&'static str>,
    pub equity_usd: Option<f64>,
    pub haircut: f64,
    /// Margin balance in USD after the haircut: what it adds to the total.
    pub collateral_usd: Option<f64>,
    pub initial_margin_usd: Option<f64>,
    pub maintenance_margin_usd: Option<f64>,
    /// This wallet's maintenance margin over the account's.
    pub share_of_requirement: Option<f64>,
    /// The account's USD P&L if this currency's coin falls 10 % alone
    /// (positions on its index and its balance revalued; None for stable
    /// coins): which currency's move hurts most.
    pub pnl_usd_coin_down_10pct: Option<f64>,
    /// The exchange's figures for the currency: the account's totals
    /// converted to it, but for `equity`, which is the wallet's own.
    pub exchange: CurrencyExchange,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CurrencyExchange {
    pub margin_balance: Option<f64>,
    pub initial_margin: Option<f64>,
    pub maintenance_margin: Option<f64>,
    pub equity: Option<f64>,
}

/// Fold the wallets' reports (`parts`) into the account's one entry;
/// `unknown` says why some wallet's inputs are not fully known.
pub fn cross_report(
    inputs: &CrossInputs,
    parts: Vec<AccountReport>,
    unknown: Vec<String>,
    opts: &ReportOptions,
) -> AccountReport {
    let analysis = analyse_cross(inputs, opts.scenarios);
    let totals = &analysis.totals;
    let mut warnings = vec![
        "cross collateral: each wallet margined apart and summed in USD; the PM correlation \
         contingency between indices is not published and counts as 0"
            .to_string(),
    ];
    for p in &parts {
        for w in &p.warnings {
            warnings.push(format!("{}: {w}", p.currency));
        }
    }
    let error =
        (parts.iter()).find_map(|p| p.error.as_ref().map(|e| format!("{}: {e}", p.currency)));
    let stale = parts.iter().any(|p| p.stale);
    let stale_reason =
        (parts.iter().filter(|p| p.stale || p.stale_reason.is_some())).find_map(|p| {
            p.stale_reason
                .as_ref()
                .map(|r| format!("{}: {r}", p.currency))
        });
    let known = totals.complete && unknown.is_empty();
    let exchange = exchange_totals(inputs.wallets.iter());
    let (health, basis) = judge(totals, known, stale, error.is_some(), exchange, opts);
    if basis == "exchange" {
        warnings.insert(
            0,
            "local totals incomplete: judged on the exchange's totals".to_string(),
        );
    }
    let usd = |name: &str, v: f64, w: &mut Vec<String>| match known {
        true => checked(name, v, w),
        false => None,
    };
    let stress = analysis.scenario_rows(known);
    let liquidation = match known {
        true => analysis.liquidation.clone(),
        false => Liquidation::default(),
    };
    for u in &unknown {
        warnings.insert(0, format!("not fully known: {u}"));
    }
    let first = parts.first();
    AccountReport {
        account: first.map_or(String::new(), |p| p.account.clone()),
        currency: "USD".into(),
        margin_model: first.map_or(String::new(), |p| p.margin_model.clone()),
        collateral: "cross",
        basis: Some(basis),
        health,
        stale,
        stale_reason,
        error,
        data_age_ms: parts.iter().filter_map(|p| p.data_age_ms).max(),
        balance: usd("balance", totals.balance_usd, &mut warnings),
        margin_balance: usd("margin_balance", totals.margin_balance_usd, &mut warnings),
        equity: usd("equity", totals.equity_usd, &mut warnings),
        options_value: usd("options_value", totals.options_value_usd, &mut warnings),
        futures_session_upl: usd(
            "futures_session_upl",
            totals.futures_session_upl_usd,
            &mut warnings,
        ),
        initial_margin: usd("initial_margin", totals.initial_margin_usd, &mut warnings),
        maintenance_margin: usd(
            "maintenance_margin",
            totals.maintenance_margin_usd,
            &mut warnings,
        ),
        mm_ratio: totals.mm_ratio().filter(|v| v.is_finite() && known),
        im_ratio: totals.im_ratio().filter(|v| v.is_finite() && known),
        headroom: usd("headroom", totals.headroom_usd(), &mut warnings),
        headroom_usd: usd("headroom_usd", totals.headroom_usd(), &mut warnings),
        exchange: exchange_report(exchange, inputs),
        greeks: greeks(&parts),
        greeks_by_index: greeks_by_index(&parts),
        greeks_by_expiry: parts
            .iter()
            .flat_map(|p| p.greeks_by_expiry.clone())
            .collect(),
        margin: margin(&parts, totals),
        positions: parts.iter().flat_map(|p| p.positions.clone()).collect(),
        risk_matrix: parts.iter().find_map(|p| p.risk_matrix.clone()),
        risk_matrices: parts.iter().flat_map(|p| p.risk_matrices.clone()).collect(),
        stress,
        liquidation,
        currencies: currencies(&analysis, inputs, known),
        var: None,
        backtest: None,
        warnings,
    }
}

/// The health and what it was judged on: the local totals when they are
/// complete, else the exchange's totals when there are some.
fn judge(
    totals: &CrossTotals,
    known: bool,
    stale: bool,
    error: bool,
    exchange: Option<UsdTotals>,
    opts: &ReportOptions,
) -> (Health, &'static str) {
    let (judged, basis) = match (known, exchange) {
        (true, _) => (
            Some((totals.maintenance_margin_usd, totals.mm_ratio())),
            "local",
        ),
        (false, Some(t)) => (Some((t.maintenance_margin, t.mm_ratio())), "exchange"),
        (false, None) => (None, "local"),
    };
    let standing = Standing {
        refused: error,
        stale,
        judged,
    };
    // A refusal is judged on nothing: its basis stays local.
    let basis = if error { "local" } else { basis };
    (verdict(standing, &opts.thresholds), basis)
}

fn exchange_report(totals: Option<UsdTotals>, inputs: &CrossInputs) -> ExchangeReport {
    let as_of = (inputs.wallets.iter()).map(|a| a.exchange.as_of).max();
    ExchangeReport {
        initial_margin: totals.map(|t| t.initial_margin),
        maintenance_margin: totals.map(|t| t.maintenance_margin),
        equity: totals.map(|t| t.equity),
        as_of: as_of.filter(|t| *t > 0),
        margin_balance_usd: totals.map(|t| t.margin_balance),
        maintenance_margin_usd: totals.map(|t| t.maintenance_margin),
        initial_margin_usd: totals.map(|t| t.initial_margin),
        equity_usd: totals.map(|t| t.equity),
    }
}

/// Greeks that add up across wallets, in USD: delta and net delta at each
/// index, gamma as the USD delta change for a 1 % move, vega and theta.
fn greeks(parts: &[AccountReport]) -> GreeksReport {
    // A wallet without positions has no USD Greeks: it adds nothing.
    let sum = |f: &dyn Fn(&AccountReport) -> f64| -> f64 { parts.iter().map(f).sum() };
    let net = sum(&|p| p.greeks.delta_total_usd.unwrap_or(0.0));
    let gamma = sum(&|p| p.greeks.gamma_usd_1pct.unwrap_or(0.0));
    GreeksReport {
        delta_total: net,
        delta: sum(&|p| p.positions.iter().map(|p| p.delta_usd).sum()),
        gamma,
        vega: sum(&|p| p.greeks.vega),
        theta: sum(&|p| p.greeks.theta),
        delta_total_usd: Some(net),
        gamma_usd_1pct: Some(gamma),
        vega_coin: None,
        theta_coin: None,
    }
}

/// One entry per index, the wallets' parts on it added.
fn greeks_by_index(parts: &[AccountReport]) -> Vec<IndexGreeksReport> {
    let mut out: Vec<IndexGreeksReport> = Vec::new();
    for g in parts.iter().flat_map(|p| &p.greeks_by_index) {
        match out.iter_mut().find(|o| o.index_name == g.index_name) {
            Some(o) => {
                o.delta_total += g.delta_total;
                o.delta_total_usd += g.delta_total_usd;
                o.gamma += g.gamma;
                o.vega += g.vega;
                o.theta += g.theta;
            }
            None => out.push(g.clone()),
        }
    }
    out
}

/// The wallets' requirements in USD, added term by term.
fn margin(parts: &[AccountReport], totals: &CrossTotals) -> Breakdown {
    let mut sum = Breakdown::default();
    for w in &totals.wallets {
        let Some(p) = parts.iter().find(|p| p.currency == w.currency) else {
            continue;
        };
        let Some(r) = w.usd_rate else { continue };
        let m = &p.margin;
        sum.worst_case += m.worst_case * r;
        sum.roll_shock += m.roll_shock * r;
        sum.delta_shock += m.delta_shock * r;
        sum.short_option_minimum += m.short_option_minimum * r;
        sum.risk_matrix_margin += m.risk_matrix_margin * r;
        sum.add_ons += m.add_ons * r;
        sum.initial_margin += m.initial_margin * r;
        sum.maintenance_margin += m.maintenance_margin * r;
    }
    sum
}

fn currencies(analysis: &CrossAnalysis, inputs: &CrossInputs, known: bool) -> Vec<CurrencyReport> {
    let totals = &analysis.totals;
    let total_mm = totals.maintenance_margin_usd;
    (totals.wallets.iter())
        .filter_map(|w| Some((w, inputs.wallets.iter().find(|a| a.currency == w.currency)?)))
        .map(|(w, a)| {
            let fin = |v: Option<f64>| v.filter(|x| x.is_finite() && known);
            let mm_usd = fin(w.maintenance_margin_usd());
            CurrencyReport {
                currency: w.currency.clone(),
                balance: w.balance,
                equity: fin(Some(w.equity)),
                index_price: w.usd_rate,
                rate_source: usd_rate(a, &inputs.market).map(|(_, s)| s.as_str()),
                equity_usd: fin(w.equity_usd()),
                haircut: w.haircut,
                collateral_usd: fin(w.collateral_usd()),
                initial_margin_usd: fin(w.initial_margin_usd()),
                maintenance_margin_usd: mm_usd,
                share_of_requirement: mm_usd.filter(|_| total_mm > 0.0).map(|m| m / total_mm),
                pnl_usd_coin_down_10pct: match is_stable(&w.currency) {
                    true => None,
                    false => (analysis.coin_down.get(&w.currency).copied())
                        .filter(|p| known && p.is_finite()),
                },
                exchange: CurrencyExchange {
                    margin_balance: a.exchange.margin_balance,
                    initial_margin: a.exchange.initial_margin,
                    maintenance_margin: a.exchange.maintenance_margin,
                    equity: a.exchange.equity,
                },
            }
        })
        .collect()
}

//! The report's VaR and ES (docs/report.md, `report --var`): each account's
//! figures under HS, FHS and MC, and the desk's, shaped from `risk`.

use super::Report;
use crate::engine::Desk;
use crate::risk::history::{date, History, Origin};
use crate::risk::measure::Measures;
use crate::risk::{DeskFigures, DeskInputs, DeskVar, Figures, Settings, METHODS};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct WindowReport {
    pub from: Option<String>,
    pub to: Option<String>,
    pub days: usize,
    /// shipped, or fetched (shipped history extended from the exchange).
    pub history: &'static str,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct MethodReport {
    pub var_99: f64,
    pub es_975: f64,
    pub es_99: f64,
    pub var_99_usd: f64,
    pub es_975_usd: f64,
    pub es_99_usd: f64,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct McReport {
    #[serde(flatten)]
    pub figures: MethodReport,
    pub paths: usize,
    pub seed: u64,
    pub repaired: bool,
}

/// An account's `var` object; a method it could not be computed under is
/// null, with the reason among the account's warnings.
#[derive(Clone, Debug, Serialize)]
pub struct VarReport {
    pub horizon_days: u32,
    pub window: WindowReport,
    /// The daily volatility of the account's main index (EWMA of its log
    /// price over the window; liquidation distance in σ divides by it).
    pub index_daily_sigma: Option<f64>,
    pub hs: Option<MethodReport>,
    pub fhs: Option<MethodReport>,
    pub mc: Option<McReport>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct DeskMethodReport {
    pub var_99_usd: f64,
    pub es_975_usd: f64,
    pub es_99_usd: f64,
    pub sum_of_accounts_var_99_usd: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeskVarReport {
    pub hs: Option<DeskMethodReport>,
    pub fhs: Option<DeskMethodReport>,
    pub mc: Option<DeskMethodReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CorrelationReport {
    pub factors: Vec<String>,
    pub matrix: Vec<Vec<f64>>,
}

/// The report's top-level `desk` object.
#[derive(Clone, Debug, Serialize)]
pub struct DeskReport {
    pub var: DeskVarReport,
    pub correlation: CorrelationReport,
    pub window: WindowReport,
}

/// Add `var` to every account of `report` and `desk` at its top.
pub fn add_var(report: &mut Report, desk: &Desk, history: &History, settings: Settings) {
    let v = inputs_of(report, desk).var(history, settings);
    let window = window_report(&v, history);
    for a in report.accounts.iter_mut() {
        let at = (v.holders.iter()).position(|h| h.label == a.account && h.currency == a.currency);
        let Some(h) = at else { continue };
        let results = &v.results[h];
        for (m, r) in METHODS.iter().zip(results) {
            if let Err(why) = r {
                a.warnings.push(format!("VaR ({}): {why}", m.name()));
            }
        }
        let index = a.greeks_by_index.first().map(|g| g.index_name.as_str());
        a.var = Some(VarReport {
            horizon_days: v.settings.horizon_days,
            window: window.clone(),
            index_daily_sigma: index.and_then(|i| v.daily_sigma(i)),
            hs: results[0].as_ref().ok().map(method),
            fhs: results[1].as_ref().ok().map(method),
            mc: results[2].as_ref().ok().map(|f| McReport {
                figures: method(f),
                paths: v.settings.paths,
                seed: v.settings.seed,
                repaired: v.repaired,
            }),
        });
    }
    for f in v.factors.iter().filter(|f| f.proxy) {
        let note = format!(
            "VaR: {} has no volatility index of its own; BTC's stands in",
            f.index
        );
        report.warnings.push(note);
    }
    for index in &v.missing {
        report
            .warnings
            .push(format!("VaR: no price history for {index}"));
    }
    report.desk = Some(desk_report(&v, window));
}

/// The desk's books as VaR sees them, only those of `report`'s accounts.
pub(super) fn inputs_of(report: &Report, desk: &Desk) -> DeskInputs {
    let wanted: Vec<(String, String)> = (report.accounts.iter())
        .map(|a| (a.account.clone(), a.currency.clone()))
        .collect();
    let mut inputs = desk.var_inputs();
    inputs
        .holders
        .retain(|h| wanted.contains(&(h.label.clone(), h.currency.clone())));
    inputs
}

fn window_report(v: &DeskVar, history: &History) -> WindowReport {
    WindowReport {
        from: v.days.first().map(|&d| date(d)),
        to: v.days.last().map(|&d| date(d)),
        days: v.days.len(),
        history: match history.origin {
            Origin::Shipped => "shipped",
            Origin::Fetched => "fetched",
        },
    }
}

fn method(f: &Figures) -> MethodReport {
    let (o, u): (&Measures, &Measures) = (&f.own, &f.usd);
    MethodReport {
        var_99: o.var_99,
        es_975: o.es_975,
        es_99: o.es_99,
        var_99_usd: u.var_99,
        es_975_usd: u.es_975,
        es_99_usd: u.es_99,
    }
}

fn desk_method(d: &DeskFigures) -> DeskMethodReport {
    DeskMethodReport {
        var_99_usd: d.usd.var_99,
        es_975_usd: d.usd.es_975,
        es_99_usd: d.usd.es_99,
        sum_of_accounts_var_99_usd: d.sum_of_accounts_var_99_usd,
    }
}

fn desk_report(v: &DeskVar, window: WindowReport) -> DeskReport {
    let c = &v.correlation;
    DeskReport {
        var: DeskVarReport {
            hs: v.desk[0].as_ref().map(desk_method),
            fhs: v.desk[1].as_ref().map(desk_method),
            mc: v.desk[2].as_ref().map(desk_method),
        },
        correlation: CorrelationReport {
            factors: v.factors.iter().map(|f| f.name.clone()).collect(),
            matrix: (0..c.nrows())
                .map(|i| (0..c.ncols()).map(|j| c[(i, j)]).collect())
                .collect(),
        },
        window,
    }
}

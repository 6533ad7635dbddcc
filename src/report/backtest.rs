//! The report's backtests (docs/report.md, `report --backtest`,
//! `margintop backtest`): each account's VaR models walked through
//! history and tested, and each loaded margin model's coverage of the
//! same daily losses.

use super::{AccountReport, Report};
use crate::engine::Desk;
use crate::margin::analysis::under_each_model;
use crate::risk::backtest::{walk, Tracks, Walk, ALPHA, WALKED};
use crate::risk::coverage::{margin_coverage, Coverage, MarginCoverage, Zone};
use crate::risk::history::{date, History};
use crate::risk::{Market, Settings};
use serde::Serialize;

/// One VaR model's tests over the walk.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TestReport {
    pub exceptions: usize,
    pub lr_pof: f64,
    pub p_pof: f64,
    pub lr_ind: f64,
    pub p_ind: f64,
    pub lr_cc: f64,
    pub p_cc: f64,
    pub zone: &'static str,
}

/// A margin model's coverage of the walk's daily losses.
#[derive(Clone, Debug, Serialize)]
pub struct MarginReport {
    pub model: String,
    pub maintenance_margin: f64,
    pub exceptions: usize,
    pub share: f64,
    pub worst_excess: f64,
}

/// An account's `backtest` object.
#[derive(Clone, Debug, Serialize)]
pub struct BacktestReport {
    pub days: usize,
    pub from: Option<String>,
    pub to: Option<String>,
    pub alpha: f64,
    pub hs: Option<TestReport>,
    pub fhs: Option<TestReport>,
    pub mc: Option<TestReport>,
    /// The account's own model.
    pub margin: Option<MarginReport>,
    /// The other loaded models.
    pub margin_by_model: Vec<MarginReport>,
}

/// Add `backtest` to every account of `report`: `days` test days (T),
/// each day's VaR from the window `settings` gives. `progress` hears
/// (days done, days in all).
pub fn add_backtest(
    report: &mut Report,
    desk: &Desk,
    history: &History,
    settings: Settings,
    days: usize,
    progress: &mut dyn FnMut(usize, usize),
) {
    let inputs = super::var::inputs_of(report, desk);
    let m = Market {
        instruments: &inputs.instruments,
        market: &inputs.market,
        now_ms: inputs.now_ms,
    };
    let walked = walk(
        inputs.holders.clone(),
        &m,
        history,
        settings,
        days,
        progress,
    );
    for a in report.accounts.iter_mut() {
        match &walked {
            Ok(w) => add_to(a, w, desk),
            Err(why) => a.warnings.push(format!("backtest: {why}")),
        }
    }
}

fn add_to(a: &mut AccountReport, w: &Walk, desk: &Desk) {
    let at = (w.holders.iter()).position(|h| h.label == a.account && h.currency == a.currency);
    let Some(tracks) = at.map(|h| &w.results[h]) else {
        return;
    };
    let tracks = match tracks {
        Ok(t) => t,
        Err(why) => {
            a.warnings.push(format!("backtest: {why}"));
            return;
        }
    };
    let (own, others) = margins(a, desk, tracks);
    let test = |k: usize| Some(test_report(&tracks.methods[k].coverage));
    a.backtest = Some(BacktestReport {
        days: w.days.len(),
        from: w.days.first().map(|&d| date(d)),
        to: w.days.last().map(|&d| date(d)),
        alpha: ALPHA,
        hs: test(0),
        fhs: test(1),
        mc: test(2),
        margin: own,
        margin_by_model: others,
    });
    debug_assert_eq!(WALKED.len(), tracks.methods.len());
}

fn test_report(c: &Coverage) -> TestReport {
    TestReport {
        exceptions: c.exceptions,
        lr_pof: c.lr_pof,
        p_pof: c.p_pof,
        lr_ind: c.lr_ind,
        p_ind: c.p_ind,
        lr_cc: c.lr_cc,
        p_cc: c.p_cc,
        zone: c.zone.name(),
    }
}

/// The account's maintenance margin today under its own model and under
/// each other loaded model, each against the walk's daily losses. A cross
/// account is judged on its USD totals under its own model only.
fn margins(
    a: &AccountReport,
    desk: &Desk,
    t: &Tracks,
) -> (Option<MarginReport>, Vec<MarginReport>) {
    let cover = |model: &str, mm: f64| {
        let c: MarginCoverage = margin_coverage(&t.pnl, mm);
        MarginReport {
            model: model.to_string(),
            maintenance_margin: mm,
            exceptions: c.exceptions,
            share: c.share,
            worst_excess: c.worst_excess,
        }
    };
    let own =
        (a.maintenance_margin.filter(|mm| mm.is_finite())).map(|mm| cover(&a.margin_model, mm));
    if a.collateral == "cross" {
        return (own, Vec::new());
    }
    let Some(id) = desk.find_account(&a.account, &a.currency) else {
        return (own, Vec::new());
    };
    let others = (under_each_model(&desk.inputs(id, &[])).into_iter())
        .filter(|f| f.model != a.margin_model && f.complete && f.maintenance_margin.is_finite())
        .map(|f| cover(&f.model, f.maintenance_margin))
        .collect();
    (own, others)
}

/// The backtests as a table: per account, each VaR model's exceptions
/// against those expected, its p-values and zone (in words), and each
/// margin model's coverage.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for a in &report.accounts {
        out.push_str(&format!("{} ({})\n", a.account, a.currency));
        let Some(b) = &a.backtest else {
            let why = (a.warnings.iter()).find(|w| w.starts_with("backtest"));
            out.push_str(&format!(
                "  no backtest: {}\n\n",
                why.map_or("-", |w| w.as_str())
            ));
            continue;
        };
        let range = format!(
            "{} to {}",
            b.from.as_deref().unwrap_or("?"),
            b.to.as_deref().unwrap_or("?")
        );
        let expected = b.days as f64 * (1.0 - b.alpha);
        out.push_str(&format!(
            "  {} days, {range}; VaR {:.0} %, {:.1} exceptions expected\n",
            b.days,
            b.alpha * 100.0,
            expected
        ));
        out.push_str("  model  exceptions  p(Kupiec)  p(indep.)  p(cond.)  zone\n");
        for (name, t) in [("HS", &b.hs), ("FHS", &b.fhs), ("MC", &b.mc)] {
            let Some(t) = t else { continue };
            out.push_str(&format!(
                "  {name:<5}  {:>10}  {:>9.3}  {:>9.3}  {:>8.3}  {}\n",
                t.exceptions,
                t.p_pof,
                t.p_ind,
                t.p_cc,
                zone_words(t.zone)
            ));
        }
        let mm = format!("MM ({})", a.currency);
        out.push_str(&format!(
            "  margin model     {mm:<12}  days not covered   worst excess\n"
        ));
        for m in b.margin.iter().chain(&b.margin_by_model) {
            out.push_str(&format!(
                "  {:<15}  {:<12.6}  {:>5} ({:>5.1} %)     {:.6}\n",
                m.model,
                m.maintenance_margin,
                m.exceptions,
                m.share * 100.0,
                m.worst_excess
            ));
        }
        out.push('\n');
    }
    out
}

/// A zone's name in words (`Zone::meaning`).
fn zone_words(zone: &str) -> &'static str {
    [Zone::Green, Zone::Yellow, Zone::Red]
        .into_iter()
        .find(|z| z.name() == zone)
        .map_or("unknown zone", Zone::meaning)
}

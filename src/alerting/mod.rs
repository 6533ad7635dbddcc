//! Alert rules the user writes (`[[alerts]]` in the configuration), applied
//! to every snapshot: conditions on an account's numbers or a link's state,
//! with hysteresis and a repeat interval (`evaluate`). What they fire goes
//! to the dashboards' alert log and, like the built-in alerts, to the
//! configured sinks (`sinks`: the audit log, the command hook, the
//! webhook).

pub mod audit;
pub mod condition;
pub mod evaluate;
pub mod hook;
pub mod rules;
pub mod sinks;
pub mod webhook;

pub use condition::{Condition, Metric};
pub use evaluate::{Change, Evaluator, Fired, Reading, Subject};
pub use rules::{parse_rules, Level, Rule};
pub use sinks::Sinks;

use crate::engine::live::{AccountSnapshot, Snapshot};
use crate::exchange::feed::LinkState;
use crate::metrics::Analysed;
use crate::model::AccountKey;
use std::collections::{BTreeMap, HashMap};

/// Every link speaks Deribit's protocol (live, demo or test server), and
/// every account of a report is a Deribit account.
const EXCHANGE: &str = "deribit";

/// When each link last stopped being live, so that `link_down_s` can be
/// read from snapshots that carry only the state.
#[derive(Clone, Debug, Default)]
pub struct LinkClock {
    down_since: HashMap<String, i64>,
}

impl LinkClock {
    /// Seconds `link` has been down at `now_ms` (0 while live; a link still
    /// connecting for the first time counts as down from when first seen).
    fn down_s(&mut self, link: &str, state: &LinkState, now_ms: i64) -> f64 {
        if *state == LinkState::Live {
            self.down_since.remove(link);
            return 0.0;
        }
        let since = *self.down_since.entry(link.to_string()).or_insert(now_ms);
        (now_ms - since).max(0) as f64 / 1000.0
    }
}

/// The rules' inputs from a snapshot: each account's numbers (a cross
/// wallet that does not stand for its account is left out: its account is
/// judged once), with the background figures `analysed` where computed,
/// and each link's time down.
pub fn readings(
    snap: &Snapshot,
    links: &mut LinkClock,
    analysed: &BTreeMap<AccountKey, Analysed>,
) -> Vec<(Subject, Reading)> {
    let mut out: Vec<(Subject, Reading)> = (snap.accounts.iter())
        .filter(|v| !v.folded_into_cross())
        .map(|v| {
            (
                account_subject(v),
                account_reading(v, analysed.get(&v.key())),
            )
        })
        .collect();
    for (link, state) in &snap.links {
        let subject = Subject {
            exchange: EXCHANGE.into(),
            label: link.clone(),
            currency: String::new(),
        };
        let mut r = Reading::default();
        r.set(
            Metric::LinkDownS,
            Some(links.down_s(link, state, snap.as_of)),
        );
        out.push((subject, r));
    }
    out
}

/// The rules' inputs from a report (`check`): each account's numbers, left
/// out while it is stale, as from a snapshot; the report's own liquidation
/// search, stress and (with `--var`) HS VaR stand for the background
/// figures.
pub fn report_readings(report: &crate::report::Report) -> Vec<(Subject, Reading)> {
    (report.accounts.iter())
        .map(|a| {
            let subject = Subject {
                exchange: EXCHANGE.into(),
                label: a.account.clone(),
                currency: a.currency.clone(),
            };
            let current = (!a.stale).then_some([a.mm_ratio, a.im_ratio, a.headroom_usd]);
            let mut r = base_reading(a.stale, a.data_age_ms, current);
            if !a.stale {
                let var = a.var.as_ref().and_then(|v| v.hs).map(|m| m.var_99);
                let var_ratio = var.zip(a.margin_balance).and_then(|(v, mb)| ratio(v, mb));
                background(&mut r, &report_analysed(a), var_ratio);
            }
            (subject, r)
        })
        .collect()
}

/// A report account's liquidation distances and worst stress in the
/// background figures' terms. Stress P&L is in the account's money (USD
/// for a cross account); the report's USD rate is its headroom's.
fn report_analysed(a: &crate::report::AccountReport) -> Analysed {
    let usd_per_unit = match a.collateral {
        "cross" => Some(1.0),
        _ => a
            .headroom_usd
            .zip(a.headroom)
            .and_then(|(u, h)| ratio(u, h)),
    };
    let worst = (a.stress.iter().filter_map(|s| s.pnl)).min_by(f64::total_cmp);
    let sigma = a.var.as_ref().and_then(|v| v.index_daily_sigma);
    Analysed {
        liq_down_pct: a.liquidation.down_move.map(|m| -m * 100.0),
        liq_up_pct: a.liquidation.up_move.map(|m| m * 100.0),
        liq_sigma: sigma.and_then(|s| a.liquidation.nearer_in_sigmas(s)),
        worst_stress_usd: worst.zip(usd_per_unit).map(|(p, u)| p * u),
        var_99_usd: None,
    }
}

/// `a / b` when it is a number (b not zero).
fn ratio(a: f64, b: f64) -> Option<f64> {
    let r = a / b;
    (b != 0.0 && r.is_finite()).then_some(r)
}

/// Set the metrics that come from background revaluations: the nearer
/// liquidation distance (percent and σ), the worst stress P&L, VaR over
/// the margin balance.
fn background(r: &mut Reading, a: &Analysed, var_ratio: Option<f64>) {
    let nearer = match (a.liq_down_pct, a.liq_up_pct) {
        (Some(d), Some(u)) => Some(d.min(u)),
        (d, u) => d.or(u),
    };
    r.set(Metric::LiqDistancePct, nearer);
    r.set(Metric::LiqDistanceSigma, a.liq_sigma);
    r.set(Metric::WorstStressUsd, a.worst_stress_usd);
    r.set(Metric::Var99Ratio, var_ratio);
}

fn account_subject(v: &AccountSnapshot) -> Subject {
    Subject {
        exchange: v.exchange_name.to_string(),
        label: v.label.clone(),
        currency: v.currency.clone(),
    }
}

/// What an account's snapshot says of each metric it carries. Numbers of
/// a stale or incomplete account are left out (they are not current), so
/// only `stale` and `data_age_s` speak for it then.
fn account_reading(v: &AccountSnapshot, analysed: Option<&Analysed>) -> Reading {
    let standing = v.standing();
    let current = !standing.stale && standing.judged.is_some();
    let numbers = current.then(|| {
        let headroom_usd = v.usd_figures().map(|(_, _, h)| h);
        [v.judged_mm_ratio(), v.judged_im_ratio(), headroom_usd]
    });
    let mut r = base_reading(standing.stale, v.data_age_ms, numbers);
    if current {
        r.set(
            Metric::MmGapPct,
            v.mm_tracking.map(|t| t.last.abs() * 100.0),
        );
        if let Some(a) = analysed {
            let balance_usd = match &v.cross {
                Some(c) => c.judged().map(|t| t.margin_balance),
                None => v.usd_per_unit.map(|u| v.risk.margin_balance * u),
            };
            let var_ratio = a.var_99_usd.zip(balance_usd).and_then(|(x, b)| ratio(x, b));
            background(&mut r, a, var_ratio);
        }
    }
    r
}

/// What every account reading has: `stale` and `data_age_s` always, and
/// mm_ratio, im_ratio and headroom_usd (in that order) only when current.
fn base_reading(
    stale: bool,
    data_age_ms: Option<i64>,
    current: Option<[Option<f64>; 3]>,
) -> Reading {
    let mut r = Reading::default();
    r.set(Metric::Stale, Some(if stale { 1.0 } else { 0.0 }));
    r.set(Metric::DataAgeS, data_age_ms.map(|ms| ms as f64 / 1000.0));
    let metrics = [Metric::MmRatio, Metric::ImRatio, Metric::HeadroomUsd];
    for (m, v) in metrics.into_iter().zip(current.into_iter().flatten()) {
        r.set(m, v);
    }
    r
}

/// What a sink reported within a few seconds (its thread runs apart):
/// `send` with nothing new, polled until `want` problems came.
#[cfg(test)]
pub(crate) fn problems_within_seconds(
    mut send: impl FnMut() -> Vec<String>,
    want: usize,
) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..500 {
        got.extend(send());
        if got.len() >= want {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    got
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_counts_its_time_down_from_when_it_left_live() {
        let mut clock = LinkClock::default();
        let down = LinkState::Down("reset".into());
        assert_eq!(clock.down_s("main", &LinkState::Live, 0), 0.0);
        assert_eq!(clock.down_s("main", &down, 5_000), 0.0);
        assert_eq!(clock.down_s("main", &down, 35_000), 30.0);
        assert_eq!(clock.down_s("main", &LinkState::Live, 40_000), 0.0);
        assert_eq!(clock.down_s("main", &down, 50_000), 0.0);
    }

    #[test]
    fn background_figures_feed_the_rules_while_the_account_is_current() {
        use crate::margin::account::AccountRisk;
        let risk = AccountRisk {
            margin_balance: 2.0,
            mm_ratio: Some(0.5),
            complete: true,
            ..AccountRisk::default()
        };
        let fresh = AccountSnapshot::for_test("a", "BTC", risk.clone(), false);
        let mut fresh_book = (*fresh.book).clone();
        fresh_book.usd_per_unit = Some(50_000.0); // margin balance: 100,000 USD
        let fresh = AccountSnapshot {
            book: std::sync::Arc::new(fresh_book),
            ..fresh
        };
        let stale = AccountSnapshot::for_test("b", "BTC", risk, true);
        let figures = Analysed {
            liq_down_pct: Some(12.0),
            liq_up_pct: Some(7.5),
            liq_sigma: Some(2.25),
            worst_stress_usd: Some(-30_000.0),
            var_99_usd: Some(25_000.0),
        };
        let analysed = [
            (AccountKey::new("a", "BTC"), figures),
            (AccountKey::new("b", "BTC"), figures),
        ]
        .into_iter()
        .collect();
        let snap = Snapshot {
            accounts: vec![fresh, stale],
            ..Snapshot::default()
        };
        let got = readings(&snap, &mut LinkClock::default(), &analysed);
        let (a, b) = (&got[0].1, &got[1].1);
        assert_eq!(a.get(Metric::LiqDistancePct), Some(7.5), "the nearer side");
        assert_eq!(a.get(Metric::LiqDistanceSigma), Some(2.25));
        assert_eq!(a.get(Metric::WorstStressUsd), Some(-30_000.0));
        assert_eq!(
            a.get(Metric::Var99Ratio),
            Some(0.25),
            "25,000 / (2 BTC at 50,000)"
        );
        for m in [
            Metric::LiqDistancePct,
            Metric::WorstStressUsd,
            Metric::Var99Ratio,
        ] {
            assert_eq!(b.get(m), None, "{m:?} of a stale account");
        }
    }
}

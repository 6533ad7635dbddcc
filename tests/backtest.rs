//! The walk-forward backtest (docs/risk.md §6) on a linear book over a
//! synthetic history whose returns are known exactly: the exceptions the
//! walk finds must be the days whose loss exceeds the rolling empirical
//! quantile (HS) or the rolling EWMA-rescaled one (FHS), both computed
//! here independently from the closed-form P&L.

mod common;

use common::{future_quote, instruments};
use margintop::model::MarketState;
use margintop::risk::backtest::walk;
use margintop::risk::history::{History, Origin, Series};
use margintop::risk::revalue::Book;
use margintop::risk::{Holder, Market, Settings};
use std::collections::BTreeMap;

const PERP: &str = "BTC-PERPETUAL";
const F: f64 = 50_000.0;
const SIZE: f64 = 1_000_000.0;
/// 2022-01-08, the synthetic history's first day.
const D0: i32 = 19_000;
const DAYS: i32 = 400;
const W: usize = 200;
const T: usize = 120;

/// A daily return that looks random but is known exactly: bursts of
/// volatility (so FHS differs from HS) over a fixed pattern, and three
/// crash days in the tested part, two of them in a row.
fn ret(d: i32) -> f64 {
    let calm = 0.02 * ((d as f64) * 1.7).sin() * ((d as f64) * 0.37).cos();
    let burst = if (d / 40) % 3 == 0 { 2.5 } else { 1.0 };
    match d - D0 {
        330 => -0.12,
        331 => -0.10,
        370 => -0.09,
        _ => calm * burst,
    }
}

fn history() -> History {
    let mut h = History {
        series: BTreeMap::new(),
        origin: Origin::Shipped,
    };
    let mut price = 30_000.0;
    let mut closes = vec![(D0, price)];
    for d in D0 + 1..D0 + DAYS {
        price *= ret(d).exp();
        closes.push((d, price));
    }
    h.extend(Series::Price("BTC".into()), closes);
    h.extend(
        Series::Vol("BTC".into()),
        (D0..D0 + DAYS).map(|d| (d, 60.0)),
    );
    h
}

/// The long inverse perpetual's P&L in BTC under a return r.
fn pnl(r: f64) -> f64 {
    SIZE * (1.0 / F - 1.0 / (F * r.exp()))
}

/// The k-th largest loss, k = ceil(n × 1 %).
fn var99(pnls: &[f64]) -> f64 {
    let mut losses: Vec<f64> = pnls.iter().map(|p| -p).collect();
    losses.sort_by(|a, b| b.total_cmp(a));
    losses[(pnls.len() as f64 * 0.01).ceil() as usize - 1]
}

/// FHS by hand: each return rescaled by the EWMA volatility (λ = 0.94,
/// seeded with the mean square of the first 30) at the window's end over
/// the one before it.
fn fhs_returns(window: &[f64]) -> Vec<f64> {
    let mut s2 = window[..30].iter().map(|r| r * r).sum::<f64>() / 30.0;
    let mut before = Vec::new();
    for r in window {
        before.push(s2);
        s2 = 0.94 * s2 + 0.06 * r * r;
    }
    (window.iter().zip(before))
        .map(|(r, b)| r * (s2 / b).sqrt())
        .collect()
}

/// The long perpetual, priced the morning after the history's last day.
fn perpetual_book() -> (
    Holder,
    margintop::margin::account::Instruments,
    MarketState,
    i64,
) {
    let now = i64::from(D0 + DAYS) * 86_400_000 + 8 * 3_600_000;
    let mut m = MarketState::default();
    m.set_index("btc_usd", F, now);
    future_quote(&mut m, PERP, F, F, now);
    let holder = Holder {
        label: "a".into(),
        currency: "BTC".into(),
        books: vec![Book {
            currency: "BTC".into(),
            positions: vec![(PERP.into(), SIZE)],
            equity: 0.0,
        }],
    };
    (holder, instruments(&[PERP]), m, now)
}

/// Walk `holders` over T test days with a `window_days` window.
fn walk_at(
    holders: Vec<Holder>,
    insts: &margintop::margin::account::Instruments,
    m: &MarketState,
    now: i64,
    window_days: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<margintop::risk::backtest::Walk, String> {
    let market = Market {
        instruments: insts,
        market: m,
        now_ms: now,
    };
    let s = Settings {
        window_days,
        ..Settings::default()
    };
    walk(holders, &market, &history(), s, T, progress)
}

#[test]
fn exceptions_are_the_days_beyond_the_rolling_quantile() {
    let (holder, insts, m, now) = perpetual_book();
    let mut calls = 0;
    let walked = walk_at(vec![holder], &insts, &m, now, W, &mut |_, _| calls += 1).unwrap();
    assert!(calls >= 2, "progress is reported");

    // Every day but the first has a return; the last T are tested.
    let returns: Vec<f64> = (D0 + 1..D0 + DAYS).map(ret).collect();
    let first = returns.len() - T;
    assert_eq!(walked.days.len(), T);
    assert_eq!(walked.days[0], D0 + 1 + first as i32);
    let tracks = walked.results[0].as_ref().unwrap();
    let (mut hs_days, mut fhs_days) = (Vec::new(), Vec::new());
    for t in first..returns.len() {
        let loss = -pnl(returns[t]);
        let window = &returns[t - W..t];
        let hs: Vec<f64> = window.iter().map(|r| pnl(*r)).collect();
        let fhs: Vec<f64> = fhs_returns(window).iter().map(|r| pnl(*r)).collect();
        let i = t - first;
        assert!((tracks.pnl[i] + loss).abs() < 1e-12);
        assert!((tracks.methods[0].var[i] - var99(&hs)).abs() < 1e-12);
        assert!((tracks.methods[1].var[i] - var99(&fhs)).abs() < 1e-9 * var99(&fhs));
        if loss > var99(&hs) {
            hs_days.push(i);
        }
        if loss > var99(&fhs) {
            fhs_days.push(i);
        }
    }
    let found = |k: usize| -> Vec<usize> {
        let e = &tracks.methods[k].exceptions;
        (0..e.len()).filter(|&i| e[i]).collect()
    };
    assert_eq!(found(0), hs_days);
    assert_eq!(found(1), fhs_days);
    assert_eq!(tracks.methods[0].coverage.exceptions, hs_days.len());
    // The bursts make exceptions: the test has something to find.
    assert!(
        !hs_days.is_empty() && hs_days != fhs_days,
        "{hs_days:?} {fhs_days:?}"
    );
}

/// The EWMA volatility at the end of `window` (λ = 0.94, seeded with the
/// mean square of its first 30 returns), as RISK.md §4 defines it.
fn ewma_sigma(window: &[f64]) -> f64 {
    let mut s2 = window[..30].iter().map(|r| r * r).sum::<f64>() / 30.0;
    for r in window {
        s2 = 0.94 * s2 + 0.06 * r * r;
    }
    s2.sqrt()
}

/// MC draws the same normals every day and scales them by that day's
/// covariance: for this one-factor linear book each day's VaR is the loss
/// at the return σ_t·z, with σ_t the window's EWMA volatility and z the
/// same 1 % quantile of the draws every day, close to the normal's −2.326.
#[test]
fn mc_var_is_one_normal_quantile_of_each_days_ewma_volatility() {
    let (holder, insts, m, now) = perpetual_book();
    let walked = walk_at(vec![holder], &insts, &m, now, W, &mut |_, _| {}).unwrap();
    let tracks = walked.results[0].as_ref().unwrap();
    let mc = &tracks.methods[2];
    let returns: Vec<f64> = (D0 + 1..D0 + DAYS).map(ret).collect();
    let first = returns.len() - T;
    // The return whose loss is the VaR: pnl(r) = −VaR.
    let r_of = |var: f64| -(1.0 + var * F / SIZE).ln();
    let z: Vec<f64> = (first..returns.len())
        .map(|t| r_of(mc.var[t - first]) / ewma_sigma(&returns[t - W..t]))
        .collect();
    for q in &z {
        assert!((q - z[0]).abs() < 1e-9, "{q} vs {}", z[0]);
    }
    // 10,000 draws: the 1 % quantile's standard error is about 0.04.
    assert!((z[0] + 2.326).abs() < 0.15, "{}", z[0]);
    // Exceptions: the days whose loss exceeds that VaR.
    for (i, t) in (first..returns.len()).enumerate() {
        let beyond = -pnl(returns[t]) > -pnl(z[0] * ewma_sigma(&returns[t - W..t]));
        assert_eq!(mc.exceptions[i], beyond, "day {i}");
    }
    assert!(mc.coverage.exceptions > 0);
}

#[test]
fn a_history_no_longer_than_the_window_is_an_error_not_a_pass() {
    let (holder, insts, m, now) = perpetual_book();
    let err = walk_at(vec![holder], &insts, &m, now, 1000, &mut |_, _| {}).unwrap_err();
    assert!(err.contains("1000-day window"), "{err}");
}

#[test]
fn a_book_on_an_index_without_history_fails_alone() {
    let (btc, _, mut m, now) = perpetual_book();
    const SOL: &str = "SOL_USDC-PERPETUAL";
    m.set_index("sol_usdc", 150.0, now);
    future_quote(&mut m, SOL, 150.0, 150.0, now);
    let insts = instruments(&[PERP, SOL]);
    let sol = Holder {
        label: "b".into(),
        currency: "USDC".into(),
        books: vec![Book {
            currency: "USDC".into(),
            positions: vec![(SOL.into(), 10.0)],
            equity: 1_000.0,
        }],
    };
    let walked = walk_at(vec![btc, sol], &insts, &m, now, W, &mut |_, _| {}).unwrap();
    assert!(walked.results[0].is_ok(), "the BTC book is walked");
    let why = walked.results[1].as_ref().unwrap_err();
    assert!(why.contains("sol_usdc"), "{why}");
}

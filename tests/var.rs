//! VaR and ES (docs/risk.md), checked against values computed here from the
//! shipped CSV files by hand: closed-form P&Ls of linear books over the
//! historical returns, the analytic normal VaR, and desk identities.

mod common;

use common::{future_quote, instruments};
use margintop::model::MarketState;
use margintop::risk::revalue::Book;
use margintop::risk::{desk_var, DeskVar, Holder, Market, Settings};
use std::collections::HashMap;

const PERP: &str = "BTC-PERPETUAL";
/// 2026-01-06 08:00 UTC: the window ends on 2026-01-05, the last close.
const NOW: i64 = 1_767_686_400_000;
const F: f64 = 93_000.0;

fn csv(name: &str, field: usize) -> Vec<(String, f64)> {
    let path = format!("{}/src/risk/history/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    (text.lines().skip(1))
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0][..10].to_string(), c[field].parse().unwrap())
        })
        .collect()
}

/// BTC's daily log returns on the days a BTC book's window takes: the
/// last 1000 days before 2026-01-06 with a BTC close and a DVOL close on
/// the day and the day before (the BTC file has every day).
fn btc_returns() -> Vec<f64> {
    let btc = csv("binance_btcusdt_1d_2017_2026.csv", 4);
    let dvol: HashMap<String, f64> = csv("deribit_dvol_btc_daily_2021_2026.csv", 1)
        .into_iter()
        .collect();
    let mut out: Vec<f64> = (1..btc.len())
        .rev()
        .filter(|&i| dvol.contains_key(&btc[i].0) && dvol.contains_key(&btc[i - 1].0))
        .take(1000)
        .map(|i| (btc[i].1 / btc[i - 1].1).ln())
        .collect();
    out.reverse();
    out
}

/// RiskMetrics' EWMA volatility (λ = 0.94) of BTC's daily log returns
/// after the window's last day, seeded with the mean square of the first 30.
fn btc_ewma_sigma() -> f64 {
    let r = btc_returns();
    let mut s2 = r[..30].iter().map(|x| x * x).sum::<f64>() / 30.0;
    for x in &r {
        s2 = 0.94 * s2 + 0.06 * x * x;
    }
    s2.sqrt()
}

fn market() -> (margintop::margin::account::Instruments, MarketState) {
    let mut m = MarketState::default();
    m.set_index("btc_usd", F, NOW);
    future_quote(&mut m, PERP, F, F, NOW);
    (instruments(&[PERP]), m)
}

fn holder(label: &str, size: f64, balance: f64) -> Holder {
    Holder {
        label: label.into(),
        currency: "BTC".into(),
        books: vec![Book {
            currency: "BTC".into(),
            positions: vec![(PERP.into(), size)],
            equity: balance,
        }],
    }
}

fn run(holders: Vec<Holder>, s: Settings) -> DeskVar {
    run_at(NOW, holders, s)
}

fn run_at(now_ms: i64, holders: Vec<Holder>, s: Settings) -> DeskVar {
    let (insts, m) = market();
    let mkt = Market {
        instruments: &insts,
        market: &m,
        now_ms,
    };
    desk_var(
        holders,
        &mkt,
        &margintop::risk::history::History::shipped(),
        s,
    )
}

#[test]
fn hs_var_of_a_perpetual_is_the_kth_worst_closed_form_loss() {
    let size = 1_000_000.0; // USD of the inverse perpetual, long
    let v = run(vec![holder("a", size, 0.0)], Settings::default());
    assert_eq!(v.days.len(), 1000);
    let mut losses: Vec<f64> = (btc_returns().iter())
        .map(|r| -size * (1.0 / F - 1.0 / (F * r.exp())))
        .collect();
    losses.sort_by(|a, b| b.total_cmp(a));
    let hs = v.results[0][0].as_ref().unwrap();
    assert!(
        (hs.own.var_99 - losses[9]).abs() < 1e-12,
        "{} vs {}",
        hs.own.var_99,
        losses[9]
    );
    let es99 = losses[..10].iter().sum::<f64>() / 10.0;
    assert!((hs.own.es_99 - es99).abs() < 1e-12);
    let es975 = losses[..25].iter().sum::<f64>() / 25.0;
    assert!((hs.own.es_975 - es975).abs() < 1e-12);
    for r in v.results[0].iter() {
        let f = r.as_ref().unwrap();
        assert!(f.own.es_99 >= f.own.var_99 && f.own.es_975 > 0.0, "{f:?}");
        // One position: it carries the whole ES.
        assert!((f.positions_es[0].1 - f.own.es_975).abs() < 1e-9);
    }
}

#[test]
fn mc_var_of_a_perpetual_matches_the_analytic_normal_var() {
    // Loss of a long inverse perpetual: (S/F)(e^(−r) − 1), increasing as r
    // falls, so its 99 % quantile is at r = −z σ, σ the EWMA volatility.
    let size = 1_000_000.0;
    let s = Settings {
        paths: 200_000,
        ..Settings::default()
    };
    let v = run(vec![holder("a", size, 0.0)], s);
    let z99 = 2.326_347_874_040_841;
    let analytic = size / F * ((z99 * btc_ewma_sigma()).exp() - 1.0);
    let mc = v.results[0][2].as_ref().unwrap().own.var_99;
    assert!((mc / analytic - 1.0).abs() < 0.02, "{mc} vs {analytic}");
}

#[test]
fn the_daily_sigma_of_an_index_is_its_ewma_volatility_today() {
    // What a liquidation distance in σ/day divides by.
    let v = run(vec![holder("a", 1_000_000.0, 0.0)], Settings::default());
    let sigma = v.daily_sigma("btc_usd").unwrap();
    let expected = btc_ewma_sigma();
    assert!(
        (sigma / expected - 1.0).abs() < 1e-9,
        "{sigma} vs {expected}"
    );
    assert_eq!(v.daily_sigma("eth_usd"), None, "not in the window");
    // Over a 10-day horizon the moves are 10-day ones; the daily figure is
    // scaled back to about the same size.
    let ten = Settings {
        horizon_days: 10,
        ..Settings::default()
    };
    let v10 = run(vec![holder("a", 1_000_000.0, 0.0)], ten);
    let daily = v10.daily_sigma("btc_usd").unwrap();
    assert!(
        daily > 0.5 * expected && daily < 2.0 * expected,
        "{daily} vs {expected}"
    );
}

#[test]
fn two_identical_accounts_double_the_var_and_a_hedge_cancels_it() {
    let one = run(vec![holder("a", 500_000.0, 2.0)], Settings::default());
    let two = run(
        vec![holder("a", 500_000.0, 2.0), holder("b", 500_000.0, 2.0)],
        Settings::default(),
    );
    for k in 0..3 {
        let alone = one.results[0][k].as_ref().unwrap().usd.var_99;
        let desk = two.desk[k].as_ref().unwrap();
        assert!((desk.usd.var_99 - 2.0 * alone).abs() < 1e-6 * alone, "{k}");
        assert!((desk.sum_of_accounts_var_99_usd - 2.0 * alone).abs() < 1e-6 * alone);
        // Euler contributions add up to the desk's ES.
        let sum: f64 = desk.contributions.iter().sum();
        assert!((sum - desk.usd.es_975).abs() < 1e-6 * desk.usd.es_975);
    }
    // A long and an exactly opposite short, no coin collateral: nothing moves.
    let hedged = run(
        vec![holder("a", 500_000.0, 0.0), holder("b", -500_000.0, 0.0)],
        Settings::default(),
    );
    for k in 0..3 {
        let desk = hedged.desk[k].as_ref().unwrap();
        let alone = hedged.results[0][k].as_ref().unwrap().usd.var_99;
        assert!(alone > 1_000.0);
        assert!(desk.usd.var_99.abs() < 1e-6, "{:?}", desk.usd);
        assert!(desk.sum_of_accounts_var_99_usd > 2.0 * 1_000.0);
    }
}

#[test]
fn the_correlation_matrix_is_in_the_documented_order() {
    let v = run(vec![holder("a", 1.0, 1.0)], Settings::default());
    let names: Vec<&str> = v.factors.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["btc_usd", "btc_usd.iv"]);
    let c = &v.correlation;
    assert_eq!((c[(0, 0)], c[(1, 1)]), (1.0, 1.0));
    // BTC's price and its implied vol move against each other.
    assert!(c[(0, 1)] < 0.0 && c[(0, 1)] == c[(1, 0)], "{c}");
    assert!(!v.repaired);
}

#[test]
fn before_the_history_begins_there_is_no_var_not_a_zero() {
    // 2016-01-01: the shipped BTC closes begin on 2017-08-17.
    let v = run_at(
        1_451_606_400_000,
        vec![holder("a", 1_000_000.0, 1.0)],
        Settings::default(),
    );
    assert!(v.days.is_empty());
    for r in &v.results[0] {
        assert!(
            r.as_ref().unwrap_err().contains("no day of history"),
            "{r:?}"
        );
    }
    assert!(v.desk.iter().all(Option::is_none));
}

#[test]
fn options_priced_together_give_the_figures_they_have_alone() {
    // A call, its put and the linear call on the same forward, strike and
    // vol share their normal tails when one desk holds them all; each
    // account's figures must be what it gets when priced alone.
    let names = [
        "BTC-27MAR26-90000-C",
        "BTC-27MAR26-90000-P",
        "BTC_USDC-27MAR26-90000-C",
    ];
    let insts = instruments(&names);
    let mut m = MarketState::default();
    m.set_index("btc_usd", F, NOW);
    for name in names {
        common::option_quote(&mut m, name, 0.05, 0.55, F * 1.002, F, NOW);
    }
    let book = |name: &str, size: f64| Holder {
        label: name.into(),
        currency: "BTC".into(),
        books: vec![Book {
            currency: "BTC".into(),
            positions: vec![(name.into(), size)],
            equity: 1.0,
        }],
    };
    let holders: Vec<Holder> = (names.iter().zip([2.0, -3.0, 1.5]))
        .map(|(n, s)| book(n, s))
        .collect();
    let mkt = Market {
        instruments: &insts,
        market: &m,
        now_ms: NOW,
    };
    let history = margintop::risk::history::History::shipped();
    let s = Settings {
        paths: 2_000,
        ..Settings::default()
    };
    let together = desk_var(holders.clone(), &mkt, &history, s);
    for (i, h) in holders.into_iter().enumerate() {
        let alone = desk_var(vec![h], &mkt, &history, s);
        // HS and FHS: MC's draws depend on the desk's set of factors,
        // which the linear option (on btc_usdc) changes.
        for method in 0..2 {
            let a = alone.results[0][method].as_ref().unwrap();
            let t = together.results[i][method].as_ref().unwrap();
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(1e-9);
            let (va, vt) = (a.own.var_99, t.own.var_99);
            assert!(close(va, vt), "{i}/{method}: {va} vs {vt}");
            assert!(close(a.own.es_975, t.own.es_975));
            let same = (a.pnl.iter().zip(&t.pnl)).all(|(x, y)| close(*x, *y));
            assert!(same, "{i}/{method}: scenario P&Ls differ");
        }
    }
}

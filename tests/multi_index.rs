//! A USDC account holding BTC and ETH options: two indices in one book.
//! Each index gets its own parameters, Greeks, risk matrix and liquidation
//! distance; deltas of different coins are summed only in USD; the joint
//! move's liquidation is checked against a dense scan.

mod common;

use common::{instruments, option_quote};
use margintop::margin::account::{account_risk, value_book, AccountRisk, Instruments};
use margintop::margin::book::PreparedModel;
use margintop::margin::config::{load_models, ModelConfig};
use margintop::margin::inputs::AccountInputs;
use margintop::model::valuation::Shock;
use margintop::model::{Account, Instrument, MarketState, Position};
use margintop::report::{account_report, Freshness, ReportOptions, Thresholds};
use std::sync::Arc;

/// 2022-09-01 08:00 UTC.
const NOW: i64 = 1_662_019_200_000;
const BTC_PUT: &str = "BTC_USDC-30DEC22-18000-P";
const BTC_CALL: &str = "BTC_USDC-30DEC22-24000-C";
const ETH_PUT: &str = "ETH_USDC-30DEC22-1400-P";
const BTC: f64 = 20_000.0;
const ETH: f64 = 1_600.0;

/// Short puts on both coins and a long BTC call, backed by `cash` USDC.
fn inputs(cash: f64) -> AccountInputs {
    let names = [BTC_PUT, BTC_CALL, ETH_PUT];
    let insts: Instruments = instruments(&names);
    let mut market = MarketState::default();
    market.set_index("btc_usdc", BTC, NOW);
    market.set_index("eth_usdc", ETH, NOW);
    // Linear options are quoted in USD; the forward equals the index here.
    option_quote(&mut market, BTC_PUT, 1_150.0, 0.70, BTC, BTC, NOW);
    option_quote(&mut market, BTC_CALL, 1_020.0, 0.68, BTC, BTC, NOW);
    option_quote(&mut market, ETH_PUT, 120.0, 0.85, ETH, ETH, NOW);
    let mut account = Account::new("usdc-desk", "USDC", "deribit_pm");
    account.balance = cash;
    for (name, size) in [(BTC_PUT, -4.0), (BTC_CALL, 1.0), (ETH_PUT, -60.0)] {
        account.positions.push(Position {
            instrument: name.to_string(),
            size,
            session_ref_price: None,
        });
    }
    AccountInputs {
        account,
        instruments: insts,
        market,
        models: Arc::new(load_models(None).unwrap()),
        now_ms: NOW,
    }
}

fn model(i: &AccountInputs) -> PreparedModel {
    PreparedModel::new(i.model().unwrap().clone(), "USDC")
}

/// The account's risk after moving the indices by `btc` and `eth` (fractions).
fn risk_after(i: &AccountInputs, btc: f64, eth: f64) -> AccountRisk {
    let shock = |inst: &Instrument| match inst.base.as_str() {
        "BTC" => Shock::price_move(btc),
        _ => Shock::price_move(eth),
    };
    let mut m = model(i);
    let book = value_book(&i.account, &i.instruments, &i.market, &mut m, NOW, &shock);
    account_risk(&i.account, &m, &book.sums, &book.notes, NOW)
}

fn equity_after(i: &AccountInputs, btc: f64, eth: f64) -> f64 {
    risk_after(i, btc, eth).equity
}

/// MM minus margin balance after the move (≥ 0: liquidation).
fn shortfall(i: &AccountInputs, btc: f64, eth: f64) -> f64 {
    let r = risk_after(i, btc, eth);
    r.margin.maintenance_margin - r.margin_balance
}

fn report(i: &AccountInputs) -> margintop::report::AccountReport {
    let opts = ReportOptions {
        scenarios: &[],
        thresholds: Thresholds::default(),
    };
    account_report(i, Freshness::CURRENT, &opts)
}

/// The first move of `dir` sign (in `steps` even steps up to `limit`) where
/// the shortfall reaches zero, moving both (`which` None) or one index.
fn dense_scan(i: &AccountInputs, limit: f64, steps: usize, which: Option<&str>) -> Option<f64> {
    (1..=steps)
        .map(|k| limit * k as f64 / steps as f64)
        .find(|&m| {
            let (btc, eth) = match which {
                Some("btc") => (m, 0.0),
                Some(_) => (0.0, m),
                None => (m, m),
            };
            shortfall(i, btc, eth) >= 0.0
        })
}

#[test]
fn a_linear_pair_takes_its_coins_parameters() {
    let models = load_models(None).unwrap();
    let ModelConfig::RiskMatrix(pm) = &models["deribit_pm"] else {
        panic!("deribit_pm is a risk-matrix model");
    };
    // The published tables (config/models/deribit_pm.toml): ETH ±18 %, BTC ±16 %.
    assert_eq!(pm.pair("eth_usdc").unwrap().price_range, 0.18);
    assert_eq!(pm.pair("btc_usdc").unwrap().price_range, 0.16);
    assert_eq!(pm.pair("eth_usd").unwrap().price_range, 0.18);
    let r = report(&inputs(600_000.0));
    let ranges: Vec<(&str, f64)> = (r.risk_matrices.iter())
        .map(|m| {
            let widest = m.price_moves.iter().fold(0.0_f64, |a, b| a.max(b.abs()));
            (m.index_name.as_str(), widest)
        })
        .collect();
    assert_eq!(ranges, vec![("btc_usdc", 0.16), ("eth_usdc", 0.18)]);
}

#[test]
fn greeks_per_index_match_finite_differences_and_sum_only_in_usd() {
    let i = inputs(600_000.0);
    let r = report(&i);
    assert_eq!(r.greeks_by_index.len(), 2);
    let h = 1e-4;
    for g in &r.greeks_by_index {
        let (up, down) = match g.index_name.as_str() {
            "btc_usdc" => (equity_after(&i, h, 0.0), equity_after(&i, -h, 0.0)),
            _ => (equity_after(&i, 0.0, h), equity_after(&i, 0.0, -h)),
        };
        // Equity is in USDC: its change per USD of this index is the delta in coin.
        let fd = (up - down) / (2.0 * h * g.index_price);
        assert!(
            (fd - g.delta_total).abs() < 1e-4 * g.delta_total.abs().max(1.0),
            "{}: finite difference {fd} vs {}",
            g.index_name,
            g.delta_total
        );
        assert!((g.delta_total_usd - g.delta_total * g.index_price).abs() < 1e-9);
    }
    let usd: f64 = r.greeks_by_index.iter().map(|g| g.delta_total_usd).sum();
    assert_eq!(r.greeks.delta_total_usd, Some(usd));
    // One row per expiry and index: the BTC and ETH options share an expiry.
    let rows: Vec<(&str, &str)> = (r.greeks_by_expiry.iter())
        .map(|e| (e.expiry.as_str(), e.index_name.as_str()))
        .collect();
    assert_eq!(rows, vec![("30DEC22", "btc_usdc"), ("30DEC22", "eth_usdc")]);
}

#[test]
fn each_index_has_its_matrix_of_that_index_alone() {
    let i = inputs(600_000.0);
    let r = report(&i);
    let base = equity_after(&i, 0.0, 0.0);
    for m in &r.risk_matrices {
        let same = m.vol_moves.iter().position(|v| *v == "same").unwrap();
        for (row, &mv) in m.price_moves.iter().enumerate() {
            let moved = match m.index_name.as_str() {
                "btc_usdc" => equity_after(&i, mv, 0.0),
                _ => equity_after(&i, 0.0, mv),
            };
            let cell = m.pnl[row][same].unwrap();
            assert!(
                (cell - (moved - base)).abs() < 1e-6 * base.abs(),
                "{} at {mv}: matrix {cell} vs revaluation {}",
                m.index_name,
                moved - base
            );
        }
    }
}

#[test]
fn liquidation_of_a_joint_move_and_of_each_index_against_a_dense_scan() {
    // Little cash: liquidation lies within a moderate fall.
    let i = inputs(80_000.0);
    assert!(shortfall(&i, 0.0, 0.0) < 0.0, "healthy today");
    let l = report(&i).liquidation;
    let step = 0.95 / 2_000.0;
    let joint = dense_scan(&i, -0.95, 2_000, None).expect("a joint fall liquidates");
    let got = l.down_move.expect("joint move found");
    // The scan's first liquidating point lies within one step past the root.
    assert!(
        got >= joint - 1e-9 && got < joint + step + 1e-9,
        "joint {got} vs scan {joint}"
    );
    assert_eq!(l.down_price, None, "no single price for a joint move");
    assert_eq!(l.by_index.len(), 2);
    for b in &l.by_index {
        let which = b.index_name.split('_').next().unwrap();
        let scan = dense_scan(&i, -0.95, 2_000, Some(which));
        match (b.down_move, scan) {
            (Some(got), Some(want)) => {
                assert!(
                    got >= want - 1e-9 && got < want + step + 1e-9,
                    "{which}: {got} vs {want}"
                );
                let price = if which == "btc" { BTC } else { ETH };
                assert!((b.down_price.unwrap() - price * (1.0 + got)).abs() < 1e-6);
            }
            (None, None) => {}
            other => panic!("{which}: {other:?}"),
        }
        // One index alone needs a larger move than both together.
        if let Some(alone) = b.down_move {
            assert!(alone <= got + 1e-9, "{which}: {alone} vs joint {got}");
        }
    }
}

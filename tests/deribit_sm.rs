//! Deribit standard margin against three real short-option positions
//! (MARGIN_METHODOLOGY.md §B.4) and the exchange's futures examples (§B.2).

mod common;

use common::*;
use margintop::margin::book::standard_margin;
use margintop::margin::config::ModelConfig;
use margintop::model::valuation::{resolve, Shock};
use margintop::model::{Instrument, MarketState, Quote};

fn sm() -> margintop::margin::config::StandardModel {
    match builtin("deribit_sm") {
        ModelConfig::Standard(m) => m,
        _ => panic!("standard"),
    }
}

fn option_margin(name: &str, size: f64, index: f64, mark: f64) -> (f64, f64) {
    let inst = Instrument::parse(name).unwrap();
    let mut market = MarketState::default();
    // Only mark and index enter the SM option formula; the IV is irrelevant here.
    market.set_quote(
        name,
        Quote {
            mark_price: mark,
            mark_iv: Some(0.6),
            underlying_price: Some(index),
            index_price: Some(index),
            timestamp: 0,
        },
    );
    let r = resolve(&inst, &market, 0, Shock::NONE).unwrap();
    standard_margin(&sm(), &inst, &r, size)
}

#[test]
fn real_positions_from_the_fixture_file() {
    // Strings in the fixture: ccxt stringified the exchange's numbers.
    let rows = read_json("deribit/get_positions_option_shorts_2022_ccxt_info.json");
    let num = |v: &serde_json::Value| v.as_str().unwrap().parse::<f64>().unwrap();
    let mut checked = 0;
    for row in rows.as_array().unwrap() {
        let size = num(&row["size"]);
        if size == 0.0 {
            continue;
        }
        let (im, mm) = option_margin(
            row["instrument_name"].as_str().unwrap(),
            size,
            num(&row["index_price"]),
            num(&row["mark_price"]),
        );
        assert!(
            (im - num(&row["initial_margin"])).abs() < 1e-8,
            "IM {im} vs {}",
            row["initial_margin"]
        );
        assert!(
            (mm - num(&row["maintenance_margin"])).abs() < 1e-8,
            "MM {mm} vs {}",
            row["maintenance_margin"]
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn real_short_call_from_the_methodology_table() {
    // BTC-9NOV21-68000-C short 0.1, index 65903.94, mark 0.00166267.
    let (im, mm) = option_margin("BTC-9NOV21-68000-C", -0.1, 65903.94, 0.00166267);
    let want_im = 0.1 * (0.15 - (68000.0 - 65903.94) / 65903.94 + 0.00166267);
    assert!((im - want_im).abs() < 1e-12);
    assert!((im - 0.011985789).abs() < 1e-9, "{im}");
    assert!((mm - 0.007666267).abs() < 1e-9, "{mm}");
}

#[test]
fn long_options_need_no_margin() {
    assert_eq!(
        option_margin("BTC-9NOV21-68000-C", 0.5, 65903.94, 0.00166267),
        (0.0, 0.0)
    );
}

fn future_margin(name: &str, size_usd: f64, mark: f64) -> (f64, f64) {
    let inst = Instrument::parse(name).unwrap();
    let mut market = MarketState::default();
    future_quote(&mut market, name, mark, mark, 0);
    let r = resolve(&inst, &market, 0, Shock::NONE).unwrap();
    standard_margin(&sm(), &inst, &r, size_usd)
}

#[test]
fn linear_perpetual_worked_example() {
    // Deribit's Linear Perpetual article: 25 BTC → IM 2.125 % = 0.53125 BTC,
    // 350 BTC → IM 3.75 % = 13.125 BTC. BTC_USDC margins are in USDC: divide by price.
    for (coins, im_btc) in [(25.0, 0.53125), (350.0, 13.125)] {
        let price = 60_000.0;
        let (im, _) = future_margin("BTC_USDC-PERPETUAL", coins, price);
        assert!(
            (im / price - im_btc).abs() < 1e-12,
            "{coins}: {}",
            im / price
        );
    }
}

#[test]
fn inverse_future_rate_grows_with_size() {
    // Testnet docs example with production bases: 185160 USD at 17391.
    let (im, mm) = future_margin("BTC-PERPETUAL", 185_160.0, 17_391.0);
    let q = 185_160.0 / 17_391.0;
    assert!((im - q * (0.02 + q * 0.00005)).abs() < 1e-12);
    assert!((mm - q * (0.01 + q * 0.00005)).abs() < 1e-12);
    // Short positions cost the same as longs.
    assert_eq!(
        future_margin("BTC-PERPETUAL", -185_160.0, 17_391.0),
        (im, mm)
    );
}

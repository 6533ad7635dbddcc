//! Helpers shared by the integration tests: fixture paths and small books.
#![allow(dead_code)]

use margintop::margin::account::Instruments;
use margintop::margin::config::{load_models, ModelConfig};
use margintop::model::{Instrument, MarketState, Quote};
use std::path::PathBuf;

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub fn read_json(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(rel)).expect("fixture");
    serde_json::from_str(&text).expect("fixture json")
}

pub fn builtin(name: &str) -> ModelConfig {
    load_models(None).unwrap().remove(name).unwrap()
}

pub fn instruments(names: &[&str]) -> Instruments {
    names
        .iter()
        .map(|n| (n.to_string(), Instrument::parse(n).unwrap()))
        .collect()
}

pub fn future_quote(market: &mut MarketState, name: &str, mark: f64, index: f64, ts: i64) {
    market.set_quote(
        name,
        Quote {
            mark_price: mark,
            mark_iv: None,
            underlying_price: None,
            index_price: Some(index),
            timestamp: ts,
        },
    );
}

pub fn option_quote(
    market: &mut MarketState,
    name: &str,
    mark_coin: f64,
    iv: f64,
    forward: f64,
    index: f64,
    ts: i64,
) {
    market.set_quote(
        name,
        Quote {
            mark_price: mark_coin,
            mark_iv: Some(iv),
            underlying_price: Some(forward),
            index_price: Some(index),
            timestamp: ts,
        },
    );
}

pub fn rel_err(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

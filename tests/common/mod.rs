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

/// Rows of a real Deribit chain snapshot (tests/fixtures/data/README.md).
pub struct ChainRow {
    pub opt: margintop::pricing::OptionType,
    pub forward: f64,
    pub strike: f64,
    pub t: f64,
    pub mark: f64,
    pub iv: f64,
    pub delta: f64,
    pub vega: f64,
    pub currency: String,
    pub expiry_label: String,
}

fn parse_iso_ms(s: &str) -> i64 {
    // 2026-01-01T09:18:35.173006+00:00 → epoch ms (UTC).
    let (date, time) = s.split_once('T').unwrap();
    let d: Vec<u32> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let days = margintop::model::instrument::days_from_civil(d[0] as i64, d[1], d[2]);
    let time = &time[..time.find('+').unwrap_or(time.len())];
    let parts: Vec<f64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    days * 86_400_000 + ((parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]) * 1000.0) as i64
}

pub fn chain(file: &str) -> Vec<ChainRow> {
    let text = std::fs::read_to_string(fixture(&format!("data/{file}"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (ts, name, und, strike, exp, mark, iv, delta, vega, ccy) = (
        col("timestamp"),
        col("instrument_name"),
        col("underlying"),
        col("strike"),
        col("expiry_datetime"),
        col("mark_price"),
        col("implied_volatility"),
        col("delta"),
        col("vega"),
        col("currency"),
    );
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| !r[mark].is_empty() && !r[iv].is_empty())
        .map(|r| {
            let now = parse_iso_ms(r[ts]);
            let inst = margintop::model::Instrument::parse(r[name]).unwrap();
            assert_eq!(inst.expiry_ms(), Some(parse_iso_ms(r[exp])), "{}", r[name]);
            ChainRow {
                opt: if r[name].ends_with("-C") {
                    margintop::pricing::OptionType::Call
                } else {
                    margintop::pricing::OptionType::Put
                },
                forward: r[und].parse().unwrap(),
                strike: r[strike].parse().unwrap(),
                t: margintop::pricing::years_between(now, inst.expiry_ms().unwrap()),
                mark: r[mark].parse().unwrap(),
                iv: r[iv].parse().unwrap(),
                delta: r[delta].parse().unwrap_or(f64::NAN),
                vega: r[vega].parse().unwrap_or(f64::NAN),
                currency: r[ccy].to_string(),
                expiry_label: inst.expiry_label().to_string(),
            }
        })
        .collect()
}

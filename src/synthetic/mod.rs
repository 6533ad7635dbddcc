//! A synthetic desk for benchmarks: a Deribit-like BTC+ETH chain and many
//! accounts holding parts of it. Deterministic; the numbers are plausible,
//! not real (the real chains are in tests/fixtures/data).

pub mod desk;

use crate::model::Kind;
use crate::model::{Instrument, Quote};
use serde_json::{json, Value};

/// Epoch ms of the synthetic market: 2026-01-01 09:18:35 UTC.
pub const NOW: i64 = 1_767_259_115_000;

/// Expiries from days to a year, 43 strikes each around the money, calls
/// and puts, the dated futures and the perpetual: 871 instruments per coin.
pub fn chain(base: &str, spot: f64) -> Vec<String> {
    let expiries = [
        "2JAN26", "3JAN26", "9JAN26", "16JAN26", "30JAN26", "27FEB26", "27MAR26", "26JUN26",
        "25SEP26", "25DEC26",
    ];
    let mut names = vec![format!("{base}-PERPETUAL")];
    for e in expiries {
        names.push(format!("{base}-{e}"));
        for i in -21..=21 {
            let strike = (spot * (1.0 + 0.035 * i as f64) / 100.0).round() * 100.0;
            for cp in ["C", "P"] {
                names.push(format!("{base}-{e}-{strike}-{cp}"));
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// A smile: 45 % at the money, rising with squared log-moneyness.
pub fn smile(strike: f64, spot: f64) -> f64 {
    0.45 + 0.3 * (strike / spot).ln().powi(2)
}

/// The exchange's quote for a synthetic instrument.
pub fn quote(inst: &Instrument, spot: f64, ts: i64) -> Quote {
    match inst.kind {
        Kind::Option { strike, .. } => Quote {
            mark_price: 0.01,
            mark_iv: Some(smile(strike, spot)),
            underlying_price: Some(spot * 1.003),
            index_price: Some(spot),
            timestamp: ts,
        },
        _ => Quote {
            mark_price: spot * 1.002,
            mark_iv: None,
            underlying_price: None,
            index_price: Some(spot),
            timestamp: ts,
        },
    }
}

/// The same quote as a Deribit `ticker.{name}.100ms` notification.
pub fn ticker_message(inst: &Instrument, spot: f64, ts: i64) -> Value {
    let q = quote(inst, spot, ts);
    let mut data = json!({
        "instrument_name": inst.name,
        "timestamp": ts,
        "mark_price": q.mark_price,
        "index_price": spot,
        "state": "open",
    });
    if let (Some(iv), Some(f)) = (q.mark_iv, q.underlying_price) {
        data["mark_iv"] = json!(iv * 100.0);
        data["underlying_price"] = json!(f);
    }
    json!({"jsonrpc": "2.0", "method": "subscription",
           "params": {"channel": format!("ticker.{}.100ms", inst.name), "data": data}})
}

/// An account label, its currency, and its positions (instrument, size).
pub type Book = (String, String, Vec<(String, f64)>);

/// `accounts` books of `positions` each, alternating BTC and ETH, spread
/// over the chain.
pub fn books(accounts: usize, positions: usize, btc: &[String], eth: &[String]) -> Vec<Book> {
    (0..accounts)
        .map(|a| {
            let (ccy, names) = if a % 2 == 0 {
                ("BTC", btc)
            } else {
                ("ETH", eth)
            };
            let mut held: Vec<(String, f64)> = Vec::new();
            for p in 0..positions {
                let name = &names[(a * 37 + p * 101) % names.len()];
                if held.iter().any(|(n, _)| n == name) {
                    continue;
                }
                let option = name.ends_with("-C") || name.ends_with("-P");
                let size = if option {
                    ((p % 7) as f64 - 3.0) * 2.5 + 0.5
                } else {
                    10_000.0
                };
                held.push((name.clone(), size));
            }
            (format!("acct-{a}"), ccy.to_string(), held)
        })
        .collect()
}

/// A desk of `n` accounts made of copies of `snap`'s accounts, each with
/// its own label (`acct-000`…), for drawing and scrolling large desks.
pub fn copies(snap: &crate::engine::live::Snapshot, n: usize) -> crate::engine::live::Snapshot {
    let mut out = snap.clone();
    if snap.accounts.is_empty() {
        return out;
    }
    out.accounts = (0..n)
        .map(|i| {
            let mut v = snap.accounts[i % snap.accounts.len()].clone();
            let mut book = (*v.book).clone();
            book.label = format!("acct-{i:03}");
            v.book = std::sync::Arc::new(book);
            v
        })
        .collect();
    out
}

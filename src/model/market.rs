//! Market state: what the exchange last said about each instrument and index.
//!
//! The core keeps the exchange's quote as it came (mark, mark IV, forward,
//! index at that time) and derives today's value from it: when the index
//! moves after the quote, the option's forward moves with it in proportion
//! (the basis is kept), and the option is repriced with Black-76 at its mark
//! IV. So an index tick reprices every instrument on that index at once.

use std::collections::HashMap;

/// The exchange's latest mark for one instrument.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quote {
    /// Mark price in the instrument's quote units: coin for inverse options,
    /// USD for futures and for linear options.
    pub mark_price: f64,
    /// Mark implied volatility as a fraction (Deribit tickers send percent).
    pub mark_iv: Option<f64>,
    /// The option's forward (`underlying_price`), USD.
    pub underlying_price: Option<f64>,
    /// The index when the quote was made, USD.
    pub index_price: Option<f64>,
    /// Exchange time of the quote, epoch ms.
    pub timestamp: i64,
}

/// The latest value of a price index.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IndexPrice {
    pub price: f64,
    pub timestamp: i64,
}

/// A map by instrument or index name, with a hasher several times faster
/// than std's for such short keys: every tick looks names up.
pub type NameMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// Quotes by instrument name and index prices by index name.
#[derive(Clone, Debug, Default)]
pub struct MarketState {
    pub quotes: NameMap<Quote>,
    pub indices: NameMap<IndexPrice>,
}

impl MarketState {
    pub fn set_quote(&mut self, instrument: &str, quote: Quote) {
        set_by_name(&mut self.quotes, instrument, quote);
    }

    pub fn set_index(&mut self, index_name: &str, price: f64, timestamp: i64) {
        set_by_name(
            &mut self.indices,
            index_name,
            IndexPrice { price, timestamp },
        );
    }

    pub fn index(&self, index_name: &str) -> Option<f64> {
        self.indices.get(index_name).map(|i| i.price)
    }
}

/// Insert or replace, allocating the key only when it is new (most ticks
/// replace a quote).
fn set_by_name<V>(map: &mut NameMap<V>, name: &str, value: V) {
    match map.get_mut(name) {
        Some(slot) => *slot = value,
        None => {
            map.insert(name.to_string(), value);
        }
    }
}

/// Checks a number received from outside before it enters the core.
pub fn positive_finite(value: f64) -> Option<f64> {
    (value.is_finite() && value > 0.0).then_some(value)
}

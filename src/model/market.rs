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

/// Quotes by instrument name and index prices by index name.
#[derive(Clone, Debug, Default)]
pub struct MarketState {
    pub quotes: HashMap<String, Quote>,
    pub indices: HashMap<String, IndexPrice>,
}

impl MarketState {
    pub fn set_quote(&mut self, instrument: &str, quote: Quote) {
        self.quotes.insert(instrument.to_string(), quote);
    }

    pub fn set_index(&mut self, index_name: &str, price: f64, timestamp: i64) {
        self.indices
            .insert(index_name.to_string(), IndexPrice { price, timestamp });
    }

    pub fn index(&self, index_name: &str) -> Option<f64> {
        self.indices.get(index_name).map(|i| i.price)
    }
}

/// Checks a number received from outside before it enters the core.
pub fn positive_finite(value: f64) -> Option<f64> {
    (value.is_finite() && value > 0.0).then_some(value)
}

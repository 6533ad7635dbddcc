//! Option pricing: Black-76 value and Greeks, implied volatility.
//! Pure functions of their arguments; no clock, no I/O.

pub mod black76;
pub mod implied_vol;
pub mod lanes;
pub mod normal;

pub use black76::{
    coin_price, delta, greeks, price, price_with_total_vol, years_between, Greeks, OptionType,
    MS_PER_YEAR,
};
pub use implied_vol::{implied_vol, implied_vol_coin, IvError};

//! Instruments, market state, accounts and positions, and what one unit of
//! an instrument is worth at a market state. Pure data and arithmetic.

pub mod account;
pub mod instrument;
pub mod market;
pub mod valuation;

pub use account::{Account, AccountKey, AddOns, Collateral, ExchangeFigures, Position, UsdTotals};
pub use instrument::{Instrument, InstrumentError, InstrumentSpec, Kind, Settlement};
pub use market::{IndexPrice, MarketState, Quote};
pub use valuation::{resolve, Resolved, UnitValue};

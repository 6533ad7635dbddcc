//! The engine: sole owner of the risk state, updated incrementally.

pub mod desk;

pub use desk::{AccountId, Desk, InstrumentId};

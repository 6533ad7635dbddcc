//! The engine: sole owner of the risk state, updated incrementally.

pub mod desk;
pub mod ingest;
pub mod live;
pub mod resync;
pub mod stats;
pub mod tracking;
pub mod validate;

pub use desk::{AccountId, Desk, InstrumentId};
pub use ingest::{Ingest, ReplayStats};

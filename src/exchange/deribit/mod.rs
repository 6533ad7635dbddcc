//! Deribit API v2: protocol envelope, message normalization, WebSocket client.

pub mod client;
pub mod history;
pub mod hot;
pub mod margin_models;
pub mod normalize;
pub mod protocol;

pub use normalize::{normalize, Balance, Event};

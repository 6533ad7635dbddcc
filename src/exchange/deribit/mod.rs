//! Deribit API v2: message normalization (the WebSocket client comes later).

pub mod normalize;

pub use normalize::{normalize, Balance, Event};

//! The built-in demo exchange: a simulated market, a Deribit-protocol
//! server on loopback and a demo desk on it. It sits above the monitor (a
//! harness that may use the engine), never inside the exchange adapters.

mod chaos;
mod credits;
mod cycle;
pub mod desk;
pub mod history;
pub mod market;
pub mod server;
pub mod smile;
pub mod soak;
pub mod state;

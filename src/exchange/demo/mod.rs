//! The built-in demo exchange: a simulated market (and, later, a Deribit-
//! protocol server and a demo desk on it).

pub mod desk;
pub mod market;
pub mod server;
pub mod smile;

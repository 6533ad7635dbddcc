//! margintop: a terminal risk monitor for crypto derivatives accounts.
//!
//! The risk core (`model`, `pricing`, `margin`) is pure: no I/O, no clock,
//! no exchange types; `now` is always a parameter. `engine` keeps it
//! current incrementally; `exchange` turns Deribit messages into events;
//! `report` renders what the core computed.

pub mod alerting;
pub mod bench;
pub mod config;
pub mod demo;
pub mod engine;
pub mod exchange;
pub mod heap;
pub mod history_store;
pub mod margin;
pub mod metrics;
pub mod model;
pub mod monitor;
pub mod parallel;
pub mod pricing;
pub mod report;
pub mod risk;
pub mod synthetic;
pub mod ui;

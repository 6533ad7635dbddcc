//! The screens, each a component: its own state (cursor, selection,
//! scroll), a `render` from the snapshot and the render context that
//! writes nothing back, and the keys it handles.

pub mod account;
pub mod alerts;
pub mod backtest;
pub mod desk;
pub mod help;
pub mod matrix;
pub mod risk;
pub mod stress;
pub mod var;
pub mod whatif;

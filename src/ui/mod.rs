//! The terminal dashboards (ratatui): the desk, one account's screens,
//! alerts and help, each a component in `screens`.

pub mod alerts;
pub mod analysis;
pub mod app;
pub mod columns;
pub mod context;
pub mod cursor;
pub mod format;
pub mod keymap;
pub mod prompt;
pub mod results;
pub mod revalued;
pub mod screens;
pub mod terminal;
pub mod theme;
pub mod trends;
pub mod validation;
pub mod view;

pub use app::{App, Screen};
pub use theme::{ColorDepth, Theme};

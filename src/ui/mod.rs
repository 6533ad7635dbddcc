//! The terminal dashboards (ratatui): desk overview, account view, help.

pub mod alerts;
pub mod analysis;
pub mod app;
pub mod keymap;
pub mod terminal;
pub mod theme;
pub mod view;

pub use app::{App, Screen};
pub use theme::{ColorDepth, Theme};

//! The terminal dashboards (ratatui): desk overview, account view, help.

pub mod app;
pub mod terminal;
pub mod theme;
pub mod view;

pub use app::{App, Screen};
pub use theme::{ColorDepth, Theme};

//! Margin: one scenario-grid kernel, margin models as data, account
//! valuation, stress and liquidation distance. Pure: `now` is a parameter.

pub mod account;
pub mod analysis;
pub mod book;
pub mod config;
pub mod cross;
pub mod grid;
pub mod inputs;
pub mod liquidation;
pub mod notes;
pub mod requirement;
pub mod stress;

pub use account::{value_account, AccountRisk};
pub use book::{BookSums, Contribution, PreparedModel};
pub use config::{load_models, ModelConfig};
pub use inputs::AccountInputs;
pub use requirement::{requirement, Breakdown};

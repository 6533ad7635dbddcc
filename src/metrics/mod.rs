//! Prometheus metrics: every account's risk, the links and the engine's
//! own figures, served on `/metrics` (`--metrics ADDRESS`, `[metrics]` in
//! the configuration) for the Prometheus a desk already runs.
//! `exposition` writes a snapshot in the text format; `server` answers
//! scrapes over HTTP.

pub mod exposition;
pub mod server;

pub use exposition::render;
pub use server::{MetricsServer, Source};

use crate::model::AccountKey;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The background figures, as the screens last computed them, shared
/// with the endpoint.
pub type Shared = Arc<Mutex<BTreeMap<AccountKey, Analysed>>>;

/// Replace the shared figures with `figures`.
pub fn publish(shared: &Shared, figures: BTreeMap<AccountKey, Analysed>) {
    match shared.lock() {
        Ok(mut s) => *s = figures,
        Err(poisoned) => *poisoned.into_inner() = figures,
    }
}

/// An account's figures from the background revaluations (liquidation
/// search, stress, VaR), where they have been computed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Analysed {
    pub liq_down_pct: Option<f64>,
    pub liq_up_pct: Option<f64>,
    /// The nearer liquidation move in daily σ of the index (needs VaR's
    /// history: `Liquidation::nearer_in_sigmas`).
    pub liq_sigma: Option<f64>,
    pub worst_stress_usd: Option<f64>,
    pub var_99_usd: Option<f64>,
}

//! Everything needed to value one account away from the engine: the
//! account, the instruments it holds (and any asked for, as in a what-if),
//! their quotes, the indices, the margin models and the pricing time.
//!
//! The engine hands these out on request, so that full revaluations
//! (liquidation search, stress, what-if, other models) run on another
//! thread without holding up ticks, and give the same numbers the engine
//! would: same inputs, same pure functions.

use super::account::Instruments;
use super::config::ModelConfig;
use crate::model::{Account, MarketState};
use std::collections::BTreeMap;
use std::sync::Arc;

pub type Models = Arc<BTreeMap<String, ModelConfig>>;

#[derive(Clone, Debug)]
pub struct AccountInputs {
    pub account: Account,
    pub instruments: Instruments,
    pub market: MarketState,
    pub models: Models,
    /// Pricing clock, epoch ms.
    pub now_ms: i64,
}

impl AccountInputs {
    /// The model config the account uses (None: not one of `models`).
    pub fn model(&self) -> Option<&ModelConfig> {
        self.models.get(&self.account.model)
    }

    /// The same inputs with the account under another model.
    pub fn under_model(&self, model: &str) -> AccountInputs {
        let mut other = self.clone();
        other.account.model = model.to_string();
        other
    }
}

/// Everything needed to value a cross-collateral account: each currency's
/// wallet (an account of its own on the desk), with the instruments and
/// quotes of all of them.
#[derive(Clone, Debug)]
pub struct CrossInputs {
    pub wallets: Vec<Account>,
    pub instruments: Instruments,
    pub market: MarketState,
    pub models: Models,
    pub now_ms: i64,
}

impl CrossInputs {
    /// Gather the inputs of each wallet into one.
    pub fn from_wallets(parts: Vec<AccountInputs>) -> Option<CrossInputs> {
        let mut parts = parts.into_iter();
        let first = parts.next()?;
        let mut cross = CrossInputs {
            wallets: vec![first.account],
            instruments: first.instruments,
            market: first.market,
            models: first.models,
            now_ms: first.now_ms,
        };
        for p in parts {
            cross.wallets.push(p.account);
            cross.instruments.extend(p.instruments);
            cross.market.quotes.extend(p.market.quotes);
        }
        Some(cross)
    }
}

/// The accounts of `all` whose model is loaded, grouped by model and
/// currency (ascending indices into `all`): the accounts a desk-wide pass
/// may price together, since an instrument's shocked value and scenario
/// vector are the same for all of them.
pub fn by_model_and_currency(all: &[&AccountInputs]) -> Vec<Vec<usize>> {
    let mut groups: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (n, i) in all.iter().enumerate() {
        if i.model().is_some() {
            let key = (i.account.model.as_str(), i.account.currency.as_str());
            groups.entry(key).or_default().push(n);
        }
    }
    groups.into_values().collect()
}

//! The results of the background revaluations the screens draw: the open
//! account's analysis, the desk's costly columns, the instrument chain.

use super::analysis::{Analysis, DeskFigures, Done};
use crate::engine::live::Snapshot;
use crate::model::AccountKey;
use std::collections::HashMap;

/// The overview's costly columns are recomputed at least this often, and
/// sooner when positions change or the index moves by `DUE_MOVE`.
const DUE_AFTER_MS: i64 = 30_000;
const DUE_MOVE: f64 = 0.01;

#[derive(Clone, Debug, Default)]
pub struct Results {
    /// The open account fully revalued (liquidation, stress, models, what-if).
    pub account: Option<Box<Analysis>>,
    /// The desk's liquidation and worst-stress columns, by account.
    pub desk: HashMap<AccountKey, DeskFigures>,
    /// Every instrument the engine knows (the what-if picker).
    pub chain: Vec<String>,
}

impl Results {
    /// The last analysis of `key` (None: none yet, or of another account).
    pub fn analysis_of(&self, key: &AccountKey) -> Option<&Analysis> {
        self.account.as_deref().filter(|a| &a.request.key == key)
    }

    /// Take in a finished job; an analysis of an account no longer open is dropped.
    pub fn absorb(&mut self, done: Done, open: Option<&AccountKey>) {
        match done {
            Done::Account(a) if Some(&a.request.key) == open => self.account = Some(a),
            Done::Desk(key, figures) => {
                self.desk.insert(key, *figures);
            }
            Done::Chain(names) if !names.is_empty() => self.chain = names,
            _ => {}
        }
    }

    /// Accounts whose desk columns are missing or out of date.
    pub fn desk_due(&self, snap: &Snapshot) -> Vec<AccountKey> {
        snap.accounts
            .iter()
            .filter(|v| v.complete && !v.stale && !v.positions.is_empty())
            .filter(|v| {
                let Some(f) = self.desk.get(&v.key()) else {
                    return true;
                };
                let moved = match (f.index_price, v.index.as_ref()) {
                    (Some(a), Some((_, b))) => (b / a - 1.0).abs() > DUE_MOVE,
                    _ => false,
                };
                moved || f.positions != v.positions || snap.pricing_ms - f.pricing_ms > DUE_AFTER_MS
            })
            .map(|v| v.key())
            .collect()
    }
}

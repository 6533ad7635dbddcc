//! What every screen renders from: the snapshot, and around it the theme,
//! the keymap (for hints), the thresholds and what the background jobs
//! and the trends have computed. Read-only: drawing changes nothing.

use super::alerts::Alerts;
use super::keymap::{Action, KeyMap};
use super::prompt::Prompt;
use super::results::Results;
use super::theme::Theme;
use super::trends::Trends;
use crate::engine::live::{AccountSnapshot, Snapshot};
use crate::model::AccountKey;
use crate::report::health::Thresholds;

#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub snap: &'a Snapshot,
    pub theme: &'a Theme,
    pub keys: &'a KeyMap,
    pub thresholds: &'a Thresholds,
    pub results: &'a Results,
    pub trends: &'a Trends,
    pub alerts: &'a Alerts,
    /// The account the account screens show.
    pub open: Option<&'a AccountKey>,
    /// A prompt being typed, and its text.
    pub prompt: Option<&'a Prompt>,
    pub input: &'a str,
}

impl<'a> Ctx<'a> {
    /// The open account in the snapshot.
    pub fn open_account(&self) -> Option<&'a AccountSnapshot> {
        let key = self.open?;
        self.snap.accounts.iter().find(|v| v.is(key))
    }

    /// The key bound to an action, as the help writes it.
    pub fn key(&self, action: Action) -> String {
        self.keys.hint(action)
    }
}

//! The alerts log: what changed between snapshots that a risk manager must
//! see even when looking elsewhere — an account turning warning, critical,
//! liquidation or stale (and recovering), a link going down or coming back,
//! a new problem with the input.

use super::analysis::Key;
use crate::engine::live::Snapshot;
use crate::exchange::deribit::client::LinkState;
use crate::report::{Health, Thresholds};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Entries kept (oldest dropped first).
pub const KEPT: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warning,
    Critical,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Local time, epoch ms.
    pub at_ms: i64,
    pub level: Level,
    pub text: String,
}

#[derive(Clone, Debug, Default)]
pub struct Alerts {
    log: VecDeque<Alert>,
    health: HashMap<Key, Health>,
    links: BTreeMap<String, LinkState>,
    warnings: HashSet<String>,
}

/// States worth an alert when entered.
fn alarming(h: Health) -> Option<Level> {
    match h {
        Health::Warning | Health::Stale => Some(Level::Warning),
        Health::Critical | Health::Liquidation => Some(Level::Critical),
        Health::Ok | Health::Unknown => None,
    }
}

impl Alerts {
    /// Compare `snap` with what was seen before and log the changes.
    pub fn observe(&mut self, snap: &Snapshot, t: &Thresholds) {
        let at_ms = snap.as_of;
        let mut new = Vec::new();
        for v in &snap.accounts {
            let h = super::view::health(v, t);
            let key = (v.label.clone(), v.currency.clone());
            let before = self.health.insert(key, h);
            if before == Some(h) {
                continue;
            }
            let name = format!("{} [{}]", v.label, v.currency);
            let ratio = v
                .risk
                .mm_ratio
                .map_or(String::new(), |r| format!(" (mm_ratio {:.1}%)", r * 100.0));
            match (alarming(h), before.and_then(alarming)) {
                (Some(level), _) => new.push((level, format!("{name} is {h:?}{ratio}"))),
                (None, Some(_)) if h == Health::Ok => {
                    new.push((Level::Info, format!("{name} is back to Ok{ratio}")))
                }
                _ => {}
            }
        }
        for (link, state) in &snap.links {
            let before = self.links.insert(link.clone(), state.clone());
            match (&before, state) {
                (Some(LinkState::Live), LinkState::Down(why) | LinkState::AuthFailed(why)) => {
                    new.push((Level::Critical, format!("link {link} down: {why}")))
                }
                (Some(b), LinkState::Live) if *b != LinkState::Live => {
                    new.push((Level::Info, format!("link {link} live again")))
                }
                (None, LinkState::AuthFailed(why)) => {
                    new.push((Level::Critical, format!("link {link}: {why}")))
                }
                _ => {}
            }
        }
        for w in &snap.warnings {
            if self.warnings.insert(w.clone()) {
                new.push((Level::Warning, w.clone()));
            }
        }
        for (level, text) in new {
            if self.log.len() == KEPT {
                self.log.pop_front();
            }
            self.log.push_back(Alert { at_ms, level, text });
        }
    }

    /// Newest first.
    pub fn newest(&self) -> impl Iterator<Item = &Alert> {
        self.log.iter().rev()
    }

    pub fn len(&self) -> usize {
        self.log.len()
    }

    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }
}

//! What the one-shot commands (`check`, `record`, `watch --plain`) need to
//! know of their connections: which went live at least once, and which
//! failed in a way that no waiting will fix.

use margintop::engine::live::Snapshot;
use margintop::exchange::feed::LinkState;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A failure at start worth ending a one-shot command for: a link that never
/// went live had its credentials refused or cannot reach its server (a
/// mistyped URL should not cost the whole timeout). Once a link has been
/// live, its failures are waited out like any outage: one account's trouble
/// must not stop the recording of the others.
pub fn hopeless(link: &str, state: &LinkState, live: &HashSet<String>) -> Option<String> {
    if live.contains(link) {
        return None;
    }
    match state {
        LinkState::AuthFailed(why) => Some(format!("{link}: authentication failed: {why}")),
        LinkState::Unreachable(why) => Some(format!("{link}: cannot connect: {why}")),
        _ => None,
    }
}

/// Add the links live in `snap` to those seen live.
pub fn note_live(seen: &mut HashSet<String>, snap: &Snapshot) {
    let now_live = snap.links.iter().filter(|(_, s)| **s == LinkState::Live);
    seen.extend(now_live.map(|(l, _)| l.clone()));
}

/// Follows the snapshots in a task of its own.
pub struct LinkWatch {
    live: Arc<Mutex<HashSet<String>>>,
    failed: watch::Receiver<Option<String>>,
}

impl LinkWatch {
    pub fn start(mut rx: watch::Receiver<Arc<Snapshot>>) -> LinkWatch {
        let live = Arc::new(Mutex::new(HashSet::new()));
        let (tx, failed) = watch::channel(None);
        let seen = live.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let snap = rx.borrow().clone();
                let Ok(mut seen) = seen.lock() else { return };
                note_live(&mut seen, &snap);
                let why = snap.links.iter().find_map(|(l, s)| hopeless(l, s, &seen));
                if why.is_some() && tx.borrow().is_none() {
                    let _ = tx.send(why);
                }
            }
        });
        LinkWatch { live, failed }
    }

    /// Resolves with the first hopeless failure (never, if there is none).
    pub async fn failed(&mut self) -> String {
        loop {
            if let Some(why) = self.failed.borrow().clone() {
                return why;
            }
            if self.failed.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// The first connection that never went live, as an error naming why
    /// (authentication refused, server unreachable, …).
    pub fn never_live(&self, snap: &Snapshot) -> Option<String> {
        let live = self.live.lock().map(|l| l.clone()).unwrap_or_default();
        snap.links
            .iter()
            .filter(|(link, _)| !live.contains(*link))
            .map(|(link, state)| {
                hopeless(link, state, &live).unwrap_or_else(|| match state {
                    LinkState::Down(why) => format!("{link}: never connected: {why}"),
                    _ => format!("{link}: never connected"),
                })
            })
            .next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_and_unreachable_servers_never_live_are_hopeless() {
        let mut live = HashSet::new();
        let down = LinkState::Down("closed".into());
        let away = LinkState::Unreachable("refused".into());
        let auth = LinkState::AuthFailed("13004".into());
        assert_eq!(hopeless("a", &down, &live), None);
        assert_eq!(
            hopeless("a", &away, &live).as_deref(),
            Some("a: cannot connect: refused")
        );
        assert!(hopeless("a", &auth, &live).is_some());
        live.insert("a".to_string());
        // A link that was live once is only down for a while: keep waiting.
        assert_eq!(hopeless("a", &away, &live), None);
        assert_eq!(hopeless("a", &auth, &live), None);
    }
}

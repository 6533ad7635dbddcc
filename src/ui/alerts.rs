//! The alerts log: what changed between snapshots that a risk manager must
//! see even when looking elsewhere — an account turning warning, critical,
//! liquidation or stale (and recovering), a link going down or coming back,
//! a new problem with the input.

use crate::alerting::audit::Entry;
use crate::alerting::{readings, Evaluator, Fired, LinkClock, Rule};
use crate::engine::live::{AccountSnapshot, Snapshot};
use crate::exchange::feed::LinkState;
use crate::metrics::Analysed;
use crate::model::AccountKey;
use crate::report::health::{Health, Thresholds};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Entries kept (oldest dropped first).
pub const KEPT: usize = 500;

/// The built-in alerts and the configured rules' share one scale.
pub use crate::alerting::Level;

#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Local time, epoch ms.
    pub at_ms: i64,
    pub level: Level,
    pub text: String,
    /// What a configured rule measured (None: a built-in alert).
    pub fired: Option<Fired>,
    /// The account a built-in alert is about (None: a link, the input).
    pub about: Option<AccountKey>,
}

impl Alert {
    /// The alert as the sinks take it.
    pub fn entry(&self) -> Entry<'_> {
        match &self.fired {
            Some(f) => Entry::rule(f),
            None => Entry {
                account: self.about.as_ref().map(|k| k.label.as_str()),
                currency: self.about.as_ref().map(|k| k.currency.as_str()),
                ..Entry::built_in(self.at_ms, self.level, &self.text)
            },
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Alerts {
    log: VecDeque<Alert>,
    health: HashMap<AccountKey, Health>,
    /// Accounts seen with current data at least once: before that, being
    /// stale or unknown is starting up, not news.
    started: HashSet<AccountKey>,
    links: BTreeMap<String, LinkState>,
    /// Links that were live at least once ("live again" needs a before).
    were_live: HashSet<String>,
    warnings: HashSet<String>,
    /// Accounts whose local equity lastingly differs from the exchange's.
    diverging: HashSet<AccountKey>,
    /// Accounts whose local MM lastingly differs from the exchange's.
    mm_diverging: HashSet<AccountKey>,
    /// The configured `[[alerts]]` rules, applied to every snapshot.
    rules: Evaluator,
    links_down: LinkClock,
    /// The background revaluations' figures the rules read (liquidation
    /// distance, stress, VaR), as last computed.
    analysed: BTreeMap<AccountKey, Analysed>,
}

/// States worth an alert when entered.
fn alarming(h: Health) -> Option<Level> {
    match h {
        Health::Warning | Health::Stale => Some(Level::Warning),
        Health::Critical | Health::Liquidation | Health::Error => Some(Level::Critical),
        Health::Ok | Health::Unknown => None,
    }
}

/// Why an account is stale or in error, as the end of an alert's text.
fn why(v: &AccountSnapshot, h: Health) -> String {
    let reason = match h {
        Health::Error => v.error(),
        Health::Stale => v.stale_reason.clone(),
        _ => None,
    };
    reason.map_or(String::new(), |r| format!(": {r}"))
}

impl Alerts {
    /// A log that also applies `rules` to every snapshot.
    pub fn with_rules(rules: Vec<Rule>) -> Alerts {
        Alerts {
            rules: Evaluator::new(rules),
            ..Alerts::default()
        }
    }

    /// The background figures the rules read from the next snapshot on.
    pub fn set_analysed(&mut self, analysed: BTreeMap<AccountKey, Analysed>) {
        self.analysed = analysed;
    }

    /// A lasting difference between local and exchange equity or
    /// maintenance margin starts or ends.
    fn divergence(&mut self, v: &AccountSnapshot, new: &mut Vec<Raised>) {
        let name = v.key().name();
        let equity = v.equity_divergence.map(|d| {
            let since = crate::report::health::time_of_day_utc(d.since);
            let gap = format!("{:+.6} {}", d.gap, v.currency);
            format!("{name}: local equity differs from the exchange's by {gap} (since {since} UTC)")
        });
        let back = format!("{name}: equity agrees with the exchange again");
        flag(&mut self.diverging, v.key(), equity, back, new);
        let mm = v.mm_divergence.map(|d| {
            let since = crate::report::health::time_of_day_utc(d.since);
            let gap = format!("{:+.1}%", d.gap * 100.0);
            format!("{name}: local MM differs from the exchange's by {gap} (since {since} UTC)")
        });
        let back = format!("{name}: MM agrees with the exchange again");
        flag(&mut self.mm_diverging, v.key(), mm, back, new);
    }

    /// Compare `snap` with what was seen before, log the changes and
    /// return them.
    pub fn observe(&mut self, snap: &Snapshot, t: &Thresholds) -> Vec<Alert> {
        let at_ms = snap.as_of;
        let mut new = Vec::new();
        for v in &snap.accounts {
            self.divergence(v, &mut new);
            let h = v.health(t);
            let key = v.key();
            let current = !matches!(h, Health::Stale | Health::Unknown);
            if !self.started.contains(&key) {
                if !current {
                    continue;
                }
                self.started.insert(key.clone());
                if let Some(level) = alarming(h) {
                    let name = format!("{} [{}]", v.label, v.currency);
                    let text = format!("{name} is {h:?} at start{}", why(v, h));
                    new.push((level, text, Some(key.clone())));
                }
                self.health.insert(key, h);
                continue;
            }
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
                (Some(level), _) => {
                    let text = format!("{name} is {h:?}{ratio}{}", why(v, h));
                    new.push((level, text, Some(v.key())))
                }
                (None, Some(_)) if h == Health::Ok => {
                    let text = format!("{name} is back to Ok{ratio}");
                    new.push((Level::Info, text, Some(v.key())))
                }
                _ => {}
            }
        }
        for (link, state) in &snap.links {
            let before = self.links.insert(link.clone(), state.clone());
            let again = self.were_live.contains(link);
            if *state == LinkState::Live {
                self.were_live.insert(link.clone());
            }
            match (&before, state) {
                (
                    Some(LinkState::Live),
                    LinkState::Down(why) | LinkState::Unreachable(why) | LinkState::AuthFailed(why),
                ) => new.push((Level::Critical, format!("link {link} down: {why}"), None)),
                (Some(b), LinkState::Live) if *b != LinkState::Live && again => {
                    new.push((Level::Info, format!("link {link} live again"), None))
                }
                (None, LinkState::AuthFailed(why) | LinkState::Unreachable(why)) => {
                    new.push((Level::Critical, format!("link {link}: {why}"), None))
                }
                _ => {}
            }
        }
        for w in &snap.warnings {
            if self.warnings.insert(w.clone()) {
                new.push((Level::Warning, w.clone(), None));
            }
        }
        let mut new: Vec<Alert> = (new.into_iter())
            .map(|(level, text, about)| Alert {
                at_ms,
                level,
                text,
                fired: None,
                about,
            })
            .collect();
        let fired = self
            .rules
            .observe(at_ms, &readings(snap, &mut self.links_down, &self.analysed));
        new.extend(fired.into_iter().map(|f| Alert {
            at_ms,
            level: f.level,
            text: f.message.clone(),
            fired: Some(f),
            about: None,
        }));
        for a in &new {
            self.push(a.clone());
        }
        new
    }

    /// Log a problem of margintop's own (a sink that fails).
    pub fn note(&mut self, at_ms: i64, level: Level, text: String) {
        self.push(Alert {
            at_ms,
            level,
            text,
            fired: None,
            about: None,
        });
    }

    fn push(&mut self, alert: Alert) {
        if self.log.len() == KEPT {
            self.log.pop_front();
        }
        self.log.push_back(alert);
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

/// A built-in alert as found: level, text, and the account it is about.
type Raised = (Level, String, Option<AccountKey>);

/// Raise `raised` (a warning) when `key` enters the flagged set, and say
/// `cleared` when it leaves it.
fn flag(
    flagged: &mut HashSet<AccountKey>,
    key: AccountKey,
    raised: Option<String>,
    cleared: String,
    new: &mut Vec<Raised>,
) {
    match (raised, flagged.contains(&key)) {
        (Some(text), false) => {
            new.push((Level::Warning, text, Some(key.clone())));
            flagged.insert(key);
        }
        (None, true) => {
            flagged.remove(&key);
            new.push((Level::Info, cleared, Some(key)));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::live::AccountSnapshot;
    use crate::margin::account::AccountRisk;

    fn view(mm_ratio: f64, stale: bool) -> AccountSnapshot {
        let mut risk = AccountRisk {
            mm_ratio: Some(mm_ratio),
            complete: true,
            ..AccountRisk::default()
        };
        risk.margin.maintenance_margin = mm_ratio;
        AccountSnapshot::for_test("a", "BTC", risk, stale)
    }

    /// The log, newest first, as (level, text).
    fn log_of(alerts: &Alerts) -> Vec<(Level, &str)> {
        (alerts.newest())
            .map(|a| (a.level, a.text.as_str()))
            .collect()
    }

    fn snap(views: Vec<AccountSnapshot>, link: LinkState, t: i64) -> Snapshot {
        Snapshot {
            as_of: t,
            accounts: views,
            links: [("a".to_string(), link)].into_iter().collect(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn a_built_in_alert_tells_the_sinks_which_account_it_is_about() {
        let t = Thresholds::default();
        let mut alerts = Alerts::default();
        alerts.observe(&snap(vec![view(0.1, false)], LinkState::Live, 1), &t);
        let down = LinkState::Down("reset".into());
        let new = alerts.observe(&snap(vec![view(0.95, false)], down, 2), &t);
        let entries: Vec<_> = new.iter().map(Alert::entry).collect();
        let about: Vec<(Option<&str>, Option<&str>)> =
            entries.iter().map(|e| (e.account, e.currency)).collect();
        // The account's turn to critical names it; the link's loss names none.
        assert_eq!(about, [(Some("a"), Some("BTC")), (None, None)], "{new:?}");
    }

    #[test]
    fn start_up_is_quiet_and_changes_are_logged() {
        let t = Thresholds::default();
        let mut alerts = Alerts::default();
        // Connecting and stale, then live and healthy: nothing to say.
        alerts.observe(&snap(vec![view(0.1, true)], LinkState::Connecting, 1), &t);
        alerts.observe(&snap(vec![view(0.1, false)], LinkState::Live, 2), &t);
        assert!(
            alerts.is_empty(),
            "{:?}",
            alerts.newest().collect::<Vec<_>>()
        );
        alerts.observe(&snap(vec![view(0.9, false)], LinkState::Live, 3), &t);
        alerts.observe(
            &snap(vec![view(0.9, true)], LinkState::Down("eof".into()), 4),
            &t,
        );
        alerts.observe(&snap(vec![view(0.2, false)], LinkState::Live, 5), &t);
        let log = log_of(&alerts);
        assert_eq!(
            log,
            [
                (Level::Info, "link a live again"),
                (Level::Info, "a [BTC] is back to Ok (mm_ratio 20.0%)"),
                (Level::Critical, "link a down: eof"),
                (Level::Warning, "a [BTC] is Stale (mm_ratio 90.0%)"),
                (Level::Critical, "a [BTC] is Critical (mm_ratio 90.0%)"),
            ]
        );
    }

    #[test]
    fn a_lasting_mm_gap_is_raised_once_and_cleared() {
        use crate::engine::live::Divergence;
        let t = Thresholds::default();
        let mut alerts = Alerts::default();
        let mut off = view(0.1, false);
        // 09:00:00 UTC on some day.
        let since = 1_700_000_000_000 / 86_400_000 * 86_400_000 + 9 * 3_600_000;
        off.mm_divergence = Some(Divergence { gap: -0.063, since });
        alerts.observe(&snap(vec![view(0.1, false)], LinkState::Live, 1), &t);
        alerts.observe(&snap(vec![off.clone()], LinkState::Live, 2), &t);
        alerts.observe(&snap(vec![off], LinkState::Live, 3), &t);
        alerts.observe(&snap(vec![view(0.1, false)], LinkState::Live, 4), &t);
        let log = log_of(&alerts);
        assert_eq!(
            log,
            [
                (Level::Info, "a [BTC]: MM agrees with the exchange again"),
                (
                    Level::Warning,
                    "a [BTC]: local MM differs from the exchange's by -6.3% (since 09:00:00 UTC)"
                ),
            ]
        );
    }
}

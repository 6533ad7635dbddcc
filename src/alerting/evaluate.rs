//! Rules applied to readings over time: an alert is raised once when its
//! condition has held long enough, said again only after its repeat
//! interval, and cleared once when its clearing condition holds. Between
//! the two thresholds nothing changes, so a number hovering on one does
//! not flood anyone.

use super::condition::Metric;
use super::rules::{Level, Rule};
use std::collections::HashMap;

/// Whom a reading is about: an account (label and currency) or, for
/// `link_down_s`, a link (its name as label, no currency).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject {
    pub exchange: String,
    pub label: String,
    pub currency: String,
}

impl Subject {
    /// How alerts name it: "desk-a [BTC]", or the link's name.
    pub fn name(&self) -> String {
        match self.currency.is_empty() {
            true => self.label.clone(),
            false => format!("{} [{}]", self.label, self.currency),
        }
    }
}

/// A subject's numbers at one moment; a metric it lacks is None.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    pub values: Vec<(Metric, f64)>,
}

impl Reading {
    pub fn get(&self, m: Metric) -> Option<f64> {
        self.values.iter().find(|(k, _)| *k == m).map(|(_, v)| *v)
    }

    /// Add `m` when known.
    pub fn set(&mut self, m: Metric, v: Option<f64>) {
        if let Some(v) = v {
            self.values.push((m, v));
        }
    }
}

/// What happened to an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Raised,
    /// Still raised, said again after the repeat interval.
    Repeated,
    Cleared,
}

impl Change {
    pub fn name(self) -> &'static str {
        match self {
            Change::Raised => "raised",
            Change::Repeated => "repeated",
            Change::Cleared => "cleared",
        }
    }
}

/// One alert raised, repeated or cleared: what every sink receives.
#[derive(Clone, Debug, PartialEq)]
pub struct Fired {
    pub at_ms: i64,
    pub rule: String,
    pub level: Level,
    pub change: Change,
    pub subject: Subject,
    pub metric: Metric,
    pub value: f64,
    /// The threshold crossed: the condition's, or the clearing one's.
    pub threshold: f64,
    pub message: String,
}

/// Where one rule stands for one subject.
#[derive(Clone, Copy, Debug, Default)]
struct Track {
    raised: bool,
    /// When the condition started holding (None: it does not).
    since_ms: Option<i64>,
    /// When the alert was last said.
    said_ms: i64,
}

/// The rules and where each stands for each subject.
#[derive(Clone, Debug, Default)]
pub struct Evaluator {
    rules: Vec<Rule>,
    tracks: HashMap<(usize, Subject), Track>,
}

impl Evaluator {
    pub fn new(rules: Vec<Rule>) -> Evaluator {
        Evaluator {
            rules,
            tracks: HashMap::new(),
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Apply every rule to every reading taken at `now_ms`, in order of
    /// rule then subject; returns what changed.
    pub fn observe(&mut self, now_ms: i64, readings: &[(Subject, Reading)]) -> Vec<Fired> {
        let mut out = Vec::new();
        for (n, rule) in self.rules.iter().enumerate() {
            for (subject, reading) in readings {
                let covered = rule.covers(&subject.exchange, &subject.label, &subject.currency);
                // A missing or NaN number neither raises nor clears.
                let Some(value) = reading.get(rule.condition.metric).filter(|v| !v.is_nan()) else {
                    continue;
                };
                if !covered {
                    continue;
                }
                let track = self.tracks.entry((n, subject.clone())).or_default();
                if let Some(change) = step(rule, track, now_ms, value) {
                    out.push(fired(rule, subject, change, now_ms, value));
                }
            }
        }
        out
    }
}

/// Move one track on by one reading.
fn step(rule: &Rule, t: &mut Track, now_ms: i64, value: f64) -> Option<Change> {
    let holds = rule.condition.holds(value);
    if !t.raised {
        if !holds {
            t.since_ms = None;
            return None;
        }
        let since = *t.since_ms.get_or_insert(now_ms);
        if now_ms - since < rule.for_ms {
            return None;
        }
        (t.raised, t.said_ms) = (true, now_ms);
        return Some(Change::Raised);
    }
    if rule.clear.holds(value) {
        (t.raised, t.since_ms) = (false, None);
        return Some(Change::Cleared);
    }
    let due = rule.repeat_after_ms > 0 && now_ms - t.said_ms >= rule.repeat_after_ms;
    if holds && due {
        t.said_ms = now_ms;
        return Some(Change::Repeated);
    }
    None
}

fn fired(rule: &Rule, subject: &Subject, change: Change, at_ms: i64, value: f64) -> Fired {
    let (level, crossed) = match change {
        Change::Cleared => (Level::Info, &rule.clear),
        _ => (rule.level, &rule.condition),
    };
    let what = match change {
        Change::Raised => "",
        Change::Repeated => " (still)",
        Change::Cleared => " cleared",
    };
    // "desk-a [BTC]: near liquidation: mm_ratio 0.9312 >= 0.9": short
    // enough for an 80-column alert screen.
    let message = format!(
        "{}: {}{what}: {} {} {} {}",
        subject.name(),
        rule.name,
        crossed.metric.name(),
        format_value(value),
        crossed.cmp.symbol(),
        crossed.threshold
    );
    Fired {
        at_ms,
        rule: rule.name.clone(),
        level,
        change,
        subject: subject.clone(),
        metric: crossed.metric,
        value,
        threshold: crossed.threshold,
        message,
    }
}

/// A value short enough for a message, exact enough to compare.
fn format_value(v: f64) -> String {
    match v.abs() {
        a if a >= 1000.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.2}"),
        _ => format!("{v:.4}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::rules::parse_rules;

    fn evaluator(rule: &str) -> Evaluator {
        let table: toml::Table = toml::from_str(rule).unwrap();
        Evaluator::new(parse_rules(&[table]).unwrap())
    }

    fn account(label: &str, mm_ratio: f64) -> (Subject, Reading) {
        let subject = Subject {
            exchange: "deribit".into(),
            label: label.into(),
            currency: "BTC".into(),
        };
        let mut r = Reading::default();
        r.set(Metric::MmRatio, Some(mm_ratio));
        (subject, r)
    }

    /// The changes over a scripted series of (second, mm_ratio).
    fn run(e: &mut Evaluator, series: &[(i64, f64)]) -> Vec<(i64, Change)> {
        (series.iter())
            .flat_map(|&(s, v)| e.observe(s * 1000, &[account("desk-a", v)]))
            .map(|f| (f.at_ms / 1000, f.change))
            .collect()
    }

    const NEAR: &str = r#"
        name = "near liquidation"
        accounts = ["desk-*"]
        condition = "mm_ratio >= 0.9"
        clear = "mm_ratio < 0.85"
        level = "critical"
        repeat_after_s = 600
    "#;

    #[test]
    fn hysteresis_keeps_a_hovering_number_quiet() {
        let mut e = evaluator(NEAR);
        // Up through 0.9, hovering between the thresholds, then below 0.85.
        let series = [
            (0, 0.80),
            (10, 0.91),
            (20, 0.89),
            (30, 0.90),
            (40, 0.86),
            (50, 0.92),
            (60, 0.84),
            (70, 0.88),
            (80, 0.90),
        ];
        let got = run(&mut e, &series);
        let want = [
            (10, Change::Raised),
            (60, Change::Cleared),
            (80, Change::Raised),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn repeats_only_after_the_interval_and_while_the_condition_holds() {
        let mut e = evaluator(NEAR);
        // Raised at 0; still above 0.9 at 300 s (too soon) and at 600 s
        // (due); in the band at 1300 s (not said); above again at 1310 s.
        let series = [
            (0, 0.95),
            (300, 0.95),
            (600, 0.97),
            (1300, 0.87),
            (1310, 0.93),
        ];
        let got = run(&mut e, &series);
        let want = [
            (0, Change::Raised),
            (600, Change::Repeated),
            (1310, Change::Repeated),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn for_s_waits_for_the_condition_to_last() {
        let mut e = evaluator(
            "name = \"gap\"\ncondition = \"mm_ratio >= 0.5\"\nlevel = \"warning\"\nfor_s = 60",
        );
        // Holds for 30 s, breaks, then holds from 100 s: raised at 160 s.
        let series = [
            (0, 0.6),
            (30, 0.6),
            (40, 0.4),
            (100, 0.6),
            (150, 0.7),
            (160, 0.6),
        ];
        assert_eq!(run(&mut e, &series), [(160, Change::Raised)]);
    }

    #[test]
    fn nan_and_missing_numbers_change_nothing() {
        let mut e = evaluator(NEAR);
        let series = [(0, 0.95), (10, f64::NAN), (20, 0.95)];
        assert_eq!(run(&mut e, &series), [(0, Change::Raised)]);
        let mut nothing = account("desk-a", 0.1);
        nothing.1 = Reading::default();
        assert!(e.observe(30_000, &[nothing]).is_empty());
        assert_eq!(run(&mut e, &[(40, 0.5)]), [(40, Change::Cleared)]);
    }

    #[test]
    fn each_account_has_its_own_state_and_uncovered_ones_none() {
        let mut e = evaluator(NEAR);
        let fired = e.observe(0, &[account("desk-a", 0.95), account("main", 0.99)]);
        assert_eq!(fired.len(), 1);
        let f = &fired[0];
        assert_eq!(
            (f.subject.label.as_str(), f.level),
            ("desk-a", Level::Critical)
        );
        assert_eq!(
            f.message,
            "desk-a [BTC]: near liquidation: mm_ratio 0.9500 >= 0.9"
        );
        let fired = e.observe(1000, &[account("desk-b", 0.95), account("desk-a", 0.5)]);
        let changes: Vec<_> = fired
            .iter()
            .map(|f| (f.subject.label.as_str(), f.change))
            .collect();
        assert_eq!(
            changes,
            [("desk-b", Change::Raised), ("desk-a", Change::Cleared)]
        );
        assert_eq!(fired[1].level, Level::Info);
        assert_eq!(fired[1].threshold, 0.85);
        let cleared = "desk-a [BTC]: near liquidation cleared: mm_ratio 0.5000 < 0.85";
        assert_eq!(fired[1].message, cleared);
    }
}

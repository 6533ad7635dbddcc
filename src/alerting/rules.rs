//! `[[alerts]]` in the configuration: which accounts a rule covers, when it
//! raises, when it clears, how loud it is and how often it repeats.

use super::condition::{Condition, Metric};
use serde::Deserialize;

/// How loud an alert is.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Critical,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }
}

/// One `[[alerts]]` table as written (keys documented in config/default.toml).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    name: String,
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    currencies: Vec<String>,
    #[serde(default)]
    exchanges: Vec<String>,
    condition: String,
    clear: Option<String>,
    level: Level,
    #[serde(default)]
    repeat_after_s: f64,
    #[serde(default)]
    for_s: f64,
}

/// A rule, read and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    /// Label globs (`*`, `?`); empty: every account.
    pub accounts: Vec<String>,
    /// Currencies (any case); empty: all.
    pub currencies: Vec<String>,
    /// Exchanges ("deribit"); empty: all.
    pub exchanges: Vec<String>,
    pub condition: Condition,
    pub clear: Condition,
    pub level: Level,
    /// While the condition still holds, say it again after this long (0: never).
    pub repeat_after_ms: i64,
    /// The condition must hold this long before the alert is raised.
    pub for_ms: i64,
}

/// Seconds as milliseconds, for a key that takes 0 to a week.
fn seconds(key: &str, s: f64) -> Result<i64, String> {
    const WEEK_S: f64 = 7.0 * 86_400.0;
    match s.is_finite() && (0.0..=WEEK_S).contains(&s) {
        true => Ok((s * 1000.0).round() as i64),
        false => Err(format!("{key} = {s}: takes 0 to {WEEK_S} seconds")),
    }
}

impl Rule {
    fn from_written(w: Written) -> Result<Rule, String> {
        let condition = Condition::parse(&w.condition).map_err(|e| format!("condition {e}"))?;
        let clear = match &w.clear {
            Some(text) => Condition::parse(text).map_err(|e| format!("clear {e}"))?,
            None => condition.negation(),
        };
        condition.check_clear(&clear)?;
        if condition.metric == Metric::LinkDownS && !w.accounts.is_empty() {
            return Err(
                "link_down_s watches links: name them in `exchanges`, not `accounts`".into(),
            );
        }
        Ok(Rule {
            name: w.name,
            accounts: w.accounts,
            currencies: w.currencies,
            exchanges: w.exchanges,
            condition,
            clear,
            level: w.level,
            repeat_after_ms: seconds("repeat_after_s", w.repeat_after_s)?,
            for_ms: seconds("for_s", w.for_s)?,
        })
    }

    /// Whether the rule covers this account (or, for link rules, link).
    pub fn covers(&self, exchange: &str, label: &str, currency: &str) -> bool {
        let any_or = |list: &[String], f: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|x| f(x))
        };
        any_or(&self.exchanges, &|e| e.eq_ignore_ascii_case(exchange))
            && any_or(&self.currencies, &|c| c.eq_ignore_ascii_case(currency))
            && any_or(&self.accounts, &|g| glob(g, label))
    }
}

/// Read every `[[alerts]]` table; an error names the rule (by its name, or
/// its place when it has none) and what is wrong with it.
pub fn parse_rules(tables: &[toml::Table]) -> Result<Vec<Rule>, String> {
    let mut rules: Vec<Rule> = Vec::new();
    for (n, table) in tables.iter().enumerate() {
        let named = match table.get("name").and_then(|v| v.as_str()) {
            Some(name) => format!("alert rule \"{name}\""),
            None => format!("alert rule #{} (it has no name)", n + 1),
        };
        let written = Written::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| format!("{named}: {}", e.message()))?;
        let rule = Rule::from_written(written).map_err(|e| format!("{named}: {e}"))?;
        if rule.name.trim().is_empty() {
            return Err(format!("{named}: the name is empty"));
        }
        if rules.iter().any(|r| r.name == rule.name) {
            return Err(format!("{named}: two rules have this name"));
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// Whether `text` matches `pattern`, where `*` is any run of characters
/// (none included) and `?` any one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer walk: on a mismatch, go back to the last `*`
    // and let it take one more character.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        match p.get(i) {
            Some('*') => {
                star = Some((i, j));
                i += 1;
            }
            Some(&c) if c == '?' || c == t[j] => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((si, sj)) => {
                    star = Some((si, sj + 1));
                    (i, j) = (si + 1, sj + 1);
                }
                None => return false,
            },
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(text: &str) -> Vec<toml::Table> {
        #[derive(Deserialize)]
        struct File {
            alerts: Vec<toml::Table>,
        }
        toml::from_str::<File>(text).unwrap().alerts
    }

    #[test]
    fn globs() {
        assert!(glob("desk-*", "desk-a") && glob("desk-*", "desk-"));
        assert!(!glob("desk-*", "desk") && !glob("desk-*", "xdesk-a"));
        assert!(glob("*", "") && glob("*", "anything"));
        assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
        assert!(glob("*-btc-*", "main-btc-2") && !glob("*-btc-*", "main-eth-2"));
        assert!(glob("a*b*c", "aXbYbZc") && !glob("a*b*c", "aXbYbZ"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
    }

    #[test]
    fn a_rule_as_the_issue_writes_it() {
        let rules = parse_rules(&tables(
            r#"
            [[alerts]]
            name = "near liquidation"
            accounts = ["desk-*"]
            condition = "mm_ratio >= 0.9"
            clear = "mm_ratio < 0.85"
            level = "critical"
            repeat_after_s = 600
            "#,
        ))
        .unwrap();
        let r = &rules[0];
        assert_eq!(r.name, "near liquidation");
        assert_eq!(r.clear, Condition::parse("mm_ratio < 0.85").unwrap());
        assert_eq!(
            (r.level, r.repeat_after_ms, r.for_ms),
            (Level::Critical, 600_000, 0)
        );
        assert!(r.covers("deribit", "desk-a", "BTC"));
        assert!(!r.covers("deribit", "main", "BTC"));
    }

    #[test]
    fn omitted_clear_is_the_negation_and_filters_are_optional() {
        let rules = parse_rules(&tables(
            "[[alerts]]\nname = \"old\"\ncondition = \"data_age_s > 30\"\nlevel = \"warning\"\ncurrencies = [\"btc\"]",
        ))
        .unwrap();
        assert_eq!(
            rules[0].clear,
            Condition::parse("data_age_s <= 30").unwrap()
        );
        assert!(rules[0].covers("deribit", "anyone", "BTC"));
        assert!(!rules[0].covers("deribit", "anyone", "ETH"));
    }

    #[test]
    fn a_bad_rule_is_refused_with_its_name() {
        let refused =
            |body: &str| parse_rules(&tables(&format!("[[alerts]]\n{body}"))).unwrap_err();
        let base = "name = \"r1\"\nlevel = \"warning\"\n";
        let e = refused(&format!(
            "{base}condition = \"mm_ratio >= 0.9\"\nconditon = \"x\""
        ));
        assert!(
            e.contains("alert rule \"r1\"") && e.contains("conditon"),
            "{e}"
        );
        let e = refused(&format!("{base}condition = \"mm_ratio >= 90\""));
        assert!(e.contains("\"r1\"") && e.contains("0.9 means 90 %"), "{e}");
        let e = refused(&format!(
            "{base}condition = \"mm_ratio >= 0.9\"\nclear = \"mm_ratio < 0.95\""
        ));
        assert!(e.contains("\"r1\"") && e.contains("both hold"), "{e}");
        let e = refused(&format!(
            "{base}condition = \"mm_ratio >= 0.9\"\nrepeat_after_s = -5"
        ));
        assert!(e.contains("repeat_after_s"), "{e}");
        let e = refused("level = \"loud\"\ncondition = \"mm_ratio >= 0.9\"\nname = \"r2\"");
        assert!(e.contains("\"r2\"") && e.contains("loud"), "{e}");
        let e = refused("level = \"info\"\ncondition = \"mm_ratio >= 0.9\"");
        assert!(e.contains("#1"), "{e}");
        let two = "[[alerts]]\nname = \"a\"\nlevel = \"info\"\ncondition = \"stale >= 1\"\n";
        let e = parse_rules(&tables(&format!("{two}{two}"))).unwrap_err();
        assert!(e.contains("two rules"), "{e}");
    }
}

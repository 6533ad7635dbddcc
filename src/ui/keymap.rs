//! Keys and what they do: the defaults, the `[ui.keys]` overrides from the
//! configuration, and the help screen (generated from this table).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    NextScreen,
    PrevScreen,
    Help,
    Matrix,
    Stress,
    WhatIf,
    Var,
    Backtest,
    DeskRisk,
    Alerts,
    Sort,
    SortBack,
    Group,
    Filter,
    NextModel,
    Add,
    Delete,
    Crash,
    Quit,
}

impl Action {
    /// Up, down, a page either way, first or last line.
    pub fn moves_cursor(self) -> bool {
        matches!(
            self,
            Action::Up
                | Action::Down
                | Action::PageUp
                | Action::PageDown
                | Action::Top
                | Action::Bottom
        )
    }
}

/// Every action: its name in the config, what it does, its default keys.
pub const ACTIONS: [(Action, &str, &str, &[&str]); 27] = [
    (Action::Up, "up", "previous row", &["Up", "k"]),
    (Action::Down, "down", "next row", &["Down", "j"]),
    (Action::PageUp, "page_up", "page up", &["PageUp"]),
    (Action::PageDown, "page_down", "page down", &["PageDown"]),
    (Action::Top, "top", "first row", &["g", "Home"]),
    (Action::Bottom, "bottom", "last row", &["G", "End"]),
    (
        Action::Open,
        "open",
        "open the selected account",
        &["Enter"],
    ),
    (
        Action::Back,
        "back",
        "back to the desk (clears the filter there)",
        &["Esc"],
    ),
    (
        Action::NextScreen,
        "next_screen",
        "next screen: desk, account, matrix, stress, what-if, VaR, desk risk, alerts",
        &["Tab"],
    ),
    (
        Action::PrevScreen,
        "prev_screen",
        "previous screen",
        &["BackTab"],
    ),
    (Action::Help, "help", "this help", &["?"]),
    (
        Action::Matrix,
        "matrix",
        "risk matrix, and the book under each model",
        &["m"],
    ),
    (
        Action::Stress,
        "stress",
        "stress scenarios: P&L and mm_ratio in each",
        &["t"],
    ),
    (
        Action::WhatIf,
        "what_if",
        "what-if: hypothetical trades, before and after",
        &["w"],
    ),
    (
        Action::Var,
        "var",
        "VaR and ES of the open account: HS, FHS, MC beside its margin",
        &["v"],
    ),
    (
        Action::Backtest,
        "backtest",
        "backtest of the open account: its VaR and margins against real days",
        &["b"],
    ),
    (
        Action::DeskRisk,
        "desk_risk",
        "the desk's VaR and ES, each account's share, correlations",
        &["V"],
    ),
    (
        Action::Alerts,
        "alerts",
        "alerts: health changes, links, warnings",
        &["!"],
    ),
    (
        Action::Sort,
        "sort",
        "next desk order: health, mm_ratio, account, equity, MM, headroom, delta, vega, theta, liquidation, VaR, age",
        &["s"],
    ),
    (Action::SortBack, "sort_back", "previous desk order", &["S"]),
    (
        Action::Group,
        "group",
        "group the desk by currency, with subtotals",
        &["c"],
    ),
    (Action::Filter, "filter", "filter accounts by text", &["/"]),
    (
        Action::NextModel,
        "next_model",
        "matrix: the next model's matrix; VaR screens: the next method (HS, FHS, MC)",
        &["n"],
    ),
    (
        Action::Add,
        "add",
        "stress: add a scenario; what-if: add a trade",
        &["a", "+"],
    ),
    (
        Action::Delete,
        "delete",
        "remove the selected custom scenario or trade",
        &["d", "Delete"],
    ),
    (
        Action::Crash,
        "demo_crash",
        "demo only: start a market crash",
        &["C"],
    ),
    (Action::Quit, "quit", "quit (Ctrl-C always quits)", &["q"]),
];

/// A key as written in the config: "q", "G", "?", "Enter", "Ctrl-r", "F5".
pub fn parse_key(text: &str) -> Result<(KeyCode, KeyModifiers), String> {
    let (mods, name) = match text.strip_prefix("Ctrl-") {
        Some(rest) => (KeyModifiers::CONTROL, rest),
        None => (KeyModifiers::NONE, text),
    };
    let mut chars = name.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) => KeyCode::Char(c),
        _ => match name {
            "Enter" => KeyCode::Enter,
            "Esc" => KeyCode::Esc,
            "Tab" => KeyCode::Tab,
            "BackTab" => KeyCode::BackTab,
            "Backspace" => KeyCode::Backspace,
            "Delete" => KeyCode::Delete,
            "Space" => KeyCode::Char(' '),
            "Up" => KeyCode::Up,
            "Down" => KeyCode::Down,
            "Left" => KeyCode::Left,
            "Right" => KeyCode::Right,
            "PageUp" => KeyCode::PageUp,
            "PageDown" => KeyCode::PageDown,
            "Home" => KeyCode::Home,
            "End" => KeyCode::End,
            f => match f.strip_prefix('F').and_then(|n| n.parse::<u8>().ok()) {
                Some(n @ 1..=12) => KeyCode::F(n),
                _ => {
                    return Err(format!(
                        "unknown key {text:?} (e.g. \"q\", \"Enter\", \"Ctrl-r\", \"F5\")"
                    ))
                }
            },
        },
    };
    Ok((code, mods))
}

/// How a key is shown in the help.
fn key_label(text: &str) -> String {
    match text {
        "Up" => "↑".into(),
        "Down" => "↓".into(),
        "BackTab" => "Shift-Tab".into(),
        t => t.to_string(),
    }
}

#[derive(Clone, Debug)]
pub struct KeyMap {
    /// (key, modifiers, its text as configured, action).
    bindings: Vec<(KeyCode, KeyModifiers, String, Action)>,
}

impl Default for KeyMap {
    fn default() -> KeyMap {
        KeyMap::with_overrides(&BTreeMap::new()).expect("the default keys are valid")
    }
}

impl KeyMap {
    /// The defaults, with each action named in `overrides` bound to the
    /// keys given there instead. A key bound to two actions is an error.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<KeyMap, String> {
        for name in overrides.keys() {
            if !ACTIONS.iter().any(|(_, n, _, _)| n == name) {
                let known: Vec<&str> = ACTIONS.iter().map(|(_, n, _, _)| *n).collect();
                return Err(format!(
                    "[ui.keys]: unknown action {name:?} (known: {})",
                    known.join(", ")
                ));
            }
        }
        let mut bindings: Vec<(KeyCode, KeyModifiers, String, Action)> = Vec::new();
        for (action, name, _, defaults) in ACTIONS {
            let keys: Vec<String> = match overrides.get(name) {
                Some(keys) => keys.clone(),
                None => defaults.iter().map(|k| k.to_string()).collect(),
            };
            for text in keys {
                let (code, mods) =
                    parse_key(&text).map_err(|e| format!("[ui.keys] {name}: {e}"))?;
                if let Some((_, _, _, other)) = bindings
                    .iter()
                    .find(|(c, m, _, _)| *c == code && *m == mods)
                {
                    let other = ACTIONS.iter().find(|a| a.0 == *other).map_or("?", |a| a.1);
                    return Err(format!(
                        "[ui.keys]: key {text:?} is bound to both {other} and {name}"
                    ));
                }
                bindings.push((code, mods, text, action));
            }
        }
        Ok(KeyMap { bindings })
    }

    /// What a key does (None: not bound). Ctrl-C always quits.
    pub fn action(&self, key: KeyEvent) -> Option<Action> {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return Some(Action::Quit);
        }
        // Shift is part of the character ("G", "?"), not a modifier to match.
        let mods = key.modifiers - KeyModifiers::SHIFT;
        self.bindings
            .iter()
            .find(|(c, m, _, _)| *c == key.code && *m == mods)
            .map(|b| b.3)
    }

    /// The first key bound to an action, as a hint on screen shows it
    /// ("(unbound)" when the configuration bound it to none).
    pub fn hint(&self, action: Action) -> String {
        (self.bindings.iter())
            .find(|b| b.3 == action)
            .map_or("(unbound)".into(), |b| key_label(&b.2))
    }

    /// The help: each action's keys and what it does.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        ACTIONS
            .iter()
            .map(|(action, _, does, _)| {
                let keys: Vec<String> = self
                    .bindings
                    .iter()
                    .filter(|b| b.3 == *action)
                    .map(|b| key_label(&b.2))
                    .collect();
                let keys = if keys.is_empty() {
                    "(unbound)".to_string()
                } else {
                    keys.join(" / ")
                };
                (keys, *does)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn defaults_and_overrides() {
        let map = KeyMap::default();
        assert_eq!(map.action(press(KeyCode::Char('m'))), Some(Action::Matrix));
        assert_eq!(
            map.action(KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        let mut o = BTreeMap::new();
        o.insert(
            "matrix".to_string(),
            vec!["x".to_string(), "F2".to_string()],
        );
        let map = KeyMap::with_overrides(&o).unwrap();
        assert_eq!(map.action(press(KeyCode::Char('m'))), None, "m freed");
        assert_eq!(map.action(press(KeyCode::Char('x'))), Some(Action::Matrix));
        assert_eq!(map.action(press(KeyCode::F(2))), Some(Action::Matrix));
        assert_eq!(map.hint(Action::Matrix), "x", "hints follow a remap");
        assert_eq!(map.hint(Action::Quit), "q");
        let help = map.help();
        assert!(help
            .iter()
            .any(|(k, d)| k == "x / F2" && d.starts_with("risk matrix")));
    }

    #[test]
    fn ctrl_c_quits_whatever_the_map() {
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), vec!["F10".to_string()]);
        let map = KeyMap::with_overrides(&o).unwrap();
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(map.action(ctrl_c), Some(Action::Quit));
        assert_eq!(map.action(press(KeyCode::Char('q'))), None);
    }

    #[test]
    fn every_action_is_documented_in_the_default_config() {
        let doc = include_str!("../../config/default.toml");
        for (_, name, _, keys) in ACTIONS {
            assert!(
                doc.contains(&format!("{name} (")),
                "{name} missing from default.toml"
            );
            assert!(!keys.is_empty(), "{name} has a default key");
        }
    }

    #[test]
    fn bad_overrides_are_named() {
        let one = |k: &str, v: &str| {
            let mut o = BTreeMap::new();
            o.insert(k.to_string(), vec![v.to_string()]);
            KeyMap::with_overrides(&o).unwrap_err()
        };
        assert!(one("matrx", "x").contains("unknown action \"matrx\""));
        assert!(one("matrix", "Hyper-x").contains("unknown key"));
        let clash = one("matrix", "s");
        assert!(
            clash.contains("bound to both") && clash.contains("sort"),
            "{clash}"
        );
    }
}

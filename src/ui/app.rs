//! The dashboard's state and what each key does. Pure: no terminal here,
//! so key handling is tested by feeding events.

use crate::engine::live::Snapshot;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::{HashMap, VecDeque};

/// Points of history kept per account (one a second: ten minutes).
pub const HISTORY: usize = 600;

/// An account's recent (mm_ratio, equity), oldest first.
pub type History = VecDeque<(f64, f64)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Overview,
    Account,
    Matrix,
    Help,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    Health,
    MmRatio,
    Label,
    Equity,
}

impl SortBy {
    fn next(self) -> SortBy {
        match self {
            SortBy::Health => SortBy::MmRatio,
            SortBy::MmRatio => SortBy::Label,
            SortBy::Label => SortBy::Equity,
            SortBy::Equity => SortBy::Health,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortBy::Health => "health (worst first)",
            SortBy::MmRatio => "mm_ratio",
            SortBy::Label => "account",
            SortBy::Equity => "equity",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    Help,
    Matrix,
    Sort,
    Filter,
    Crash,
    Quit,
}

/// The keymap: every binding with what it does (the help screen is this table).
pub const KEYMAP: [(&str, Action, &str); 16] = [
    ("↑ / k", Action::Up, "previous account"),
    ("↓ / j", Action::Down, "next account"),
    ("PgUp", Action::PageUp, "page up"),
    ("PgDn", Action::PageDown, "page down"),
    ("g / Home", Action::Top, "first account"),
    ("G / End", Action::Bottom, "last account"),
    ("Enter", Action::Open, "open the selected account"),
    ("Esc", Action::Back, "back (clear the filter)"),
    (
        "Tab",
        Action::NextScreen,
        "next screen: desk, account, risk matrix, help",
    ),
    ("m", Action::Matrix, "risk matrix of the selected account"),
    ("?", Action::Help, "this help"),
    (
        "s",
        Action::Sort,
        "sort by health, mm_ratio, account, equity",
    ),
    ("/", Action::Filter, "filter accounts by text"),
    ("C", Action::Crash, "demo only: start a market crash"),
    ("q", Action::Quit, "quit"),
    ("Ctrl-C", Action::Quit, "quit"),
];

/// Which action a key means (None: not bound).
pub fn action_for(key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Action::Quit,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Enter => Action::Open,
        KeyCode::Esc => Action::Back,
        KeyCode::Tab => Action::NextScreen,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('m') => Action::Matrix,
        KeyCode::Char('s') => Action::Sort,
        KeyCode::Char('/') => Action::Filter,
        KeyCode::Char('C') => Action::Crash,
        KeyCode::Char('q') => Action::Quit,
        _ => return None,
    })
}

/// What the run loop must do after a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    Redraw,
    Crash,
    Quit,
}

#[derive(Clone, Debug)]
pub struct App {
    pub screen: Screen,
    /// Index into the displayed (sorted, filtered) rows.
    pub selected: usize,
    pub sort: SortBy,
    pub filter: String,
    /// Typing a filter: keys go to the text.
    pub editing_filter: bool,
    /// Rows shown at the last draw (for paging and bounds).
    pub rows: usize,
    pub page: usize,
    /// The label of the account the account screen shows.
    pub open: Option<(String, String)>,
    pub demo: bool,
    /// mm_ratio and equity since start, by (label, currency), one point a second.
    pub history: HashMap<(String, String), History>,
    last_sample: i64,
    previous: Screen,
}

impl App {
    pub fn new(demo: bool) -> App {
        App {
            screen: Screen::Overview,
            selected: 0,
            sort: SortBy::Health,
            filter: String::new(),
            editing_filter: false,
            rows: 0,
            page: 10,
            open: None,
            demo,
            history: HashMap::new(),
            last_sample: i64::MIN,
            previous: Screen::Overview,
        }
    }

    /// Sample every account's mm_ratio and equity, at most once a second
    /// (by the snapshot's clock); stale or incomplete accounts are skipped.
    pub fn record(&mut self, snap: &Snapshot) {
        if snap.as_of < self.last_sample.saturating_add(1000) {
            return;
        }
        self.last_sample = snap.as_of;
        for v in snap.accounts.iter().filter(|v| v.complete && !v.stale) {
            let (Some(r), e) = (v.risk.mm_ratio, v.risk.equity) else {
                continue;
            };
            let h = self
                .history
                .entry((v.label.clone(), v.currency.clone()))
                .or_default();
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back((r, e));
        }
    }

    /// Handle a key; `selected_account` is the row under the cursor, if any.
    pub fn key(&mut self, key: KeyEvent, selected_account: Option<(String, String)>) -> Effect {
        if self.editing_filter {
            match key.code {
                KeyCode::Enter => self.editing_filter = false,
                KeyCode::Esc => {
                    self.editing_filter = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    return Effect::Quit
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => return Effect::None,
            }
            self.selected = 0;
            return Effect::Redraw;
        }
        let Some(action) = action_for(key) else {
            return Effect::None;
        };
        let last = self.rows.saturating_sub(1);
        match action {
            Action::Quit => return Effect::Quit,
            Action::Crash if self.demo => return Effect::Crash,
            Action::Crash => return Effect::None,
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(last),
            Action::PageUp => self.selected = self.selected.saturating_sub(self.page),
            Action::PageDown => self.selected = (self.selected + self.page).min(last),
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = last,
            Action::Open => {
                if let Some(acct) = selected_account {
                    self.open = Some(acct);
                    self.screen = Screen::Account;
                }
            }
            Action::Back => match self.screen {
                Screen::Help => self.screen = self.previous,
                Screen::Account | Screen::Matrix => self.screen = Screen::Overview,
                Screen::Overview => self.filter.clear(),
            },
            Action::NextScreen => {
                self.screen = match self.screen {
                    Screen::Overview if self.open.is_some() || selected_account.is_some() => {
                        if self.open.is_none() {
                            self.open = selected_account;
                        }
                        Screen::Account
                    }
                    Screen::Account => Screen::Matrix,
                    Screen::Overview | Screen::Matrix => Screen::Help,
                    Screen::Help => Screen::Overview,
                }
            }
            Action::Help => {
                if self.screen != Screen::Help {
                    self.previous = self.screen;
                    self.screen = Screen::Help;
                } else {
                    self.screen = self.previous;
                }
            }
            Action::Matrix => {
                if self.screen == Screen::Overview {
                    self.open = selected_account.or(self.open.take());
                }
                if self.open.is_some() {
                    self.screen = Screen::Matrix;
                }
            }
            Action::Sort => self.sort = self.sort.next(),
            Action::Filter => {
                self.editing_filter = true;
                self.screen = Screen::Overview;
            }
        }
        Effect::Redraw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn navigation_and_screens() {
        let mut app = App::new(false);
        app.rows = 3;
        let acct = Some(("a".to_string(), "BTC".to_string()));
        assert_eq!(
            app.key(key(KeyCode::Char('j')), acct.clone()),
            Effect::Redraw
        );
        app.key(key(KeyCode::Down), acct.clone());
        app.key(key(KeyCode::Down), acct.clone());
        assert_eq!(app.selected, 2, "stops at the last row");
        app.key(key(KeyCode::Char('g')), acct.clone());
        assert_eq!(app.selected, 0);
        app.key(key(KeyCode::Enter), acct.clone());
        assert_eq!(
            (app.screen, app.open.clone()),
            (Screen::Account, acct.clone())
        );
        app.key(key(KeyCode::Char('?')), acct.clone());
        assert_eq!(app.screen, Screen::Help);
        app.key(key(KeyCode::Esc), acct.clone());
        assert_eq!(
            app.screen,
            Screen::Account,
            "Esc leaves help for where you were"
        );
        app.key(key(KeyCode::Tab), acct.clone());
        assert_eq!(
            app.screen,
            Screen::Matrix,
            "Tab: account, then its risk matrix"
        );
        app.key(key(KeyCode::Esc), acct.clone());
        assert_eq!(app.screen, Screen::Overview);
        app.key(key(KeyCode::Char('m')), acct.clone());
        assert_eq!(app.screen, Screen::Matrix);
        app.key(key(KeyCode::Esc), acct.clone());
        assert_eq!(app.key(key(KeyCode::Char('q')), acct.clone()), Effect::Quit);
        assert_eq!(
            app.key(
                KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                acct
            ),
            Effect::Quit
        );
    }

    #[test]
    fn filter_typing_captures_keys() {
        let mut app = App::new(false);
        app.key(key(KeyCode::Char('/')), None);
        for c in "qj".chars() {
            assert_eq!(
                app.key(key(KeyCode::Char(c)), None),
                Effect::Redraw,
                "q and j are text while filtering"
            );
        }
        assert_eq!(app.filter, "qj");
        app.key(key(KeyCode::Backspace), None);
        app.key(key(KeyCode::Enter), None);
        assert_eq!((app.filter.as_str(), app.editing_filter), ("q", false));
        app.key(key(KeyCode::Esc), None);
        assert_eq!(app.filter, "");
    }

    #[test]
    fn crash_key_only_in_the_demo() {
        assert_eq!(
            App::new(false).key(key(KeyCode::Char('C')), None),
            Effect::None
        );
        assert_eq!(
            App::new(true).key(key(KeyCode::Char('C')), None),
            Effect::Crash
        );
    }

    #[test]
    fn every_bound_key_is_in_the_help() {
        for (_, action, _) in KEYMAP {
            assert!(KEYMAP.iter().any(|(_, a, d)| *a == action && !d.is_empty()));
        }
        assert_eq!(action_for(key(KeyCode::F(5))), None);
    }
}

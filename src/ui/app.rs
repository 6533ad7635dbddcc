//! The dashboard's state and what each key does. Pure: no terminal here,
//! so key handling is tested by feeding events.

use super::alerts::Alerts;
use super::analysis::{Analysis, DeskFigures, Done, Key, Request, Trade};
use super::keymap::{Action, KeyMap};
use crate::engine::live::Snapshot;
use crate::margin::stress::StressScenario;
use crate::report::Thresholds;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use std::collections::{HashMap, VecDeque};

/// Points of history kept per account and per index (one a second: ten minutes).
pub const HISTORY: usize = 600;

/// An account's recent (mm_ratio, equity), oldest first.
pub type History = VecDeque<(f64, f64)>;

/// Index returns needed before a realized volatility is shown.
pub const MIN_RETURNS: usize = 30;

/// The overview's costly columns are recomputed at least this often, and
/// sooner when positions change or the index moves by `DUE_MOVE`.
const DUE_AFTER_MS: i64 = 30_000;
const DUE_MOVE: f64 = 0.01;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Screen {
    Overview,
    Account,
    Matrix,
    Stress,
    WhatIf,
    Alerts,
    Help,
}

/// The order of Tab.
const CYCLE: [Screen; 6] = [
    Screen::Overview,
    Screen::Account,
    Screen::Matrix,
    Screen::Stress,
    Screen::WhatIf,
    Screen::Alerts,
];

impl Screen {
    /// Screens about one account.
    fn needs_account(self) -> bool {
        matches!(
            self,
            Screen::Account | Screen::Matrix | Screen::Stress | Screen::WhatIf
        )
    }
}

/// Desk orders; each puts what needs attention first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    Health,
    MmRatio,
    Label,
    Equity,
    Mm,
    Headroom,
    Delta,
    Vega,
    Theta,
    LiqDown,
    Age,
}

/// The orders `s` cycles through (`S` backwards), with their names.
const SORTS: [(SortBy, &str); 11] = [
    (SortBy::Health, "health (worst first)"),
    (SortBy::MmRatio, "mm_ratio (highest first)"),
    (SortBy::Label, "account"),
    (SortBy::Equity, "equity in USD (largest first)"),
    (SortBy::Mm, "MM in USD (largest first)"),
    (SortBy::Headroom, "headroom in USD (smallest first)"),
    (SortBy::Delta, "|delta| in USD (largest first)"),
    (SortBy::Vega, "|vega| (largest first)"),
    (SortBy::Theta, "|theta| (largest first)"),
    (SortBy::LiqDown, "liquidation down (closest first)"),
    (SortBy::Age, "data age (oldest first)"),
];

impl SortBy {
    fn step(self, forward: bool) -> SortBy {
        let i = SORTS.iter().position(|(s, _)| *s == self).unwrap_or(0);
        let n = SORTS.len();
        SORTS[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
        .0
    }

    pub fn label(self) -> &'static str {
        SORTS
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("", |(_, l)| l)
    }
}

/// A line of text being typed; keys go to it until Enter or Esc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// The desk filter (applied as typed).
    Filter,
    /// A custom stress scenario: "price% vol%".
    Scenario,
    /// Picking a what-if instrument: the text filters the chain.
    Instrument,
    /// The size of a what-if trade in this instrument.
    Size(String),
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
    previous: Screen,
    /// Index into the displayed (sorted, filtered) desk rows.
    pub selected: usize,
    pub sort: SortBy,
    /// Desk rows grouped by currency, with subtotals.
    pub group: bool,
    pub filter: String,
    pub prompt: Option<Prompt>,
    /// Text typed at a prompt other than the filter.
    pub input: String,
    /// Desk rows shown at the last draw (for paging and bounds).
    pub rows: usize,
    pub page: usize,
    /// Cursor on the stress, what-if, alerts and account screens, and how
    /// many lines that screen had at the last draw.
    pub line: usize,
    pub lines: usize,
    /// The account the account screens show.
    pub open: Option<Key>,
    pub demo: bool,
    pub keys: KeyMap,
    /// mm_ratio and equity since start, by account, one point a second.
    pub history: HashMap<Key, History>,
    /// Index prices by index name, (pricing ms, price), one a second.
    pub indices: HashMap<String, VecDeque<(i64, f64)>>,
    last_sample: i64,
    /// Messages a second over the last sampled second (status bar).
    pub message_rate: Option<f64>,
    last_messages: Option<(i64, u64)>,
    /// Matrix screen: which model of the comparison is drawn.
    pub model: usize,
    /// Scenarios added from the stress screen (every account).
    pub custom: Vec<StressScenario>,
    /// How many scenarios come from the configuration (listed first).
    pub configured_scenarios: usize,
    /// What-if trades on the open account.
    pub trades: Vec<Trade>,
    /// Every instrument the engine knows (the what-if picker).
    pub chain: Vec<String>,
    /// Cursor in the picker.
    pub picked: usize,
    /// The open account fully revalued (liquidation, stress, models, what-if).
    pub analysis: Option<Box<Analysis>>,
    /// The desk's liquidation and worst-stress columns, by account.
    pub desk: HashMap<Key, DeskFigures>,
    pub alerts: Alerts,
    /// A message for the status bar (a bad input, what was added).
    pub message: Option<String>,
    /// First desk line shown (the view scrolls to keep the selection in it).
    pub scroll: usize,
    /// Mouse support: screen row of the first desk row, and the account
    /// index of each row on screen (None: a subtotal).
    pub mouse: bool,
    pub table_top: u16,
    pub table_rows: Vec<Option<usize>>,
}

impl App {
    pub fn new(demo: bool) -> App {
        App {
            screen: Screen::Overview,
            previous: Screen::Overview,
            selected: 0,
            sort: SortBy::Health,
            group: false,
            filter: String::new(),
            prompt: None,
            input: String::new(),
            rows: 0,
            page: 10,
            line: 0,
            lines: 0,
            open: None,
            demo,
            keys: KeyMap::default(),
            history: HashMap::new(),
            indices: HashMap::new(),
            last_sample: i64::MIN,
            message_rate: None,
            last_messages: None,
            model: 0,
            custom: Vec::new(),
            configured_scenarios: 0,
            trades: Vec::new(),
            chain: Vec::new(),
            picked: 0,
            analysis: None,
            desk: HashMap::new(),
            alerts: Alerts::default(),
            message: None,
            mouse: false,
            scroll: 0,
            table_top: 0,
            table_rows: Vec::new(),
        }
    }

    /// Take in a new snapshot: alerts, and once a second (by the snapshot's
    /// clock) each account's mm_ratio and equity and each index price;
    /// stale or incomplete accounts are not sampled.
    pub fn record(&mut self, snap: &Snapshot, t: &Thresholds) {
        self.alerts.observe(snap, t);
        if snap.as_of < self.last_sample.saturating_add(1000) {
            return;
        }
        self.last_sample = snap.as_of;
        if let Some((t, n)) = self.last_messages {
            let secs = (snap.as_of - t) as f64 / 1000.0;
            if secs > 0.0 {
                self.message_rate = Some(snap.messages.saturating_sub(n) as f64 / secs);
            }
        }
        self.last_messages = Some((snap.as_of, snap.messages));
        for v in snap.accounts.iter().filter(|v| v.complete && !v.stale) {
            // A cross account's trend is its totals' (equity in USD).
            let equity = v.cross.as_ref().map_or(v.risk.equity, |c| c.equity_usd);
            let (Some(r), e) = (v.judged_mm_ratio(), equity) else {
                continue;
            };
            push_capped(
                self.history
                    .entry((v.label.clone(), v.currency.clone()))
                    .or_default(),
                (r, e),
            );
        }
        for (name, price) in &snap.indices {
            let h = self.indices.entry(name.clone()).or_default();
            // Only new pricing times: a quiet feed adds no zero returns.
            if h.back().is_none_or(|(t, _)| snap.pricing_ms > *t) {
                push_capped(h, (snap.pricing_ms, *price));
            }
        }
    }

    /// Realized volatility of an index over one day, from the sampled
    /// prices (log returns, scaled by their mean spacing), and how many
    /// returns it rests on; None until `MIN_RETURNS` are in.
    pub fn daily_sigma(&self, index_name: &str) -> Option<(f64, usize)> {
        let h = self.indices.get(index_name)?;
        let returns: Vec<f64> = h
            .iter()
            .zip(h.iter().skip(1))
            .filter(|(a, b)| a.1 > 0.0 && b.1 > 0.0)
            .map(|(a, b)| (b.1 / a.1).ln())
            .collect();
        if returns.len() < MIN_RETURNS {
            return None;
        }
        let (first, last) = (h.front()?.0, h.back()?.0);
        let spacing_s = (last - first) as f64 / 1000.0 / returns.len() as f64;
        if spacing_s <= 0.0 {
            return None;
        }
        let n = returns.len() as f64;
        let mean = returns.iter().sum::<f64>() / n;
        let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Some(((var * 86_400.0 / spacing_s).sqrt(), returns.len()))
    }

    /// What the open account's screen needs revalued (None: nothing).
    pub fn request(&self) -> Option<Request> {
        if !self.screen.needs_account() {
            return None;
        }
        Some(Request {
            key: self.open.clone()?,
            compare: self.screen == Screen::Matrix,
            trades: match self.screen {
                Screen::WhatIf => self.trades.clone(),
                _ => Vec::new(),
            },
            custom: self.custom.clone(),
        })
    }

    /// Take in a finished job.
    pub fn absorb(&mut self, done: Done) {
        match done {
            Done::Account(a) if Some(&a.request.key) == self.open.as_ref() => {
                self.analysis = Some(a)
            }
            Done::Desk(key, figures) => {
                self.desk.insert(key, *figures);
            }
            Done::Chain(names) if !names.is_empty() => self.chain = names,
            _ => {}
        }
    }

    /// Accounts whose desk columns are missing or out of date.
    pub fn desk_due(&self, snap: &Snapshot) -> Vec<Key> {
        snap.accounts
            .iter()
            .filter(|v| v.complete && !v.stale && !v.positions.is_empty())
            .filter(|v| {
                let key = (v.label.clone(), v.currency.clone());
                let Some(f) = self.desk.get(&key) else {
                    return true;
                };
                let moved = match (f.index_price, v.index.as_ref()) {
                    (Some(a), Some((_, b))) => (b / a - 1.0).abs() > DUE_MOVE,
                    _ => false,
                };
                moved || f.positions != v.positions || snap.pricing_ms - f.pricing_ms > DUE_AFTER_MS
            })
            .map(|v| (v.label.clone(), v.currency.clone()))
            .collect()
    }

    /// The picker's choices: the open account's currency's instruments
    /// containing every word typed (any case).
    pub fn picker_matches(&self) -> Vec<&str> {
        let Some((_, ccy)) = &self.open else {
            return Vec::new();
        };
        let words: Vec<String> = self
            .input
            .split_whitespace()
            .map(str::to_uppercase)
            .collect();
        let ours = |name: &str| match ccy.as_str() {
            "USDC" => name.contains("_USDC"),
            c => name.starts_with(&format!("{c}-")),
        };
        self.chain
            .iter()
            .map(String::as_str)
            .filter(|n| ours(n) && words.iter().all(|w| n.contains(w.as_str())))
            .collect()
    }

    /// Handle a key; `selected_account` is the desk row under the cursor.
    pub fn key(&mut self, key: KeyEvent, selected_account: Option<Key>) -> Effect {
        if let Some(prompt) = self.prompt.clone() {
            return self.prompt_key(prompt, key);
        }
        let Some(action) = self.keys.action(key) else {
            return Effect::None;
        };
        self.act(action, selected_account)
    }

    /// Mouse (when enabled): the wheel moves the cursor; a click picks a
    /// desk row, and a click on the picked row opens it.
    pub fn mouse(&mut self, ev: MouseEvent, selected_account: Option<Key>) -> Effect {
        match ev.kind {
            MouseEventKind::ScrollUp => self.act(Action::Up, selected_account),
            MouseEventKind::ScrollDown => self.act(Action::Down, selected_account),
            MouseEventKind::Down(MouseButton::Left)
                if self.screen == Screen::Overview && ev.row >= self.table_top =>
            {
                let on_screen = (ev.row - self.table_top) as usize;
                let Some(Some(row)) = self.table_rows.get(on_screen).copied() else {
                    return Effect::None;
                };
                if row == self.selected {
                    return self.act(Action::Open, selected_account);
                }
                self.selected = row;
                Effect::Redraw
            }
            _ => Effect::None,
        }
    }

    fn act(&mut self, action: Action, selected_account: Option<Key>) -> Effect {
        self.message = None;
        match action {
            Action::Quit => return Effect::Quit,
            Action::Crash if self.demo => return Effect::Crash,
            Action::Crash => return Effect::None,
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => self.step(action),
            Action::Top | Action::Bottom => self.step(action),
            Action::Open => {
                if self.screen == Screen::Overview {
                    self.go(Screen::Account, selected_account);
                }
            }
            Action::Back => match self.screen {
                Screen::Help => {
                    self.screen = self.previous;
                    self.line = 0;
                }
                Screen::Overview => self.filter.clear(),
                _ => self.screen = Screen::Overview,
            },
            Action::NextScreen | Action::PrevScreen => self.cycle(action, selected_account),
            Action::Help => {
                if self.screen == Screen::Help {
                    self.screen = self.previous;
                } else {
                    self.previous = self.screen;
                    self.screen = Screen::Help;
                    self.line = 0;
                }
            }
            Action::Matrix => self.go(Screen::Matrix, selected_account),
            Action::Stress => self.go(Screen::Stress, selected_account),
            Action::WhatIf => self.go(Screen::WhatIf, selected_account),
            Action::Alerts => self.go(Screen::Alerts, selected_account),
            Action::Sort => self.sort = self.sort.step(true),
            Action::SortBack => self.sort = self.sort.step(false),
            Action::Group => self.group = !self.group,
            Action::Filter => {
                self.prompt = Some(Prompt::Filter);
                self.screen = Screen::Overview;
            }
            Action::NextModel => self.model = self.model.wrapping_add(1),
            Action::Add => match self.screen {
                Screen::Stress => self.start_prompt(Prompt::Scenario),
                Screen::WhatIf => {
                    self.picked = 0;
                    self.start_prompt(Prompt::Instrument);
                }
                _ => return Effect::None,
            },
            Action::Delete => self.delete(),
        }
        Effect::Redraw
    }

    fn start_prompt(&mut self, p: Prompt) {
        self.input.clear();
        self.prompt = Some(p);
    }

    /// Move the cursor of the current screen.
    fn step(&mut self, action: Action) {
        let (cursor, count, page) = match self.screen {
            Screen::Overview => (&mut self.selected, self.rows, self.page),
            _ => (&mut self.line, self.lines, 10),
        };
        let last = count.saturating_sub(1);
        *cursor = match action {
            Action::Up => cursor.saturating_sub(1),
            Action::Down => (*cursor + 1).min(last),
            Action::PageUp => cursor.saturating_sub(page),
            Action::PageDown => (*cursor + page).min(last),
            Action::Top => 0,
            _ => last,
        };
    }

    /// Show `screen`; an account screen opens the desk's selected row when
    /// coming from the desk, and needs an account.
    fn go(&mut self, screen: Screen, selected_account: Option<Key>) {
        if screen.needs_account() {
            if self.screen == Screen::Overview || self.open.is_none() {
                if let Some(acct) = selected_account {
                    self.open_account(acct);
                }
            }
            if self.open.is_none() {
                self.message = Some("no account selected: pick one on the desk".into());
                return;
            }
        }
        if screen != self.screen {
            self.line = 0;
        }
        self.screen = screen;
    }

    fn open_account(&mut self, acct: Key) {
        if self.open.as_ref() != Some(&acct) {
            self.trades.clear();
            self.analysis = None;
            self.model = 0;
        }
        self.open = Some(acct);
    }

    fn cycle(&mut self, action: Action, selected_account: Option<Key>) {
        let at = CYCLE.iter().position(|s| *s == self.screen).unwrap_or(0);
        let n = CYCLE.len();
        let mut i = at;
        // Skip the account screens when no account can be opened.
        loop {
            i = match action {
                Action::NextScreen => (i + 1) % n,
                _ => (i + n - 1) % n,
            };
            let usable =
                !CYCLE[i].needs_account() || self.open.is_some() || selected_account.is_some();
            if usable || i == at {
                break;
            }
        }
        self.go(CYCLE[i], selected_account);
    }

    fn delete(&mut self) {
        match self.screen {
            Screen::Stress => {
                let Some(i) = self.line.checked_sub(self.configured_scenarios) else {
                    self.message = Some("only scenarios added here can be removed".into());
                    return;
                };
                if i < self.custom.len() {
                    let s = self.custom.remove(i);
                    self.message = Some(format!("removed {}", s.name));
                }
            }
            Screen::WhatIf if self.line < self.trades.len() => {
                let t = self.trades.remove(self.line);
                self.message = Some(format!("removed {} {}", t.size, t.instrument));
                self.line = self.line.min(self.trades.len().saturating_sub(1));
            }
            _ => {}
        }
    }

    fn prompt_key(&mut self, prompt: Prompt, key: KeyEvent) -> Effect {
        let is_filter = prompt == Prompt::Filter;
        let text = match prompt {
            Prompt::Filter => &mut self.filter,
            _ => &mut self.input,
        };
        match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return Effect::Quit
            }
            KeyCode::Esc => {
                text.clear();
                self.prompt = None;
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => {
                text.push(c);
                self.picked = 0;
            }
            KeyCode::Up if prompt == Prompt::Instrument => {
                self.picked = self.picked.saturating_sub(1)
            }
            KeyCode::Down if prompt == Prompt::Instrument => self.picked += 1,
            KeyCode::Enter => self.submit(prompt),
            _ => return Effect::None,
        }
        if is_filter {
            self.selected = 0;
        }
        Effect::Redraw
    }

    fn submit(&mut self, prompt: Prompt) {
        self.prompt = None;
        match prompt {
            Prompt::Filter => {}
            Prompt::Scenario => match parse_scenario(&self.input) {
                Ok(s) => {
                    self.message = Some(format!("added {}", s.name));
                    self.custom.push(s);
                }
                Err(e) => self.message = Some(e),
            },
            Prompt::Instrument => {
                let matches = self.picker_matches();
                match matches.get(self.picked.min(matches.len().saturating_sub(1))) {
                    Some(name) => {
                        let name = name.to_string();
                        self.start_prompt(Prompt::Size(name));
                    }
                    None => self.message = Some("no instrument matches".into()),
                }
            }
            Prompt::Size(instrument) => match parse_size(&self.input) {
                Ok(size) => {
                    self.message = Some(format!("what-if: {size:+} {instrument}"));
                    self.trades.push(Trade { instrument, size });
                    self.line = self.trades.len() - 1;
                }
                Err(e) => self.message = Some(e),
            },
        }
    }
}

fn push_capped<T>(h: &mut VecDeque<T>, v: T) {
    if h.len() == HISTORY {
        h.pop_front();
    }
    h.push_back(v);
}

/// "-20 30" → price −20 %, vol +30 % (the vol move may be left out).
pub fn parse_scenario(text: &str) -> Result<StressScenario, String> {
    let help = "type a price move and a vol move in %, e.g. \"-20 30\"";
    let nums: Result<Vec<f64>, _> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '/')
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_end_matches('%').parse::<f64>())
        .collect();
    let (price, vol) = match nums.as_deref() {
        Ok([p]) => (*p, 0.0),
        Ok([p, v]) => (*p, *v),
        _ => return Err(format!("could not read {text:?}: {help}")),
    };
    let ok = |m: f64| m.is_finite() && m > -100.0 && m <= 1000.0;
    if !(ok(price) && ok(vol)) {
        return Err(format!(
            "{text:?}: moves must be above -100 % and at most +1000 %"
        ));
    }
    Ok(StressScenario::custom(price / 100.0, vol / 100.0))
}

/// A what-if size: a non-zero number (negative = sell).
pub fn parse_size(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s != 0.0 => Ok(s),
        _ => Err(format!(
            "could not read size {text:?}: type a non-zero number, negative to sell (coin for options, USD for inverse futures)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn acct() -> Option<Key> {
        Some(("a".to_string(), "BTC".to_string()))
    }

    fn typed(app: &mut App, text: &str) {
        for c in text.chars() {
            app.key(key(KeyCode::Char(c)), acct());
        }
    }

    #[test]
    fn navigation_and_screens() {
        let mut app = App::new(false);
        app.rows = 3;
        assert_eq!(app.key(key(KeyCode::Char('j')), acct()), Effect::Redraw);
        app.key(key(KeyCode::Down), acct());
        app.key(key(KeyCode::Down), acct());
        assert_eq!(app.selected, 2, "stops at the last row");
        app.key(key(KeyCode::Char('g')), acct());
        assert_eq!(app.selected, 0);
        app.key(key(KeyCode::Enter), acct());
        assert_eq!((app.screen, app.open.clone()), (Screen::Account, acct()));
        app.key(key(KeyCode::Char('?')), acct());
        assert_eq!(app.screen, Screen::Help);
        app.key(key(KeyCode::Esc), acct());
        assert_eq!(
            app.screen,
            Screen::Account,
            "Esc leaves help for where you were"
        );
        let mut seen = vec![app.screen];
        for _ in 0..5 {
            app.key(key(KeyCode::Tab), acct());
            seen.push(app.screen);
        }
        assert_eq!(
            seen,
            [
                Screen::Account,
                Screen::Matrix,
                Screen::Stress,
                Screen::WhatIf,
                Screen::Alerts,
                Screen::Overview
            ]
        );
        app.key(key(KeyCode::BackTab), acct());
        assert_eq!(app.screen, Screen::Alerts, "Shift-Tab goes back");
        app.key(key(KeyCode::Esc), acct());
        assert_eq!(app.screen, Screen::Overview);
        for (c, s) in [
            ('m', Screen::Matrix),
            ('t', Screen::Stress),
            ('w', Screen::WhatIf),
        ] {
            app.key(key(KeyCode::Char(c)), acct());
            assert_eq!(app.screen, s);
        }
        assert_eq!(app.key(key(KeyCode::Char('q')), acct()), Effect::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.key(ctrl_c, acct()), Effect::Quit);
    }

    #[test]
    fn account_screens_need_an_account() {
        let mut app = App::new(false);
        app.key(key(KeyCode::Char('m')), None);
        assert_eq!(app.screen, Screen::Overview);
        assert!(app.message.as_deref().unwrap().contains("no account"));
        app.key(key(KeyCode::Tab), None);
        assert_eq!(app.screen, Screen::Alerts, "Tab skips account screens");
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
        assert_eq!((app.filter.as_str(), app.prompt.is_none()), ("q", true));
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
    fn adding_and_removing_a_scenario() {
        let mut app = App::new(false);
        app.configured_scenarios = 2;
        app.key(key(KeyCode::Char('t')), acct());
        app.key(key(KeyCode::Char('a')), acct());
        typed(&mut app, "-20 30");
        app.key(key(KeyCode::Enter), acct());
        assert_eq!(app.custom.len(), 1);
        assert!((app.custom[0].price_move + 0.2).abs() < 1e-12);
        assert!((app.custom[0].vol_move - 0.3).abs() < 1e-12);
        assert_eq!(app.request().unwrap().custom, app.custom);
        app.key(key(KeyCode::Char('a')), acct());
        typed(&mut app, "down a lot");
        app.key(key(KeyCode::Enter), acct());
        assert_eq!(app.custom.len(), 1, "a bad scenario is refused");
        assert!(app.message.as_deref().unwrap().contains("could not read"));
        app.lines = 3;
        app.key(key(KeyCode::Char('d')), acct());
        assert_eq!(app.custom.len(), 1, "configured scenarios stay");
        app.key(key(KeyCode::Char('G')), acct());
        app.key(key(KeyCode::Char('d')), acct());
        assert!(app.custom.is_empty());
    }

    #[test]
    fn picking_a_what_if_trade() {
        let mut app = App::new(false);
        app.chain = [
            "BTC-PERPETUAL",
            "BTC-26JUN26-80000-C",
            "BTC-26JUN26-80000-P",
            "ETH-PERPETUAL",
        ]
        .map(String::from)
        .to_vec();
        app.key(key(KeyCode::Char('w')), acct());
        assert_eq!(app.screen, Screen::WhatIf);
        app.key(key(KeyCode::Char('a')), acct());
        assert_eq!(app.picker_matches().len(), 3, "BTC instruments only");
        typed(&mut app, "26jun 80000");
        assert_eq!(app.picker_matches().len(), 2);
        app.key(key(KeyCode::Down), acct());
        app.key(key(KeyCode::Enter), acct());
        assert_eq!(app.prompt, Some(Prompt::Size("BTC-26JUN26-80000-P".into())));
        typed(&mut app, "abc");
        app.key(key(KeyCode::Enter), acct());
        assert!(app.trades.is_empty(), "a bad size is refused");
        app.key(key(KeyCode::Char('a')), acct());
        typed(&mut app, "PERP");
        app.key(key(KeyCode::Enter), acct());
        typed(&mut app, "-5000");
        app.key(key(KeyCode::Enter), acct());
        let req = app.request().unwrap();
        assert_eq!(
            req.trades,
            vec![Trade {
                instrument: "BTC-PERPETUAL".into(),
                size: -5000.0
            }]
        );
        app.key(key(KeyCode::Char('d')), acct());
        assert!(app.trades.is_empty());
    }

    #[test]
    fn the_mouse_scrolls_picks_and_opens() {
        let mut app = App::new(false);
        app.rows = 5;
        app.table_top = 3;
        app.table_rows = (0..5).map(Some).collect();
        let at = |kind, row| MouseEvent {
            kind,
            column: 10,
            row,
            modifiers: KeyModifiers::NONE,
        };
        app.mouse(at(MouseEventKind::ScrollDown, 0), acct());
        assert_eq!(app.selected, 1);
        app.mouse(at(MouseEventKind::Down(MouseButton::Left), 6), acct());
        assert_eq!(
            (app.selected, app.screen),
            (3, Screen::Overview),
            "row 3 picked"
        );
        app.mouse(at(MouseEventKind::Down(MouseButton::Left), 20), acct());
        assert_eq!(app.selected, 3, "a click below the rows does nothing");
        app.mouse(at(MouseEventKind::Down(MouseButton::Left), 6), acct());
        assert_eq!(app.screen, Screen::Account, "a second click opens it");
    }

    #[test]
    fn realized_volatility_of_sampled_prices() {
        // Alternating ±1 % log returns, one a second: daily σ = 1 % × √86400
        // (sample standard deviation of n returns: × √(n/(n−1))).
        let mut app = App::new(false);
        let mut p = 100.0_f64;
        let h = app.indices.entry("btc_usd".into()).or_default();
        for i in 0..=40 {
            h.push_back((i * 1000, p));
            p *= if i % 2 == 0 {
                0.01_f64.exp()
            } else {
                (-0.01_f64).exp()
            };
        }
        let (sigma, n) = app.daily_sigma("btc_usd").unwrap();
        assert_eq!(n, 40);
        let expected = 0.01 * (40.0_f64 / 39.0).sqrt() * 86_400f64.sqrt();
        assert!(
            (sigma / expected - 1.0).abs() < 1e-9,
            "{sigma} vs {expected}"
        );
        h_truncate(&mut app);
        assert_eq!(app.daily_sigma("btc_usd"), None, "too few returns");
    }

    fn h_truncate(app: &mut App) {
        app.indices.get_mut("btc_usd").unwrap().truncate(10);
    }
}

//! The dashboard's state and what each key does. Pure: no terminal here,
//! so key handling is tested by feeding events. Each screen owns its state
//! (`screens::*::State`); the app holds them, the navigation between them
//! and what every screen renders from (`World`).

use super::alerts::Alerts;
use super::analysis::{Done, Request};
use super::context::Ctx;
use super::keymap::{Action, KeyMap};
use super::prompt::Prompt;
use super::results::Results;
use super::screens::{account, alerts, desk, help, matrix, stress, var, whatif};
use super::theme::{ColorDepth, Theme};
use super::trends::Trends;
use crate::engine::live::Snapshot;
use crate::margin::analysis::Trade;
use crate::margin::stress::StressScenario;
use crate::model::AccountKey;
use crate::report::health::Thresholds;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Constraint, Layout, Rect};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Screen {
    Overview,
    Account,
    Matrix,
    Stress,
    WhatIf,
    Var,
    Backtest,
    DeskRisk,
    Alerts,
    Help,
}

/// The order of Tab.
const CYCLE: [Screen; 9] = [
    Screen::Overview,
    Screen::Account,
    Screen::Matrix,
    Screen::Stress,
    Screen::WhatIf,
    Screen::Var,
    Screen::Backtest,
    Screen::DeskRisk,
    Screen::Alerts,
];

impl Screen {
    /// Screens about one account.
    pub fn needs_account(self) -> bool {
        matches!(
            self,
            Screen::Account
                | Screen::Matrix
                | Screen::Stress
                | Screen::WhatIf
                | Screen::Var
                | Screen::Backtest
        )
    }
}

/// What the run loop must do after a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    Redraw,
    Crash,
    Quit,
}

/// The area the screens get: all but the banner and the status line.
pub fn main_area(size: Rect) -> Rect {
    let [_, main, _] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(size);
    main
}

/// Each screen's own state.
#[derive(Clone, Debug, Default)]
pub struct Screens {
    pub desk: desk::State,
    pub account: account::State,
    pub matrix: matrix::State,
    pub stress: stress::State,
    pub whatif: whatif::State,
    /// The VaR method the VaR and desk risk screens detail.
    pub var_method: var::Method,
    pub alerts: alerts::State,
    pub help: help::State,
}

/// What every screen renders from besides the snapshot.
#[derive(Clone, Debug)]
pub struct World {
    pub theme: Theme,
    pub keys: KeyMap,
    pub thresholds: Thresholds,
    pub results: Results,
    pub trends: Trends,
    pub alerts: Alerts,
}

impl World {
    pub fn ctx<'a>(
        &'a self,
        snap: &'a Snapshot,
        open: Option<&'a AccountKey>,
        prompt: Option<&'a Prompt>,
        input: &'a str,
    ) -> Ctx<'a> {
        Ctx {
            snap,
            theme: &self.theme,
            keys: &self.keys,
            thresholds: &self.thresholds,
            results: &self.results,
            trends: &self.trends,
            alerts: &self.alerts,
            open,
            prompt,
            input,
        }
    }
}

#[derive(Clone, Debug)]
pub struct App {
    pub screen: Screen,
    previous: Screen,
    /// The account the account screens show.
    pub open: Option<AccountKey>,
    pub prompt: Option<Prompt>,
    /// Text typed at a prompt other than the filter.
    pub input: String,
    /// A message for the status bar (a bad input, what was added).
    pub message: Option<String>,
    pub demo: bool,
    pub mouse: bool,
    /// The terminal's size: keys page by what is on screen, clicks land on rows.
    pub size: Rect,
    pub screens: Screens,
    pub world: World,
}

impl App {
    pub fn new(demo: bool) -> App {
        App {
            screen: Screen::Overview,
            previous: Screen::Overview,
            open: None,
            prompt: None,
            input: String::new(),
            message: None,
            demo,
            mouse: false,
            size: Rect::new(0, 0, 80, 24),
            screens: Screens::default(),
            world: World {
                theme: Theme::builtin("dark", ColorDepth::TrueColor).expect("a built-in theme"),
                keys: KeyMap::default(),
                thresholds: Thresholds::default(),
                results: Results::default(),
                trends: Trends::default(),
                alerts: Alerts::default(),
            },
        }
    }

    /// The render context of `snap` as the app stands.
    pub fn ctx<'a>(&'a self, snap: &'a Snapshot) -> Ctx<'a> {
        (self.world).ctx(snap, self.open.as_ref(), self.prompt.as_ref(), &self.input)
    }

    /// Take in a new snapshot: alerts, trends, and the desk's selection
    /// kept on a listed account. Returns the alerts it raised.
    pub fn record(&mut self, snap: &Snapshot) -> Vec<crate::ui::alerts::Alert> {
        let new = self.world.alerts.observe(snap, &self.world.thresholds);
        self.world.trends.sample(snap);
        let ctx = (self.world).ctx(snap, self.open.as_ref(), self.prompt.as_ref(), &self.input);
        self.screens.desk.settle(main_area(self.size), &ctx);
        new
    }

    /// The desk row under the cursor (None: an empty desk).
    pub fn desk_row(&self, snap: &Snapshot) -> Option<usize> {
        self.screens.desk.row(main_area(self.size), &self.ctx(snap))
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
                Screen::WhatIf => self.screens.whatif.trades.clone(),
                _ => Vec::new(),
            },
            custom: self.screens.stress.custom.clone(),
        })
    }

    /// What the validation screen needs walked (None: not shown, or
    /// its backtest is of the book shown).
    pub fn backtest_due(&self, snap: &Snapshot) -> Option<crate::ui::validation::Basis> {
        if self.screen != Screen::Backtest {
            return None;
        }
        let key = self.open.as_ref()?;
        let v = snap.accounts.iter().find(|v| &v.key() == key)?;
        self.world.results.backtest_due(v)
    }

    /// Take in a finished job.
    pub fn absorb(&mut self, done: Done) {
        self.world.results.absorb(done, self.open.as_ref());
    }

    /// Handle a key.
    pub fn key(&mut self, key: KeyEvent, snap: &Snapshot) -> Effect {
        if let Some(prompt) = self.prompt.clone() {
            return self.prompt_key(prompt, key, snap);
        }
        let Some(action) = self.world.keys.action(key) else {
            return Effect::None;
        };
        self.act(action, snap)
    }

    /// Mouse (when enabled): the wheel moves the cursor; a click picks a
    /// desk row, and a click on the picked row opens it.
    pub fn mouse(&mut self, ev: MouseEvent, snap: &Snapshot) -> Effect {
        match ev.kind {
            MouseEventKind::ScrollUp => self.act(Action::Up, snap),
            MouseEventKind::ScrollDown => self.act(Action::Down, snap),
            MouseEventKind::Down(MouseButton::Left) if self.screen == Screen::Overview => {
                let ctx = (self.world).ctx(snap, self.open.as_ref(), None, "");
                match self.screens.desk.click(ev.row, main_area(self.size), &ctx) {
                    None => Effect::None,
                    Some((key, true)) => {
                        self.go(Screen::Account, Some(key));
                        Effect::Redraw
                    }
                    Some((_, false)) => Effect::Redraw,
                }
            }
            _ => Effect::None,
        }
    }

    fn act(&mut self, action: Action, snap: &Snapshot) -> Effect {
        self.message = None;
        let area = main_area(self.size);
        let ctx = (self.world).ctx(snap, self.open.as_ref(), None, "");
        let selected = self.screens.desk.under_cursor(area, &ctx);
        let s = &mut self.screens;
        // Moves belong to the screen shown; orders to the desk, wherever.
        let handled = match (self.screen, action) {
            (_, Action::Sort | Action::SortBack | Action::Group) => s.desk.act(action, area, &ctx),
            (Screen::Var | Screen::Backtest | Screen::DeskRisk, Action::NextModel) => {
                s.var_method.act(action)
            }
            (_, Action::NextModel) => s.matrix.act(action),
            (Screen::Overview, _) => s.desk.act(action, area, &ctx),
            (Screen::Account, _) => s.account.act(action, &ctx),
            (Screen::Stress, _) => s.stress.act(action, &ctx),
            (Screen::WhatIf, _) => s.whatif.act(action),
            (Screen::Alerts, _) => s.alerts.act(action, &ctx),
            (Screen::Help, _) => s.help.act(action, area, &ctx),
            (Screen::Matrix | Screen::Var | Screen::Backtest | Screen::DeskRisk, _) => false,
        };
        if handled {
            return Effect::Redraw;
        }
        match action {
            Action::Quit => return Effect::Quit,
            Action::Crash if self.demo => return Effect::Crash,
            Action::Crash => return Effect::None,
            Action::Open if self.screen == Screen::Overview => self.go(Screen::Account, selected),
            Action::Back => match self.screen {
                Screen::Help => self.screen = self.previous,
                Screen::Overview => {
                    self.screens.desk.filter.clear();
                    let ctx = (self.world).ctx(snap, self.open.as_ref(), None, "");
                    self.screens.desk.filtered(area, &ctx);
                }
                _ => self.screen = Screen::Overview,
            },
            Action::NextScreen | Action::PrevScreen => self.cycle(action, selected),
            Action::Help if self.screen == Screen::Help => self.screen = self.previous,
            Action::Help => {
                self.previous = self.screen;
                self.screen = Screen::Help;
                self.screens.help = help::State::default();
            }
            Action::Matrix => self.go(Screen::Matrix, selected),
            Action::Stress => self.go(Screen::Stress, selected),
            Action::WhatIf => self.go(Screen::WhatIf, selected),
            Action::Var => self.go(Screen::Var, selected),
            Action::Backtest => self.go(Screen::Backtest, selected),
            Action::DeskRisk => self.go(Screen::DeskRisk, selected),
            Action::Alerts => self.go(Screen::Alerts, selected),
            Action::Filter => {
                self.prompt = Some(Prompt::Filter);
                self.screen = Screen::Overview;
            }
            Action::Add => match self.screen {
                Screen::Stress => self.start_prompt(Prompt::Scenario),
                Screen::WhatIf => {
                    self.screens.whatif.picked = 0;
                    self.start_prompt(Prompt::Instrument);
                }
                _ => return Effect::None,
            },
            Action::Delete => {
                let ctx = (self.world).ctx(snap, self.open.as_ref(), None, "");
                self.message = match self.screen {
                    Screen::Stress => self.screens.stress.delete(&ctx),
                    Screen::WhatIf => self.screens.whatif.delete(),
                    _ => None,
                };
            }
            _ => {}
        }
        Effect::Redraw
    }

    fn start_prompt(&mut self, p: Prompt) {
        self.input.clear();
        self.prompt = Some(p);
    }

    /// Show `screen`; an account screen opens the desk's selected account
    /// when coming from the desk, and needs an account.
    fn go(&mut self, screen: Screen, selected: Option<AccountKey>) {
        if screen.needs_account() {
            if self.screen == Screen::Overview || self.open.is_none() {
                if let Some(acct) = selected {
                    self.open_account(acct);
                }
            }
            if self.open.is_none() {
                self.message = Some(format!(
                    "no account selected: pick one on the desk, press {}",
                    self.world.keys.hint(Action::Open)
                ));
                return;
            }
        }
        self.screen = screen;
    }

    fn open_account(&mut self, acct: AccountKey) {
        if self.open.as_ref() != Some(&acct) {
            self.screens.whatif.trades.clear();
            self.screens.account = account::State::default();
            self.screens.matrix = matrix::State::default();
            self.world.results.account = None;
        }
        self.open = Some(acct);
    }

    fn cycle(&mut self, action: Action, selected: Option<AccountKey>) {
        let at = CYCLE.iter().position(|s| *s == self.screen).unwrap_or(0);
        let n = CYCLE.len();
        let mut i = at;
        // Skip the account screens when no account can be opened.
        loop {
            i = match action {
                Action::NextScreen => (i + 1) % n,
                _ => (i + n - 1) % n,
            };
            let usable = !CYCLE[i].needs_account() || self.open.is_some() || selected.is_some();
            if usable || i == at {
                break;
            }
        }
        self.go(CYCLE[i], selected);
    }

    /// The instruments the picker offers for what has been typed.
    pub fn picker_matches(&self) -> Vec<&str> {
        whatif::picker_matches(self.open.as_ref(), &self.world.results.chain, &self.input)
    }

    fn prompt_key(&mut self, prompt: Prompt, key: KeyEvent, snap: &Snapshot) -> Effect {
        let is_filter = prompt == Prompt::Filter;
        let text = match prompt {
            Prompt::Filter => &mut self.screens.desk.filter,
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
                self.screens.whatif.picked = 0;
            }
            KeyCode::Up if prompt == Prompt::Instrument => {
                let w = &mut self.screens.whatif;
                w.picked = w.picked.saturating_sub(1)
            }
            KeyCode::Down if prompt == Prompt::Instrument => {
                let last = self.picker_matches().len().saturating_sub(1);
                let w = &mut self.screens.whatif;
                w.picked = (w.picked + 1).min(last);
            }
            KeyCode::Enter => self.submit(prompt),
            _ => return Effect::None,
        }
        if is_filter {
            let ctx = (self.world).ctx(snap, self.open.as_ref(), None, "");
            self.screens.desk.filtered(main_area(self.size), &ctx);
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
                    self.screens.stress.custom.push(s);
                }
                Err(e) => self.message = Some(e),
            },
            Prompt::Instrument => {
                let matches = self.picker_matches();
                let picked = self.screens.whatif.picked;
                match matches.get(picked.min(matches.len().saturating_sub(1))) {
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
                    self.screens.whatif.add(Trade { instrument, size });
                }
                Err(e) => self.message = Some(e),
            },
        }
    }
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

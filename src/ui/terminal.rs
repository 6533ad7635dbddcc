//! Running the dashboards in a real terminal: raw mode and the alternate
//! screen, always restored (on quit, panic, SIGTERM, SIGHUP, SIGINT, SIGQUIT); input read
//! on a thread; a frame drawn only when a snapshot or a key arrived, at
//! most `fps` times a second, inside synchronized-output escapes.

use super::alerts::{Alert, Level};
use super::analysis::Analyst;
use super::app::{App, Effect, Screen};
use super::keymap::KeyMap;
use super::theme::Theme;
use super::view::draw;
use crate::engine::live::{Query, Snapshot};
use crate::margin::stress::StressScenario;
use crate::report::health::Thresholds;
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind};
use crossterm::terminal::{
    self, BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen,
    LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{stdout, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub struct UiOptions {
    pub theme: Theme,
    pub fps: u32,
    pub banner: String,
    pub thresholds: Thresholds,
    /// The configured `[[alerts]]` rules, and where alerts go ([alerting]).
    pub alert_rules: Vec<crate::alerting::Rule>,
    pub alerting: crate::config::AlertingConfig,
    pub demo: bool,
    pub keys: KeyMap,
    /// Capture the mouse (wheel scrolls, click picks a desk row).
    pub mouse: bool,
    /// The configured stress scenarios (the stress screen adds to them).
    pub scenarios: Vec<StressScenario>,
    /// How VaR and ES are computed ([var]).
    pub var: crate::risk::Settings,
    /// Where to extend the shipped VaR history from (live mode; None: the
    /// demo and replays use the shipped history only).
    pub history_url: Option<String>,
    /// The validation screen's backtest settings and test days.
    pub backtest: (crate::risk::Settings, usize),
    /// Where the metrics endpoint reads the background figures (None: no
    /// endpoint).
    pub metrics: Option<crate::metrics::Shared>,
    /// Quit by itself after this long (`--duration-s`).
    pub duration: Option<Duration>,
}

/// Puts the terminal back as it was; used on every way out.
fn restore() {
    let _ = terminal::disable_raw_mode();
    // Sent whether or not capture was on: a terminal ignores it otherwise.
    // The cursor is shown on both screens: some terminals keep its state per screen.
    let _ = execute!(
        stdout(),
        DisableMouseCapture,
        cursor::Show,
        LeaveAlternateScreen,
        cursor::Show
    );
}

/// Restores the terminal when dropped (normal exit and unwinding).
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

fn setup(mouse: bool) -> Result<(Terminal<CrosstermBackend<Stdout>>, Guard), String> {
    terminal::enable_raw_mode().map_err(|e| format!("cannot use the terminal: {e}"))?;
    let guard = Guard;
    execute!(stdout(), EnterAlternateScreen, cursor::Hide)
        .map_err(|e| format!("cannot use the terminal: {e}"))?;
    if mouse {
        execute!(stdout(), EnableMouseCapture).map_err(|e| format!("cannot use the mouse: {e}"))?;
    }
    // A panic restores the terminal before its message is printed.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    let term = Terminal::new(CrosstermBackend::new(stdout())).map_err(|e| e.to_string())?;
    Ok((term, guard))
}

/// Read terminal events on a thread (crossterm's reads block) until `stop`.
fn spawn_input(stop: Arc<AtomicBool>) -> mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(100)) {
                Ok(true) => match event::read() {
                    Ok(e) => {
                        if tx.send(e).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                },
                Ok(false) => {}
                Err(_) => return,
            }
        }
    });
    rx
}

/// Hand new alerts to the sinks (a sink's new problem goes to the alert
/// log), and ring the bell for a warning or critical one when asked to.
fn deliver(app: &mut App, sinks: &mut crate::alerting::Sinks, new: &[Alert], bell: bool) {
    let entries: Vec<_> = new.iter().map(Alert::entry).collect();
    let at = crate::exchange::feed::now_ms();
    for problem in sinks.deliver(&entries) {
        app.world.alerts.note(at, Level::Warning, problem);
    }
    if bell && new.iter().any(|a| a.level >= Level::Warning) {
        use std::io::Write;
        let mut out = stdout();
        // The terminal's bell: BEL rings it even in the alternate screen.
        let _ = out.write_all(b"\x07").and_then(|_| out.flush());
    }
}

/// Run the dashboards until the user quits or the process is told to stop.
/// `queries` reaches the engine for the full revaluations of the stress,
/// what-if and matrix screens and the desk's liquidation columns.
pub async fn run(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    queries: mpsc::Sender<Query>,
    opts: UiOptions,
    crash: Option<Box<dyn Fn() + Send>>,
) -> Result<(), String> {
    let (mut term, _guard) = setup(opts.mouse)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut input = spawn_input(stop.clone());
    let mut app = App::new(opts.demo);
    app.world.keys = opts.keys.clone();
    app.world.theme = opts.theme.clone();
    app.world.thresholds = opts.thresholds;
    app.world.alerts = crate::ui::alerts::Alerts::with_rules(opts.alert_rules.clone());
    let (mut sinks, problem) = crate::alerting::Sinks::new(&opts.alerting);
    if let Some(p) = problem {
        let now = crate::exchange::feed::now_ms();
        app.world.alerts.note(now, Level::Warning, p);
    }
    app.mouse = opts.mouse;
    app.screens.stress.configured = opts.scenarios.len();
    if let Ok(size) = term.size() {
        app.size = ratatui::layout::Rect::new(0, 0, size.width, size.height);
    }
    let history = Arc::new(crate::risk::history::History::shipped());
    let var = Some((history, opts.var));
    let (mut analyst, mut done) = Analyst::new(queries, opts.scenarios.clone(), var);
    analyst.backtest = opts.backtest;
    let mut fetched = fetch_history(opts.history_url.clone());
    let min_gap = Duration::from_secs(1) / opts.fps.max(1);
    let mut signals = Signals::new();
    let mut dirty = true;
    let mut last_draw = tokio::time::Instant::now() - min_gap;
    let until = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let ends = async move {
        match until {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(ends);
    loop {
        if dirty && last_draw.elapsed() >= min_gap {
            let snap = snapshots.borrow().clone();
            let _ = execute!(stdout(), BeginSynchronizedUpdate);
            let drawn = term.draw(|f| draw(f, &app, &snap, &opts.banner));
            let _ = execute!(stdout(), EndSynchronizedUpdate);
            drawn.map_err(|e| format!("drawing failed: {e}"))?;
            last_draw = tokio::time::Instant::now();
            dirty = false;
        }
        let wait = if dirty {
            min_gap.saturating_sub(last_draw.elapsed())
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    break; // the engine is gone
                }
                let snap = snapshots.borrow().clone();
                let new = app.record(&snap);
                deliver(&mut app, &mut sinks, &new, opts.alerting.bell);
                analyst.desk(app.world.results.desk_due(&snap));
                analyst.account(app.request());
                analyst.var(app.world.results.var_due(&snap));
                analyst.backtest(app.backtest_due(&snap));
                dirty = true;
            }
            Some((history, problem)) = fetched.recv() => {
                app.world.results.history = history.origin;
                analyst.set_history(Arc::new(history));
                if problem.is_some() {
                    app.message = problem;
                }
                let snap = snapshots.borrow().clone();
                analyst.var(app.world.results.var_due(&snap));
                dirty = true;
            }
            Some(d) = done.recv() => {
                analyst.finished(&d);
                app.absorb(d);
                let snap = snapshots.borrow().clone();
                let analysed = app.world.results.analysed(&snap);
                if let Some(shared) = &opts.metrics {
                    crate::metrics::publish(shared, analysed.clone());
                }
                app.world.alerts.set_analysed(analysed);
                analyst.var(app.world.results.var_due(&snap));
                analyst.backtest(app.backtest_due(&snap));
                dirty = true;
            }
            Some(e) = input.recv() => {
                let snap = snapshots.borrow().clone();
                let effect = match e {
                    Event::Key(k) if k.kind != KeyEventKind::Release => app.key(k, &snap),
                    Event::Mouse(m) if app.mouse => app.mouse(m, &snap),
                    Event::Resize(w, h) => {
                        let _ = term.autoresize();
                        app.size = ratatui::layout::Rect::new(0, 0, w, h);
                        Effect::Redraw
                    }
                    _ => Effect::None,
                };
                if app.screen == Screen::WhatIf {
                    analyst.chain();
                }
                analyst.account(app.request());
                analyst.backtest(app.backtest_due(&snap));
                match effect {
                    Effect::Quit => break,
                    Effect::Crash => {
                        if let Some(c) = &crash {
                            c();
                        }
                        dirty = true;
                    }
                    Effect::Redraw => dirty = true,
                    Effect::None => {}
                }
            }
            _ = tokio::time::sleep(wait), if dirty => {}
            _ = signals.next() => break,
            _ = &mut ends => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    Ok(())
}

/// The VaR history extended from the exchange at `url` (and the cache), in
/// the background; nothing ever arrives without a URL.
fn fetch_history(
    url: Option<String>,
) -> mpsc::Receiver<(crate::risk::history::History, Option<String>)> {
    let (tx, rx) = mpsc::channel(1);
    if let Some(url) = url {
        tokio::spawn(async move {
            let now = crate::exchange::feed::now_ms();
            let path = crate::history_store::cache_path();
            let got = crate::history_store::refresh(&url, now, path.as_deref()).await;
            let _ = tx.send(got).await;
        });
    }
    rx
}

/// SIGTERM, SIGHUP (an SSH drop), SIGINT and SIGQUIT (`kill -INT`, not the
/// Ctrl-C key, which raw mode delivers as a key): the dashboards end and
/// the terminal is restored instead of being left in raw mode.
struct Signals {
    #[cfg(unix)]
    each: Vec<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let kinds = [
                SignalKind::terminate(),
                SignalKind::hangup(),
                SignalKind::interrupt(),
                SignalKind::quit(),
            ];
            Signals {
                each: kinds.into_iter().filter_map(|k| signal(k).ok()).collect(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The first of the signals to arrive (never, when none could be watched).
    async fn next(&mut self) {
        #[cfg(unix)]
        {
            let waits = self.each.iter_mut().map(|s| Box::pin(s.recv()));
            match waits.len() {
                0 => std::future::pending::<()>().await,
                _ => {
                    futures_util::future::select_all(waits).await;
                }
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await
    }
}

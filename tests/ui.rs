//! The dashboards rendered with ratatui's TestBackend from a fixed snapshot
//! (the shipped sample recording), as insta snapshots at 80×24 and 160×48;
//! every screen in tiny areas without panicking; colourless themes still
//! say the state in words.

use margintop::engine::live::{Engine, EngineSettings, Snapshot};
use margintop::engine::{Desk, Ingest};
use margintop::margin::analysis::Trade;
use margintop::margin::config::load_models;
use margintop::margin::stress::{parse_scenarios, StressScenario, BUILTIN_SCENARIOS};
use margintop::model::AccountKey;
use margintop::report::Thresholds;
use margintop::risk::history::History;
use margintop::ui::analysis::VarFigures;
use margintop::ui::analysis::{analyse, Analysis};
use margintop::ui::revalued::Revalued;
use margintop::ui::view::draw;
use margintop::ui::{App, ColorDepth, Screen, Theme};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::Terminal;
use std::collections::HashMap;

fn sample_snapshot() -> Snapshot {
    sample().1
}

/// The sample recording's engine (its desk hands out account inputs) and snapshot.
fn sample() -> (Engine<Vec<u8>>, Snapshot) {
    let text = std::fs::read_to_string(format!(
        "{}/config/samples/deribit_2022-06-02.jsonl",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut ingest = Ingest::new(Desk::new(load_models(None).unwrap(), 0), None);
    for line in text.lines() {
        ingest.line(line);
    }
    let as_of = ingest.stats.last_t.unwrap();
    let settings = EngineSettings {
        stale_after_ms: 60_000,
        recording_clock: true,
        ..EngineSettings::default()
    };
    let mut engine: Engine<Vec<u8>> = Engine::new(ingest, settings, HashMap::new(), None);
    let snap = engine.snapshot(as_of);
    (engine, snap)
}

fn scenarios() -> Vec<StressScenario> {
    parse_scenarios(BUILTIN_SCENARIOS, "built-in").unwrap()
}

/// The analysis the run loop would fetch for what `app` shows.
fn analysis_for(engine: &Engine<Vec<u8>>, app: &App) -> Box<Analysis> {
    let req = app.request().expect("an account screen");
    let desk = &engine.ingest.desk;
    let id = desk
        .find_account(&req.key.label, &req.key.currency)
        .unwrap();
    let extra: Vec<String> = req.trades.iter().map(|t| t.instrument.clone()).collect();
    let inputs = desk.inputs(id, &extra);
    Box::new(analyse(&inputs, Vec::new(), &req, &scenarios()))
}

fn open(app: &mut App, label: &str, screen: Screen) {
    app.open = Some(AccountKey::new(label, "BTC"));
    app.screen = screen;
    app.screens.stress.configured = scenarios().len();
}

/// The app drawn at w×h (its size set as the run loop would).
fn render(app: &mut App, snap: &Snapshot, theme: &Theme, w: u16, h: u16) -> String {
    text_of(&buffer(app, snap, theme, w, h))
}

fn buffer(app: &mut App, snap: &Snapshot, theme: &Theme, w: u16, h: u16) -> Buffer {
    app.world.theme = theme.clone();
    app.size = Rect::new(0, 0, w, h);
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, app, snap, "margintop — sample recording"))
        .unwrap();
    term.backend().buffer().clone()
}

fn text_of(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The account `label` at mm_ratio 95 %: critical, the top of the desk.
fn turn_critical(snap: &mut Snapshot, label: &str) {
    let v = (snap.accounts.iter_mut())
        .find(|v| v.label == label)
        .unwrap();
    let mut book = (*v.book).clone();
    book.risk.mm_ratio = Some(0.95);
    v.book = std::sync::Arc::new(book);
}

/// The account screen says how far the local MM has been from the
/// exchange's reports (now, mean size, largest size) and, when the gap
/// lasts, says so over its numbers.
#[test]
fn the_account_screen_shows_the_mm_gap_with_the_exchange() {
    use margintop::engine::live::Divergence;
    use margintop::engine::tracking::MmTracking;
    let mut snap = sample_snapshot();
    let v = (snap.accounts.iter_mut())
        .find(|v| v.label == "pm-vol-seller")
        .unwrap();
    let mut book = (*v.book).clone();
    book.exchange.maintenance_margin = Some(1.5);
    v.book = std::sync::Arc::new(book);
    v.mm_tracking = Some(MmTracking {
        reports: 12,
        last: -0.0731,
        mean_abs: 0.004,
        max_abs: 0.0731,
        as_of: 0,
    });
    // 08:30:00 UTC.
    let since = 1_654_000_000_000 / 86_400_000 * 86_400_000 + 30_600_000;
    v.mm_divergence = Some(Divergence {
        gap: -0.0731,
        since,
    });
    let mut app = App::new(false);
    app.open = Some(AccountKey::new("pm-vol-seller", "BTC"));
    app.screen = Screen::Account;
    let text = render(&mut app, &snap, &theme(), 160, 48);
    assert!(
        text.contains("exchange: IM —  MM 1.5000   MM gap now -7.31% mean 0.40% max 7.31%"),
        "{text}"
    );
    assert!(
        text.contains("▲ local MM differs from the exchange's by -7.3% since 08:30:00 UTC"),
        "{text}"
    );
}

fn theme() -> Theme {
    Theme::builtin("dark", ColorDepth::TrueColor).unwrap()
}

#[test]
fn screens_at_80x24_and_160x48() {
    let snap = sample_snapshot();
    for (w, h) in [(80, 24), (160, 48)] {
        let mut app = App::new(false);
        insta::assert_snapshot!(
            format!("overview_{w}x{h}"),
            render(&mut app, &snap, &theme(), w, h)
        );
        app.open = Some(AccountKey::new("pm-vol-seller", "BTC"));
        app.screen = Screen::Account;
        insta::assert_snapshot!(
            format!("account_{w}x{h}"),
            render(&mut app, &snap, &theme(), w, h)
        );
        app.screen = Screen::Matrix;
        insta::assert_snapshot!(
            format!("matrix_{w}x{h}"),
            render(&mut app, &snap, &theme(), w, h)
        );
        app.screen = Screen::Help;
        insta::assert_snapshot!(
            format!("help_{w}x{h}"),
            render(&mut app, &snap, &theme(), w, h)
        );
    }
}

#[test]
fn the_overview_lists_worst_first_and_drops_columns_when_narrow() {
    let snap = sample_snapshot();
    let mut app = App::new(false);
    let wide = render(&mut app, &snap, &theme(), 160, 48);
    let narrow = render(&mut app, &snap, &theme(), 80, 24);
    let pos = |s: &str, what: &str| {
        s.find(what)
            .unwrap_or_else(|| panic!("{what} missing:\n{s}"))
    };
    assert!(
        pos(&wide, "pm-vol-seller") < pos(&wide, "pm-covered-call"),
        "the WARNING book comes first"
    );
    for col in ["account", "health", "mm_ratio"] {
        assert!(narrow.contains(col), "{col} always shown");
    }
    assert!(
        wide.contains("delta") && !narrow.contains("delta"),
        "low-priority columns drop at 80 columns"
    );
}

#[test]
fn every_screen_survives_tiny_areas() {
    let snap = sample_snapshot();
    let (engine, _) = sample();
    for screen in [
        Screen::Overview,
        Screen::Account,
        Screen::Matrix,
        Screen::Stress,
        Screen::WhatIf,
        Screen::Alerts,
        Screen::Help,
    ] {
        for with_analysis in [false, true] {
            for (w, h) in [(1, 1), (0, 0), (1, 5), (5, 1), (3, 3), (20, 4)] {
                let mut app = App::new(false);
                open(&mut app, "pm-vol-seller", screen);
                app.screens.whatif.trades.push(Trade {
                    instrument: "BTC-PERPETUAL".into(),
                    size: 1000.0,
                });
                if with_analysis
                    && screen != Screen::Overview
                    && screen != Screen::Alerts
                    && screen != Screen::Help
                {
                    app.world.results.account = Some(analysis_for(&engine, &app));
                }
                let _ = render(&mut app, &snap, &theme(), w, h);
            }
        }
    }
}

#[test]
fn without_colour_the_state_is_still_in_words() {
    let snap = sample_snapshot();
    let mono = Theme::builtin("monochrome", ColorDepth::None).unwrap();
    let light = Theme::builtin("light", ColorDepth::Ansi16).unwrap();
    for t in [mono, light] {
        let text = render(&mut App::new(false), &snap, &t, 100, 20);
        assert!(text.contains("WARNING") && text.contains("OK"), "{text}");
    }
}

#[test]
fn stale_accounts_say_so() {
    let mut snap = sample_snapshot();
    for v in &mut snap.accounts {
        v.stale = true;
    }
    let text = render(&mut App::new(false), &snap, &theme(), 100, 20);
    assert_eq!(text.matches("STALE").count(), 3, "{text}");
    let mut app = App::new(false);
    app.open = Some(AccountKey::new("pm-vol-seller", "BTC"));
    app.screen = Screen::Account;
    assert!(render(&mut app, &snap, &theme(), 100, 20).contains("not current"));
    for screen in [Screen::Matrix, Screen::Stress, Screen::WhatIf] {
        app.screen = screen;
        let text = render(&mut app, &snap, &theme(), 100, 20);
        assert!(
            text.contains("STALE: pm-vol-seller [BTC]"),
            "{screen:?}: {text}"
        );
    }
}

#[test]
fn a_stale_account_says_why_on_the_desk_and_its_screens() {
    let (mut engine, fresh) = sample();
    // Two minutes after the recording ends, nothing new has come (limit 60 s).
    let snap = engine.snapshot(fresh.as_of + 120_000);
    let v = &snap.accounts[0];
    let why = v.stale_reason.clone().expect("a reason");
    assert!(v.stale);
    assert!(
        why.starts_with("no quote for ") && why.contains(" since ") && why.contains("(limit 60 s)"),
        "{why}"
    );
    let mut app = App::new(false);
    let desk = render(&mut app, &snap, &theme(), 160, 48);
    let note = desk.lines().find(|l| l.contains(" stale: ")).expect(&desk);
    assert!(
        note.contains(&why),
        "the selected row's reason under the table: {note}"
    );
    app.open = Some(v.key());
    app.screen = Screen::Account;
    let account = render(&mut app, &snap, &theme(), 160, 48);
    assert!(account.contains(&why), "{account}");
}

#[test]
fn the_matrix_screen_shows_what_the_full_report_computes() {
    // Incremental engine (snapshot) against the full recompute (report).
    let snap = sample_snapshot();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_margintop"))
        .args(["report", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = &report["accounts"][0];
    assert_eq!(want["account"], "pm-vol-seller");
    let v = snap
        .accounts
        .iter()
        .find(|v| v.label == "pm-vol-seller")
        .unwrap();
    let m = v.matrix.as_ref().unwrap();
    for (i, row) in m.pnl.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            let w = want["risk_matrix"]["pnl"][i][j].as_f64().unwrap();
            assert!(
                (cell.unwrap() - w).abs() < 1e-12,
                "({i},{j}): {cell:?} vs {w}"
            );
        }
    }
    // The worst cell is the most negative one, and the screen marks it.
    let (wi, wj) = m.worst.unwrap();
    let worst = m.pnl[wi][wj].unwrap();
    assert!(m.pnl.iter().flatten().flatten().all(|x| *x >= worst));
    let mut app = App::new(false);
    app.open = Some(AccountKey::new("pm-vol-seller", "BTC"));
    app.screen = Screen::Matrix;
    assert!(render(&mut app, &snap, &theme(), 100, 20).contains(&format!("▼{worst:.4}")));
    // Standard margin has no matrix, and says so.
    app.open = Some(AccountKey::new("sm-hedged-future", "BTC"));
    assert!(render(&mut app, &snap, &theme(), 100, 20).contains("no risk matrix"));
}

#[test]
fn history_is_sampled_once_a_second_and_drawn() {
    let mut snap = sample_snapshot();
    let mut app = App::new(false);
    let t0 = snap.as_of;
    for k in 0..5 {
        snap.as_of = t0 + 500 * k; // every half second: three samples (0, 1 s, 2 s)
        app.record(&snap);
    }
    let key = AccountKey::new("pm-vol-seller", "BTC");
    assert_eq!(app.world.trends.history[&key].len(), 3);
    // Stale accounts are not sampled.
    for v in &mut snap.accounts {
        v.stale = true;
    }
    snap.as_of = t0 + 10_000;
    app.record(&snap);
    assert_eq!(app.world.trends.history[&key].len(), 3);
    app.open = Some(key);
    app.screen = Screen::Account;
    let text = render(&mut app, &sample_snapshot(), &theme(), 120, 30);
    assert!(text.contains("mm_ratio % 70.3 – 70.3 (3 s)"), "{text}");
}

#[test]
fn analysis_screens_at_80x24_and_160x48() {
    let (engine, snap) = sample();
    for (w, h) in [(80, 24), (160, 48)] {
        let mut app = App::new(false);
        open(&mut app, "pm-vol-seller", Screen::Account);
        app.world.results.account = Some(analysis_for(&engine, &app));
        insta::assert_snapshot!(
            format!("account_analysed_{w}x{h}"),
            render(&mut app, &snap, &theme(), w, h)
        );
        app.screen = Screen::Matrix;
        app.world.results.account = Some(analysis_for(&engine, &app));
        insta::assert_snapshot!(
            format!("matrix_models_{w}x{h}"),
            render(&mut app, &snap, &theme(), w, h)
        );
        app.screen = Screen::Stress;
        app.screens
            .stress
            .custom
            .push(StressScenario::custom(-0.2, 0.3));
        app.world.results.account = Some(analysis_for(&engine, &app));
        insta::assert_snapshot!(
            format!("stress_{w}x{h}"),
            render(&mut app, &snap, &theme(), w, h)
        );
        app.screen = Screen::WhatIf;
        app.screens.whatif.trades.push(Trade {
            instrument: "BTC-PERPETUAL".into(),
            size: 30_000.0,
        });
        app.world.results.account = Some(analysis_for(&engine, &app));
        insta::assert_snapshot!(
            format!("whatif_{w}x{h}"),
            render(&mut app, &snap, &theme(), w, h)
        );
    }
}

#[test]
fn the_stress_screen_lists_an_added_scenario_with_its_pnl() {
    let (engine, snap) = sample();
    let mut app = App::new(false);
    open(&mut app, "pm-vol-seller", Screen::Stress);
    app.screens
        .stress
        .custom
        .push(StressScenario::custom(-0.2, 0.3));
    let a = analysis_for(&engine, &app);
    let added = a.revalued.stress().pop().unwrap();
    assert_eq!(added.name, "custom -20.0% / vol +30%");
    app.world.results.account = Some(a.clone());
    let text = render(&mut app, &snap, &theme(), 160, 48);
    let row = text
        .lines()
        .find(|l| l.contains("+ custom -20.0% / vol +30%"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains(&format!("{:.4}", added.pnl.unwrap())), "{row}");
}

#[test]
fn closing_every_position_in_a_what_if_keeps_equity_and_frees_margin() {
    // Trading at the mark moves no equity: closing everything leaves the
    // equity as it was, and no positions means no maintenance margin.
    let (engine, snap) = sample();
    for label in ["pm-vol-seller", "sm-hedged-future", "pm-covered-call"] {
        let mut app = App::new(false);
        open(&mut app, label, Screen::WhatIf);
        let v = snap.accounts.iter().find(|v| v.label == label).unwrap();
        app.screens.whatif.trades = v
            .positions
            .iter()
            .map(|p| Trade {
                instrument: p.instrument.clone(),
                size: -p.size,
            })
            .collect();
        let a = analysis_for(&engine, &app);
        let after = &a.whatif.as_ref().unwrap().after;
        assert!(after.positions().is_empty(), "{label}");
        let (before, after) = (a.revalued.figures(), after.figures());
        assert!(before.maintenance_margin.unwrap() > 0.0);
        assert!(after.maintenance_margin.unwrap().abs() < 1e-12, "{label}");
        let (e0, e1) = (before.equity.unwrap(), after.equity.unwrap());
        assert!((e1 - e0).abs() < 1e-9, "{label}: equity {e0} → {e1}");
    }
}

#[test]
fn buying_an_option_pays_its_premium_from_the_margin_balance_under_standard_margin() {
    // Standard margin: long options are not collateral (docs/design.md), so
    // buying 5 calls at the mark lowers the margin balance by 5 × mark and
    // leaves the equity unchanged.
    let (engine, snap) = sample();
    let mut app = App::new(false);
    open(&mut app, "sm-hedged-future", Screen::WhatIf);
    let call = "BTC-30SEP22-60000-C";
    app.screens.whatif.trades.push(Trade {
        instrument: call.into(),
        size: 5.0,
    });
    let a = analysis_for(&engine, &app);
    let w = a.whatif.as_ref().unwrap();
    assert!(w.missing.is_empty());
    let mark = w
        .after
        .positions()
        .into_iter()
        .find(|p| p.instrument == call)
        .unwrap()
        .mark_price;
    let (mb0, mb1) = (
        a.revalued.figures().margin_balance.unwrap(),
        w.after.figures().margin_balance.unwrap(),
    );
    assert!(
        (mb0 - 5.0 * mark - mb1).abs() < 1e-12,
        "{mb0} - 5 × {mark} vs {mb1}"
    );
    let (e0, e1) = (a.revalued.figures().equity, w.after.figures().equity);
    assert!((e0.unwrap() - e1.unwrap()).abs() < 1e-12);
    // The screen shows the change.
    app.world.results.account = Some(a.clone());
    let text = render(&mut app, &snap, &theme(), 160, 48);
    let row = text.lines().find(|l| l.contains("margin balance")).unwrap();
    assert!(row.contains(&format!("{:+.4}", mb1 - mb0)), "{row}");
}

/// The sample's accounts copied until there are `n`, each with its own label.
fn big_desk(n: usize) -> Snapshot {
    margintop::synthetic::copies(&sample_snapshot(), n)
}

#[test]
fn five_hundred_accounts_scroll_to_the_end_and_back() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let snap = big_desk(500);
    let mut app = App::new(false);
    let key = |app: &mut App, code| {
        let _ = app.key(KeyEvent::new(code, KeyModifiers::NONE), &snap);
    };
    let first = render(&mut app, &snap, &theme(), 80, 24);
    assert!(first.contains("desk: 500 accounts"), "{first}");
    key(&mut app, KeyCode::End);
    let last = render(&mut app, &snap, &theme(), 80, 24);
    assert_eq!(app.desk_row(&snap), Some(499));
    // Worst first: the last rows are the healthiest book's copies.
    let bottom_row = last.lines().rev().nth(3).unwrap();
    assert!(
        bottom_row.contains("acct-") && bottom_row.contains("OK"),
        "{last}"
    );
    // A page is the account rows on screen.
    let on_screen = last.lines().filter(|l| l.contains("acct-")).count();
    key(&mut app, KeyCode::PageUp);
    let _ = render(&mut app, &snap, &theme(), 80, 24);
    assert_eq!(app.desk_row(&snap), Some(499 - on_screen));
    key(&mut app, KeyCode::Home);
    assert_eq!(render(&mut app, &snap, &theme(), 80, 24), first);
    // Grouped by currency, a subtotal heading each group; every account reachable.
    key(&mut app, KeyCode::Char('c'));
    let grouped = render(&mut app, &snap, &theme(), 160, 48);
    let total = grouped.lines().nth(3).unwrap();
    assert!(total.contains("Σ BTC (500 accounts)"), "{grouped}");
    // The subtotal is the sum of the rows: 500 copies of three books.
    let equity: f64 = snap.accounts.iter().map(|v| v.risk.equity).sum();
    assert!(
        total.contains(&format!("{equity:.4}")),
        "{total} vs {equity:.4}"
    );
    key(&mut app, KeyCode::End);
    let _ = render(&mut app, &snap, &theme(), 160, 48);
    assert_eq!(app.desk_row(&snap), Some(499));
}

#[test]
fn a_what_if_future_moves_with_the_market_in_stress() {
    // Selling 20,000 USD of the inverse perpetual at its mark p: in a 20 %
    // fall it earns −size × (1/p − 1/(0.8 p)) = 5,000 / p coin.
    let (engine, _) = sample();
    let mut app = App::new(false);
    open(&mut app, "pm-vol-seller", Screen::WhatIf);
    app.screens
        .stress
        .custom
        .push(StressScenario::custom(-0.2, 0.0));
    app.screens.whatif.trades.push(Trade {
        instrument: "BTC-PERPETUAL".into(),
        size: -20_000.0,
    });
    let a = analysis_for(&engine, &app);
    let after = &a.whatif.as_ref().unwrap().after;
    let p = after
        .positions()
        .into_iter()
        .find(|p| p.instrument == "BTC-PERPETUAL")
        .unwrap()
        .mark_price;
    let pnl = |r: &Revalued| r.stress().last().unwrap().pnl.unwrap();
    let gained = pnl(after) - pnl(&a.revalued);
    assert!(
        (gained - 5_000.0 / p).abs() < 1e-9,
        "{gained} vs {}",
        5_000.0 / p
    );
    // Trading at the mark moves no equity today.
    let (e0, e1) = (a.revalued.figures().equity, after.figures().equity);
    assert!((e1.unwrap() - e0.unwrap()).abs() < 1e-9);
}

#[test]
fn the_alerts_screen_and_the_message_rate() {
    let mut snap = sample_snapshot();
    let mut app = App::new(false);
    app.record(&snap);
    // Five seconds and 500 messages later every account has gone stale.
    snap.as_of += 5_000;
    snap.messages += 500;
    for v in &mut snap.accounts {
        v.stale = true;
    }
    app.record(&snap);
    assert_eq!(app.world.trends.message_rate, Some(100.0));
    app.screen = Screen::Alerts;
    for (w, h) in [(80, 24), (160, 48)] {
        let text = render(&mut app, &snap, &theme(), w, h);
        assert!(
            text.contains("pm-vol-seller [BTC] is Warning at start"),
            "{text}"
        );
        assert!(
            text.contains("alerts (4)"),
            "one warning at start, three stale: {text}"
        );
        assert!(text.contains("100/s"), "{text}");
        insta::assert_snapshot!(format!("alerts_{w}x{h}"), text);
    }
}

mod keys {
    //! What keys and clicks do, on the sample's desk of three accounts.
    use super::*;
    use crossterm::event::{
        KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
    };
    use margintop::ui::app::Effect;
    use margintop::ui::prompt::Prompt;

    fn press(app: &mut App, snap: &Snapshot, c: KeyCode) -> Effect {
        app.key(KeyEvent::new(c, KeyModifiers::NONE), snap)
    }

    fn typed(app: &mut App, snap: &Snapshot, text: &str) {
        for c in text.chars() {
            press(app, snap, KeyCode::Char(c));
        }
    }

    /// The labels in the desk's order.
    fn order(app: &App, snap: &Snapshot) -> Vec<String> {
        let ctx = app.ctx(snap);
        margintop::ui::screens::desk::rows(&app.screens.desk, &ctx)
            .iter()
            .map(|(v, _)| v.label.clone())
            .collect()
    }

    #[test]
    fn navigation_and_screens() {
        let snap = sample_snapshot();
        let mut app = App::new(false);
        app.record(&snap);
        assert_eq!(press(&mut app, &snap, KeyCode::Char('j')), Effect::Redraw);
        press(&mut app, &snap, KeyCode::Down);
        press(&mut app, &snap, KeyCode::Down);
        assert_eq!(app.desk_row(&snap), Some(2), "stops at the last row");
        press(&mut app, &snap, KeyCode::Char('g'));
        assert_eq!(app.desk_row(&snap), Some(0));
        let first = AccountKey::new(order(&app, &snap)[0].clone(), "BTC");
        press(&mut app, &snap, KeyCode::Enter);
        assert_eq!(
            (app.screen, app.open.clone()),
            (Screen::Account, Some(first))
        );
        press(&mut app, &snap, KeyCode::Char('?'));
        assert_eq!(app.screen, Screen::Help);
        press(&mut app, &snap, KeyCode::Esc);
        assert_eq!(
            app.screen,
            Screen::Account,
            "Esc leaves help for where you were"
        );
        let mut seen = vec![app.screen];
        for _ in 0..8 {
            press(&mut app, &snap, KeyCode::Tab);
            seen.push(app.screen);
        }
        assert_eq!(
            seen,
            [
                Screen::Account,
                Screen::Matrix,
                Screen::Stress,
                Screen::WhatIf,
                Screen::Var,
                Screen::Backtest,
                Screen::DeskRisk,
                Screen::Alerts,
                Screen::Overview
            ]
        );
        press(&mut app, &snap, KeyCode::BackTab);
        assert_eq!(app.screen, Screen::Alerts, "Shift-Tab goes back");
        press(&mut app, &snap, KeyCode::Esc);
        assert_eq!(app.screen, Screen::Overview);
        for (c, s) in [
            ('b', Screen::Backtest),
            ('m', Screen::Matrix),
            ('t', Screen::Stress),
            ('w', Screen::WhatIf),
            ('v', Screen::Var),
            ('V', Screen::DeskRisk),
        ] {
            press(&mut app, &snap, KeyCode::Char(c));
            assert_eq!(app.screen, s);
        }
        assert_eq!(press(&mut app, &snap, KeyCode::Char('q')), Effect::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.key(ctrl_c, &snap), Effect::Quit);
    }

    #[test]
    fn account_screens_need_an_account() {
        let empty = Snapshot::default();
        let mut app = App::new(false);
        press(&mut app, &empty, KeyCode::Char('m'));
        assert_eq!(app.screen, Screen::Overview);
        assert!(app.message.as_deref().unwrap().contains("no account"));
        press(&mut app, &empty, KeyCode::Tab);
        assert_eq!(app.screen, Screen::DeskRisk, "Tab skips account screens");
    }

    #[test]
    fn the_selection_follows_its_account_when_the_desk_reorders() {
        let mut snap = sample_snapshot();
        let mut app = App::new(false);
        app.record(&snap);
        press(&mut app, &snap, KeyCode::Down);
        let before = order(&app, &snap);
        let chosen = before[1].clone();
        // The chosen account turns critical: it moves to the top of the desk.
        turn_critical(&mut snap, &chosen);
        app.record(&snap);
        let after = order(&app, &snap);
        assert_eq!(after[0], chosen, "{before:?} → {after:?}");
        assert_eq!(app.desk_row(&snap), Some(0), "the cursor moved with it");
        press(&mut app, &snap, KeyCode::Enter);
        assert_eq!(app.open, Some(AccountKey::new(chosen, "BTC")));
    }

    #[test]
    fn filter_typing_captures_keys() {
        let snap = sample_snapshot();
        let mut app = App::new(false);
        press(&mut app, &snap, KeyCode::Char('/'));
        for c in "qj".chars() {
            assert_eq!(
                press(&mut app, &snap, KeyCode::Char(c)),
                Effect::Redraw,
                "q and j are text while filtering"
            );
        }
        assert_eq!(app.screens.desk.filter, "qj");
        press(&mut app, &snap, KeyCode::Backspace);
        press(&mut app, &snap, KeyCode::Enter);
        assert_eq!(
            (app.screens.desk.filter.as_str(), app.prompt.is_none()),
            ("q", true)
        );
        press(&mut app, &snap, KeyCode::Esc);
        assert_eq!(app.screens.desk.filter, "");
        // A filter naming one account selects it.
        press(&mut app, &snap, KeyCode::Char('/'));
        typed(&mut app, &snap, "covered");
        press(&mut app, &snap, KeyCode::Enter);
        press(&mut app, &snap, KeyCode::Enter);
        assert_eq!(app.open, Some(AccountKey::new("pm-covered-call", "BTC")));
    }

    #[test]
    fn crash_key_only_in_the_demo() {
        let snap = Snapshot::default();
        assert_eq!(
            press(&mut App::new(false), &snap, KeyCode::Char('C')),
            Effect::None
        );
        assert_eq!(
            press(&mut App::new(true), &snap, KeyCode::Char('C')),
            Effect::Crash
        );
    }

    #[test]
    fn adding_and_removing_a_scenario() {
        let (engine, snap) = sample();
        let mut app = App::new(false);
        open(&mut app, "pm-vol-seller", Screen::Stress);
        let configured = app.screens.stress.configured;
        press(&mut app, &snap, KeyCode::Char('a'));
        typed(&mut app, &snap, "-20 30");
        press(&mut app, &snap, KeyCode::Enter);
        let custom = &app.screens.stress.custom;
        assert_eq!(custom.len(), 1);
        assert!((custom[0].price_move + 0.2).abs() < 1e-12);
        assert!((custom[0].vol_move - 0.3).abs() < 1e-12);
        assert_eq!(app.request().unwrap().custom, *custom);
        press(&mut app, &snap, KeyCode::Char('a'));
        typed(&mut app, &snap, "down a lot");
        press(&mut app, &snap, KeyCode::Enter);
        assert_eq!(
            app.screens.stress.custom.len(),
            1,
            "a bad scenario is refused"
        );
        assert!(app.message.as_deref().unwrap().contains("could not read"));
        app.world.results.account = Some(analysis_for(&engine, &app));
        press(&mut app, &snap, KeyCode::Char('d'));
        assert_eq!(
            app.screens.stress.custom.len(),
            1,
            "configured scenarios stay"
        );
        assert!(app
            .message
            .as_deref()
            .unwrap()
            .contains("only scenarios added here"));
        press(&mut app, &snap, KeyCode::Char('G'));
        press(&mut app, &snap, KeyCode::Char('d'));
        assert!(
            app.screens.stress.custom.is_empty(),
            "{configured} configured"
        );
    }

    #[test]
    fn picking_a_what_if_trade() {
        let snap = sample_snapshot();
        let mut app = App::new(false);
        app.world.results.chain = [
            "BTC-PERPETUAL",
            "BTC-26JUN26-80000-C",
            "BTC-26JUN26-80000-P",
            "ETH-PERPETUAL",
        ]
        .map(String::from)
        .to_vec();
        open(&mut app, "pm-vol-seller", Screen::Overview);
        press(&mut app, &snap, KeyCode::Char('w'));
        assert_eq!(app.screen, Screen::WhatIf);
        press(&mut app, &snap, KeyCode::Char('a'));
        assert_eq!(app.picker_matches().len(), 3, "BTC instruments only");
        typed(&mut app, &snap, "26jun 80000");
        assert_eq!(app.picker_matches().len(), 2);
        press(&mut app, &snap, KeyCode::Down);
        press(&mut app, &snap, KeyCode::Down);
        press(&mut app, &snap, KeyCode::Enter);
        assert_eq!(app.prompt, Some(Prompt::Size("BTC-26JUN26-80000-P".into())));
        typed(&mut app, &snap, "abc");
        press(&mut app, &snap, KeyCode::Enter);
        assert!(
            app.screens.whatif.trades.is_empty(),
            "a bad size is refused"
        );
        press(&mut app, &snap, KeyCode::Char('a'));
        typed(&mut app, &snap, "PERP");
        press(&mut app, &snap, KeyCode::Enter);
        typed(&mut app, &snap, "-5000");
        press(&mut app, &snap, KeyCode::Enter);
        let req = app.request().unwrap();
        assert_eq!(
            req.trades,
            vec![Trade {
                instrument: "BTC-PERPETUAL".into(),
                size: -5000.0
            }]
        );
        press(&mut app, &snap, KeyCode::Char('d'));
        assert!(app.screens.whatif.trades.is_empty());
    }

    #[test]
    fn the_mouse_scrolls_picks_and_opens() {
        let snap = sample_snapshot();
        let mut app = App::new(false);
        app.mouse = true;
        let text = render(&mut app, &snap, &theme(), 160, 48);
        let at = |kind, row| MouseEvent {
            kind,
            column: 10,
            row,
            modifiers: KeyModifiers::NONE,
        };
        app.mouse(at(MouseEventKind::ScrollDown, 0), &snap);
        assert_eq!(app.desk_row(&snap), Some(1));
        // The third account's row on screen, found in the drawn text.
        let third = order(&app, &snap)[2].clone();
        let y = text.lines().position(|l| l.contains(&third)).unwrap() as u16;
        let click = MouseEventKind::Down(MouseButton::Left);
        app.mouse(at(click, y), &snap);
        assert_eq!(
            (app.desk_row(&snap), app.screen),
            (Some(2), Screen::Overview)
        );
        app.mouse(at(click, 40), &snap);
        assert_eq!(
            app.desk_row(&snap),
            Some(2),
            "a click below the rows does nothing"
        );
        app.mouse(at(click, y), &snap);
        assert_eq!(app.screen, Screen::Account, "a second click opens it");
        assert_eq!(app.open, Some(AccountKey::new(third, "BTC")));
    }
}

#[test]
fn every_desk_order_puts_what_needs_attention_first() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use margintop::engine::live::AccountSnapshot;
    use margintop::margin::liquidation::Liquidation;
    use margintop::report::Health;
    use margintop::ui::analysis::DeskFigures;
    let (engine, mut snap) = sample();
    let mut app = App::new(false);
    app.world.results.var = Some(var_of_sample(&engine, &snap));
    // Distinct ages and liquidation distances, in neither the desk's nor
    // the labels' order, so that every order tells the accounts apart.
    for (i, v) in snap.accounts.iter_mut().enumerate() {
        v.data_age_ms = Some([2_000, 7_000, 4_000][i % 3]);
        let figures = DeskFigures {
            liquidation: Liquidation {
                down_move: Some([-0.30, -0.12, -0.55][i % 3]),
                ..Liquidation::default()
            },
            worst_stress: None,
            pricing_ms: 0,
            positions: Vec::new(),
            index_price: None,
        };
        app.world.results.desk.insert(v.key(), figures);
    }
    app.record(&snap);
    type Key = fn(&AccountSnapshot, &App) -> f64;
    // Each order's measure, largest first (an order that wants the
    // smallest first negates it), written here from the column meanings.
    fn rank(v: &AccountSnapshot) -> f64 {
        let h = v.health(&Thresholds::default());
        let level = [
            Health::Ok,
            Health::Warning,
            Health::Critical,
            Health::Liquidation,
        ];
        level.iter().position(|l| *l == h).unwrap() as f64 * 10.0 + v.risk.mm_ratio.unwrap()
    }
    let orders: [(&str, Key); 12] = [
        ("health", |v, _| rank(v)),
        ("mm_ratio", |v, _| v.risk.mm_ratio.unwrap()),
        ("account", |_, _| 0.0),
        ("equity", |v, _| v.risk.equity * v.usd_per_unit.unwrap()),
        ("MM", |v, _| {
            v.risk.margin.maintenance_margin * v.usd_per_unit.unwrap()
        }),
        ("headroom", |v, _| {
            -v.risk.headroom * v.usd_per_unit.unwrap()
        }),
        ("|delta|", |v, _| v.greeks.delta_usd.abs()),
        ("|vega|", |v, _| v.greeks.vega.abs()),
        ("|theta|", |v, _| v.greeks.theta.abs()),
        ("liquidation down", |v, app| {
            let d = app.world.results.desk[&v.key()].liquidation.down_move;
            -d.unwrap().abs()
        }),
        ("VaR", |v, app| {
            let var = &app.world.results.var.as_ref().unwrap().var;
            let h = var.holder(&v.label, &v.currency, false).unwrap();
            var.results[h][0].as_ref().unwrap().usd.var_99
        }),
        ("data age", |v, _| v.data_age_ms.unwrap() as f64),
    ];
    for (name, measure) in orders {
        let label = app.screens.desk.sort.label();
        assert!(
            label.starts_with(name),
            "{label} is the order after the last"
        );
        let ctx = app.ctx(&snap);
        let shown: Vec<String> = margintop::ui::screens::desk::rows(&app.screens.desk, &ctx)
            .iter()
            .map(|(v, _)| v.label.clone())
            .collect();
        let mut want: Vec<&AccountSnapshot> = snap.accounts.iter().collect();
        if name == "account" {
            want.sort_by(|a, b| a.label.cmp(&b.label));
        } else {
            want.sort_by(|a, b| measure(b, &app).total_cmp(&measure(a, &app)));
            let keys: Vec<f64> = want.iter().map(|v| measure(v, &app)).collect();
            assert!(
                keys.first() != keys.last(),
                "{name}: the sample cannot tell its accounts apart: {keys:?}"
            );
        }
        let want: Vec<String> = want.iter().map(|v| v.label.clone()).collect();
        assert_eq!(shown, want, "{label}");
        let _ = app.key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE), &snap);
    }
    assert!(
        app.screens.desk.sort.label().starts_with("health"),
        "s cycles through every order"
    );
    let _ = app.key(
        KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT),
        &snap,
    );
    assert!(
        app.screens.desk.sort.label().starts_with("data age"),
        "S goes back"
    );
}

mod colours {
    //! The styles in the drawn buffer: a state's colour is checked, not
    //! only its words.
    use super::*;
    use ratatui::style::{Color, Modifier};

    /// The cell where `text` starts on the first line containing it.
    fn find(buf: &Buffer, text: &str) -> (u16, u16) {
        for y in 0..buf.area.height {
            let line: Vec<&str> = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            let joined: String = line.concat();
            if let Some(byte) = joined.find(text) {
                let x = joined[..byte].chars().count() as u16;
                return (x, y);
            }
        }
        panic!("{text} not drawn:\n{}", text_of(buf));
    }

    fn fg(buf: &Buffer, at: (u16, u16)) -> Color {
        buf[at].fg
    }

    #[test]
    fn the_theme_tells_the_states_apart() {
        // Otherwise the checks below could not fail.
        let t = theme();
        let health = [t.ok.fg, t.warn.fg, t.critical.fg, t.stale.fg];
        for (i, a) in health.iter().enumerate() {
            assert!(a.is_some(), "{i}");
            assert!(
                !health[i + 1..].contains(a),
                "colour {i} is shared: {health:?}"
            );
        }
        assert_ne!(t.profit.fg, t.loss.fg);
    }

    #[test]
    fn the_health_column_is_coloured_by_health() {
        let mut snap = sample_snapshot();
        let t = theme();
        let mut app = App::new(false);
        let buf = buffer(&mut app, &snap, &t, 160, 48);
        assert_eq!(fg(&buf, find(&buf, "▲ WARNING")), t.warn.fg.unwrap());
        assert_eq!(fg(&buf, find(&buf, "● OK")), t.ok.fg.unwrap());
        // The bar beside it takes the same colour.
        let (x, y) = find(&buf, "▲ WARNING");
        let bar_x = (x..buf.area.width)
            .find(|&x| buf[(x, y)].symbol() == "█")
            .unwrap();
        assert_eq!(fg(&buf, (bar_x, y)), t.warn.fg.unwrap());
        // A critical account is drawn in the critical colour.
        turn_critical(&mut snap, "pm-covered-call");
        let buf = buffer(&mut app, &snap, &t, 160, 48);
        assert_eq!(fg(&buf, find(&buf, "■ CRITICAL")), t.critical.fg.unwrap());
        // Stale: the word and the whole row in the stale colour.
        for v in &mut snap.accounts {
            v.stale = true;
        }
        let buf = buffer(&mut app, &snap, &t, 160, 48);
        let (x, y) = find(&buf, "◌ STALE");
        assert_eq!(fg(&buf, (x, y)), t.stale.fg.unwrap());
        let (lx, ly) = find(&buf, "pm-vol-seller");
        assert_eq!(fg(&buf, (lx, ly)), t.stale.fg.unwrap(), "the label too");
    }

    #[test]
    fn a_stale_account_screen_is_dimmed_under_its_warning_line() {
        let mut snap = sample_snapshot();
        for v in &mut snap.accounts {
            v.stale = true;
        }
        let t = theme();
        let mut app = App::new(false);
        app.open = Some(AccountKey::new("pm-vol-seller", "BTC"));
        app.screen = Screen::Account;
        let buf = buffer(&mut app, &snap, &t, 120, 30);
        let (x, y) = find(&buf, "◌ STALE: pm-vol-seller");
        assert_eq!(
            buf[(x, y)].bg,
            t.selected.bg.unwrap(),
            "the warning line stands out"
        );
        for figure in ["margin balance", "instrument", "BTC-PERPETUAL"] {
            assert_eq!(
                fg(&buf, find(&buf, figure)),
                t.stale.fg.unwrap(),
                "{figure}"
            );
        }
        // A current account is not dimmed.
        let fresh = sample_snapshot();
        let buf = buffer(&mut app, &fresh, &t, 120, 30);
        assert_ne!(fg(&buf, find(&buf, "margin balance")), t.stale.fg.unwrap());
    }

    #[test]
    fn the_heatmap_colours_losses_gains_and_marks_the_worst() {
        let snap = sample_snapshot();
        let t = theme();
        let mut app = App::new(false);
        app.open = Some(AccountKey::new("pm-vol-seller", "BTC"));
        app.screen = Screen::Matrix;
        let buf = buffer(&mut app, &snap, &t, 160, 48);
        let worst = find(&buf, "▼-");
        assert!(buf[worst].modifier.contains(Modifier::REVERSED));
        assert_eq!(
            fg(&buf, worst),
            t.critical.fg.unwrap(),
            "the worst loss is critical"
        );
        let v = snap
            .accounts
            .iter()
            .find(|v| v.label == "pm-vol-seller")
            .unwrap();
        let m = v.matrix.as_ref().unwrap();
        let cells: Vec<f64> = m.pnl.iter().flatten().flatten().copied().collect();
        let scale = cells.iter().fold(0.0_f64, |a, x| a.max(x.abs()));
        // A gain, and a loss under half the largest: profit and loss colours.
        let gain = cells
            .iter()
            .find(|x| **x > 0.0)
            .expect("a gain in the matrix");
        let small = (cells.iter())
            .find(|x| **x < 0.0 && x.abs() <= 0.5 * scale)
            .expect("a small loss in the matrix");
        assert_eq!(
            fg(&buf, find(&buf, &format!(" {gain:.4}"))),
            t.profit.fg.unwrap()
        );
        assert_eq!(
            fg(&buf, find(&buf, &format!(" {small:.4}"))),
            t.loss.fg.unwrap()
        );
    }
}

#[test]
fn until_the_user_moves_the_cursor_stays_on_the_top_row() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut snap = sample_snapshot();
    let mut app = App::new(false);
    app.record(&snap);
    // Another account turns critical and goes to the top: Enter opens it.
    turn_critical(&mut snap, "pm-covered-call");
    app.record(&snap);
    let _ = app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &snap);
    assert_eq!(app.open, Some(AccountKey::new("pm-covered-call", "BTC")));
}

/// The sample desk's VaR and ES, as the background job would hand them
/// to the screens (a fixed run time, so that snapshots do not vary).
fn var_of_sample(engine: &Engine<Vec<u8>>, snap: &Snapshot) -> Box<VarFigures> {
    let var = (engine.ingest.desk.var_inputs())
        .var(&History::shipped(), margintop::risk::Settings::default());
    let results = margintop::ui::results::Results::default();
    Box::new(VarFigures {
        var,
        history: margintop::risk::history::Origin::Shipped,
        basis: results.var_due(snap).unwrap(),
        took: std::time::Duration::from_millis(5),
    })
}

#[test]
fn var_screens_at_80x24_and_160x48() {
    let (engine, snap) = sample();
    let mut app = App::new(false);
    app.world.results.var = Some(var_of_sample(&engine, &snap));
    app.open = Some(AccountKey::new("pm-vol-seller", "BTC"));
    for (w, h) in [(80, 24), (160, 48)] {
        app.screen = Screen::Var;
        let text = render(&mut app, &snap, &theme(), w, h);
        assert!(!text.contains("RECOMPUTING"), "{text}");
        insta::assert_snapshot!(format!("var_{w}x{h}"), text);
        app.screen = Screen::DeskRisk;
        insta::assert_snapshot!(
            format!("desk_risk_{w}x{h}"),
            render(&mut app, &snap, &theme(), w, h)
        );
    }
}

#[test]
fn the_var_screen_shows_the_computed_figures_and_marks_var_on_the_histogram() {
    let (engine, snap) = sample();
    let var = var_of_sample(&engine, &snap);
    let v = snap
        .accounts
        .iter()
        .find(|v| v.label == "pm-vol-seller")
        .unwrap();
    let h = var.var.holder("pm-vol-seller", "BTC", false).unwrap();
    let hs = var.var.results[h][0].clone().unwrap();
    let mut app = App::new(false);
    app.world.results.var = Some(var);
    app.open = Some(v.key());
    app.screen = Screen::Var;
    let (w, hgt) = (160u16, 48u16);
    let text = render(&mut app, &snap, &theme(), w, hgt);
    let row = text.lines().find(|l| l.contains("│HS ")).unwrap();
    assert!(row.contains(&format!("{:.4}", hs.own.var_99)), "{row}");
    // The marker line: V under the bin holding −VaR. The histogram is the
    // left 60 % of the screen inside its border.
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("HS P&L in BTC: V ="))
        .unwrap();
    let inside = |l: &str| -> Vec<char> { l.chars().skip(1).take_while(|c| *c != '│').collect() };
    let marker = (lines[at + 1..].iter())
        .find(|l| {
            let cells = inside(l);
            cells.contains(&'V') && cells.iter().all(|c| matches!(c, ' ' | 'V' | 'E'))
        })
        .unwrap();
    let inner = inside(marker);
    let col = inner.iter().position(|c| *c == 'V').unwrap();
    let width = inner.len() as f64;
    let lo = hs.pnl.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = hs.pnl.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let expected = (((-hs.own.var_99 - lo) / (hi - lo)) * width).floor() as usize;
    assert_eq!(col, expected.min(inner.len() - 1), "{marker}");
    // The bins left of the marker hold the losses beyond VaR: fewer than
    // the 1 % tail plus the VaR day's bin.
    let beyond = hs.pnl.iter().filter(|p| **p < -hs.own.var_99).count();
    assert!(beyond < margintop::risk::measure::P99.tail(hs.pnl.len()));
}

#[test]
fn the_desk_sorts_by_var_largest_first() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let (engine, snap) = sample();
    let mut app = App::new(false);
    app.world.results.var = Some(var_of_sample(&engine, &snap));
    let by_var = |app: &App| app.screens.desk.sort == margintop::ui::screens::desk::SortBy::Var;
    while !by_var(&app) {
        let _ = app.key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE), &snap);
    }
    let text = render(&mut app, &snap, &theme(), 160, 48);
    let order: Vec<&str> = (text.lines())
        .filter_map(|l| {
            ["pm-vol-seller", "sm-hedged-future", "pm-covered-call"]
                .into_iter()
                .find(|n| l.contains(n))
        })
        .collect();
    let var = |n: &str| {
        let v = snap.accounts.iter().find(|v| v.label == n).unwrap();
        app.world.results.var_of(v, 0).unwrap().usd.var_99
    };
    assert_eq!(order.len(), 3, "{text}");
    assert!(
        var(order[0]) >= var(order[1]) && var(order[1]) >= var(order[2]),
        "{order:?}"
    );
}

#[test]
fn sorted_by_var_the_desk_shows_the_var_column_at_80_columns() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let (engine, snap) = sample();
    let mut app = App::new(false);
    app.world.results.var = Some(var_of_sample(&engine, &snap));
    assert!(!render(&mut app, &snap, &theme(), 80, 24).contains("VaR99 $"));
    while app.screens.desk.sort != margintop::ui::screens::desk::SortBy::Var {
        let _ = app.key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE), &snap);
    }
    let text = render(&mut app, &snap, &theme(), 80, 24);
    assert!(text.contains("VaR99 $"), "{text}");
    let v = snap
        .accounts
        .iter()
        .find(|v| v.label == "pm-covered-call")
        .unwrap();
    let var = app.world.results.var_of(v, 0).unwrap().usd.var_99;
    let row = text
        .lines()
        .find(|l| l.contains("pm-covered-call"))
        .unwrap();
    assert!(row.contains(&margintop::ui::format::compact(var)), "{row}");
}

#[test]
fn var_is_due_again_when_the_books_move_or_a_fetched_history_arrives() {
    let (engine, snap) = sample();
    let mut results = margintop::ui::results::Results::default();
    assert!(results.var_due(&snap).is_some(), "never computed");
    results.var = Some(var_of_sample(&engine, &snap));
    assert!(results.var_due(&snap).is_none(), "current");
    assert!(!results.var_outdated(&snap));
    // A position changes size: the books differ.
    let mut moved = snap.clone();
    let v = &mut moved.accounts[0];
    let mut book = (*v.book).clone();
    book.positions[0].size += 1.0;
    v.book = std::sync::Arc::new(book);
    assert!(results.var_due(&moved).is_some());
    assert!(results.var_outdated(&moved), "shown as recomputing");
    // The index moves 1.5 %.
    let mut moved = snap.clone();
    for p in moved.indices.values_mut() {
        *p *= 1.015;
    }
    assert!(results.var_due(&moved).is_some());
    // A history fetched from the exchange replaces the shipped one.
    results.history = margintop::risk::history::Origin::Fetched;
    assert!(results.var_due(&snap).is_some());
}

#[test]
fn the_next_method_key_steps_the_var_screens_through_hs_fhs_and_mc() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let (engine, snap) = sample();
    let mut app = App::new(false);
    app.world.results.var = Some(var_of_sample(&engine, &snap));
    app.open = Some(AccountKey::new("pm-vol-seller", "BTC"));
    app.screen = Screen::Var;
    let var = app.world.results.var.clone().unwrap();
    let h = var.var.holder("pm-vol-seller", "BTC", false).unwrap();
    for (name, m) in [("HS", 0), ("FHS", 1), ("MC", 2), ("HS", 0)] {
        let text = render(&mut app, &snap, &theme(), 160, 48);
        let title = text
            .lines()
            .find(|l| l.contains("P&L in BTC: V ="))
            .unwrap();
        assert!(title.contains(&format!(" {name} P&L")), "{title}");
        // The largest share of ES is that method's.
        let f = var.var.results[h][m].as_ref().unwrap();
        let top = f.positions_es.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        assert!(text.contains(&format!("{top:.4}")), "{name}: {top}");
        assert_eq!(
            text.contains("worst days"),
            m != 2,
            "MC paths have no dates"
        );
        let _ = app.key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE), &snap);
    }
    app.screen = Screen::DeskRisk;
    let text = render(&mut app, &snap, &theme(), 160, 48);
    assert!(text.contains("ES 97.5 % (FHS"), "{text}");
}

/// The sample account's backtest as the background job hands it over: a
/// 250-day window (the sample is dated 2022-06-02, when BTC's DVOL had 403
/// days of history) and 150 test days.
fn backtest_of_sample(
    engine: &Engine<Vec<u8>>,
    snap: &Snapshot,
    label: &str,
) -> Box<margintop::ui::validation::Backtest> {
    use margintop::ui::validation::{compute, Basis};
    let v = snap.accounts.iter().find(|v| v.label == label).unwrap();
    let desk = &engine.ingest.desk;
    let id = desk.find_account(label, "BTC").unwrap();
    let settings = margintop::risk::Settings {
        window_days: 250,
        ..margintop::risk::Settings::default()
    };
    let inputs = Some(desk.inputs(id, &[]));
    let b = compute(
        desk.var_inputs(),
        inputs,
        Basis::of(v),
        &History::shipped(),
        settings,
        150,
    );
    Box::new(b)
}

#[test]
fn backtest_screen_at_80x24_and_160x48() {
    let (engine, snap) = sample();
    let mut app = App::new(false);
    app.world.results.backtest = Some(backtest_of_sample(&engine, &snap, "pm-vol-seller"));
    app.open = Some(AccountKey::new("pm-vol-seller", "BTC"));
    app.screen = Screen::Backtest;
    assert_eq!(
        app.backtest_due(&snap),
        None,
        "the book shown is the one walked"
    );
    for (w, h) in [(80, 24), (160, 48)] {
        let text = render(&mut app, &snap, &theme(), w, h);
        assert!(text.contains("150 days") || w == 80, "{text}");
        insta::assert_snapshot!(format!("backtest_{w}x{h}"), text);
    }
    // Another account's backtest is not shown as this one's: it is due.
    app.open = Some(AccountKey::new("pm-covered-call", "BTC"));
    assert!(app.backtest_due(&snap).is_some());
    let text = render(&mut app, &snap, &theme(), 160, 48);
    assert!(text.contains("walking the book"), "{text}");
}

#[test]
fn the_backtest_chart_marks_exactly_the_exception_days() {
    use margintop::ui::screens::backtest::series;
    let (engine, snap) = sample();
    let b = backtest_of_sample(&engine, &snap, "pm-vol-seller");
    let walk = b.walk.as_ref().unwrap();
    let tracks = walk.results[0].as_ref().unwrap();
    for m in 0..3 {
        let s = series(tracks, m);
        let track = &tracks.methods[m];
        // Independently: the days whose loss exceeds that day's VaR.
        let days: Vec<f64> = (0..tracks.pnl.len())
            .filter(|&i| -tracks.pnl[i] > track.var[i])
            .map(|i| i as f64)
            .collect();
        let marked: Vec<f64> = s.exceptions.iter().map(|p| p.0).collect();
        assert_eq!(marked, days, "method {m}");
        for (x, y) in &s.exceptions {
            assert_eq!(
                *y, tracks.pnl[*x as usize],
                "a marker sits on its day's P&L"
            );
            assert!(-y > track.var[*x as usize]);
        }
        assert_eq!(s.pnl.len(), 150);
        assert_eq!(s.minus_var[7].1, -track.var[7]);
    }
    // The screen draws one marker cell per exception day at least as far
    // as the chart's width allows, in the legend's count.
    let mut app = App::new(false);
    let n = tracks.methods[0].coverage.exceptions;
    app.world.results.backtest = Some(b);
    app.open = Some(AccountKey::new("pm-vol-seller", "BTC"));
    app.screen = Screen::Backtest;
    let text = render(&mut app, &snap, &theme(), 160, 48);
    assert!(text.contains(&format!("exception ({n})")), "{text}");
    let cells = text.matches('█').count();
    assert!(
        n == 0 || (1..=n).contains(&cells),
        "{cells} marker cells for {n} exceptions"
    );
}

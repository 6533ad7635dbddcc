//! The dashboards rendered with ratatui's TestBackend from a fixed snapshot
//! (the shipped sample recording), as insta snapshots at 80×24 and 160×48;
//! every screen in tiny areas without panicking; colourless themes still
//! say the state in words.

use margintop::engine::live::{Engine, EngineSettings, Snapshot};
use margintop::engine::{Desk, Ingest};
use margintop::margin::config::load_models;
use margintop::margin::stress::{parse_scenarios, StressScenario, BUILTIN_SCENARIOS};
use margintop::report::Thresholds;
use margintop::ui::analysis::{analyse, Analysis, Trade};
use margintop::ui::view::draw;
use margintop::ui::{App, ColorDepth, Screen, Theme};
use ratatui::backend::TestBackend;
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
    let id = desk.find_account(&req.key.0, &req.key.1).unwrap();
    let extra: Vec<String> = req.trades.iter().map(|t| t.instrument.clone()).collect();
    let inputs = desk.inputs(id, &extra);
    Box::new(analyse(
        &inputs,
        Vec::new(),
        &req,
        &scenarios(),
        Thresholds::default(),
    ))
}

fn open(app: &mut App, label: &str, screen: Screen) {
    app.open = Some((label.into(), "BTC".into()));
    app.screen = screen;
    app.configured_scenarios = scenarios().len();
}

fn render(app: &mut App, snap: &Snapshot, theme: &Theme, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| {
        draw(
            f,
            app,
            snap,
            theme,
            &Thresholds::default(),
            "margintop — sample recording",
        )
    })
    .unwrap();
    let buf = term.backend().buffer().clone();
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
        app.open = Some(("pm-vol-seller".into(), "BTC".into()));
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
                app.trades.push(Trade {
                    instrument: "BTC-PERPETUAL".into(),
                    size: 1000.0,
                });
                if with_analysis
                    && screen != Screen::Overview
                    && screen != Screen::Alerts
                    && screen != Screen::Help
                {
                    app.analysis = Some(analysis_for(&engine, &app));
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
    app.open = Some(("pm-vol-seller".into(), "BTC".into()));
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
    app.open = Some((v.label.clone(), v.currency.clone()));
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
    app.open = Some(("pm-vol-seller".into(), "BTC".into()));
    app.screen = Screen::Matrix;
    assert!(render(&mut app, &snap, &theme(), 100, 20).contains(&format!("▼{worst:.4}")));
    // Standard margin has no matrix, and says so.
    app.open = Some(("sm-hedged-future".into(), "BTC".into()));
    assert!(render(&mut app, &snap, &theme(), 100, 20).contains("no risk matrix"));
}

#[test]
fn history_is_sampled_once_a_second_and_drawn() {
    let mut snap = sample_snapshot();
    let mut app = App::new(false);
    let t0 = snap.as_of;
    for k in 0..5 {
        snap.as_of = t0 + 500 * k; // every half second: three samples (0, 1 s, 2 s)
        app.record(&snap, &Thresholds::default());
    }
    let key = ("pm-vol-seller".to_string(), "BTC".to_string());
    assert_eq!(app.history[&key].len(), 3);
    // Stale accounts are not sampled.
    for v in &mut snap.accounts {
        v.stale = true;
    }
    snap.as_of = t0 + 10_000;
    app.record(&snap, &Thresholds::default());
    assert_eq!(app.history[&key].len(), 3);
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
        app.analysis = Some(analysis_for(&engine, &app));
        insta::assert_snapshot!(
            format!("account_analysed_{w}x{h}"),
            render(&mut app, &snap, &theme(), w, h)
        );
        app.screen = Screen::Matrix;
        app.analysis = Some(analysis_for(&engine, &app));
        insta::assert_snapshot!(
            format!("matrix_models_{w}x{h}"),
            render(&mut app, &snap, &theme(), w, h)
        );
        app.screen = Screen::Stress;
        app.custom.push(StressScenario::custom(-0.2, 0.3));
        app.analysis = Some(analysis_for(&engine, &app));
        insta::assert_snapshot!(
            format!("stress_{w}x{h}"),
            render(&mut app, &snap, &theme(), w, h)
        );
        app.screen = Screen::WhatIf;
        app.trades.push(Trade {
            instrument: "BTC-PERPETUAL".into(),
            size: 30_000.0,
        });
        app.analysis = Some(analysis_for(&engine, &app));
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
    app.custom.push(StressScenario::custom(-0.2, 0.3));
    let a = analysis_for(&engine, &app);
    let added = a.report.stress.last().unwrap();
    assert_eq!(added.name, "custom -20.0% / vol +30%");
    app.analysis = Some(a.clone());
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
        app.trades = v
            .positions
            .iter()
            .map(|p| Trade {
                instrument: p.instrument.clone(),
                size: -p.size,
            })
            .collect();
        let a = analysis_for(&engine, &app);
        let (before, after) = (&a.report, &a.whatif.as_ref().unwrap().after);
        assert!(after.positions.is_empty(), "{label}");
        assert!(before.maintenance_margin.unwrap() > 0.0);
        assert!(after.maintenance_margin.unwrap().abs() < 1e-12, "{label}");
        let (e0, e1) = (before.equity.unwrap(), after.equity.unwrap());
        assert!((e1 - e0).abs() < 1e-9, "{label}: equity {e0} → {e1}");
    }
}

#[test]
fn buying_an_option_pays_its_premium_from_the_margin_balance_under_standard_margin() {
    // Standard margin: long options are not collateral (DESIGN.md §4), so
    // buying 5 calls at the mark lowers the margin balance by 5 × mark and
    // leaves the equity unchanged.
    let (engine, snap) = sample();
    let mut app = App::new(false);
    open(&mut app, "sm-hedged-future", Screen::WhatIf);
    let call = "BTC-30SEP22-60000-C";
    app.trades.push(Trade {
        instrument: call.into(),
        size: 5.0,
    });
    let a = analysis_for(&engine, &app);
    let w = a.whatif.as_ref().unwrap();
    assert!(w.missing.is_empty());
    let mark = w
        .after
        .positions
        .iter()
        .find(|p| p.instrument == call)
        .unwrap()
        .mark_price;
    let (mb0, mb1) = (
        a.report.margin_balance.unwrap(),
        w.after.margin_balance.unwrap(),
    );
    assert!(
        (mb0 - 5.0 * mark - mb1).abs() < 1e-12,
        "{mb0} - 5 × {mark} vs {mb1}"
    );
    assert!((a.report.equity.unwrap() - w.after.equity.unwrap()).abs() < 1e-12);
    // The screen shows the change.
    app.analysis = Some(a.clone());
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
        let _ = app.key(KeyEvent::new(code, KeyModifiers::NONE), None);
    };
    let first = render(&mut app, &snap, &theme(), 80, 24);
    assert!(first.contains("desk: 500 accounts"), "{first}");
    key(&mut app, KeyCode::End);
    let last = render(&mut app, &snap, &theme(), 80, 24);
    assert_eq!(app.selected, 499);
    // Worst first: the last rows are the healthiest book's copies.
    let bottom_row = last.lines().rev().nth(3).unwrap();
    assert!(
        bottom_row.contains("acct-") && bottom_row.contains("OK"),
        "{last}"
    );
    key(&mut app, KeyCode::PageUp);
    let _ = render(&mut app, &snap, &theme(), 80, 24);
    assert_eq!(app.selected, 499 - app.page, "a page is the rows on screen");
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
    assert_eq!(app.selected, 499);
}

#[test]
fn a_what_if_future_moves_with_the_market_in_stress() {
    // Selling 20,000 USD of the inverse perpetual at its mark p: in a 20 %
    // fall it earns −size × (1/p − 1/(0.8 p)) = 5,000 / p coin.
    let (engine, _) = sample();
    let mut app = App::new(false);
    open(&mut app, "pm-vol-seller", Screen::WhatIf);
    app.custom.push(StressScenario::custom(-0.2, 0.0));
    app.trades.push(Trade {
        instrument: "BTC-PERPETUAL".into(),
        size: -20_000.0,
    });
    let a = analysis_for(&engine, &app);
    let after = &a.whatif.as_ref().unwrap().after;
    let p = after
        .positions
        .iter()
        .find(|p| p.instrument == "BTC-PERPETUAL")
        .unwrap()
        .mark_price;
    let pnl = |r: &margintop::report::AccountReport| r.stress.last().unwrap().pnl.unwrap();
    let gained = pnl(after) - pnl(&a.report);
    assert!(
        (gained - 5_000.0 / p).abs() < 1e-9,
        "{gained} vs {}",
        5_000.0 / p
    );
    // Trading at the mark moves no equity today.
    assert!((after.equity.unwrap() - a.report.equity.unwrap()).abs() < 1e-9);
}

#[test]
fn every_desk_order_puts_what_needs_attention_first() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use margintop::ui::view::rows;
    let snap = sample_snapshot();
    let mut app = App::new(false);
    let t = Thresholds::default();
    let usd = |v: &margintop::engine::live::AccountView, x: f64| x * v.usd_per_unit.unwrap();
    let mut seen = Vec::new();
    for _ in 0..11 {
        let order = rows(&snap, &app, &t);
        assert_eq!(order.len(), 3);
        let label = app.sort.label();
        seen.push(label);
        let pairs = order.windows(2).map(|w| (w[0].0, w[1].0));
        for (a, b) in pairs {
            let ok = match label {
                l if l.starts_with("headroom") => {
                    usd(a, a.risk.headroom) <= usd(b, b.risk.headroom)
                }
                l if l.starts_with("MM") => {
                    usd(a, a.risk.margin.maintenance_margin)
                        >= usd(b, b.risk.margin.maintenance_margin)
                }
                l if l.starts_with("mm_ratio") => a.risk.mm_ratio >= b.risk.mm_ratio,
                l if l.starts_with("account") => a.label <= b.label,
                _ => true,
            };
            assert!(ok, "{label}: {} before {}", a.label, b.label);
        }
        let _ = app.key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE), None);
    }
    assert_eq!(app.sort.label(), seen[0], "s cycles through every order");
    let _ = app.key(KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT), None);
    assert_eq!(app.sort.label(), seen[10], "S goes back");
}

#[test]
fn the_alerts_screen_and_the_message_rate() {
    let mut snap = sample_snapshot();
    let t = Thresholds::default();
    let mut app = App::new(false);
    app.record(&snap, &t);
    // Five seconds and 500 messages later every account has gone stale.
    snap.as_of += 5_000;
    snap.messages += 500;
    for v in &mut snap.accounts {
        v.stale = true;
    }
    app.record(&snap, &t);
    assert_eq!(app.message_rate, Some(100.0));
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

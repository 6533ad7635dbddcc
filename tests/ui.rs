//! The dashboards rendered with ratatui's TestBackend from a fixed snapshot
//! (the shipped sample recording), as insta snapshots at 80×24 and 160×48;
//! every screen in tiny areas without panicking; colourless themes still
//! say the state in words.

use margintop::engine::live::{Engine, EngineSettings, Snapshot};
use margintop::engine::{Desk, Ingest};
use margintop::margin::config::load_models;
use margintop::report::Thresholds;
use margintop::ui::view::draw;
use margintop::ui::{App, ColorDepth, Screen, Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::collections::HashMap;

fn sample_snapshot() -> Snapshot {
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
        market_of: HashMap::new(),
    };
    let mut engine: Engine<Vec<u8>> = Engine::new(ingest, settings, HashMap::new(), None);
    engine.snapshot(as_of)
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
        wide.contains("vega") && !narrow.contains("vega"),
        "low-priority columns drop at 80 columns"
    );
}

#[test]
fn every_screen_survives_tiny_areas() {
    let snap = sample_snapshot();
    for screen in [
        Screen::Overview,
        Screen::Account,
        Screen::Matrix,
        Screen::Help,
    ] {
        for (w, h) in [(1, 1), (0, 0), (1, 5), (5, 1), (3, 3), (20, 4)] {
            let mut app = App::new(false);
            app.screen = screen;
            app.open = Some(("pm-vol-seller".into(), "BTC".into()));
            let _ = render(&mut app, &snap, &theme(), w, h);
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
        app.record(&snap);
    }
    let key = ("pm-vol-seller".to_string(), "BTC".to_string());
    assert_eq!(app.history[&key].len(), 3);
    // Stale accounts are not sampled.
    for v in &mut snap.accounts {
        v.stale = true;
    }
    snap.as_of = t0 + 10_000;
    app.record(&snap);
    assert_eq!(app.history[&key].len(), 3);
    app.open = Some(key);
    app.screen = Screen::Account;
    let text = render(&mut app, &sample_snapshot(), &theme(), 120, 30);
    assert!(text.contains("mm_ratio % 70.3 – 70.3 (3 s)"), "{text}");
}

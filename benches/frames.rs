//! Drawing cost of the dashboards: one frame of the desk with 500 accounts
//! (200×50), the account screen and the risk matrix (160×48), rendered
//! into ratatui's TestBackend (the terminal's own I/O is not included).

use criterion::{criterion_group, criterion_main, Criterion};
use margintop::engine::live::{Engine, EngineSettings, Snapshot};
use margintop::engine::{Desk, Ingest};
use margintop::margin::config::load_models;
use margintop::model::AccountKey;
use margintop::ui::view::draw;
use margintop::ui::{App, ColorDepth, Screen, Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::collections::HashMap;

/// The shipped sample recording's three accounts, copied to `n` accounts.
fn desk(n: usize) -> Snapshot {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/samples/deribit_2022-06-02.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("sample recording");
    let mut ingest = Ingest::new(Desk::new(load_models(None).expect("models"), 0), None);
    for line in text.lines() {
        ingest.line(line);
    }
    let as_of = ingest.stats.last_t.expect("entries");
    let settings = EngineSettings {
        stale_after_ms: 60_000,
        recording_clock: true,
        ..EngineSettings::default()
    };
    let mut engine: Engine<Vec<u8>> = Engine::new(ingest, settings, HashMap::new(), None);
    margintop::synthetic::copies(&engine.snapshot(as_of), n)
}

fn frames(c: &mut Criterion) {
    let snap = desk(500);
    let theme = Theme::builtin("dark", ColorDepth::TrueColor).expect("theme");
    let mut frame = |name: &str, screen: Screen, w: u16, h: u16| {
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("backend");
        let mut app = App::new(false);
        app.world.theme = theme.clone();
        app.size = ratatui::layout::Rect::new(0, 0, w, h);
        app.screen = screen;
        app.open = Some(AccountKey::new("acct-000", "BTC"));
        c.bench_function(name, |b| {
            b.iter(|| {
                term.draw(|f| draw(f, &app, &snap, "bench")).expect("draw");
            })
        });
    };
    frame("frame_desk_500_accounts_200x50", Screen::Overview, 200, 50);
    frame("frame_desk_500_accounts_80x24", Screen::Overview, 80, 24);
    frame("frame_account_160x48", Screen::Account, 160, 48);
    frame("frame_matrix_160x48", Screen::Matrix, 160, 48);
}

criterion_group!(benches, frames);
criterion_main!(benches);

//! Stress: each named and added scenario's P&L and the mm_ratio the account
//! would have in it (full revaluation under the account's own model).

use super::{bordered, health_style, health_text, no_account, num, open_account, opt_num, pct};
use crate::engine::live::Snapshot;
use crate::report::{Health, Thresholds};
use crate::ui::app::App;
use crate::ui::theme::Theme;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

pub fn draw(
    f: &mut Frame,
    area: Rect,
    app: &mut App,
    snap: &Snapshot,
    theme: &Theme,
    t: &Thresholds,
) {
    let Some(v) = open_account(app, snap) else {
        return no_account(f, area, app);
    };
    let key = (v.label.clone(), v.currency.clone());
    let Some(a) = app.analysis.as_ref().filter(|a| a.request.key == key) else {
        let text = format!(
            "{} [{}]: revaluing the book in each scenario…",
            v.label, v.currency
        );
        f.render_widget(
            Paragraph::new(text).block(bordered(" stress ".into())),
            area,
        );
        return;
    };
    let usd = v.usd_per_unit;
    // Narrow terminals drop the USD P&L and the margin after (columns 4 and 5).
    let wide = area.width >= 110;
    let keep = |k: &usize| wide || !matches!(k, 4 | 5);
    let names = [
        "scenario",
        "price",
        "vol",
        "P&L",
        "P&L $",
        "MM after",
        "mm_ratio",
        "health after",
    ];
    let header = Row::new(
        names
            .iter()
            .enumerate()
            .filter(|(k, _)| keep(k))
            .map(|(_, n)| *n),
    )
    .style(theme.header);
    let configured = app.configured_scenarios;
    let body: Vec<Row> = a
        .report
        .stress
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let after = match (s.maintenance_margin, s.mm_ratio) {
                (None, _) => Health::Unknown,
                (Some(mm), r) => Health::of(false, Some(mm), r, t),
            };
            let name = if i >= configured {
                format!("+ {}", s.name)
            } else {
                s.name.clone()
            };
            let cells = vec![
                Cell::from(name),
                price_moves(s).into(),
                format!("{:+.0}%", s.vol_move * 100.0).into(),
                opt_num(s.pnl, 4).into(),
                s.pnl
                    .zip(usd)
                    .map_or("—".into(), |(p, u)| num(p * u, 0))
                    .into(),
                opt_num(s.maintenance_margin, 4).into(),
                pct(s.mm_ratio).into(),
                Cell::from(health_text(after)).style(health_style(after, theme)),
            ];
            Row::new(
                cells
                    .into_iter()
                    .enumerate()
                    .filter(|(k, _)| keep(k))
                    .map(|(_, c)| c),
            )
        })
        .collect();
    app.lines = body.len();
    // Per-coin moves take more room than one.
    let move_w = (a.report.stress.iter())
        .map(|s| price_moves(s).chars().count() as u16)
        .max()
        .unwrap_or(7)
        .max(7);
    let widths: Vec<Constraint> = [0, move_w, 6, 9, 9, 9, 9, 12]
        .into_iter()
        .enumerate()
        .filter(|(k, _)| keep(k))
        .map(|(k, w)| match k {
            0 => Constraint::Min(14),
            _ => Constraint::Length(w),
        })
        .collect();
    let title = format!(
        " stress {} [{}] under {} — a: add a scenario, d: remove an added one (+) ",
        v.label, v.currency, v.model
    );
    let table = Table::new(body, widths)
        .header(header)
        .block(bordered(title))
        .row_highlight_style(theme.selected);
    let mut state =
        TableState::default().with_selected(Some(app.line.min(app.lines.saturating_sub(1))));
    f.render_stateful_widget(table, area, &mut state);
}

/// "−38.8%", or one move per coin ("BTC −38.8% ETH −44.6%") when the book
/// holds several underlyings and the scenario moves them differently.
fn price_moves(s: &crate::report::StressReport) -> String {
    let pct = |m: f64| format!("{:+.1}%", m * 100.0);
    let differ = s.moves.values().any(|m| (m - s.price_move).abs() > 1e-12);
    match differ {
        false => pct(s.price_move),
        true => (s.moves.iter())
            .map(|(coin, m)| format!("{coin} {}", pct(*m)))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

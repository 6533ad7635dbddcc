//! Stress: each named and added scenario's P&L and the mm_ratio the account
//! would have in it (full revaluation under the account's own model).
//! Its own state: the cursor, the scenarios added here.

use crate::margin::stress::StressScenario;
use crate::report::health::Health;
use crate::ui::columns::{col, fitting, Column};
use crate::ui::context::Ctx;
use crate::ui::cursor::Cursor;
use crate::ui::format::{bordered, health_style, health_text, no_account, num, opt_num, pct};
use crate::ui::keymap::Action;
use crate::ui::revalued::ScenarioRow;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

/// The stress screen's own state.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub cursor: Cursor,
    /// Scenarios added from this screen (every account).
    pub custom: Vec<StressScenario>,
    /// How many scenarios come from the configuration (listed first).
    pub configured: usize,
}

impl State {
    /// Lines on the screen: the last analysis's scenarios.
    fn lines(&self, ctx: &Ctx) -> usize {
        (ctx.open)
            .and_then(|k| ctx.results.analysis_of(k))
            .map_or(0, |a| a.revalued.stress().len())
    }

    pub fn act(&mut self, action: Action, ctx: &Ctx) -> bool {
        if !action.moves_cursor() {
            return false;
        }
        self.cursor.step(action, self.lines(ctx), 10);
        true
    }

    /// Remove the added scenario under the cursor; what to tell the user.
    pub fn delete(&mut self, ctx: &Ctx) -> Option<String> {
        let at = self.cursor.at(self.lines(ctx));
        let Some(i) = at.checked_sub(self.configured) else {
            return Some("only scenarios added here can be removed".into());
        };
        (i < self.custom.len()).then(|| format!("removed {}", self.custom.remove(i).name))
    }
}

/// What a stress column shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Scenario,
    Price,
    Vol,
    Pnl,
    PnlUsd,
    MmAfter,
    MmRatio,
    HealthAfter,
}

/// The columns; the price move's width is that of the longest move. An
/// account judged in USD (cross collateral) has its P&L in USD already.
fn columns(move_width: u16, in_usd: bool) -> Vec<Column<Col>> {
    let money = |id, coin, usd, priority| match in_usd {
        false => col(id, coin, 9, priority),
        true => col(id, usd, 11, priority),
    };
    let mut cols = vec![
        // Names come first: the USD P&L and the margin after drop before them.
        col(Col::Scenario, "scenario", 22, 1),
        col(Col::Price, "price", move_width, 1),
        col(Col::Vol, "vol", 6, 1),
        money(Col::Pnl, "P&L", "P&L $", 1),
        col(Col::PnlUsd, "P&L $", 9, 2),
        money(Col::MmAfter, "MM after", "MM after $", 2),
        col(Col::MmRatio, "mm_ratio", 9, 1),
        col(Col::HealthAfter, "health after", 12, 1),
    ];
    cols.retain(|c| !(in_usd && c.id == Col::PnlUsd));
    cols
}

pub fn render(f: &mut Frame, area: Rect, st: &State, ctx: &Ctx) {
    let Some(v) = ctx.open_account() else {
        return no_account(f, area, ctx.open);
    };
    let theme = ctx.theme;
    let Some(a) = ctx.results.analysis_of(&v.key()) else {
        let text = format!("{}: revaluing the book in each scenario…", v.key().name());
        f.render_widget(
            Paragraph::new(text).block(bordered(" stress ".into())),
            area,
        );
        return;
    };
    let usd = v.usd_per_unit;
    let (rows, in_usd) = (a.revalued.stress(), a.revalued.in_usd());
    let decimals = if in_usd { 0 } else { 4 };
    // Per-coin moves take more room than one.
    let move_w = (rows.iter())
        .map(|s| price_moves(s).chars().count() as u16)
        .max()
        .unwrap_or(7)
        .max(7);
    let cols = fitting(&columns(move_w, in_usd), area.width.saturating_sub(2));
    let header = Row::new(cols.iter().map(|c| c.header)).style(theme.header);
    let body: Vec<Row> = (rows.iter())
        .enumerate()
        .map(|(i, s)| {
            let after = match (s.maintenance_margin, s.mm_ratio) {
                (None, _) => Health::Unknown,
                (Some(mm), r) => Health::of(false, Some(mm), r, ctx.thresholds),
            };
            Row::new(cols.iter().map(|c| {
                match c.id {
                    Col::Scenario if i >= st.configured => Cell::from(format!("+ {}", s.name)),
                    Col::Scenario => Cell::from(s.name.clone()),
                    Col::Price => price_moves(s).into(),
                    Col::Vol => format!("{:+.0}%", s.vol_move * 100.0).into(),
                    Col::Pnl => opt_num(s.pnl, decimals).into(),
                    Col::PnlUsd => (s.pnl.zip(usd))
                        .map_or("—".into(), |(p, u)| num(p * u, 0))
                        .into(),
                    Col::MmAfter => opt_num(s.maintenance_margin, decimals).into(),
                    Col::MmRatio => pct(s.mm_ratio).into(),
                    Col::HealthAfter => {
                        Cell::from(health_text(after)).style(health_style(after, theme))
                    }
                }
            }))
        })
        .collect();
    let widths: Vec<Constraint> = (cols.iter())
        .map(|c| match c.id {
            Col::Scenario => Constraint::Min(c.width),
            _ => Constraint::Length(c.width),
        })
        .collect();
    let title = format!(
        " stress {} under {} — {}: add a scenario, {}: remove an added one (+) ",
        v.key().name(),
        v.model,
        ctx.key(Action::Add),
        ctx.key(Action::Delete),
    );
    let lines = body.len();
    let table = Table::new(body, widths)
        .header(header)
        .block(bordered(title))
        .row_highlight_style(theme.selected);
    let mut state = TableState::default().with_selected(Some(st.cursor.at(lines)));
    f.render_stateful_widget(table, area, &mut state);
}

/// "−38.8%", or one move per coin ("BTC −38.8% ETH −44.6%") when the book
/// holds several underlyings and the scenario moves them differently.
fn price_moves(s: &ScenarioRow) -> String {
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

//! The alerts log, newest first: health changes, links, input problems.
//! Its own state: the cursor.

use crate::report::health::time_of_day_utc as clock;
use crate::ui::alerts::Level;
use crate::ui::context::Ctx;
use crate::ui::cursor::Cursor;
use crate::ui::format::bordered;
use crate::ui::keymap::Action;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table, TableState};
use ratatui::Frame;

/// The alerts screen's own state.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub cursor: Cursor,
}

impl State {
    pub fn act(&mut self, action: Action, ctx: &Ctx) -> bool {
        if !action.moves_cursor() {
            return false;
        }
        self.cursor.step(action, ctx.alerts.len(), 10);
        true
    }
}

pub fn render(f: &mut Frame, area: Rect, st: &State, ctx: &Ctx) {
    let theme = ctx.theme;
    let header = Row::new(["time UTC", "level", "what"]).style(theme.header);
    let body: Vec<Row> = (ctx.alerts.newest())
        .map(|a| {
            let (word, style) = match a.level {
                Level::Info => ("  info", theme.ok),
                Level::Warning => ("▲ warn", theme.warn),
                Level::Critical => ("■ CRIT", theme.critical),
            };
            Row::new([
                Cell::from(clock(a.at_ms)),
                Cell::from(word).style(style),
                Cell::from(a.text.clone()),
            ])
        })
        .collect();
    let lines = body.len();
    let title = format!(" alerts ({}), newest first ", ctx.alerts.len());
    let table = Table::new(
        body,
        [
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Min(10),
        ],
    )
    .header(header)
    .block(bordered(title))
    .row_highlight_style(theme.selected);
    let selected = (lines > 0).then_some(st.cursor.at(lines));
    let mut state = TableState::default().with_selected(selected);
    f.render_stateful_widget(table, area, &mut state);
}

#[cfg(test)]
mod tests {
    #[test]
    fn clock_is_utc_time_of_day() {
        // 2026-11-24 14:03:07 UTC (date -u -d "2026-11-24 14:03:07" +%s)
        assert_eq!(super::clock(1_795_528_987_000), "14:03:07");
        assert_eq!(super::clock(1_795_528_987_999), "14:03:07");
    }
}

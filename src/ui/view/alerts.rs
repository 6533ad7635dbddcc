//! The alerts log, newest first: health changes, links, input problems.

use super::bordered;
use crate::ui::alerts::Level;
use crate::ui::app::App;
use crate::ui::theme::Theme;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table, TableState};
use ratatui::Frame;

use crate::report::time_of_day_utc as clock;

pub fn draw(f: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
    let header = Row::new(["time UTC", "level", "what"]).style(theme.header);
    let body: Vec<Row> = app
        .alerts
        .newest()
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
    app.lines = body.len();
    let title = format!(" alerts ({}), newest first ", app.alerts.len());
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
    let selected = (app.lines > 0).then_some(app.line.min(app.lines.saturating_sub(1)));
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

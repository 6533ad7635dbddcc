//! The keys, from the keymap in use (remapped keys included); the cursor
//! scrolls it when the terminal is short.

use crate::ui::context::Ctx;
use crate::ui::cursor::Cursor;
use crate::ui::format::bordered;
use crate::ui::keymap::Action;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Row, Table};
use ratatui::Frame;

/// The help screen's own state.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub scroll: Cursor,
}

/// How many first lines the help can start at in `area` (1: it all fits).
fn starts(area: Rect, ctx: &Ctx) -> usize {
    let fits = area.height.saturating_sub(3) as usize;
    ctx.keys.help().len().saturating_sub(fits) + 1
}

impl State {
    pub fn act(&mut self, action: Action, area: Rect, ctx: &Ctx) -> bool {
        if !action.moves_cursor() {
            return false;
        }
        self.scroll.step(action, starts(area, ctx), 10);
        true
    }
}

pub fn render(f: &mut Frame, area: Rect, st: &State, ctx: &Ctx) {
    let header = Row::new(["key", "does"]).style(ctx.theme.header);
    let keys = ctx.keys.help();
    let starts = starts(area, ctx);
    let body: Vec<Row> = keys
        .into_iter()
        .skip(st.scroll.at(starts))
        .map(|(k, d)| Row::new([k, d.to_string()]))
        .collect();
    let more = if starts > 1 {
        format!(
            "; {}{} for more",
            ctx.key(Action::Up),
            ctx.key(Action::Down)
        )
    } else {
        String::new()
    };
    let title = format!(
        " help — {} or {} to go back; keys can be changed in [ui.keys]{more} ",
        ctx.key(Action::Back),
        ctx.key(Action::Help)
    );
    let table = Table::new(body, [Constraint::Length(16), Constraint::Min(10)])
        .header(header)
        .block(bordered(title));
    f.render_widget(table, area);
}

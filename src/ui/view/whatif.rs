//! What-if: hypothetical trades on the open account and the book before
//! and after them (margin, mm_ratio, Greeks, liquidation distance), without
//! trading. `a` picks an instrument from the live chain and a size.

use super::{bordered, move_pct, no_account, num, open_account, opt_num, pct};
use crate::engine::live::Snapshot;
use crate::report::AccountReport;
use crate::ui::app::{App, Prompt};
use crate::ui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Row, Table, TableState};
use ratatui::Frame;

pub fn draw(f: &mut Frame, area: Rect, app: &mut App, snap: &Snapshot, theme: &Theme) {
    let Some(v) = open_account(app, snap) else {
        return no_account(f, area, app);
    };
    let trade_rows = (app.trades.len() as u16).clamp(1, 6) + 3;
    let [top, rest] =
        Layout::vertical([Constraint::Length(trade_rows), Constraint::Min(0)]).areas(area);
    trades(f, top, app, &v.label, &v.currency, theme);
    if app.prompt == Some(Prompt::Instrument) {
        return picker(f, rest, app, theme);
    }
    let key = (v.label.clone(), v.currency.clone());
    let analysis = app
        .analysis
        .as_ref()
        .filter(|a| a.request.key == key && a.request.trades == app.trades);
    let Some(a) = analysis else {
        let text = if app.trades.is_empty() {
            "press a to add a hypothetical trade"
        } else {
            "revaluing the book with the trades…"
        };
        f.render_widget(
            Paragraph::new(text).block(bordered(" before → after ".into())),
            rest,
        );
        return;
    };
    let Some(w) = &a.whatif else {
        f.render_widget(
            Paragraph::new("press a to add a hypothetical trade")
                .block(bordered(" before → after ".into())),
            rest,
        );
        return;
    };
    let mut title = format!(" before → after, in {} ", v.currency);
    if !w.missing.is_empty() {
        title = format!(
            " waiting for a quote for {} (subscribed; left out until it comes) ",
            w.missing.join(", ")
        );
    }
    let header = Row::new(["", "before", "after", "change"]).style(theme.header);
    let body: Vec<Row> = compare_rows(&a.report, &w.after)
        .into_iter()
        .map(|(name, before, after, change)| Row::new([name.to_string(), before, after, change]))
        .collect();
    let widths = [18, 14, 14, 14].map(Constraint::Length);
    f.render_widget(
        Table::new(body, widths)
            .header(header)
            .block(bordered(title)),
        rest,
    );
}

/// (what, before, after, change) for every figure a trade can move.
fn compare_rows(
    b: &AccountReport,
    a: &AccountReport,
) -> Vec<(&'static str, String, String, String)> {
    let n = |x: Option<f64>, d: usize| opt_num(x, d);
    let diff = |x: Option<f64>, y: Option<f64>, d: usize| match (x, y) {
        (Some(x), Some(y)) => format!("{:+.d$}", y - x),
        _ => "—".into(),
    };
    let money = |name, x: Option<f64>, y: Option<f64>| (name, n(x, 4), n(y, 4), diff(x, y, 4));
    let greek = |name, x: f64, y: f64, d| (name, num(x, d), num(y, d), diff(Some(x), Some(y), d));
    let ratio = |name, x: Option<f64>, y: Option<f64>| {
        let change = match (x, y) {
            (Some(x), Some(y)) => format!("{:+.1} pts", (y - x) * 100.0),
            _ => "—".into(),
        };
        (name, pct(x), pct(y), change)
    };
    let worst = |r: &AccountReport| r.stress.iter().filter_map(|s| s.pnl).reduce(f64::min);
    vec![
        money("margin balance", b.margin_balance, a.margin_balance),
        money("IM", b.initial_margin, a.initial_margin),
        money("MM", b.maintenance_margin, a.maintenance_margin),
        ratio("mm_ratio", b.mm_ratio, a.mm_ratio),
        ratio("im_ratio", b.im_ratio, a.im_ratio),
        money("headroom", b.headroom, a.headroom),
        greek("delta", b.greeks.delta_total, a.greeks.delta_total, 4),
        greek("gamma", b.greeks.gamma, a.greeks.gamma, 6),
        greek("vega $", b.greeks.vega, a.greeks.vega, 1),
        greek("theta $/day", b.greeks.theta, a.greeks.theta, 1),
        (
            "liquidation down",
            move_pct(b.liquidation.down_move),
            move_pct(a.liquidation.down_move),
            String::new(),
        ),
        (
            "liquidation up",
            move_pct(b.liquidation.up_move),
            move_pct(a.liquidation.up_move),
            String::new(),
        ),
        money("worst stress P&L", worst(b), worst(a)),
    ]
}

fn trades(f: &mut Frame, area: Rect, app: &mut App, label: &str, ccy: &str, theme: &Theme) {
    app.lines = app.trades.len();
    let title =
        format!(" what-if on {label} [{ccy}] — a: add a trade, d: remove one (no order is sent) ");
    if app.trades.is_empty() {
        f.render_widget(
            Paragraph::new("no hypothetical trades").block(bordered(title)),
            area,
        );
        return;
    }
    let header = Row::new(["instrument", "size"]).style(theme.header);
    let body: Vec<Row> = app
        .trades
        .iter()
        .map(|t| Row::new([t.instrument.clone(), format!("{:+}", t.size)]))
        .collect();
    let table = Table::new(body, [Constraint::Length(28), Constraint::Length(14)])
        .header(header)
        .block(bordered(title))
        .row_highlight_style(theme.selected);
    let mut state = TableState::default().with_selected(Some(app.line.min(app.lines - 1)));
    f.render_stateful_widget(table, area, &mut state);
}

/// The instruments matching what was typed, the cursor on the one Enter picks.
fn picker(f: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
    let matches: Vec<String> = app.picker_matches().into_iter().map(String::from).collect();
    let count = matches.len();
    app.picked = app.picked.min(count.saturating_sub(1));
    let title = if app.chain.is_empty() {
        " instruments: asking the engine… ".to_string()
    } else {
        format!(" {count} instruments match \"{}\" ", app.input)
    };
    let items: Vec<ListItem> = matches.into_iter().map(ListItem::new).collect();
    let list = List::new(items)
        .block(bordered(title))
        .highlight_style(theme.selected)
        .highlight_symbol("› ");
    let mut state = ListState::default().with_selected((count > 0).then_some(app.picked));
    f.render_stateful_widget(list, area, &mut state);
}

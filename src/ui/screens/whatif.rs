//! What-if: hypothetical trades on the open account and the book before
//! and after them (margin, mm_ratio, Greeks, liquidation distance), without
//! trading; an instrument is picked from the live chain, then a size.
//! Its own state: the trades, the cursor on them and in the picker.

use crate::margin::analysis::Trade;
use crate::model::AccountKey;
use crate::ui::context::Ctx;
use crate::ui::cursor::Cursor;
use crate::ui::format::{bordered, move_pct, no_account, num, opt_num, pct};
use crate::ui::keymap::Action;
use crate::ui::prompt::Prompt;
use crate::ui::revalued::{Figures, Revalued};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Row, Table, TableState};
use ratatui::Frame;

/// The what-if screen's own state.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// Hypothetical trades on the open account.
    pub trades: Vec<Trade>,
    pub cursor: Cursor,
    /// Cursor in the instrument picker.
    pub picked: usize,
}

impl State {
    pub fn act(&mut self, action: Action) -> bool {
        if !action.moves_cursor() {
            return false;
        }
        self.cursor.step(action, self.trades.len(), 10);
        true
    }

    /// Remove the trade under the cursor; what to tell the user.
    pub fn delete(&mut self) -> Option<String> {
        if self.trades.is_empty() {
            return None;
        }
        let t = self.trades.remove(self.cursor.at(self.trades.len()));
        Some(format!("removed {} {}", t.size, t.instrument))
    }

    pub fn add(&mut self, trade: Trade) {
        self.trades.push(trade);
        self.cursor.set(self.trades.len() - 1);
    }
}

/// The picker's choices: the account's currency's instruments containing
/// every word typed (any case).
pub fn picker_matches<'a>(
    open: Option<&AccountKey>,
    chain: &'a [String],
    typed: &str,
) -> Vec<&'a str> {
    let Some(key) = open else {
        return Vec::new();
    };
    let words: Vec<String> = typed.split_whitespace().map(str::to_uppercase).collect();
    let ours = |name: &str| match key.currency.as_str() {
        "USDC" => name.contains("_USDC"),
        c => name.starts_with(&format!("{c}-")),
    };
    chain
        .iter()
        .map(String::as_str)
        .filter(|n| ours(n) && words.iter().all(|w| n.contains(w.as_str())))
        .collect()
}

pub fn render(f: &mut Frame, area: Rect, st: &State, ctx: &Ctx) {
    let Some(v) = ctx.open_account() else {
        return no_account(f, area, ctx.open);
    };
    let trade_rows = (st.trades.len() as u16).clamp(1, 6) + 3;
    let [top, rest] =
        Layout::vertical([Constraint::Length(trade_rows), Constraint::Min(0)]).areas(area);
    trades(f, top, st, &v.key(), ctx);
    if ctx.prompt == Some(&Prompt::Instrument) {
        return picker(f, rest, st, ctx);
    }
    let add = ctx.key(Action::Add);
    let analysis = (ctx.results.analysis_of(&v.key())).filter(|a| a.request.trades == st.trades);
    let Some(a) = analysis else {
        let text = if st.trades.is_empty() {
            format!("press {add} to add a hypothetical trade")
        } else {
            "revaluing the book with the trades…".into()
        };
        f.render_widget(
            Paragraph::new(text).block(bordered(" before → after ".into())),
            rest,
        );
        return;
    };
    let Some(w) = &a.whatif else {
        f.render_widget(
            Paragraph::new(format!("press {add} to add a hypothetical trade"))
                .block(bordered(" before → after ".into())),
            rest,
        );
        return;
    };
    let unit = if a.revalued.in_usd() {
        "USD"
    } else {
        &v.currency
    };
    let mut title = format!(" before → after, in {unit} ");
    if !w.missing.is_empty() {
        title = format!(
            " waiting for a quote for {} (subscribed; left out until it comes) ",
            w.missing.join(", ")
        );
    }
    let header = Row::new(["", "before", "after", "change"]).style(ctx.theme.header);
    let body: Vec<Row> = compare_rows(&a.revalued, &w.after)
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
    before: &Revalued,
    after: &Revalued,
) -> Vec<(&'static str, String, String, String)> {
    let (b, a) = (before.figures(), after.figures());
    // A cross account's money and Greeks are in USD.
    let usd = before.in_usd();
    let d = if usd { 0 } else { 4 };
    let n = |x: Option<f64>, d: usize| opt_num(x, d);
    let diff = |x: Option<f64>, y: Option<f64>, d: usize| match (x, y) {
        (Some(x), Some(y)) => format!("{:+.d$}", y - x),
        _ => "—".into(),
    };
    let money = |name, x: Option<f64>, y: Option<f64>| (name, n(x, d), n(y, d), diff(x, y, d));
    let greek = |name, x: f64, y: f64, d| (name, num(x, d), num(y, d), diff(Some(x), Some(y), d));
    let ratio = |name, x: Option<f64>, y: Option<f64>| {
        let change = match (x, y) {
            (Some(x), Some(y)) => format!("{:+.1} pts", (y - x) * 100.0),
            _ => "—".into(),
        };
        (name, pct(x), pct(y), change)
    };
    let liquidation = |name, side: fn(&Figures) -> Option<f64>| {
        (name, move_pct(side(&b)), move_pct(side(&a)), String::new())
    };
    vec![
        money("margin balance", b.margin_balance, a.margin_balance),
        money("IM", b.initial_margin, a.initial_margin),
        money("MM", b.maintenance_margin, a.maintenance_margin),
        ratio("mm_ratio", b.mm_ratio, a.mm_ratio),
        ratio("im_ratio", b.im_ratio, a.im_ratio),
        money("headroom", b.headroom, a.headroom),
        match usd {
            false => greek("delta", b.delta, a.delta, 4),
            true => greek("delta $", b.delta, a.delta, 0),
        },
        match usd {
            false => greek("gamma", b.gamma, a.gamma, 6),
            true => greek("gamma $/1%", b.gamma, a.gamma, 0),
        },
        greek("vega $", b.vega, a.vega, 1),
        greek("theta $/day", b.theta, a.theta, 1),
        liquidation("liquidation down", |f| f.liquidation.down_move),
        liquidation("liquidation up", |f| f.liquidation.up_move),
        money("worst stress P&L", b.worst_stress, a.worst_stress),
    ]
}

fn trades(f: &mut Frame, area: Rect, st: &State, key: &AccountKey, ctx: &Ctx) {
    let title = format!(
        " what-if on {} — {}: add a trade, {}: remove one (no order is sent) ",
        key.name(),
        ctx.key(Action::Add),
        ctx.key(Action::Delete)
    );
    if st.trades.is_empty() {
        f.render_widget(
            Paragraph::new("no hypothetical trades").block(bordered(title)),
            area,
        );
        return;
    }
    let header = Row::new(["instrument", "size"]).style(ctx.theme.header);
    let body: Vec<Row> = (st.trades.iter())
        .map(|t| Row::new([t.instrument.clone(), format!("{:+}", t.size)]))
        .collect();
    let table = Table::new(body, [Constraint::Length(28), Constraint::Length(14)])
        .header(header)
        .block(bordered(title))
        .row_highlight_style(ctx.theme.selected);
    let mut state = TableState::default().with_selected(Some(st.cursor.at(st.trades.len())));
    f.render_stateful_widget(table, area, &mut state);
}

/// The instruments matching what was typed, the cursor on the one Enter picks.
fn picker(f: &mut Frame, area: Rect, st: &State, ctx: &Ctx) {
    let matches = picker_matches(ctx.open, &ctx.results.chain, ctx.input);
    let count = matches.len();
    let picked = st.picked.min(count.saturating_sub(1));
    let title = if ctx.results.chain.is_empty() {
        " instruments: asking the engine… ".to_string()
    } else {
        format!(" {count} instruments match \"{}\" ", ctx.input)
    };
    let items: Vec<ListItem> = matches.into_iter().map(ListItem::new).collect();
    let list = List::new(items)
        .block(bordered(title))
        .highlight_style(ctx.theme.selected)
        .highlight_symbol("› ");
    let mut state = ListState::default().with_selected((count > 0).then_some(picked));
    f.render_stateful_widget(list, area, &mut state);
}

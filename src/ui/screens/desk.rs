//! The desk: one row per account, worst first; columns drop by priority
//! when narrow; optional grouping by currency with subtotals; a totals
//! line in USD. The selection is an account, not a row: it stays on the
//! same account when a new snapshot re-sorts the desk.

use crate::engine::live::{AccountSnapshot, CrossView};
use crate::model::AccountKey;
use crate::report::health::Health;
use crate::ui::analysis::DeskFigures;
use crate::ui::columns::{col, fitting, Column};
use crate::ui::context::Ctx;
use crate::ui::cursor::Cursor;
use crate::ui::format::{compact, health_style, health_text, move_pct, num, pct, trouble};
use crate::ui::keymap::Action;
use crate::ui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

/// Desk orders; each puts what needs attention first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    Health,
    MmRatio,
    Label,
    Equity,
    Mm,
    Headroom,
    Delta,
    Vega,
    Theta,
    LiqDown,
    Var,
    Age,
}

/// The orders `s` cycles through (`S` backwards), with their names.
pub const SORTS: [(SortBy, &str); 12] = [
    (SortBy::Health, "health (worst first)"),
    (SortBy::MmRatio, "mm_ratio (highest first)"),
    (SortBy::Label, "account"),
    (SortBy::Equity, "equity in USD (largest first)"),
    (SortBy::Mm, "MM in USD (largest first)"),
    (SortBy::Headroom, "headroom in USD (smallest first)"),
    (SortBy::Delta, "|delta| in USD (largest first)"),
    (SortBy::Vega, "|vega| (largest first)"),
    (SortBy::Theta, "|theta| (largest first)"),
    (SortBy::LiqDown, "liquidation down (closest first)"),
    (SortBy::Var, "VaR 99 % in USD (largest first)"),
    (SortBy::Age, "data age (oldest first)"),
];

impl SortBy {
    fn step(self, forward: bool) -> SortBy {
        let i = SORTS.iter().position(|(s, _)| *s == self).unwrap_or(0);
        let n = SORTS.len();
        SORTS[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
        .0
    }

    pub fn label(self) -> &'static str {
        SORTS
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("", |(_, l)| l)
    }
}

/// The desk's own state.
#[derive(Clone, Debug)]
pub struct State {
    /// The account under the cursor.
    pub selected: Option<AccountKey>,
    /// The row it was on, to stay near there when its account leaves the list.
    last_row: usize,
    /// The user chose the account (a move or a click): it is followed when
    /// the desk re-sorts. Until then the cursor stays on its row, the top
    /// one at start, so that the worst account is the one Enter opens.
    pinned: bool,
    pub sort: SortBy,
    /// Rows grouped by currency, with subtotals.
    pub group: bool,
    pub filter: String,
    /// The first line shown as last scrolled: the view moves as little as possible.
    offset: usize,
}

impl Default for State {
    fn default() -> State {
        State {
            selected: None,
            last_row: 0,
            pinned: false,
            sort: SortBy::Health,
            group: false,
            filter: String::new(),
            offset: 0,
        }
    }
}

/// The accounts the desk lists, filtered and sorted as `st` says
/// (grouped by currency first when asked).
pub fn rows<'a>(st: &State, ctx: &Ctx<'a>) -> Vec<(&'a AccountSnapshot, Health)> {
    let filter = st.filter.to_lowercase();
    let mut rows: Vec<(&AccountSnapshot, Health)> = ctx
        .snap
        .accounts
        .iter()
        .filter(|v| !v.positions.is_empty() || v.risk.balance != 0.0 || !v.refused.is_empty())
        .filter(|v| !v.folded_into_cross())
        .filter(|v| {
            filter.is_empty()
                || v.label.to_lowercase().contains(&filter)
                || v.model.contains(&filter)
                || v.currency.to_lowercase() == filter
        })
        .map(|v| (v, v.health(ctx.thresholds)))
        .collect();
    sort_rows(&mut rows, st.sort, ctx);
    if st.group {
        // Stable: the chosen order holds within each currency.
        rows.sort_by(|a, b| a.0.currency.cmp(&b.0.currency));
    }
    rows
}

/// Sort the desk rows: each order puts what needs attention first.
fn sort_rows(rows: &mut [(&AccountSnapshot, Health)], sort: SortBy, ctx: &Ctx) {
    if sort == SortBy::Label {
        rows.sort_by(|a, b| {
            a.0.label
                .cmp(&b.0.label)
                .then(a.0.currency.cmp(&b.0.currency))
        });
        return;
    }
    if sort == SortBy::Health {
        let ratio = |v: &AccountSnapshot| v.judged_mm_ratio().unwrap_or(f64::INFINITY);
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(ratio(b.0).total_cmp(&ratio(a.0))));
        return;
    }
    // Larger first; what cannot be computed goes last.
    let key = |v: &AccountSnapshot| -> f64 {
        let usd = |x: f64| v.usd_per_unit.map_or(f64::NEG_INFINITY, |u| x * u);
        let r = &v.risk;
        let k = match sort {
            SortBy::MmRatio => v.judged_mm_ratio().unwrap_or(f64::INFINITY),
            SortBy::Equity => usd(r.equity),
            SortBy::Mm => usd(r.margin.maintenance_margin),
            SortBy::Headroom => -usd(r.headroom),
            SortBy::Delta => {
                (v.index.as_ref()).map_or(f64::NEG_INFINITY, |_| v.greeks.delta_usd.abs())
            }
            SortBy::Vega => v.greeks.vega.abs(),
            SortBy::Theta => v.greeks.theta.abs(),
            SortBy::LiqDown => (ctx.results.desk.get(&v.key()))
                .and_then(|d| d.liquidation.down_move)
                .map_or(f64::NEG_INFINITY, |m| -m.abs()),
            SortBy::Var => (ctx.results.var_of(v, 0)).map_or(f64::NEG_INFINITY, |f| f.usd.var_99),
            SortBy::Age => v.data_age_ms.map_or(f64::INFINITY, |a| a as f64),
            SortBy::Health | SortBy::Label => 0.0,
        };
        if k.is_nan() {
            f64::NEG_INFINITY
        } else {
            k
        }
    };
    rows.sort_by(|a, b| key(b.0).total_cmp(&key(a.0)));
}

/// What a desk column shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Account,
    Currency,
    Exchange,
    Model,
    Health,
    MmRatio,
    Bar,
    Equity,
    EquityUsd,
    Im,
    Mm,
    Headroom,
    Delta,
    Gamma,
    Vega,
    Theta,
    Stress,
    LiqDown,
    LiqUp,
    Var,
    LocalExch,
    Age,
}

const COLUMNS: [Column<Col>; 22] = [
    col(Col::Account, "account", 20, 1),
    col(Col::Currency, "ccy", 4, 3),
    col(Col::Exchange, "exch", 7, 6),
    col(Col::Model, "model", 10, 5),
    col(Col::Health, "health", 11, 1),
    col(Col::MmRatio, "mm_ratio", 8, 1),
    col(Col::Bar, "0──50──100%", 11, 4),
    col(Col::Equity, "equity", 9, 2),
    col(Col::EquityUsd, "equity $", 11, 3),
    col(Col::Im, "IM", 9, 4),
    col(Col::Mm, "MM", 9, 2),
    col(Col::Headroom, "headroom", 9, 3),
    col(Col::Delta, "delta", 8, 4),
    col(Col::Gamma, "gamma", 9, 6),
    col(Col::Vega, "vega", 8, 5),
    col(Col::Theta, "theta", 8, 6),
    col(Col::Stress, "stress P&L", 10, 5),
    col(Col::LiqDown, "liq down", 8, 2),
    col(Col::LiqUp, "liq up", 7, 4),
    col(Col::Var, "VaR99 $", 8, 5),
    col(Col::LocalExch, "local-exch", 10, 5),
    col(Col::Age, "age", 6, 2),
];

/// mm_ratio as a bar of ten cells, each 10 % (full at 100 % and above).
fn bar(ratio: Option<f64>) -> String {
    let Some(r) = ratio.filter(|r| r.is_finite()) else {
        return "··········".into();
    };
    let full = ((r * 10.0).round().clamp(0.0, 10.0)) as usize;
    format!("{}{}", "█".repeat(full), "·".repeat(10 - full))
}

/// `var`: the account's HS VaR 99 % in USD, once computed.
fn cell_text(
    c: Col,
    v: &AccountSnapshot,
    h: Health,
    d: Option<&DeskFigures>,
    var: Option<f64>,
) -> String {
    if let Some(text) = v.cross.as_ref().and_then(|x| cross_cell(c, v, x)) {
        return text;
    }
    let r = &v.risk;
    let usd = |x: f64| v.usd_per_unit.map_or("—".into(), |u| compact(x * u));
    match c {
        Col::Account => v.label.clone(),
        Col::Currency => v.currency.clone(),
        Col::Exchange => v.exchange_name.to_string(),
        Col::Model => v.model.clone(),
        Col::Health => health_text(h).into(),
        Col::MmRatio => pct(v.judged_mm_ratio()),
        Col::Bar => bar(v.judged_mm_ratio()),
        Col::Equity => num(r.equity, 4),
        Col::EquityUsd => usd(r.equity),
        Col::Im => num(r.margin.initial_margin, 4),
        Col::Mm => num(r.margin.maintenance_margin, 4),
        Col::Headroom => num(r.headroom, 4),
        // Several indices: their coin deltas do not add up; USD does.
        Col::Delta if v.greeks_by_index.len() > 1 => format!("${}", compact(v.greeks.delta_usd)),
        Col::Delta => num(v.greeks.delta_total, 3),
        Col::Gamma => num(v.greeks.gamma, 6),
        Col::Vega => num(v.greeks.vega, 0),
        Col::Theta => num(v.greeks.theta, 0),
        Col::Stress => d
            .and_then(|d| d.worst_stress.as_ref())
            .map_or("…".into(), |(_, p)| num(*p, 3)),
        Col::LiqDown => d.map_or("…".into(), |d| move_pct(d.liquidation.down_move)),
        Col::LiqUp => d.map_or("…".into(), |d| move_pct(d.liquidation.up_move)),
        Col::Var => var.map_or("…".into(), compact),
        Col::LocalExch => v.exchange.maintenance_margin.map_or("—".into(), |x| {
            format!("{:+.4}", r.margin.maintenance_margin - x)
        }),
        Col::Age => v
            .data_age_ms
            .map_or("n/a".into(), |a| format!("{:.1}s", a as f64 / 1000.0)),
    }
}

/// The cells where a cross account's row shows its totals in USD rather
/// than its primary wallet's figures (None: the wallet's cell).
fn cross_cell(c: Col, v: &AccountSnapshot, x: &CrossView) -> Option<String> {
    let usd = |n: f64| Some(if x.complete { num(n, 0) } else { "n/a".into() });
    // Local totals incomplete: the exchange's figures, marked "ex".
    if let (false, Some(t)) = (x.complete, x.exchange) {
        let ex = |n: f64| Some(format!("{}ex", num(n, 0)));
        match c {
            Col::MmRatio => return Some(format!("{}ex", pct(v.judged_mm_ratio()))),
            Col::Equity => return ex(t.equity),
            Col::Im => return ex(t.initial_margin),
            Col::Mm => return ex(t.maintenance_margin),
            Col::Headroom => return ex(t.margin_balance - t.maintenance_margin),
            _ => {}
        }
    }
    match c {
        Col::Currency => Some("USD".into()),
        Col::Model => Some(v.model.replace("deribit_", "cross_")),
        Col::Equity => usd(x.equity_usd),
        Col::EquityUsd => Some(compact(x.equity_usd)),
        Col::Im => usd(x.initial_margin_usd),
        Col::Mm => usd(x.maintenance_margin_usd),
        Col::Headroom => usd(x.margin_balance_usd - x.maintenance_margin_usd),
        Col::LocalExch => Some(v.exchange.totals_usd.map_or("—".into(), |t| {
            format!("{:+.0}", x.maintenance_margin_usd - t.maintenance_margin)
        })),
        _ => None,
    }
}

/// Sums over some accounts of one currency (a group's subtotal row).
fn subtotal(ccy: &str, accounts: &[&AccountSnapshot], cols: &[Column<Col>]) -> Vec<String> {
    let sum = |f: &dyn Fn(&AccountSnapshot) -> f64| accounts.iter().map(|v| f(v)).sum::<f64>();
    let usd = |f: &dyn Fn(&AccountSnapshot) -> f64| {
        accounts
            .iter()
            .map(|v| v.usd_per_unit.map_or(0.0, |u| f(v) * u))
            .sum::<f64>()
    };
    cols.iter()
        .map(|c| match c.id {
            Col::Account => format!("Σ {ccy} ({} accounts)", accounts.len()),
            Col::Currency => ccy.to_string(),
            Col::Equity => num(sum(&|v| v.risk.equity), 4),
            Col::EquityUsd => compact(usd(&|v| v.risk.equity)),
            Col::Im => num(sum(&|v| v.risk.margin.initial_margin), 4),
            Col::Mm => num(sum(&|v| v.risk.margin.maintenance_margin), 4),
            Col::Headroom => num(sum(&|v| v.risk.headroom), 4),
            // Deltas on different coins add up only in USD.
            Col::Delta if several_indices(accounts) => {
                format!("${}", compact(sum(&|v| v.greeks.delta_usd)))
            }
            Col::Delta => num(sum(&|v| v.greeks.delta_total), 3),
            Col::Gamma => num(sum(&|v| v.greeks.gamma), 6),
            Col::Vega => num(sum(&|v| v.greeks.vega), 0),
            Col::Theta => num(sum(&|v| v.greeks.theta), 0),
            _ => String::new(),
        })
        .collect()
}

/// True when the accounts' positions lie on more than one index.
fn several_indices(accounts: &[&AccountSnapshot]) -> bool {
    let mut names = accounts
        .iter()
        .flat_map(|v| v.greeks_by_index.iter().map(|g| &g.index_name));
    let first = names.next();
    names.any(|n| Some(n) != first)
}

/// The totals line: every listed account in USD, and the worst one.
fn totals(list: &[(&AccountSnapshot, Health)]) -> String {
    let usd = |f: &dyn Fn((f64, f64, f64)) -> f64| {
        list.iter()
            .filter_map(|(v, _)| v.usd_figures().map(f))
            .sum::<f64>()
    };
    let stale = list.iter().filter(|(v, _)| v.stale).count();
    let alarm = list
        .iter()
        .filter(|(_, h)| matches!(h, Health::Critical | Health::Liquidation))
        .count();
    format!(
        " total {} accounts in USD: equity {}  MM {}  headroom {}  vega {}/pt │ {alarm} critical or worse │ {stale} stale ",
        list.len(),
        compact(usd(&|(equity, _, _)| equity)),
        compact(usd(&|(_, mm, _)| mm)),
        compact(usd(&|(_, _, headroom)| headroom)),
        compact(list.iter().map(|(v, _)| v.greeks.vega).sum()),
    )
}

/// A line of the desk table.
#[derive(Clone, Copy, Debug, PartialEq)]
enum DeskLine {
    /// The subtotal of the group whose first account is this row.
    Subtotal(usize),
    Account(usize),
}

/// The first line shown: the selected line stays in view, the view moves
/// as little as possible, and a group's subtotal stays above its first row.
fn scroll(previous: usize, selected: usize, visible: usize, lines: &[DeskLine]) -> usize {
    let mut offset = previous.min(selected);
    if selected >= offset + visible {
        offset = selected + 1 - visible;
    }
    if offset == selected && offset > 0 && matches!(lines[offset - 1], DeskLine::Subtotal(_)) {
        offset -= 1;
    }
    offset.min(lines.len().saturating_sub(visible))
}

/// Where everything of the desk goes in `area`: computed the same way for
/// drawing and for keys and clicks, so that both see the same rows.
struct Placed<'a> {
    list: Vec<(&'a AccountSnapshot, Health)>,
    /// The selected account's row in `list`.
    row: Option<usize>,
    lines: Vec<DeskLine>,
    selected_line: usize,
    offset: usize,
    /// Rows of the table on screen.
    visible: usize,
    table: Rect,
    note: Option<(String, Rect)>,
    totals: Rect,
}

fn place<'a>(area: Rect, st: &State, ctx: &Ctx<'a>) -> Placed<'a> {
    let list = rows(st, ctx);
    let found = (st.selected.as_ref())
        .filter(|_| st.pinned)
        .and_then(|k| list.iter().position(|(v, _)| v.is(k)));
    let row = (!list.is_empty()).then(|| found.unwrap_or(st.last_row.min(list.len() - 1)));
    // The selected account's trouble in words, on a line of its own.
    let note = row.and_then(|i| trouble(list[i].0));
    let [table, note_area, totals] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(u16::from(note.is_some())),
        Constraint::Length(1),
    ])
    .areas(area);
    // Display lines: accounts, each currency's subtotal heading its group.
    let mut lines: Vec<DeskLine> = Vec::with_capacity(list.len() + 4);
    for (i, (v, _)) in list.iter().enumerate() {
        if st.group && (i == 0 || list[i - 1].0.currency != v.currency) {
            lines.push(DeskLine::Subtotal(i));
        }
        lines.push(DeskLine::Account(i));
    }
    let selected_line = (lines.iter())
        .position(|l| Some(*l) == row.map(DeskLine::Account))
        .unwrap_or(0);
    let visible = table.height.saturating_sub(3).max(1) as usize;
    let offset = scroll(st.offset, selected_line, visible, &lines);
    Placed {
        list,
        row,
        lines,
        selected_line,
        offset,
        visible,
        table,
        note: note.map(|n| (n, note_area)),
        totals,
    }
}

impl State {
    /// The selected account's row in the list as it is now.
    pub fn row(&self, area: Rect, ctx: &Ctx) -> Option<usize> {
        place(area, self, ctx).row
    }

    /// The account under the cursor (the one Enter opens).
    pub fn under_cursor(&self, area: Rect, ctx: &Ctx) -> Option<AccountKey> {
        let p = place(area, self, ctx);
        p.row.map(|i| p.list[i].0.key())
    }

    /// Keep the selection on an account that is listed: its own when it
    /// still is, else the one now on its row.
    pub fn settle(&mut self, area: Rect, ctx: &Ctx) {
        let p = place(area, self, ctx);
        self.selected = p.row.map(|i| p.list[i].0.key());
        self.last_row = p.row.unwrap_or(0);
        self.offset = p.offset;
    }

    /// A key the desk handles (moves and orders); false: not the desk's.
    pub fn act(&mut self, action: Action, area: Rect, ctx: &Ctx) -> bool {
        match action {
            _ if action.moves_cursor() => {}
            // A new order keeps the selected account, wherever it lands.
            Action::Sort => self.sort = self.sort.step(true),
            Action::SortBack => self.sort = self.sort.step(false),
            Action::Group => self.group = !self.group,
            _ => return false,
        }
        let p = place(area, self, ctx);
        if let (Some(at), true) = (p.row, action.moves_cursor()) {
            // A page is the rows on screen.
            let mut cursor = Cursor::default();
            cursor.set(at);
            cursor.step(action, p.list.len(), p.visible);
            let to = cursor.at(p.list.len());
            self.selected = Some(p.list[to].0.key());
            self.last_row = to;
            self.pinned = true;
        }
        self.settle(area, ctx);
        true
    }

    /// The filter changed: the first row is selected.
    pub fn filtered(&mut self, area: Rect, ctx: &Ctx) {
        self.selected = None;
        self.last_row = 0;
        self.pinned = false;
        self.settle(area, ctx);
    }

    /// A click on screen row `y`: the account on that row, and whether it
    /// was already the selected one (a second click opens it).
    pub fn click(&mut self, y: u16, area: Rect, ctx: &Ctx) -> Option<(AccountKey, bool)> {
        let p = place(area, self, ctx);
        let top = p.table.y.saturating_add(2);
        let on_screen = y.checked_sub(top)? as usize;
        let window = &p.lines[p.offset..p.lines.len().min(p.offset + p.visible)];
        let DeskLine::Account(i) = *window.get(on_screen)? else {
            return None;
        };
        let again = p.row == Some(i);
        let key = p.list[i].0.key();
        self.selected = Some(key.clone());
        self.last_row = i;
        self.pinned = true;
        self.settle(area, ctx);
        Some((key, again))
    }
}

fn account_row<'a>(
    (v, h): &(&AccountSnapshot, Health),
    cols: &[Column<Col>],
    ctx: &Ctx,
    theme: &Theme,
) -> Row<'a> {
    let d = ctx.results.desk.get(&v.key());
    let var = ctx.results.var_of(v, 0).map(|f| f.usd.var_99);
    let style = if v.stale { theme.stale } else { theme.text };
    Row::new(cols.iter().map(|c| {
        let cell = Cell::from(cell_text(c.id, v, *h, d, var));
        match c.id {
            Col::Health | Col::Bar => cell.style(health_style(*h, theme)),
            _ => cell,
        }
    }))
    .style(style)
}

pub fn render(f: &mut Frame, area: Rect, st: &State, ctx: &Ctx) {
    let theme = ctx.theme;
    let p = place(area, st, ctx);
    // The column the desk is sorted by is shown whatever the width.
    let mut columns = COLUMNS;
    for c in columns
        .iter_mut()
        .filter(|c| c.id == Col::Var && st.sort == SortBy::Var)
    {
        c.priority = 1;
    }
    let cols = fitting(&columns, area.width.saturating_sub(2));
    let header = Row::new(cols.iter().map(|c| Cell::from(c.header))).style(theme.header);
    // Only the rows on screen are built: 500 accounts cost what 40 do.
    let window = &p.lines[p.offset..p.lines.len().min(p.offset + p.visible)];
    let body: Vec<Row> = window
        .iter()
        .map(|line| match *line {
            DeskLine::Subtotal(first) => {
                let ccy = &p.list[first].0.currency;
                let members: Vec<&AccountSnapshot> = (p.list.iter())
                    .filter(|(o, _)| &o.currency == ccy)
                    .map(|(o, _)| *o)
                    .collect();
                Row::new(subtotal(ccy, &members, &cols)).style(theme.header)
            }
            DeskLine::Account(i) => account_row(&p.list[i], &cols, ctx, theme),
        })
        .collect();
    // Room to spare goes to the account names first (long subaccount labels).
    let used: u16 = cols.iter().map(|c| c.width + 1).sum();
    let spare = area.width.saturating_sub(2 + used).min(12);
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|c| match c.id {
            Col::Account => Constraint::Length(c.width + spare),
            _ => Constraint::Length(c.width),
        })
        .collect();
    let title = format!(
        " desk: {} accounts{} ",
        p.list.len(),
        if st.group { ", by currency" } else { "" }
    );
    let table = Table::new(body, widths)
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(title))
        .row_highlight_style(theme.selected);
    let selected_row = p.row.map(|_| p.selected_line - p.offset);
    let mut state = TableState::default().with_selected(selected_row);
    f.render_stateful_widget(table, p.table, &mut state);
    if let Some((note, at)) = p.note {
        f.render_widget(Paragraph::new(note).style(theme.stale), at);
    }
    f.render_widget(
        Paragraph::new(totals(&p.list)).style(theme.header),
        p.totals,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_a_cell_per_ten_percent() {
        assert_eq!(bar(Some(0.0)), "··········");
        assert_eq!(bar(Some(0.46)), "█████·····");
        assert_eq!(bar(Some(3.0)), "██████████");
        assert_eq!(bar(None), "··········");
    }

    #[test]
    fn every_column_header_is_distinct() {
        for (i, a) in COLUMNS.iter().enumerate() {
            for b in &COLUMNS[i + 1..] {
                assert!(a.header != b.header && a.id != b.id, "{}", a.header);
            }
        }
    }
}

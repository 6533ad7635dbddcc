//! The desk: one row per account, worst first; columns drop by priority
//! when narrow; optional grouping by currency with subtotals; a totals
//! line in USD.

use super::{health, health_style, health_text, move_pct, num, pct, sort_rows};
use crate::engine::live::{AccountView, CrossView, Snapshot};
use crate::report::{Health, Thresholds};
use crate::ui::analysis::DeskFigures;
use crate::ui::app::App;
use crate::ui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

/// The accounts the desk lists, filtered and sorted as the app says
/// (grouped by currency first when asked).
pub fn rows<'a>(snap: &'a Snapshot, app: &App, t: &Thresholds) -> Vec<(&'a AccountView, Health)> {
    let filter = app.filter.to_lowercase();
    let mut rows: Vec<(&AccountView, Health)> = snap
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
        .map(|v| (v, health(v, t)))
        .collect();
    sort_rows(&mut rows, app);
    if app.group {
        // Stable: the chosen order holds within each currency.
        rows.sort_by(|a, b| a.0.currency.cmp(&b.0.currency));
    }
    rows
}

/// A column of the desk: header, width, priority (1 = always shown).
struct Column {
    name: &'static str,
    width: u16,
    priority: u8,
}

const fn col(name: &'static str, width: u16, priority: u8) -> Column {
    Column {
        name,
        width,
        priority,
    }
}

const COLUMNS: [Column; 21] = [
    col("account", 20, 1),
    col("ccy", 4, 3),
    col("exch", 7, 6),
    col("model", 10, 5),
    col("health", 11, 1),
    col("mm_ratio", 8, 1),
    col("0──50──100%", 11, 4),
    col("equity", 9, 2),
    col("equity $", 11, 3),
    col("IM", 9, 4),
    col("MM", 9, 2),
    col("headroom", 9, 3),
    col("delta", 8, 4),
    col("gamma", 9, 6),
    col("vega", 8, 5),
    col("theta", 8, 6),
    col("stress P&L", 10, 5),
    col("liq down", 8, 2),
    col("liq up", 7, 4),
    col("local-exch", 10, 5),
    col("age", 6, 2),
];

/// Columns that fit `width`, highest priority first, in display order.
fn visible_columns(width: u16) -> Vec<usize> {
    let mut shown: Vec<usize> = Vec::new();
    let mut used = 0u16;
    for p in 1..=6 {
        for (i, c) in COLUMNS.iter().enumerate().filter(|(_, c)| c.priority == p) {
            if used + c.width < width {
                used += c.width + 1;
                shown.push(i);
            }
        }
    }
    shown.sort();
    shown
}

/// mm_ratio as a bar of ten cells, each 10 % (full at 100 % and above).
fn bar(ratio: Option<f64>) -> String {
    let Some(r) = ratio.filter(|r| r.is_finite()) else {
        return "··········".into();
    };
    let full = ((r * 10.0).round().clamp(0.0, 10.0)) as usize;
    format!("{}{}", "█".repeat(full), "·".repeat(10 - full))
}

/// Compact money: 12.3k, 4.56M.
fn compact(v: f64) -> String {
    let a = v.abs();
    match a {
        _ if !v.is_finite() => "n/a".into(),
        _ if a >= 1e9 => format!("{:.2}B", v / 1e9),
        _ if a >= 1e6 => format!("{:.2}M", v / 1e6),
        _ if a >= 1e4 => format!("{:.1}k", v / 1e3),
        _ => format!("{v:.0}"),
    }
}

fn cell_text(col: usize, v: &AccountView, h: Health, d: Option<&DeskFigures>) -> String {
    if let Some(text) = v.cross.as_ref().and_then(|c| cross_cell(col, v, c)) {
        return text;
    }
    let r = &v.risk;
    let usd = |x: f64| v.usd_per_unit.map_or("—".into(), |u| compact(x * u));
    match COLUMNS[col].name {
        "account" => v.label.clone(),
        "ccy" => v.currency.clone(),
        "exch" => v.exchange_name.to_string(),
        "model" => v.model.clone(),
        "health" => health_text(h).into(),
        "mm_ratio" => pct(v.judged_mm_ratio()),
        "0──50──100%" => bar(v.judged_mm_ratio()),
        "equity" => num(r.equity, 4),
        "equity $" => usd(r.equity),
        "IM" => num(r.margin.initial_margin, 4),
        "MM" => num(r.margin.maintenance_margin, 4),
        "headroom" => num(r.headroom, 4),
        // Several indices: their coin deltas do not add up; USD does.
        "delta" if v.greeks_by_index.len() > 1 => format!("${}", compact(v.greeks.delta_usd)),
        "delta" => num(v.greeks.delta_total, 3),
        "gamma" => num(v.greeks.gamma, 6),
        "vega" => num(v.greeks.vega, 0),
        "theta" => num(v.greeks.theta, 0),
        "stress P&L" => d
            .and_then(|d| d.worst_stress.as_ref())
            .map_or("…".into(), |(_, p)| num(*p, 3)),
        "liq down" => d.map_or("…".into(), |d| move_pct(d.liquidation.down_move)),
        "liq up" => d.map_or("…".into(), |d| move_pct(d.liquidation.up_move)),
        "local-exch" => v.exchange.maintenance_margin.map_or("—".into(), |x| {
            format!("{:+.4}", r.margin.maintenance_margin - x)
        }),
        "age" => v
            .data_age_ms
            .map_or("n/a".into(), |a| format!("{:.1}s", a as f64 / 1000.0)),
        _ => String::new(),
    }
}

/// The cells where a cross account's row shows its totals in USD rather
/// than its primary wallet's figures (None: the wallet's cell).
fn cross_cell(col: usize, v: &AccountView, c: &CrossView) -> Option<String> {
    let usd = |x: f64| Some(if c.complete { num(x, 0) } else { "n/a".into() });
    // Local totals incomplete: the exchange's figures, marked "ex".
    if let (false, Some(t)) = (c.complete, c.exchange) {
        let ex = |x: f64| Some(format!("{}ex", num(x, 0)));
        match COLUMNS[col].name {
            "mm_ratio" => return Some(format!("{}ex", pct(v.judged_mm_ratio()))),
            "equity" => return ex(t.equity),
            "IM" => return ex(t.initial_margin),
            "MM" => return ex(t.maintenance_margin),
            "headroom" => return ex(t.margin_balance - t.maintenance_margin),
            _ => {}
        }
    }
    match COLUMNS[col].name {
        "ccy" => Some("USD".into()),
        "model" => Some(v.model.replace("deribit_", "cross_")),
        "equity" => usd(c.equity_usd),
        "equity $" => Some(compact(c.equity_usd)),
        "IM" => usd(c.initial_margin_usd),
        "MM" => usd(c.maintenance_margin_usd),
        "headroom" => usd(c.margin_balance_usd - c.maintenance_margin_usd),
        "local-exch" => Some(v.exchange.totals_usd.map_or("—".into(), |t| {
            format!("{:+.0}", c.maintenance_margin_usd - t.maintenance_margin)
        })),
        _ => None,
    }
}

/// Sums over some accounts of one currency (a group's subtotal row).
fn subtotal(ccy: &str, accounts: &[&AccountView], cols: &[usize]) -> Vec<String> {
    let sum = |f: &dyn Fn(&AccountView) -> f64| accounts.iter().map(|v| f(v)).sum::<f64>();
    let usd = |f: &dyn Fn(&AccountView) -> f64| {
        accounts
            .iter()
            .map(|v| v.usd_per_unit.map_or(0.0, |u| f(v) * u))
            .sum::<f64>()
    };
    cols.iter()
        .map(|&c| match COLUMNS[c].name {
            "account" => format!("Σ {ccy} ({} accounts)", accounts.len()),
            "ccy" => ccy.to_string(),
            "equity" => num(sum(&|v| v.risk.equity), 4),
            "equity $" => compact(usd(&|v| v.risk.equity)),
            "IM" => num(sum(&|v| v.risk.margin.initial_margin), 4),
            "MM" => num(sum(&|v| v.risk.margin.maintenance_margin), 4),
            "headroom" => num(sum(&|v| v.risk.headroom), 4),
            // Deltas on different coins add up only in USD.
            "delta" if several_indices(accounts) => {
                format!("${}", compact(sum(&|v| v.greeks.delta_usd)))
            }
            "delta" => num(sum(&|v| v.greeks.delta_total), 3),
            "gamma" => num(sum(&|v| v.greeks.gamma), 6),
            "vega" => num(sum(&|v| v.greeks.vega), 0),
            "theta" => num(sum(&|v| v.greeks.theta), 0),
            _ => String::new(),
        })
        .collect()
}

/// True when the accounts' positions lie on more than one index.
fn several_indices(accounts: &[&AccountView]) -> bool {
    let mut names = accounts
        .iter()
        .flat_map(|v| v.greeks_by_index.iter().map(|g| &g.index_name));
    let first = names.next();
    names.any(|n| Some(n) != first)
}

/// The totals line: every listed account in USD, and the worst one.
fn totals(list: &[(&AccountView, Health)]) -> String {
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

fn account_row<'a>(
    (v, h): &(&AccountView, Health),
    cols: &[usize],
    app: &App,
    theme: &Theme,
) -> Row<'a> {
    let key = (v.label.clone(), v.currency.clone());
    let d = app.desk.get(&key);
    let style = if v.stale { theme.stale } else { theme.text };
    Row::new(cols.iter().map(|&c| {
        let cell = Cell::from(cell_text(c, v, *h, d));
        match COLUMNS[c].name {
            "health" | "0──50──100%" => cell.style(health_style(*h, theme)),
            _ => cell,
        }
    }))
    .style(style)
}

pub fn draw(
    f: &mut Frame,
    area: Rect,
    app: &mut App,
    snap: &Snapshot,
    theme: &Theme,
    t: &Thresholds,
) {
    let list = rows(snap, app, t);
    app.rows = list.len();
    app.page = area.height.saturating_sub(4).max(1) as usize;
    app.selected = app.selected.min(list.len().saturating_sub(1));
    // The selected account's trouble in words, on a line of its own.
    let note = list.get(app.selected).and_then(|(v, _)| super::trouble(v));
    let [table_area, note_area, totals_area] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(u16::from(note.is_some())),
        Constraint::Length(1),
    ])
    .areas(area);
    let cols = visible_columns(area.width.saturating_sub(2));
    let header = Row::new(cols.iter().map(|&c| Cell::from(COLUMNS[c].name))).style(theme.header);
    // Display lines: accounts, each currency's subtotal heading its group.
    let mut lines: Vec<DeskLine> = Vec::with_capacity(list.len() + 4);
    for (i, (v, _)) in list.iter().enumerate() {
        if app.group && (i == 0 || list[i - 1].0.currency != v.currency) {
            lines.push(DeskLine::Subtotal(i));
        }
        lines.push(DeskLine::Account(i));
    }
    let selected_line = lines
        .iter()
        .position(|l| *l == DeskLine::Account(app.selected))
        .unwrap_or(0);
    let visible = table_area.height.saturating_sub(3).max(1) as usize;
    let offset = scroll(app.scroll, selected_line, visible, &lines);
    app.scroll = offset;
    // Only the rows on screen are built: 500 accounts cost what 40 do.
    let window = &lines[offset..lines.len().min(offset + visible)];
    let body: Vec<Row> = window
        .iter()
        .map(|line| match *line {
            DeskLine::Subtotal(first) => {
                let ccy = &list[first].0.currency;
                let members: Vec<&AccountView> = list
                    .iter()
                    .filter(|(o, _)| &o.currency == ccy)
                    .map(|(o, _)| *o)
                    .collect();
                Row::new(subtotal(ccy, &members, &cols)).style(theme.header)
            }
            DeskLine::Account(i) => account_row(&list[i], &cols, app, theme),
        })
        .collect();
    // Where rows sit on screen, for mouse clicks.
    app.table_top = table_area.y.saturating_add(2);
    app.table_rows = window
        .iter()
        .map(|l| match l {
            DeskLine::Account(i) => Some(*i),
            DeskLine::Subtotal(_) => None,
        })
        .collect();
    // Room to spare goes to the account names first (long subaccount labels).
    let used: u16 = cols.iter().map(|&c| COLUMNS[c].width + 1).sum();
    let spare = area.width.saturating_sub(2 + used).min(12);
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|&c| match COLUMNS[c].name {
            "account" => Constraint::Length(COLUMNS[c].width + spare),
            _ => Constraint::Length(COLUMNS[c].width),
        })
        .collect();
    let title = format!(
        " desk: {} accounts{} ",
        list.len(),
        if app.group { ", by currency" } else { "" }
    );
    let table = Table::new(body, widths)
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(title))
        .row_highlight_style(theme.selected);
    let selected_row = (!list.is_empty()).then_some(selected_line - offset);
    let mut state = TableState::default().with_selected(selected_row);
    f.render_stateful_widget(table, table_area, &mut state);
    if let Some(note) = note {
        f.render_widget(Paragraph::new(note).style(theme.stale), note_area);
    }
    f.render_widget(
        Paragraph::new(totals(&list)).style(theme.header),
        totals_area,
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
    fn compact_money() {
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(-12_345.0), "-12.3k");
        assert_eq!(compact(4_560_000.0), "4.56M");
        assert_eq!(compact(f64::NAN), "n/a");
    }
}

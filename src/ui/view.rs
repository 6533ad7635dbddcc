//! Drawing the screens from a snapshot. Every function takes whatever area
//! it is given, down to zero cells, without panicking.

use super::app::{App, Screen, SortBy, KEYMAP};
use super::theme::Theme;
use crate::engine::live::{AccountView, Snapshot};
use crate::exchange::deribit::client::LinkState;
use crate::report::{Health, Thresholds};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table, TableState};
use ratatui::Frame;

/// The accounts the overview lists, filtered and sorted as the app says.
pub fn rows<'a>(snap: &'a Snapshot, app: &App, t: &Thresholds) -> Vec<(&'a AccountView, Health)> {
    let filter = app.filter.to_lowercase();
    let mut rows: Vec<(&AccountView, Health)> = snap
        .accounts
        .iter()
        .filter(|v| !v.positions.is_empty() || v.risk.balance != 0.0)
        .filter(|v| {
            filter.is_empty()
                || v.label.to_lowercase().contains(&filter)
                || v.model.contains(&filter)
        })
        .map(|v| (v, health(v, t)))
        .collect();
    let ratio = |v: &AccountView| v.risk.mm_ratio.unwrap_or(f64::INFINITY);
    match app.sort {
        SortBy::Health => {
            rows.sort_by(|a, b| b.1.cmp(&a.1).then(ratio(b.0).total_cmp(&ratio(a.0))))
        }
        SortBy::MmRatio => rows.sort_by(|a, b| ratio(b.0).total_cmp(&ratio(a.0))),
        SortBy::Label => rows.sort_by(|a, b| {
            a.0.label
                .cmp(&b.0.label)
                .then(a.0.currency.cmp(&b.0.currency))
        }),
        SortBy::Equity => rows.sort_by(|a, b| b.0.risk.equity.total_cmp(&a.0.risk.equity)),
    }
    rows
}

pub fn health(v: &AccountView, t: &Thresholds) -> Health {
    let mm = v.complete.then_some(v.risk.margin.maintenance_margin);
    Health::of(v.stale, mm, v.risk.mm_ratio.filter(|_| v.complete), t)
}

fn health_style(h: Health, theme: &Theme) -> Style {
    match h {
        Health::Ok => theme.ok,
        Health::Warning => theme.warn,
        Health::Critical | Health::Liquidation => theme.critical,
        Health::Stale | Health::Unknown => theme.stale,
    }
}

/// Draw the whole screen.
pub fn draw(
    f: &mut Frame,
    app: &mut App,
    snap: &Snapshot,
    theme: &Theme,
    t: &Thresholds,
    banner: &str,
) {
    let area = f.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    let [top, main, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    f.render_widget(
        Paragraph::new(Line::from(Span::styled(banner.to_string(), theme.header))),
        top,
    );
    match app.screen {
        Screen::Overview => overview(f, main, app, snap, theme, t),
        Screen::Account => account(f, main, app, snap, theme, t),
        Screen::Matrix => matrix(f, main, app, snap, theme),
        Screen::Help => help(f, main, theme),
    }
    f.render_widget(Paragraph::new(status(app, snap)).style(theme.dim), bottom);
}

fn status(app: &App, snap: &Snapshot) -> Line<'static> {
    let live = snap
        .links
        .values()
        .filter(|l| **l == LinkState::Live)
        .count();
    let down = snap.links.len() - live;
    let mut text = format!(
        " q quit  ? help  / filter  s sort: {}  │ links {live} live{}  │ {} msgs",
        app.sort.label(),
        if down > 0 {
            format!(", {down} DOWN")
        } else {
            String::new()
        },
        snap.messages
    );
    if app.editing_filter || !app.filter.is_empty() {
        text.push_str(&format!(
            "  │ filter: {}{}",
            app.filter,
            if app.editing_filter { "▏" } else { "" }
        ));
    }
    if let Some(w) = snap.warnings.first() {
        text.push_str(&format!("  │ ! {w}"));
    }
    Line::from(text)
}

/// A column of the overview: header, width, priority (1 = always shown).
struct Column {
    name: &'static str,
    width: u16,
    priority: u8,
}

const COLUMNS: [Column; 13] = [
    Column {
        name: "account",
        width: 24,
        priority: 1,
    },
    Column {
        name: "ccy",
        width: 4,
        priority: 3,
    },
    Column {
        name: "model",
        width: 10,
        priority: 4,
    },
    Column {
        name: "health",
        width: 11,
        priority: 1,
    },
    Column {
        name: "mm_ratio",
        width: 8,
        priority: 1,
    },
    Column {
        name: "equity",
        width: 11,
        priority: 2,
    },
    Column {
        name: "MM",
        width: 10,
        priority: 2,
    },
    Column {
        name: "IM",
        width: 10,
        priority: 3,
    },
    Column {
        name: "headroom",
        width: 10,
        priority: 3,
    },
    Column {
        name: "delta",
        width: 9,
        priority: 4,
    },
    Column {
        name: "vega",
        width: 9,
        priority: 5,
    },
    Column {
        name: "local-exch",
        width: 10,
        priority: 5,
    },
    Column {
        name: "age",
        width: 6,
        priority: 2,
    },
];

/// Columns that fit `width`, highest priority first, in display order.
fn visible_columns(width: u16) -> Vec<usize> {
    let mut shown: Vec<usize> = Vec::new();
    let mut used = 0u16;
    for p in 1..=5 {
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

fn num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "n/a".into()
    }
}

fn cell_text(col: usize, v: &AccountView, h: Health) -> String {
    let r = &v.risk;
    match COLUMNS[col].name {
        "account" => v.label.clone(),
        "ccy" => v.currency.clone(),
        "model" => v.model.clone(),
        // The word, not only the colour: state is never shown by colour alone.
        "health" => match h {
            Health::Stale => "◌ STALE".into(),
            Health::Ok => "● OK".into(),
            Health::Warning => "▲ WARNING".into(),
            Health::Critical => "■ CRITICAL".into(),
            Health::Liquidation => "✖ LIQUID.".into(),
            Health::Unknown => "? UNKNOWN".into(),
        },
        "mm_ratio" => r
            .mm_ratio
            .map_or("n/a".into(), |x| format!("{:.1}%", x * 100.0)),
        "equity" => num(r.equity, 4),
        "MM" => num(r.margin.maintenance_margin, 4),
        "IM" => num(r.margin.initial_margin, 4),
        "headroom" => num(r.headroom, 4),
        "delta" => num(v.greeks.delta_total, 3),
        "vega" => num(v.greeks.vega, 1),
        "local-exch" => v.exchange.maintenance_margin.map_or("—".into(), |x| {
            format!("{:+.4}", r.margin.maintenance_margin - x)
        }),
        "age" => v
            .data_age_ms
            .map_or("n/a".into(), |a| format!("{:.1}s", a as f64 / 1000.0)),
        _ => String::new(),
    }
}

fn overview(
    f: &mut Frame,
    area: Rect,
    app: &mut App,
    snap: &Snapshot,
    theme: &Theme,
    t: &Thresholds,
) {
    let list = rows(snap, app, t);
    app.rows = list.len();
    app.page = area.height.saturating_sub(3).max(1) as usize;
    app.selected = app.selected.min(list.len().saturating_sub(1));
    let cols = visible_columns(area.width.saturating_sub(2));
    let header = Row::new(cols.iter().map(|&c| Cell::from(COLUMNS[c].name))).style(theme.header);
    let body: Vec<Row> = list
        .iter()
        .map(|(v, h)| {
            let row_style = if v.stale { theme.stale } else { theme.text };
            Row::new(cols.iter().map(|&c| {
                let text = cell_text(c, v, *h);
                match COLUMNS[c].name {
                    "health" => Cell::from(text).style(health_style(*h, theme)),
                    _ => Cell::from(text),
                }
            }))
            .style(row_style)
        })
        .collect();
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|&c| Constraint::Length(COLUMNS[c].width))
        .collect();
    let title = format!(" desk: {} accounts ", list.len());
    let table = Table::new(body, widths)
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(title))
        .row_highlight_style(theme.selected);
    let mut state = TableState::default().with_selected((!list.is_empty()).then_some(app.selected));
    f.render_stateful_widget(table, area, &mut state);
}

fn account(f: &mut Frame, area: Rect, app: &App, snap: &Snapshot, theme: &Theme, t: &Thresholds) {
    let Some((label, ccy)) = &app.open else {
        f.render_widget(
            Paragraph::new("no account selected: press Esc, pick one, press Enter"),
            area,
        );
        return;
    };
    let Some(v) = snap
        .accounts
        .iter()
        .find(|v| &v.label == label && &v.currency == ccy)
    else {
        f.render_widget(Paragraph::new(format!("{label} {ccy}: no data yet")), area);
        return;
    };
    let h = health(v, t);
    let [summary, trend, positions] = Layout::vertical([
        Constraint::Length(10),
        Constraint::Length(3),
        Constraint::Min(0),
    ])
    .areas(area);
    history(
        f,
        trend,
        app.history.get(&(label.clone(), ccy.clone())),
        theme,
    );
    let r = &v.risk;
    let m = &r.margin;
    let c = &v.currency;
    let stale_note = if v.stale {
        "  — STALE: these numbers are not current"
    } else {
        ""
    };
    let lines = vec![
        Line::from(vec![
            Span::styled(format!("{label} [{c}] {} ", v.model), theme.header),
            Span::styled(cell_text(3, v, h), health_style(h, theme)),
            Span::styled(stale_note, theme.stale),
        ]),
        Line::from(format!(
            "margin balance {} {c}   equity {} {c}   balance {} {c}",
            num(r.margin_balance, 4),
            num(r.equity, 4),
            num(r.balance, 4)
        )),
        Line::from(format!(
            "options value {} {c}   headroom {} {c}",
            num(r.options_value, 4),
            num(r.headroom, 4)
        )),
        Line::from(format!(
            "IM {} {c}   MM {} {c}   mm_ratio {}   im_ratio {}",
            num(m.initial_margin, 4),
            num(m.maintenance_margin, 4),
            r.mm_ratio
                .map_or("n/a".into(), |x| format!("{:.1}%", x * 100.0)),
            r.im_ratio
                .map_or("n/a".into(), |x| format!("{:.1}%", x * 100.0)),
        )),
        Line::from(format!(
            "worst case {}   roll {}   delta shock {}   short option min {}",
            num(m.worst_case, 4),
            num(m.roll_shock, 4),
            num(m.delta_shock, 4),
            num(m.short_option_minimum, 4),
        )),
        Line::from(match m.worst_scenario.as_ref() {
            Some(w) => format!(
                "worst scenario: {} {:+.1}% vol {} ({} table)",
                w.index_name,
                w.price_move * 100.0,
                w.vol_move,
                w.table
            ),
            None => "worst scenario: —".into(),
        }),
        Line::from(format!(
            "exchange says: IM {}  MM {}",
            v.exchange.initial_margin.map_or("—".into(), |x| num(x, 4)),
            v.exchange
                .maintenance_margin
                .map_or("—".into(), |x| num(x, 4))
        )),
        Line::from(
            r.warnings
                .first()
                .map_or(String::new(), |w| format!("! {w}")),
        ),
    ];
    let style = if v.stale { theme.stale } else { theme.text };
    f.render_widget(
        Paragraph::new(lines)
            .style(style)
            .block(Block::default().borders(Borders::ALL).title(" account ")),
        summary,
    );
    // Narrow terminals keep instrument, size, delta and vega.
    let all = positions.width >= 100;
    let keep = |k: usize| all || matches!(k, 0 | 1 | 3 | 5);
    let names = [
        "instrument",
        "size",
        "mark",
        "delta",
        "gamma",
        "vega",
        "theta",
    ];
    let header = Row::new(
        names
            .iter()
            .enumerate()
            .filter(|(k, _)| keep(*k))
            .map(|(_, n)| *n),
    )
    .style(theme.header);
    let opt = |v: Option<f64>, d: usize| v.map_or("—".to_string(), |x| num(x, d));
    let body: Vec<Row> = v
        .legs
        .iter()
        .map(|l| {
            let cells = [
                l.instrument.clone(),
                num(l.size, 2),
                opt(l.mark, 4),
                opt(l.delta, 3),
                opt(l.gamma, 6),
                opt(l.vega, 1),
                opt(l.theta, 1),
            ];
            Row::new(
                cells
                    .into_iter()
                    .enumerate()
                    .filter(|(k, _)| keep(*k))
                    .map(|(_, c)| c),
            )
        })
        .collect();
    let title = format!(
        " positions ({})   delta {} {c}   vega {} USD   theta {} USD/day ",
        v.positions.len(),
        num(v.greeks.delta_total, 3),
        num(v.greeks.vega, 0),
        num(v.greeks.theta, 0)
    );
    let all_widths = [26, 12, 12, 9, 10, 9, 9];
    let widths: Vec<Constraint> = all_widths
        .iter()
        .enumerate()
        .filter(|(k, _)| keep(*k))
        .map(|(_, w)| Constraint::Length(*w))
        .collect();
    let table = Table::new(body, widths)
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(title));
    f.render_widget(table, positions);
}

/// mm_ratio and equity since start as two sparklines side by side.
fn history(f: &mut Frame, area: Rect, h: Option<&super::app::History>, theme: &Theme) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let points = h.map_or(0, |h| h.len());
    // Sparklines take integers: scale each series to its own range.
    let series = |pick: fn(&(f64, f64)) -> f64| -> (Vec<u64>, f64, f64) {
        let values: Vec<f64> = h.map(|h| h.iter().map(pick).collect()).unwrap_or_default();
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, u), v| {
                (l.min(*v), u.max(*v))
            });
        let span = (hi - lo).max(1e-12);
        (
            values
                .iter()
                .map(|v| ((v - lo) / span * 100.0) as u64 + 1)
                .collect(),
            lo,
            hi,
        )
    };
    let (mm, mm_lo, mm_hi) = series(|p| p.0 * 100.0);
    let (eq, eq_lo, eq_hi) = series(|p| p.1);
    let range = |lo: f64, hi: f64, d: usize| {
        if lo.is_finite() {
            format!("{lo:.d$} – {hi:.d$}")
        } else {
            "—".into()
        }
    };
    let mm_title = format!(" mm_ratio % {} ({points} s) ", range(mm_lo, mm_hi, 1));
    let eq_title = format!(" equity {} ", range(eq_lo, eq_hi, 4));
    let tail =
        |v: &[u64], w: u16| v[v.len().saturating_sub(w.saturating_sub(2) as usize)..].to_vec();
    let mm_data = tail(&mm, left.width);
    let eq_data = tail(&eq, right.width);
    let block = |title: String| Block::default().borders(Borders::ALL).title(title);
    f.render_widget(
        Sparkline::default()
            .data(&mm_data)
            .style(theme.warn)
            .block(block(mm_title)),
        left,
    );
    f.render_widget(
        Sparkline::default()
            .data(&eq_data)
            .style(theme.accent)
            .block(block(eq_title)),
        right,
    );
}

/// The account's risk matrix as a heatmap of P&L, the worst cell marked.
fn matrix(f: &mut Frame, area: Rect, app: &App, snap: &Snapshot, theme: &Theme) {
    let found = app.open.as_ref().and_then(|(label, ccy)| {
        snap.accounts
            .iter()
            .find(|v| &v.label == label && &v.currency == ccy)
    });
    let Some(v) = found else {
        f.render_widget(
            Paragraph::new("no account selected: press Esc, pick one, press m"),
            area,
        );
        return;
    };
    let Some(m) = &v.matrix else {
        let text = format!(
            "{} [{}] uses {}: standard margin has no risk matrix",
            v.label, v.currency, v.model
        );
        f.render_widget(
            Paragraph::new(text).block(Block::default().borders(Borders::ALL)),
            area,
        );
        return;
    };
    let scale = m
        .pnl
        .iter()
        .flatten()
        .flatten()
        .fold(0.0_f64, |a, x| a.max(x.abs()))
        .max(1e-12);
    let mut header = vec![Cell::from("move")];
    header.extend(m.vol_moves.iter().map(|vm| Cell::from(format!("vol {vm}"))));
    let body: Vec<Row> = m
        .price_moves
        .iter()
        .zip(&m.pnl)
        .enumerate()
        .map(|(i, (mv, row))| {
            let mut cells = vec![Cell::from(format!("{:+.1}%", mv * 100.0))];
            cells.extend(row.iter().enumerate().map(|(j, p)| {
                let worst = m.worst == Some((i, j));
                let text = p.map_or("—".into(), |x| {
                    format!("{}{}", if worst { "▼" } else { " " }, num(x, 4))
                });
                // Colour by sign and size; the sign is in the number too.
                let style = match p {
                    Some(x) if *x < 0.0 && x.abs() > 0.5 * scale => theme.critical,
                    Some(x) if *x < 0.0 => theme.loss,
                    Some(x) if *x > 0.0 => theme.profit,
                    _ => theme.dim,
                };
                let style = if worst {
                    style.add_modifier(Modifier::REVERSED)
                } else {
                    style
                };
                Cell::from(text).style(style)
            }));
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(8)];
    widths.extend(m.vol_moves.iter().map(|_| Constraint::Length(13)));
    let title = format!(
        " risk matrix {} [{}] {} on {}: P&L in {} before aggregation, ▼ worst ",
        v.label, v.currency, v.model, m.index_name, v.currency
    );
    let table = Table::new(body, widths)
        .header(Row::new(header).style(theme.header))
        .block(Block::default().borders(Borders::ALL).title(title));
    f.render_widget(table, area);
}

fn help(f: &mut Frame, area: Rect, theme: &Theme) {
    let header = Row::new(["key", "does"]).style(theme.header);
    let body: Vec<Row> = KEYMAP
        .iter()
        .map(|(k, _, d)| Row::new([k.to_string(), d.to_string()]))
        .collect();
    let table = Table::new(body, [Constraint::Length(12), Constraint::Min(10)])
        .header(header)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" help — Esc or ? to go back "),
        );
    f.render_widget(table, area);
}

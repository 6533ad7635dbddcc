//! Drawing the screens from a snapshot (and the open account's analysis).
//! Every function takes whatever area it is given, down to zero cells,
//! without panicking.

mod account;
mod alerts;
mod matrix;
mod overview;
mod stress;
mod whatif;

use super::app::{App, Prompt, Screen, SortBy};
use super::theme::Theme;
use crate::engine::live::{AccountView, Snapshot};
use crate::exchange::deribit::client::LinkState;
use crate::model::instrument::Settlement;
use crate::model::Instrument;
use crate::report::{Health, Thresholds};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use ratatui::Frame;

pub use overview::rows;

pub fn health(v: &AccountView, t: &Thresholds) -> Health {
    v.health(t)
}

fn health_style(h: Health, theme: &Theme) -> Style {
    match h {
        Health::Ok => theme.ok,
        Health::Warning => theme.warn,
        Health::Critical | Health::Liquidation | Health::Error => theme.critical,
        Health::Stale | Health::Unknown => theme.stale,
    }
}

/// The health as a symbol and a word: state is never shown by colour alone.
fn health_text(h: Health) -> &'static str {
    match h {
        Health::Stale => "◌ STALE",
        Health::Ok => "● OK",
        Health::Warning => "▲ WARNING",
        Health::Critical => "■ CRITICAL",
        Health::Liquidation => "✖ LIQUID.",
        Health::Unknown => "? UNKNOWN",
        Health::Error => "‼ ERROR",
    }
}

fn num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "n/a".into()
    }
}

fn opt_num(v: Option<f64>, digits: usize) -> String {
    v.map_or("—".into(), |x| num(x, digits))
}

/// A ratio as a percentage ("n/a" when undefined).
fn pct(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map_or("n/a".into(), |x| format!("{:.1}%", x * 100.0))
}

/// A move as a signed percentage, "none" when there is none in range.
fn move_pct(v: Option<f64>) -> String {
    v.map_or("none".into(), |m| format!("{:+.1}%", m * 100.0))
}

/// The open account in the snapshot.
fn open_account<'a>(app: &App, snap: &'a Snapshot) -> Option<&'a AccountView> {
    let (label, ccy) = app.open.as_ref()?;
    snap.accounts
        .iter()
        .find(|v| &v.label == label && &v.currency == ccy)
}

/// Shown when an account screen has no account to show.
fn no_account(f: &mut Frame, area: Rect, app: &App) {
    let text = match &app.open {
        None => "no account selected: press Esc, pick one, press Enter".to_string(),
        Some((label, ccy)) => format!("{label} {ccy}: no data yet"),
    };
    f.render_widget(Paragraph::new(text), area);
}

fn bordered(title: String) -> Block<'static> {
    Block::default().borders(Borders::ALL).title(title)
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
        Screen::Overview => overview::draw(f, main, app, snap, theme, t),
        Screen::Account => account::draw(f, main, app, snap, theme, t),
        Screen::Matrix => matrix::draw(f, main, app, snap, theme),
        Screen::Stress => stress::draw(f, main, app, snap, theme, t),
        Screen::WhatIf => whatif::draw(f, main, app, snap, theme),
        Screen::Alerts => alerts::draw(f, main, app, theme),
        Screen::Help => help(f, main, app, theme),
    }
    stale_over(f, main, app, snap, theme);
    f.render_widget(status(app, snap, theme), bottom);
}

/// An account's delta in words: in its coin, or per index (each in its
/// own coin) and in USD when the book spans several indices.
pub fn delta_text(v: &AccountView) -> String {
    if v.greeks_by_index.len() < 2 {
        return format!("{} {}", num(v.greeks.delta_total, 3), delta_coin(v));
    }
    let parts: Vec<String> = (v.greeks_by_index.iter())
        .map(|g| format!("{} {}", num(g.delta_total, 3), coin_of(&g.index_name)))
        .collect();
    format!("{} (${})", parts.join(" · "), num(v.greeks.delta_usd, 0))
}

/// The coin an index's deltas are counted in ("btc_usdc" → "BTC").
fn coin_of(index_name: &str) -> String {
    index_name
        .split('_')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

fn delta_coin(v: &AccountView) -> String {
    v.greeks_by_index
        .first()
        .map_or(v.currency.clone(), |g| coin_of(&g.index_name))
}

/// What is wrong with an account's data, in one line (None: nothing): the
/// exchange's refusal, why it is stale, a lasting equity difference.
pub fn trouble(v: &AccountView) -> Option<String> {
    let name = format!("{} [{}]", v.label, v.currency);
    if let Some(why) = v
        .stale_reason
        .as_ref()
        .filter(|_| v.stale && v.error().is_none())
    {
        return Some(format!(" ◌ {name} stale: {why}"));
    }
    not_stale_trouble(v).map(|t| format!(" {name}: {t}"))
}

/// An account's trouble other than staleness (which the account screens
/// say over their numbers): the exchange's refusal, or a lasting equity
/// difference with the exchange.
pub fn not_stale_trouble(v: &AccountView) -> Option<String> {
    if let Some(e) = v.error() {
        return Some(format!("‼ {e}"));
    }
    v.equity_divergence.map(|d| {
        format!(
            "▲ local equity differs from the exchange's by {:+.6} {} since {} UTC",
            d.gap,
            v.currency,
            crate::report::time_of_day_utc(d.since)
        )
    })
}

/// On the screens about one account, a stale account's numbers are dimmed
/// and a line over them says so: never shown as current.
fn stale_over(f: &mut Frame, area: Rect, app: &App, snap: &Snapshot, theme: &Theme) {
    let on_account = matches!(
        app.screen,
        Screen::Account | Screen::Matrix | Screen::Stress | Screen::WhatIf
    );
    let Some(v) = open_account(app, snap).filter(|v| on_account && v.stale) else {
        return;
    };
    if area.height == 0 {
        return;
    }
    f.buffer_mut().set_style(area, theme.stale);
    let age = v.data_age_ms.map_or("no data".into(), |a| {
        format!("data {:.1} s old", a as f64 / 1000.0)
    });
    let why = (v.stale_reason.clone()).unwrap_or_else(|| "or its link is down".into());
    let text = format!(
        " ◌ STALE: {} [{}] — {age}: {why}; these numbers are not current ",
        v.label, v.currency
    );
    let line = Rect { height: 1, ..area };
    f.render_widget(Paragraph::new(text).style(theme.selected), line);
}

/// The bottom line: a prompt being typed, else keys, links, messages and
/// the latest alert.
fn status(app: &App, snap: &Snapshot, theme: &Theme) -> Paragraph<'static> {
    if let Some(p) = &app.prompt {
        let (label, text) = match p {
            Prompt::Filter => ("filter", app.filter.clone()),
            Prompt::Scenario => ("new scenario: price% vol% (e.g. -20 30)", app.input.clone()),
            Prompt::Instrument => ("instrument (type to filter, ↑↓, Enter)", app.input.clone()),
            Prompt::Size(i) => return sized_prompt(i, &app.input, theme),
        };
        let line = format!(" {label}: {text}▏  Enter ok · Esc cancel");
        return Paragraph::new(line).style(theme.selected);
    }
    let live = snap
        .links
        .values()
        .filter(|l| **l == LinkState::Live)
        .count();
    let down = snap.links.len() - live;
    let mut text = format!(
        " q quit ? help │ sort: {} │ links {live} live{} │ {} msgs{}",
        app.sort.label(),
        if down > 0 {
            format!(", {down} DOWN")
        } else {
            String::new()
        },
        snap.messages,
        app.message_rate
            .map_or(String::new(), |r| format!(", {r:.0}/s"))
    );
    if !app.filter.is_empty() {
        text.push_str(&format!(" │ filter: {}", app.filter));
    }
    if let Some(m) = &app.message {
        text.push_str(&format!(" │ {m}"));
    } else if let Some(a) = app.alerts.newest().next() {
        text.push_str(&format!(" │ ! {}", a.text));
    } else if let Some(w) = snap.warnings.first() {
        text.push_str(&format!(" │ ! {w}"));
    }
    Paragraph::new(text).style(theme.dim)
}

fn sized_prompt(instrument: &str, input: &str, theme: &Theme) -> Paragraph<'static> {
    let unit = match Instrument::parse(instrument) {
        Ok(i) if !i.is_option() && i.settlement == Settlement::Inverse => "USD",
        Ok(_) => "coin",
        Err(_) => "the instrument's units",
    };
    Paragraph::new(format!(
        " size of {instrument} in {unit}, negative sells: {input}▏  Enter ok · Esc cancel"
    ))
    .style(theme.selected)
}

/// The keys, from the keymap in use (remapped keys included); ↑↓ scroll
/// it when the terminal is short.
fn help(f: &mut Frame, area: Rect, app: &mut App, theme: &Theme) {
    let header = Row::new(["key", "does"]).style(theme.header);
    let keys = app.keys.help();
    let fits = area.height.saturating_sub(3) as usize;
    app.lines = keys.len().saturating_sub(fits) + 1;
    let first = app.line.min(app.lines - 1);
    let body: Vec<Row> = keys
        .into_iter()
        .skip(first)
        .map(|(k, d)| Row::new([k, d.to_string()]))
        .collect();
    let more = if app.lines > 1 {
        "; ↑↓ for more"
    } else {
        ""
    };
    let title = format!(" help — Esc or ? to go back; keys can be changed in [ui.keys]{more} ");
    let table = Table::new(body, [Constraint::Length(16), Constraint::Min(10)])
        .header(header)
        .block(bordered(title));
    f.render_widget(table, area);
}

/// Sort the desk rows: each order puts what needs attention first.
fn sort_rows(rows: &mut [(&AccountView, Health)], app: &App) {
    if app.sort == SortBy::Label {
        rows.sort_by(|a, b| {
            a.0.label
                .cmp(&b.0.label)
                .then(a.0.currency.cmp(&b.0.currency))
        });
        return;
    }
    if app.sort == SortBy::Health {
        let ratio = |v: &AccountView| v.judged_mm_ratio().unwrap_or(f64::INFINITY);
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(ratio(b.0).total_cmp(&ratio(a.0))));
        return;
    }
    // Larger first; what cannot be computed goes last.
    let key = |v: &AccountView| -> f64 {
        let usd = |x: f64| v.usd_per_unit.map_or(f64::NEG_INFINITY, |u| x * u);
        let r = &v.risk;
        let k = match app.sort {
            SortBy::MmRatio => v.judged_mm_ratio().unwrap_or(f64::INFINITY),
            SortBy::Equity => usd(r.equity),
            SortBy::Mm => usd(r.margin.maintenance_margin),
            SortBy::Headroom => -usd(r.headroom),
            SortBy::Delta => {
                (v.index.as_ref()).map_or(f64::NEG_INFINITY, |_| v.greeks.delta_usd.abs())
            }
            SortBy::Vega => v.greeks.vega.abs(),
            SortBy::Theta => v.greeks.theta.abs(),
            SortBy::LiqDown => app
                .desk
                .get(&(v.label.clone(), v.currency.clone()))
                .and_then(|d| d.liquidation.down_move)
                .map_or(f64::NEG_INFINITY, |m| -m.abs()),
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

//! How figures and states are written on screen: numbers, percentages,
//! health as a symbol and a word (never colour alone), an account's
//! trouble in one line. Shared by every screen; depends on no screen.

use super::theme::Theme;
use crate::engine::live::AccountSnapshot;
use crate::model::AccountKey;
use crate::report::health::Health;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

pub fn health_style(h: Health, theme: &Theme) -> Style {
    match h {
        Health::Ok => theme.ok,
        Health::Warning => theme.warn,
        Health::Critical | Health::Liquidation | Health::Error => theme.critical,
        Health::Stale | Health::Unknown => theme.stale,
    }
}

/// The health as a symbol and a word: state is never shown by colour alone.
pub fn health_text(h: Health) -> &'static str {
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

pub fn num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "n/a".into()
    }
}

pub fn opt_num(v: Option<f64>, digits: usize) -> String {
    v.map_or("—".into(), |x| num(x, digits))
}

/// A ratio as a percentage ("n/a" when undefined).
pub fn pct(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map_or("n/a".into(), |x| format!("{:.1}%", x * 100.0))
}

/// A move as a signed percentage, "none" when there is none in range.
pub fn move_pct(v: Option<f64>) -> String {
    v.map_or("none".into(), |m| format!("{:+.1}%", m * 100.0))
}

/// Compact money: 12.3k, 4.56M.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    match a {
        _ if !v.is_finite() => "n/a".into(),
        _ if a >= 1e9 => format!("{:.2}B", v / 1e9),
        _ if a >= 1e6 => format!("{:.2}M", v / 1e6),
        _ if a >= 1e4 => format!("{:.1}k", v / 1e3),
        _ => format!("{v:.0}"),
    }
}

pub fn bordered(title: String) -> Block<'static> {
    Block::default().borders(Borders::ALL).title(title)
}

/// Shown when an account screen has no account to show.
pub fn no_account(f: &mut Frame, area: Rect, open: Option<&AccountKey>) {
    let text = match open {
        None => "no account selected: press Esc, pick one, press Enter".to_string(),
        Some(k) => format!("{}: no data yet", k.name()),
    };
    f.render_widget(Paragraph::new(text), area);
}

/// An account's delta in words: in its coin, or per index (each in its
/// own coin) and in USD when the book spans several indices.
pub fn delta_text(v: &AccountSnapshot) -> String {
    if v.greeks_by_index.len() < 2 {
        return format!("{} {}", num(v.greeks.delta_total, 3), delta_coin(v));
    }
    let parts: Vec<String> = (v.greeks_by_index.iter())
        .map(|g| format!("{} {}", num(g.delta_total, 3), coin_of(&g.index_name)))
        .collect();
    format!("{} (${})", parts.join(" · "), num(v.greeks.delta_usd, 0))
}

/// The coin an index's deltas are counted in ("btc_usdc" → "BTC").
pub fn coin_of(index_name: &str) -> String {
    index_name
        .split('_')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

fn delta_coin(v: &AccountSnapshot) -> String {
    v.greeks_by_index
        .first()
        .map_or(v.currency.clone(), |g| coin_of(&g.index_name))
}

/// What is wrong with an account's data, in one line (None: nothing): the
/// exchange's refusal, why it is stale, a lasting equity difference.
pub fn trouble(v: &AccountSnapshot) -> Option<String> {
    let name = v.key().name();
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
/// say over their numbers): the exchange's refusal, or a lasting equity or
/// maintenance margin difference with the exchange.
pub fn not_stale_trouble(v: &AccountSnapshot) -> Option<String> {
    if let Some(e) = v.error() {
        return Some(format!("‼ {e}"));
    }
    let since = |ms| crate::report::health::time_of_day_utc(ms);
    let equity = v.equity_divergence.map(|d| {
        format!(
            "▲ local equity differs from the exchange's by {:+.6} {} since {} UTC",
            d.gap,
            v.currency,
            since(d.since)
        )
    });
    equity.or_else(|| {
        v.mm_divergence.map(|d| {
            format!(
                "▲ local MM differs from the exchange's by {:+.1}% since {} UTC",
                d.gap * 100.0,
                since(d.since)
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_money() {
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(-12_345.0), "-12.3k");
        assert_eq!(compact(4_560_000.0), "4.56M");
        assert_eq!(compact(f64::NAN), "n/a");
    }
}

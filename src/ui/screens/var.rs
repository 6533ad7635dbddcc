//! VaR and ES of the open account: HS, FHS and MC side by side with the
//! exchange's margin, the distribution of its historical P&L with VaR and
//! ES marked, the worst days of the window, and each position's share of
//! the ES. Read from the desk's last VaR run (computed in the background).

use crate::engine::live::AccountSnapshot;
use crate::risk::history::date;
use crate::risk::{Figures, METHODS};
use crate::ui::analysis::VarFigures;
use crate::ui::context::Ctx;
use crate::ui::format::{bordered, no_account, num};
use crate::ui::keymap::Action;
use crate::ui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};
use ratatui::Frame;

pub const METHOD_NAMES: [&str; 3] = ["HS", "FHS", "MC"];

/// Which method's distribution, worst days and shares are drawn (the
/// next-model key steps through HS, FHS and MC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Method(pub usize);

impl Method {
    pub fn act(&mut self, action: Action) -> bool {
        if action != Action::NextModel {
            return false;
        }
        self.0 = (self.0 + 1) % METHOD_NAMES.len();
        true
    }

    pub fn name(self) -> &'static str {
        METHOD_NAMES[self.0 % METHOD_NAMES.len()]
    }
}

pub fn render(f: &mut Frame, area: Rect, method: Method, ctx: &Ctx) {
    let Some(v) = ctx.open_account() else {
        return no_account(f, area, ctx.open);
    };
    let Some(var) = ctx.results.var.as_deref() else {
        let text = "VaR and ES: revaluing every book in every historical day and MC path…";
        return f.render_widget(
            Paragraph::new(text).block(bordered(" VaR/ES ".into())),
            area,
        );
    };
    let figures: Vec<Option<&Figures>> = (0..METHODS.len())
        .map(|m| ctx.results.var_of(v, m))
        .collect();
    let unit = if v.cross.is_some() {
        "USD"
    } else {
        v.currency.as_str()
    };
    let title = title(v, var, ctx, unit);
    let [top, lower] = Layout::vertical([Constraint::Length(8), Constraint::Min(0)]).areas(area);
    summary(f, top, title, window(var), v, &figures, unit, ctx.theme);
    let m = method.0 % METHOD_NAMES.len();
    let Some(chosen) = figures[m] else {
        let why = (var.var.holder(&v.label, &v.currency, v.cross.is_some()))
            .and_then(|h| var.var.results[h][m].as_ref().err().cloned())
            .unwrap_or_else(|| "not computed for this account".into());
        let title = format!(" {} P&L ", method.name());
        return f.render_widget(
            Paragraph::new(format!("no VaR: {why}")).block(bordered(title)),
            lower,
        );
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(lower);
    let next = ctx.key(Action::NextModel);
    histogram(f, left, chosen, method, &next, unit, ctx.theme);
    let [days, parts] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(right);
    // MC paths have no dates: the worst days are the history's.
    if METHODS[m] == crate::risk::Method::Mc {
        contributions(f, right, chosen, method, unit);
        return;
    }
    worst_days(f, days, chosen, method, &var.var.days, unit);
    contributions(f, parts, chosen, method, unit);
}

/// Whose figures, in what, over what horizon; marked first when out of
/// date, so that a narrow screen still says so.
fn title(v: &AccountSnapshot, var: &VarFigures, ctx: &Ctx, unit: &str) -> String {
    let outdated = match ctx.results.var_outdated(ctx.snap) {
        true => "RECOMPUTING (the books or the market moved) — ",
        false => "",
    };
    format!(
        " {outdated}VaR/ES of {} in {unit}, {} day ",
        v.key().name(),
        var.var.settings.horizon_days
    )
}

/// The window's dates and where the history comes from.
pub fn window(var: &VarFigures) -> String {
    let d = &var.var.days;
    let origin = match var.history {
        crate::risk::history::Origin::Shipped => "shipped",
        crate::risk::history::Origin::Fetched => "fetched",
    };
    match (d.first(), d.last()) {
        (Some(a), Some(b)) => format!(
            "window {}..{}, {} days, {origin} history",
            date(*a),
            date(*b),
            d.len()
        ),
        _ => format!("no day of the {origin} history has every factor"),
    }
}

#[allow(clippy::too_many_arguments)]
fn summary(
    f: &mut Frame,
    area: Rect,
    title: String,
    window: String,
    v: &AccountSnapshot,
    figures: &[Option<&Figures>],
    unit: &str,
    theme: &Theme,
) {
    let d = if unit == "USD" { 0 } else { 4 };
    let mm = (v.cross.as_ref()).map_or(v.risk.margin.maintenance_margin, |c| {
        c.maintenance_margin_usd
    });
    let header = Row::new(["", "VaR 99%", "ES 97.5%", "ES 99%", "VaR 99% $", "MM ÷ VaR"])
        .style(theme.header);
    let rows: Vec<Row> = (METHOD_NAMES.iter().zip(figures))
        .map(|(name, f)| match f {
            None => Row::new([name.to_string(), "n/a".into()]),
            Some(f) => Row::new([
                name.to_string(),
                num(f.own.var_99, d),
                num(f.own.es_975, d),
                num(f.own.es_99, d),
                num(f.usd.var_99, 0),
                ratio(mm, f.own.var_99),
            ]),
        })
        .collect();
    let verdict = figures[0].map_or(String::new(), |hs| {
        let cover = if mm >= hs.own.var_99 {
            "covers"
        } else {
            "does NOT cover"
        };
        format!(
            "maintenance margin {} {unit} {cover} the HS 1-day 99 % loss",
            num(mm, d)
        )
    });
    let [table, note] = Layout::vertical([Constraint::Min(0), Constraint::Length(2)])
        .areas(bordered(title.clone()).inner(area));
    f.render_widget(bordered(title), area);
    let w = [5, 12, 12, 12, 12, 9].map(Constraint::Length);
    f.render_widget(Table::new(rows, w).header(header), table);
    f.render_widget(
        Paragraph::new(vec![Line::from(verdict), Line::from(window)]),
        note,
    );
}

fn ratio(mm: f64, var: f64) -> String {
    match var > 0.0 && mm.is_finite() {
        true => format!("{:.2}×", mm / var),
        false => "n/a".into(),
    }
}

/// The column of `width` bins from `lo` to `hi` that `x` falls in.
pub fn bin_of(x: f64, lo: f64, hi: f64, width: usize) -> usize {
    if width == 0 || hi <= lo {
        return 0;
    }
    let at = ((x - lo) / (hi - lo) * width as f64).floor();
    (at.max(0.0) as usize).min(width - 1)
}

/// A method's P&L as a histogram, losses on the left; the line under it
/// marks −VaR 99 % (V) and −ES 97.5 % (E).
fn histogram(
    f: &mut Frame,
    area: Rect,
    fig: &Figures,
    method: Method,
    next: &str,
    unit: &str,
    theme: &Theme,
) {
    let block = bordered(format!(
        " {} P&L in {unit}: V = −VaR 99 %, E = −ES 97.5 % ({next}: next method) ",
        method.name()
    ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let (w, h) = (
        inner.width as usize,
        inner.height.saturating_sub(2) as usize,
    );
    if w < 4 || h == 0 || fig.pnl.is_empty() {
        return;
    }
    let lo = fig.pnl.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = fig.pnl.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut counts = vec![0usize; w];
    for &p in &fig.pnl {
        counts[bin_of(p, lo, hi, w)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1);
    const EIGHTHS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let mut lines: Vec<Line> = (0..h)
        .map(|row| {
            let level = h - 1 - row; // rows from the top
            let text: String = (counts.iter())
                .map(|&c| {
                    let eighths = c * h * 8 / top;
                    EIGHTHS[eighths.saturating_sub(level * 8).min(8)]
                })
                .collect();
            Line::from(text)
        })
        .collect();
    let mut marks = vec![' '; w];
    marks[bin_of(-fig.own.es_975, lo, hi, w)] = 'E';
    marks[bin_of(-fig.own.var_99, lo, hi, w)] = 'V';
    lines.push(Line::from(Span::styled(
        marks.into_iter().collect::<String>(),
        theme.loss,
    )));
    let d = if unit == "USD" { 0 } else { 4 };
    let (a, b) = (num(lo, d), num(hi, d));
    let gap = w.saturating_sub(a.len() + b.len());
    lines.push(Line::from(format!("{a}{}{b}", " ".repeat(gap))));
    f.render_widget(Paragraph::new(lines), inner);
}

/// The window's worst days for this book, by date.
fn worst_days(f: &mut Frame, area: Rect, fig: &Figures, method: Method, days: &[i32], unit: &str) {
    let d = if unit == "USD" { 0 } else { 4 };
    let mut order: Vec<usize> = (0..fig.pnl.len().min(days.len())).collect();
    order.sort_by(|&a, &b| fig.pnl[a].total_cmp(&fig.pnl[b]));
    let rows: Vec<Row> = (order.iter().take(area.height.saturating_sub(3) as usize))
        .map(|&i| Row::new([date(days[i]), num(fig.pnl[i], d)]))
        .collect();
    let table = Table::new(rows, [Constraint::Length(11), Constraint::Min(10)])
        .header(Row::new(["day", "P&L"]))
        .block(bordered(format!(
            " worst days ({}, today's book) ",
            method.name()
        )));
    f.render_widget(table, area);
}

/// Each position's share of the ES 97.5 %, largest first.
fn contributions(f: &mut Frame, area: Rect, fig: &Figures, method: Method, unit: &str) {
    let d = if unit == "USD" { 0 } else { 4 };
    let mut parts = fig.positions_es.clone();
    parts.sort_by(|a, b| b.1.total_cmp(&a.1));
    let rows: Vec<Row> = (parts.into_iter())
        .map(|(name, c)| Row::new([name, num(c, d)]))
        .collect();
    let table = Table::new(rows, [Constraint::Min(20), Constraint::Length(12)])
        .header(Row::new(["position", "ES share"]))
        .block(bordered(format!(
            " positions' share of ES 97.5 % ({}) ",
            method.name()
        )));
    f.render_widget(table, area);
}

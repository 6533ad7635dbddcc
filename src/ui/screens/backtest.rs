//! Validation of the open account: its book walked through the last T days
//! of history (docs/risk.md §6). A chart of each day's P&L against −VaR
//! with the exceptions marked, the tests of HS and FHS with their zones in
//! words, and how often each margin model's maintenance margin would not
//! have covered a day. Computed in the background once per book.

use super::var::Method;
use crate::risk::backtest::Tracks;
use crate::risk::coverage::{Coverage, Zone};
use crate::risk::history::date;
use crate::ui::context::Ctx;
use crate::ui::format::{bordered, no_account, num};
use crate::ui::keymap::Action;
use crate::ui::theme::Theme;
use crate::ui::validation::{Backtest, ModelCoverage};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Row, Table};
use ratatui::Frame;

/// The walked methods' names, in the walk's order: the next-model key
/// steps between them.
const WALKED: [&str; 3] = ["HS", "FHS", "MC"];

pub fn render(f: &mut Frame, area: Rect, method: Method, ctx: &Ctx) {
    let Some(v) = ctx.open_account() else {
        return no_account(f, area, ctx.open);
    };
    let Some(b) = ctx.results.backtest_of(v) else {
        let text = "backtest: walking the book through the history's last days…";
        return f.render_widget(
            Paragraph::new(text).block(bordered(" Backtest ".into())),
            area,
        );
    };
    let unit = if v.cross.is_some() {
        "USD"
    } else {
        v.currency.as_str()
    };
    let tracks = match b.walk.as_ref().map(|w| w.results.first()) {
        Ok(Some(Ok(t))) => t,
        Ok(Some(Err(why))) | Err(why) => return unavailable(f, area, why),
        Ok(None) => return unavailable(f, area, "the account has no book to walk"),
    };
    let m = method.0 % WALKED.len();
    let name = WALKED[m];
    let [top, chart_area] = Layout::vertical([
        Constraint::Length(6 + b.margins.len() as u16),
        Constraint::Min(6),
    ])
    .areas(area);
    let [tests, margins] =
        Layout::horizontal([Constraint::Percentage(52), Constraint::Percentage(48)]).areas(top);
    let title = title(v.label.as_str(), b, ctx);
    tests_table(f, tests, title, tracks, ctx.theme);
    margins_table(f, margins, &b.margins, unit, ctx.theme);
    let next = ctx.key(Action::NextModel);
    chart(f, chart_area, tracks, m, name, &next, unit, ctx.theme);
}

fn unavailable(f: &mut Frame, area: Rect, why: &str) {
    let text = format!("no backtest: {why}");
    f.render_widget(
        Paragraph::new(text).block(bordered(" Backtest ".into())),
        area,
    );
}

fn title(label: &str, b: &Backtest, ctx: &Ctx) -> String {
    let Ok(w) = &b.walk else {
        return format!(" Backtest {label} ");
    };
    let (from, to) = (w.days.first(), w.days.last());
    let range = match (from, to) {
        (Some(a), Some(z)) => format!("{} to {}", date(*a), date(*z)),
        _ => "no days".into(),
    };
    let history = match ctx.results.history {
        crate::risk::history::Origin::Shipped => "shipped",
        crate::risk::history::Origin::Fetched => "fetched",
    };
    format!(
        " Backtest {label}: {} days {range}, W {} ({history}) ",
        w.days.len(),
        w.settings.window_days
    )
}

fn zone_style(zone: Zone, theme: &Theme) -> Style {
    match zone {
        Zone::Green => theme.ok,
        Zone::Yellow => theme.warn,
        Zone::Red => theme.critical,
    }
}

fn tests_table(f: &mut Frame, area: Rect, title: String, t: &Tracks, theme: &Theme) {
    let header = Row::new(["", "exc", "exp", "p pof", "p ind", "p cc", "zone"]).style(theme.header);
    // Kupiec, Christoffersen independence, conditional coverage p-values.
    let rows = (WALKED.iter().zip(&t.methods)).map(|(name, m)| {
        let c: &Coverage = &m.coverage;
        // The zone in words; on a narrow screen its one word.
        let zone = match area.width >= 70 {
            true => c.zone.meaning(),
            false => c.zone.name(),
        };
        Row::new([
            name.to_string(),
            c.exceptions.to_string(),
            num(c.expected(), 1),
            num(c.p_pof, 3),
            num(c.p_ind, 3),
            num(c.p_cc, 3),
            zone.to_string(),
        ])
        .style(zone_style(c.zone, theme))
    });
    let widths = [
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Length(4),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Min(5),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(bordered(title));
    f.render_widget(table, area);
}

fn margins_table(f: &mut Frame, area: Rect, margins: &[ModelCoverage], unit: &str, theme: &Theme) {
    let mm = format!("MM {unit}");
    let header = Row::new(["model", mm.as_str(), "uncovered", "worst"]).style(theme.header);
    let rows = margins.iter().map(|m| {
        let c = &m.coverage;
        let style = if c.exceptions > 0 {
            theme.warn
        } else {
            theme.text
        };
        let model = if m.own {
            format!("{}*", m.model)
        } else {
            m.model.clone()
        };
        Row::new([
            model,
            num(m.maintenance_margin, 3),
            format!("{} ({:.1}%)", c.exceptions, c.share * 100.0),
            num(c.worst_excess, 3),
        ])
        .style(style)
    });
    let widths = [
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Length(10),
        Constraint::Min(6),
    ];
    let title = " Margin vs one day's loss (* own) ";
    let table = Table::new(rows, widths)
        .header(header)
        .block(bordered(title.into()));
    f.render_widget(table, area);
}

/// The chart's points: each day's P&L, −VaR, and the exception days' P&L.
pub struct Series {
    pub pnl: Vec<(f64, f64)>,
    pub minus_var: Vec<(f64, f64)>,
    pub exceptions: Vec<(f64, f64)>,
}

/// The series of method `m` over the walk, x = the test day's index.
pub fn series(t: &Tracks, m: usize) -> Series {
    let track = &t.methods[m];
    let at = |i: usize, y: f64| (i as f64, y);
    Series {
        pnl: (t.pnl.iter().enumerate()).map(|(i, p)| at(i, *p)).collect(),
        minus_var: (track.var.iter().enumerate())
            .map(|(i, v)| at(i, -v))
            .collect(),
        exceptions: (0..t.pnl.len())
            .filter(|&i| track.exceptions[i])
            .map(|i| at(i, t.pnl[i]))
            .collect(),
    }
}

#[allow(clippy::too_many_arguments)]
fn chart(
    f: &mut Frame,
    area: Rect,
    t: &Tracks,
    m: usize,
    name: &str,
    next: &str,
    unit: &str,
    theme: &Theme,
) {
    let s = series(t, m);
    let ys = s
        .pnl
        .iter()
        .chain(&s.minus_var)
        .map(|p| p.1)
        .filter(|y| y.is_finite());
    let (lo, hi) = ys.fold((0.0f64, 0.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let n = t.pnl.len().max(1) as f64;
    let datasets = vec![
        Dataset::default()
            .name(format!("P&L {unit}"))
            .marker(Marker::Braille)
            .graph_type(GraphType::Scatter)
            .style(theme.text)
            .data(&s.pnl),
        Dataset::default()
            .name(format!("−VaR {name}"))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.accent)
            .data(&s.minus_var),
        Dataset::default()
            .name(format!("exception ({})", s.exceptions.len()))
            .marker(Marker::Block)
            .graph_type(GraphType::Scatter)
            .style(theme.critical)
            .data(&s.exceptions),
    ];
    let title = format!(" {name}: daily P&L against −VaR 99 % ({next}: next method) ");
    let chart = Chart::new(datasets)
        .block(bordered(title))
        .x_axis(
            Axis::default()
                .bounds([0.0, n - 1.0])
                .labels([
                    Line::from("oldest"),
                    Line::from("test days"),
                    Line::from("latest"),
                ])
                .style(theme.dim),
        )
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels([lo, (lo + hi) / 2.0, hi].map(|y| Span::raw(num(y, 3))))
                .style(theme.dim),
        );
    f.render_widget(chart, area);
}

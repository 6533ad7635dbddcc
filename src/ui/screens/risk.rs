//! The desk's risk: VaR and ES of all accounts together under each
//! method beside the sum of their standalone VaRs (the diversification
//! benefit, measured), each account's share of the desk's ES worst first,
//! and the factors' correlations as a heatmap with the numbers written.

use crate::ui::analysis::VarFigures;
use crate::ui::context::Ctx;
use crate::ui::format::{bordered, num};
use crate::ui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::var::{Method, METHOD_NAMES};

pub fn render(f: &mut Frame, area: Rect, method: Method, ctx: &Ctx) {
    let Some(var) = ctx.results.var.as_deref() else {
        let text = "desk VaR and ES: revaluing every book in every historical day and MC path…";
        return f.render_widget(
            Paragraph::new(text).block(bordered(" desk risk ".into())),
            area,
        );
    };
    let n = var.var.factors.len() as u16;
    let [top, middle] = Layout::vertical([Constraint::Length(6), Constraint::Min(0)]).areas(area);
    methods(f, top, var, ctx);
    let corr_w = 14 + 11 * n;
    if middle.width >= corr_w + 50 {
        let [left, right] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(corr_w)]).areas(middle);
        contributions(f, left, var, method, ctx);
        correlations(f, right, var, ctx.theme);
    } else {
        let [upper, lower] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(n + 3)]).areas(middle);
        contributions(f, upper, var, method, ctx);
        correlations(f, lower, var, ctx.theme);
    }
}

fn methods(f: &mut Frame, area: Rect, var: &VarFigures, ctx: &Ctx) {
    let outdated = match ctx.results.var_outdated(ctx.snap) {
        true => "RECOMPUTING — ",
        false => "",
    };
    let title = format!(
        " {outdated}desk VaR/ES in USD, {} day, {} ",
        var.var.settings.horizon_days,
        super::var::window(var)
    );
    let header = Row::new([
        "",
        "VaR 99%",
        "ES 97.5%",
        "ES 99%",
        "Σ accounts' VaR",
        "diversification",
    ])
    .style(ctx.theme.header);
    let rows: Vec<Row> = (METHOD_NAMES.iter().zip(&var.var.desk))
        .map(|(name, m)| match m {
            None => Row::new([name.to_string(), "n/a".into()]),
            Some(m) => Row::new([
                name.to_string(),
                num(m.usd.var_99, 0),
                num(m.usd.es_975, 0),
                num(m.usd.es_99, 0),
                num(m.sum_of_accounts_var_99_usd, 0),
                num(m.sum_of_accounts_var_99_usd - m.usd.var_99, 0),
            ]),
        })
        .collect();
    let w = [5, 12, 12, 12, 16, 16].map(Constraint::Length);
    f.render_widget(
        Table::new(rows, w).header(header).block(bordered(title)),
        area,
    );
}

/// Accounts by their share of the desk's ES 97.5 %, largest first.
fn contributions(f: &mut Frame, area: Rect, var: &VarFigures, method: Method, ctx: &Ctx) {
    let v = &var.var;
    let m = method.0 % METHOD_NAMES.len();
    let Some(desk) = v.desk[m].as_ref() else {
        return f.render_widget(Paragraph::new("no account could be revalued"), area);
    };
    // An empty wallet loses nothing: it would only fill the list.
    let empty = |h: &crate::risk::Holder| {
        h.books
            .iter()
            .all(|b| b.positions.is_empty() && b.equity == 0.0)
    };
    let mut order: Vec<usize> = (0..v.holders.len())
        .filter(|&i| !empty(&v.holders[i]))
        .collect();
    order.sort_by(|&a, &b| desk.contributions[b].total_cmp(&desk.contributions[a]));
    let es = desk.usd.es_975;
    let rows: Vec<Row> = (order.into_iter())
        .map(|i| {
            let h = &v.holders[i];
            let alone = v.results[i][0]
                .as_ref()
                .map_or("n/a".into(), |f| num(f.usd.var_99, 0));
            let c = desk.contributions[i];
            let share = if es != 0.0 {
                format!("{:.1}%", c / es * 100.0)
            } else {
                "n/a".into()
            };
            Row::new([
                format!("{} [{}]", h.label, h.currency),
                alone,
                num(c, 0),
                share,
            ])
        })
        .collect();
    let header = Row::new(["account", "VaR 99% $", "ES share $", "of ES"]).style(ctx.theme.header);
    let w = [
        Constraint::Min(20),
        Constraint::Length(11),
        Constraint::Length(11),
        Constraint::Length(7),
    ];
    let title = format!(
        " accounts' share of the desk's ES 97.5 % ({}, {}: next method) ",
        method.name(),
        ctx.key(crate::ui::keymap::Action::NextModel)
    );
    f.render_widget(
        Table::new(rows, w).header(header).block(bordered(title)),
        area,
    );
}

/// A correlation's cell colour: strong positive as a loss colour, strong
/// negative as a profit colour, weak ones plain (the number is written).
fn heat(c: f64, theme: &Theme) -> Style {
    match c {
        c if c >= 0.5 => theme.loss,
        c if c <= -0.5 => theme.profit,
        _ => theme.text,
    }
}

fn correlations(f: &mut Frame, area: Rect, var: &VarFigures, theme: &Theme) {
    let v = &var.var;
    let names: Vec<&str> = v.factors.iter().map(|f| f.name.as_str()).collect();
    let header = Row::new(
        std::iter::once("")
            .chain(names.iter().copied())
            .map(Cell::from),
    )
    .style(theme.header);
    let rows: Vec<Row> = (0..names.len())
        .map(|i| {
            let cells = (0..names.len()).map(|j| {
                let c = v.correlation[(i, j)];
                Cell::from(format!("{c:+.2}")).style(heat(c, theme))
            });
            Row::new(std::iter::once(Cell::from(names[i])).chain(cells))
        })
        .collect();
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(12))
        .chain(names.iter().map(|_| Constraint::Length(10)))
        .collect();
    let mut title = " EWMA correlations ".to_string();
    if v.factors.iter().any(|f| f.proxy) {
        title.push_str("· ETH vol = BTC's DVOL ");
    }
    if v.repaired {
        title.push_str("· MC: repaired ");
    }
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(bordered(title)),
        area,
    );
}

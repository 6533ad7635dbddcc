//! One account: margin breakdown, health, liquidation distance (move,
//! price, daily σ), history sparklines, positions with Greeks and their
//! P&L in the worst scenario, Greeks by expiry; a cross account's
//! collateral. Its own state: the scroll of the positions.

use crate::engine::live::{AccountSnapshot, CrossView};
use crate::margin::analysis::ExpiryGreeks;
use crate::ui::analysis::Analysis;
use crate::ui::columns::{col, fitting, widths, Column};
use crate::ui::context::Ctx;
use crate::ui::cursor::Cursor;
use crate::ui::format::{
    bordered, delta_text, health_style, health_text, no_account, not_stale_trouble, num, opt_num,
    pct,
};
use crate::ui::keymap::Action;
use crate::ui::revalued::Revalued;
use crate::ui::theme::Theme;
use crate::ui::trends::{History, Trends, MIN_RETURNS};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Sparkline, Table};
use ratatui::Frame;

/// The account screen's own state.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// The first position shown.
    pub scroll: Cursor,
}

impl State {
    /// Up, down and paging scroll the positions.
    pub fn act(&mut self, action: Action, ctx: &Ctx) -> bool {
        if !action.moves_cursor() {
            return false;
        }
        let count = ctx.open_account().map_or(0, |v| v.legs.len());
        self.scroll.step(action, count, 10);
        true
    }
}

pub fn render(f: &mut Frame, area: Rect, st: &State, ctx: &Ctx) {
    let Some(v) = ctx.open_account() else {
        return no_account(f, area, ctx.open);
    };
    let theme = ctx.theme;
    let analysis = ctx.results.analysis_of(&v.key());
    // A cross account shows what backs it between the trend and the book.
    let wallets = v.cross.as_ref().map_or(0, |c| c.wallets.len() as u16 + 3);
    let lines = summary_lines(v, analysis, ctx);
    let [summary, trend, panel, lower] = Layout::vertical([
        Constraint::Length(lines.len() as u16 + 2),
        Constraint::Length(3),
        Constraint::Length(wallets),
        Constraint::Min(0),
    ])
    .areas(area);
    if let Some(c) = &v.cross {
        // The revalued coin moves come from the last analysis of this account.
        collateral(f, panel, c, analysis.map(|a| &a.revalued), theme);
    }
    history(f, trend, ctx.trends.history.get(&v.key()), theme);
    let style = if v.stale { theme.stale } else { theme.text };
    f.render_widget(
        Paragraph::new(lines)
            .style(style)
            .block(bordered(" account ".into())),
        summary,
    );
    // Greeks by expiry sit beside the positions when there is room.
    let expiries = analysis.map_or(Vec::new(), |a| a.revalued.expiries());
    if lower.width >= 130 && !expiries.is_empty() {
        let [left, right] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(48)]).areas(lower);
        positions(f, left, st, v, theme);
        by_expiry(f, right, &expiries, theme);
    } else {
        positions(f, lower, st, v, theme);
    }
}

/// The summary, line by line in the order shown.
fn summary_lines(
    v: &AccountSnapshot,
    analysis: Option<&Analysis>,
    ctx: &Ctx,
) -> Vec<Line<'static>> {
    let theme = ctx.theme;
    let h = v.health(ctx.thresholds);
    let r = &v.risk;
    let m = &r.margin;
    let c = v.currency.clone();
    let stale_note = match not_stale_trouble(v) {
        Some(t) => format!("  — {t}"),
        None => String::new(),
    };
    // A cross account's row opens on one wallet; the verdict is the account's.
    let wallet = match v.cross {
        Some(_) => " wallet of a cross account",
        None => "",
    };
    let usd = r
        .headroom_usd
        .map_or(String::new(), |u| format!(" (${u:.0})"));
    vec![
        Line::from(vec![
            Span::styled(
                format!("{} [{c}{wallet}] {} ", v.label, v.model),
                theme.header,
            ),
            Span::styled(health_text(h), health_style(h, theme)),
            Span::styled(stale_note, theme.stale),
        ]),
        Line::from(format!(
            "margin balance {} {c}   equity {} {c}   balance {} {c}",
            num(r.margin_balance, 4),
            num(r.equity, 4),
            num(r.balance, 4)
        )),
        Line::from(match v.cross {
            // The wallet's own ratio means nothing in a cross account.
            Some(_) => format!(
                "IM {} {c}   MM {} {c}   mm_ratio {} (the account's, on its totals)",
                num(m.initial_margin, 4),
                num(m.maintenance_margin, 4),
                pct(v.judged_mm_ratio()),
            ),
            None => format!(
                "IM {} {c}   MM {} {c}   mm_ratio {}   im_ratio {}",
                num(m.initial_margin, 4),
                num(m.maintenance_margin, 4),
                pct(r.mm_ratio),
                pct(r.im_ratio),
            ),
        }),
        Line::from(format!(
            "headroom {} {c}{usd}   options value {} {c}",
            num(r.headroom, 4),
            num(r.options_value, 4)
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
        liquidation_line(v, analysis, ctx.trends),
        Line::from(sigma_basis(v, ctx.trends)),
        var_line(v, ctx),
        exchange_line(v),
    ]
    .into_iter()
    .chain(r.notes.first().map(|n| Line::from(format!("! {n}"))))
    .collect()
}

/// "exchange: IM 7.3769  MM 5.9015   MM gap now +0.01% mean 0.00% max 0.02%":
/// the exchange's figures and how far the local MM has been from its MM
/// (the size of the gap on average and at most, since start).
fn exchange_line(v: &AccountSnapshot) -> Line<'static> {
    let figures = format!(
        "exchange: IM {}  MM {}",
        opt_num(v.exchange.initial_margin, 4),
        opt_num(v.exchange.maintenance_margin, 4)
    );
    let gap = v.mm_tracking.map_or(String::new(), |t| {
        // A gap that rounds to nothing reads +0.00%, whatever its sign.
        let now = Some(t.last * 100.0).filter(|g| g.abs() >= 0.005);
        format!(
            "   MM gap now {:+.2}% mean {:.2}% max {:.2}%",
            now.unwrap_or(0.0),
            t.mean_abs * 100.0,
            t.max_abs * 100.0
        )
    });
    Line::from(figures + &gap)
}

/// "liquidation: down −23.1 % at 71234 (4.2 σ/day) · up none within +400 %"
/// with several indices, the joint move
/// and then each index alone.
fn liquidation_line(
    v: &AccountSnapshot,
    analysis: Option<&Analysis>,
    trends: &Trends,
) -> Line<'static> {
    let Some(a) = analysis else {
        return Line::from("liquidation: computing…");
    };
    let side = |index: &str, m: Option<f64>, p: Option<f64>| match m {
        None => "none in range".to_string(),
        Some(m) => {
            let at = p.map_or(String::new(), |p| format!(" at {p:.0}"));
            let units = trends.daily_sigma(index).map_or(String::new(), |(s, _)| {
                format!(" = {:.1} σ/day", (1.0 + m).ln().abs() / s)
            });
            format!("{:+.1}%{at}{units}", m * 100.0)
        }
    };
    let Some(l) = a.revalued.liquidation() else {
        return Line::from("liquidation: n/a (margin model not loaded)");
    };
    if l.by_index.is_empty() {
        let index = v.index.as_ref().map_or("", |(name, _)| name.as_str());
        return Line::from(format!(
            "liquidation: down {} · up {}",
            side(index, l.down_move, l.down_price),
            side(index, l.up_move, l.up_price),
        ));
    }
    let each: Vec<String> = (l.by_index.iter())
        .map(|i| {
            let name = i.index_name.as_str();
            format!(
                "{name} alone: down {} · up {}",
                side(name, i.down_move, i.down_price),
                side(name, i.up_move, i.up_price)
            )
        })
        .collect();
    Line::from(format!(
        "liquidation, all indices together: down {} · up {}   │ {}",
        side("", l.down_move, None),
        side("", l.up_move, None),
        each.join("   │ ")
    ))
}

/// The 1-day 99 % VaR (HS) beside the maintenance margin it is set against.
fn var_line(v: &AccountSnapshot, ctx: &Ctx) -> Line<'static> {
    let Some(hs) = ctx.results.var_of(v, 0) else {
        return Line::from(format!(
            "VaR: computing… ({} for the VaR screen)",
            ctx.key(Action::Var)
        ));
    };
    let (var, mm, unit) = match &v.cross {
        Some(c) => (hs.usd.var_99, c.maintenance_margin_usd, "USD".to_string()),
        None => (
            hs.own.var_99,
            v.risk.margin.maintenance_margin,
            v.currency.clone(),
        ),
    };
    let d = if v.cross.is_some() { 0 } else { 4 };
    let ratio = match var > 0.0 {
        true => format!("MM is {:.2}× the VaR", mm / var),
        false => "the book gains in the tail".into(),
    };
    Line::from(format!(
        "VaR 99% 1 day (HS) {} {unit} (${:.0})   {ratio}",
        num(var, d),
        hs.usd.var_99
    ))
}

/// Where the σ/day of the liquidation distance comes from.
fn sigma_basis(v: &AccountSnapshot, trends: &Trends) -> String {
    let index = v.index.as_ref().map_or("", |(name, _)| name.as_str());
    match trends.daily_sigma(index) {
        Some((s, n)) => format!(
            "σ/day {:.2}% (realized, {n} index moves), for the liquidation distance",
            s * 100.0
        ),
        None => format!("σ/day: after {MIN_RETURNS} index moves, for the liquidation distance"),
    }
}

/// What a positions column shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pos {
    Instrument,
    Size,
    Mark,
    Delta,
    Gamma,
    Vega,
    Theta,
    WorstPnl,
}

/// Narrow terminals keep instrument, size, delta and the worst-case P&L.
const POSITION_COLUMNS: [Column<Pos>; 8] = [
    col(Pos::Instrument, "instrument", 24, 1),
    col(Pos::Size, "size", 10, 1),
    col(Pos::Mark, "mark", 9, 2),
    col(Pos::Delta, "delta", 8, 1),
    col(Pos::Gamma, "gamma", 10, 3),
    col(Pos::Vega, "vega", 8, 2),
    col(Pos::Theta, "theta", 8, 3),
    col(Pos::WorstPnl, "P&L@worst", 10, 1),
];

fn positions(f: &mut Frame, area: Rect, st: &State, v: &AccountSnapshot, theme: &Theme) {
    let cols = fitting(&POSITION_COLUMNS, area.width.saturating_sub(2));
    let header = Row::new(cols.iter().map(|c| c.header)).style(theme.header);
    let skip = st.scroll.at(v.legs.len());
    let body: Vec<Row> = v
        .legs
        .iter()
        .skip(skip)
        .map(|l| {
            Row::new(cols.iter().map(|c| match c.id {
                Pos::Instrument => l.instrument.clone(),
                Pos::Size => num(l.size, 2),
                Pos::Mark => opt_num(l.mark, 4),
                Pos::Delta => opt_num(l.delta, 3),
                Pos::Gamma => opt_num(l.gamma, 6),
                Pos::Vega => opt_num(l.vega, 1),
                Pos::Theta => opt_num(l.theta, 1),
                Pos::WorstPnl => opt_num(l.worst_pnl, 4),
            }))
        })
        .collect();
    let title = format!(
        " positions ({}{})   delta {}   vega {} $   theta {} $/day   P&L@worst: in the worst scenario, before aggregation ",
        v.positions.len(),
        if skip > 0 {
            format!(", from {}", skip + 1)
        } else {
            String::new()
        },
        delta_text(v),
        num(v.greeks.vega, 0),
        num(v.greeks.theta, 0),
    );
    let table = Table::new(body, widths(&cols))
        .header(header)
        .block(bordered(title));
    f.render_widget(table, area);
}

fn by_expiry(f: &mut Frame, area: Rect, rows: &[&ExpiryGreeks], theme: &Theme) {
    // Rows of several indices say whose expiry they are.
    let several = rows.iter().any(|o| o.index_name != rows[0].index_name);
    let header = Row::new(["expiry", "delta", "gamma", "vega", "theta"]).style(theme.header);
    let body: Vec<Row> = rows
        .iter()
        .map(|g| {
            let coin = g.index_name.split('_').next().unwrap_or("");
            Row::new([
                match several {
                    true => format!("{coin} {}", g.expiry),
                    false => g.expiry.clone(),
                },
                num(g.delta, 3),
                num(g.gamma, 5),
                num(g.vega, 0),
                num(g.theta, 0),
            ])
        })
        .collect();
    let widths = [if several { 13 } else { 9 }, 8, 9, 8, 8].map(Constraint::Length);
    f.render_widget(
        Table::new(body, widths)
            .header(header)
            .block(bordered(" Greeks by expiry ".into())),
        area,
    );
}

/// mm_ratio and equity since start as two sparklines side by side.
fn history(f: &mut Frame, area: Rect, h: Option<&History>, theme: &Theme) {
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
                // The lowest point still draws a bar (a blank reads as a gap).
                .map(|v| ((v - lo) / span * 100.0) as u64 + 15)
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
    f.render_widget(
        Sparkline::default()
            .data(&mm_data)
            .style(theme.warn)
            .block(bordered(mm_title)),
        left,
    );
    f.render_widget(
        Sparkline::default()
            .data(&eq_data)
            .style(theme.accent)
            .block(bordered(eq_title)),
        right,
    );
}

/// A cross account's wallets: balance, equity, USD rate and where it comes
/// from, haircut, collateral value, and each one's share of the requirement.
fn collateral(f: &mut Frame, area: Rect, c: &CrossView, r: Option<&Revalued>, theme: &Theme) {
    let header = Row::new([
        "ccy",
        "balance",
        "equity",
        "USD rate",
        "from",
        "haircut",
        "collateral $",
        "MM $",
        "share",
        "coin -10% $",
    ])
    .style(theme.header);
    let money = |v: Option<f64>| v.map_or("n/a".into(), |x| format!("{x:.0}"));
    let body: Vec<Row> = (c.wallets.iter())
        .map(|w| {
            let share = (w.maintenance_margin_usd)
                .filter(|_| c.maintenance_margin_usd > 0.0)
                .map(|m| m / c.maintenance_margin_usd);
            Row::new([
                w.currency.clone(),
                num(w.balance, 4),
                num(w.equity, 4),
                opt_num(w.usd_rate, 2),
                w.rate_source.to_string(),
                format!("{:.1}%", w.haircut * 100.0),
                money(w.collateral_usd),
                money(w.maintenance_margin_usd),
                pct(share),
                money(r.and_then(|r| r.coin_down(&w.currency))),
            ])
        })
        .collect();
    let ratio = c.mm_ratio().filter(|_| c.complete);
    let exchange = c.exchange.map_or(String::new(), |t| {
        format!(
            " │ exchange MB ${:.0} MM ${:.0}",
            t.margin_balance, t.maintenance_margin
        )
    });
    let title = format!(
        " collateral (cross account, judged on its totals): MB ${:.0}  MM ${:.0}  mm_ratio {}{exchange} ",
        c.margin_balance_usd,
        c.maintenance_margin_usd,
        pct(ratio)
    );
    let widths = [
        Constraint::Length(5),
        Constraint::Length(14),
        Constraint::Length(14),
        Constraint::Length(12),
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(13),
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Length(12),
    ];
    let table = Table::new(body, widths)
        .header(header)
        .block(bordered(title));
    f.render_widget(table, area);
}

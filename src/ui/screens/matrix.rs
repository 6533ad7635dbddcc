//! The risk matrix as a heatmap of P&L with the worst cell marked, and the
//! same book under every loaded model. Its own state: which model's
//! matrix is drawn (the next-model key steps through them).

use crate::engine::desk::{largest_loss, Matrix};
use crate::margin::analysis::ModelFigures;
use crate::ui::context::Ctx;
use crate::ui::format::{bordered, no_account, num, pct};
use crate::ui::keymap::Action;
use crate::ui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

/// A matrix to draw: price moves × vol moves of P&L, and where it is worst.
struct Heat<'a> {
    model: &'a str,
    index_name: &'a str,
    price_moves: &'a [f64],
    vol_moves: &'a [&'static str],
    pnl: &'a [Vec<Option<f64>>],
    /// Live from the engine (the account's own model) or from the last analysis.
    live: bool,
    /// The engine's matrix behind a live heat (it has the extended table).
    own: Option<&'a Matrix>,
}

/// The matrix screen's own state.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// Which of the matrices is drawn (wraps around).
    pub model: usize,
}

impl State {
    pub fn act(&mut self, action: Action) -> bool {
        if action != Action::NextModel {
            return false;
        }
        self.model = self.model.wrapping_add(1);
        true
    }
}

pub fn render(f: &mut Frame, area: Rect, st: &State, ctx: &Ctx) {
    let Some(v) = ctx.open_account() else {
        return no_account(f, area, ctx.open);
    };
    let theme = ctx.theme;
    let models: &[ModelFigures] = (ctx.results.analysis_of(&v.key()))
        .filter(|a| a.request.compare)
        .map_or(&[], |a| a.models.as_slice());
    // The account's own matrices first (live, one per index held), then
    // the other models' ones; `n` steps through them.
    let mut heats: Vec<Heat> = Vec::new();
    for m in v.matrix.iter().chain(&v.other_matrices) {
        heats.push(Heat {
            model: &v.model,
            index_name: &m.index_name,
            price_moves: &m.price_moves,
            vol_moves: &m.vol_moves,
            pnl: &m.pnl,
            live: true,
            own: Some(m),
        });
    }
    for fig in models.iter().filter(|m| m.model != v.model) {
        if let Some(m) = &fig.matrix {
            heats.push(Heat {
                model: &fig.model,
                index_name: &m.index_name,
                price_moves: &m.price_moves,
                vol_moves: &m.vol_moves,
                pnl: &m.pnl,
                live: false,
                own: None,
            });
        }
    }
    let compare_height = if models.is_empty() {
        3
    } else {
        models.len() as u16 + 3
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Length(compare_height), Constraint::Min(0)]).areas(area);
    comparison(
        f,
        top,
        models,
        &v.model,
        &v.currency,
        &ctx.key(Action::NextModel),
        theme,
    );
    match heats.get(st.model % heats.len().max(1)) {
        Some(h) => {
            // The live matrix has its extended table: beside, below, or in one line.
            let ext = h.own.filter(|m| !m.extended.is_empty());
            let Some(m) = ext else {
                return heatmap(f, bottom, h, &v.label, &v.currency, theme);
            };
            let heat_w = 9 + 14 * h.vol_moves.len() as u16 + 2;
            let heat_h = h.price_moves.len() as u16 + 3;
            let ext_h = m.extended.len() as u16 + 3;
            if bottom.width >= heat_w + 44 {
                let [l, r] = Layout::horizontal([Constraint::Min(heat_w), Constraint::Length(44)])
                    .areas(bottom);
                heatmap(f, l, h, &v.label, &v.currency, theme);
                extended(f, r, m, theme);
            } else if bottom.height >= heat_h + ext_h {
                let [t, b] = Layout::vertical([Constraint::Length(heat_h), Constraint::Min(0)])
                    .areas(bottom);
                heatmap(f, t, h, &v.label, &v.currency, theme);
                extended(f, b, m, theme);
            } else {
                let [t, b] =
                    Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(bottom);
                heatmap(f, t, h, &v.label, &v.currency, theme);
                f.render_widget(Paragraph::new(extended_line(m)).style(theme.dim), b);
            }
        }
        None => {
            let text = format!(
                "{} [{}] uses {}: standard margin has no risk matrix{}",
                v.label,
                v.currency,
                v.model,
                if models.is_empty() {
                    ""
                } else {
                    " (no model here has one for this book)"
                }
            );
            f.render_widget(Paragraph::new(text).block(bordered(String::new())), bottom);
        }
    }
}

/// Margin of the same book under each model.
fn comparison(
    f: &mut Frame,
    area: Rect,
    models: &[ModelFigures],
    own: &str,
    ccy: &str,
    next: &str,
    theme: &Theme,
) {
    if models.is_empty() {
        f.render_widget(
            Paragraph::new("valuing the book under every model…")
                .block(bordered(" models ".into())),
            area,
        );
        return;
    }
    let header = Row::new(["model", "IM", "MM", "mm_ratio", ""]).style(theme.header);
    let body: Vec<Row> = models
        .iter()
        .map(|m| {
            let note = match (m.model == own, m.complete) {
                (true, _) => "◆ the account's model",
                (false, false) => "positions left out",
                _ => "",
            };
            Row::new([
                m.model.clone(),
                num(m.initial_margin, 4),
                num(m.maintenance_margin, 4),
                pct(m.mm_ratio),
                note.to_string(),
            ])
        })
        .collect();
    let widths = [14, 11, 11, 9, 24].map(Constraint::Length);
    let title = format!(" the same book under each model (in {ccy}); {next}: next matrix ");
    f.render_widget(
        Table::new(body, widths)
            .header(header)
            .block(bordered(title)),
        area,
    );
}

fn heatmap(f: &mut Frame, area: Rect, h: &Heat, label: &str, ccy: &str, theme: &Theme) {
    let worst = largest_loss(h.pnl);
    let scale = h
        .pnl
        .iter()
        .flatten()
        .flatten()
        .fold(0.0_f64, |a, x| a.max(x.abs()))
        .max(1e-12);
    let mut header = vec![Cell::from("move")];
    header.extend(h.vol_moves.iter().map(|vm| Cell::from(format!("vol {vm}"))));
    let body: Vec<Row> = h
        .price_moves
        .iter()
        .zip(h.pnl)
        .enumerate()
        .map(|(i, (mv, row))| {
            let mut cells = vec![Cell::from(format!("{:+.1}%", mv * 100.0))];
            cells.extend(row.iter().enumerate().map(|(j, p)| {
                let is_worst = worst == Some((i, j));
                let text = p.map_or("—".into(), |x| {
                    format!("{}{}", if is_worst { "▼" } else { " " }, num(x, 4))
                });
                // Colour by sign and size; the sign is in the number too.
                let style = match p {
                    Some(x) if *x < 0.0 && x.abs() > 0.5 * scale => theme.critical,
                    Some(x) if *x < 0.0 => theme.loss,
                    Some(x) if *x > 0.0 => theme.profit,
                    _ => theme.dim,
                };
                let style = if is_worst {
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
    widths.extend(h.vol_moves.iter().map(|_| Constraint::Length(13)));
    let title = format!(
        " risk matrix {label} [{ccy}] {} on {}{}: P&L in {ccy} before aggregation, ▼ largest loss ",
        h.model,
        h.index_name,
        if h.live {
            ""
        } else {
            " (compared, revalued each second)"
        }
    );
    let table = Table::new(body, widths)
        .header(Row::new(header).style(theme.header))
        .block(bordered(title));
    f.render_widget(table, area);
}

/// The extended table: each scenario's P&L, and after the model's dampener
/// and offsets (what the worst case is taken from).
fn extended(f: &mut Frame, area: Rect, m: &Matrix, theme: &Theme) {
    let header = Row::new(["move", "vol", "P&L", "aggregated"]).style(theme.header);
    let body: Vec<Row> = m
        .extended
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let worst = m.worst_extended == Some(k);
            let style = match e.aggregated {
                _ if worst => theme.critical.add_modifier(Modifier::REVERSED),
                x if x < 0.0 => theme.loss,
                _ => theme.dim,
            };
            Row::new([
                format!("{:+.0}%", e.price_move * 100.0),
                e.vol_move.to_string(),
                num(e.pnl, 4),
                format!("{}{}", if worst { "▼" } else { " " }, num(e.aggregated, 4)),
            ])
            .style(style)
        })
        .collect();
    let widths = [7, 6, 11, 12].map(Constraint::Length);
    let title = if m.worst_extended.is_some() {
        " extended — ▼ the model's worst case "
    } else {
        " extended table "
    };
    f.render_widget(
        Table::new(body, widths)
            .header(header)
            .block(bordered(title.into())),
        area,
    );
}

/// The extended table in one line, for short terminals.
fn extended_line(m: &Matrix) -> String {
    let worst = m
        .extended
        .iter()
        .min_by(|a, b| a.aggregated.total_cmp(&b.aggregated));
    match worst {
        Some(e) => format!(
            " extended table: worst {} at {:+.0}% vol {}{} (taller terminal: the whole table)",
            num(e.aggregated, 4),
            e.price_move * 100.0,
            e.vol_move,
            if m.worst_extended.is_some() {
                ", the model's worst case"
            } else {
                ""
            }
        ),
        None => String::new(),
    }
}

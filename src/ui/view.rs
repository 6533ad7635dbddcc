//! The whole frame: banner, the current screen, the stale overlay on the
//! account screens and the status line. Drawing reads the app and the
//! snapshot and changes neither. Every function takes whatever area it is
//! given, down to zero cells, without panicking.

use super::app::{main_area, App, Screen};
use super::context::Ctx;
use super::keymap::Action;
use super::prompt::Prompt;
use super::screens::{account, alerts, backtest, desk, help, matrix, risk, stress, var, whatif};
use crate::engine::live::Snapshot;
use crate::exchange::feed::LinkState;
use crate::model::instrument::Settlement;
use crate::model::Instrument;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// Draw the whole screen.
pub fn draw(f: &mut Frame, app: &App, snap: &Snapshot, banner: &str) {
    let area = f.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    let [top, _, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    let main = main_area(area);
    let ctx = app.ctx(snap);
    let theme = ctx.theme;
    f.render_widget(
        Paragraph::new(Line::from(Span::styled(banner.to_string(), theme.header))),
        top,
    );
    let s = &app.screens;
    match app.screen {
        Screen::Overview => desk::render(f, main, &s.desk, &ctx),
        Screen::Account => account::render(f, main, &s.account, &ctx),
        Screen::Matrix => matrix::render(f, main, &s.matrix, &ctx),
        Screen::Stress => stress::render(f, main, &s.stress, &ctx),
        Screen::WhatIf => whatif::render(f, main, &s.whatif, &ctx),
        Screen::Var => var::render(f, main, s.var_method, &ctx),
        Screen::Backtest => backtest::render(f, main, s.var_method, &ctx),
        Screen::DeskRisk => risk::render(f, main, s.var_method, &ctx),
        Screen::Alerts => alerts::render(f, main, &s.alerts, &ctx),
        Screen::Help => help::render(f, main, &s.help, &ctx),
    }
    if app.screen.needs_account() {
        stale_over(f, main, &ctx);
    }
    f.render_widget(status(app, &ctx), bottom);
}

/// On the screens about one account, a stale account's numbers are dimmed
/// and a line over them says so: never shown as current.
fn stale_over(f: &mut Frame, area: Rect, ctx: &Ctx) {
    let Some(v) = ctx.open_account().filter(|v| v.stale) else {
        return;
    };
    if area.height == 0 {
        return;
    }
    f.buffer_mut().set_style(area, ctx.theme.stale);
    let age = v.data_age_ms.map_or("no data".into(), |a| {
        format!("data {:.1} s old", a as f64 / 1000.0)
    });
    let why = (v.stale_reason.clone()).unwrap_or_else(|| "or its link is down".into());
    let text = format!(
        " ◌ STALE: {} — {age}: {why}; these numbers are not current ",
        v.key().name()
    );
    let line = Rect { height: 1, ..area };
    f.render_widget(Paragraph::new(text).style(ctx.theme.selected), line);
}

/// The bottom line: a prompt being typed, else keys, links, messages and
/// the latest alert.
fn status(app: &App, ctx: &Ctx) -> Paragraph<'static> {
    let theme = ctx.theme;
    let desk = &app.screens.desk;
    if let Some(p) = &app.prompt {
        let (label, text) = match p {
            Prompt::Filter => ("filter", desk.filter.clone()),
            Prompt::Scenario => ("new scenario: price% vol% (e.g. -20 30)", app.input.clone()),
            Prompt::Instrument => ("instrument (type to filter, ↑↓, Enter)", app.input.clone()),
            Prompt::Size(i) => return sized_prompt(i, &app.input, ctx),
        };
        let line = format!(" {label}: {text}▏  Enter ok · Esc cancel");
        return Paragraph::new(line).style(theme.selected);
    }
    let snap = ctx.snap;
    let live = (snap.links.values())
        .filter(|l| **l == LinkState::Live)
        .count();
    let down = snap.links.len() - live;
    let mut text = format!(
        " {} quit {} help │ sort: {} │ links {live} live{} │ {} msgs{}",
        ctx.key(Action::Quit),
        ctx.key(Action::Help),
        desk.sort.label(),
        if down > 0 {
            format!(", {down} DOWN")
        } else {
            String::new()
        },
        snap.messages,
        (ctx.trends.message_rate).map_or(String::new(), |r| format!(", {r:.0}/s"))
    );
    if !desk.filter.is_empty() {
        text.push_str(&format!(" │ filter: {}", desk.filter));
    }
    if let Some(m) = &app.message {
        text.push_str(&format!(" │ {m}"));
    } else if let Some(a) = ctx.alerts.newest().next() {
        text.push_str(&format!(" │ ! {}", a.text));
    } else if let Some(w) = snap.warnings.first() {
        text.push_str(&format!(" │ ! {w}"));
    }
    Paragraph::new(text).style(theme.dim)
}

fn sized_prompt(instrument: &str, input: &str, ctx: &Ctx) -> Paragraph<'static> {
    let unit = match Instrument::parse(instrument) {
        Ok(i) if !i.is_option() && i.settlement == Settlement::Inverse => "USD",
        Ok(_) => "coin",
        Err(_) => "the instrument's units",
    };
    Paragraph::new(format!(
        " size of {instrument} in {unit}, negative sells: {input}▏  Enter ok · Esc cancel"
    ))
    .style(ctx.theme.selected)
}

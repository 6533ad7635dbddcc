//! The report as text for a terminal.

use super::{AccountReport, Report};
use std::fmt::Write;

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".to_string(), |x| format!("{x:.digits$}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("none in range".to_string(), |x| {
        format!("{:+.1}%", x * 100.0)
    })
}

/// A readable multi-account report.
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "margintop report  (as of {} ms since epoch, {} account(s))",
        report.as_of,
        report.accounts.len()
    );
    for w in &report.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    for a in &report.accounts {
        account(&mut out, a);
    }
    if let Some(d) = &report.desk {
        desk(&mut out, d);
    }
    out
}

/// An account's VaR and ES under each method, beside its margin.
fn var(out: &mut String, a: &AccountReport) {
    let Some(v) = &a.var else { return };
    let c = &a.currency;
    let _ = writeln!(
        out,
        "  VaR/ES, {} day(s), {} days {}..{} ({} history), in {c} (USD):",
        v.horizon_days,
        v.window.days,
        v.window.from.as_deref().unwrap_or("?"),
        v.window.to.as_deref().unwrap_or("?"),
        v.window.history
    );
    let _ = writeln!(
        out,
        "    {:<4} {:>24} {:>24} {:>24}",
        "", "VaR 99%", "ES 97.5%", "ES 99%"
    );
    let mc = v.mc.as_ref().map(|m| &m.figures);
    for (name, f) in [("HS", v.hs.as_ref()), ("FHS", v.fhs.as_ref()), ("MC", mc)] {
        let Some(f) = f else {
            let _ = writeln!(out, "    {name:<4} n/a (see the warnings)");
            continue;
        };
        let cell = |x: f64, usd: f64| format!("{x:.4} ({usd:.0})");
        let _ = writeln!(
            out,
            "    {name:<4} {:>24} {:>24} {:>24}",
            cell(f.var_99, f.var_99_usd),
            cell(f.es_975, f.es_975_usd),
            cell(f.es_99, f.es_99_usd)
        );
    }
    if let (Some(mm), Some(hs)) = (a.maintenance_margin, &v.hs) {
        let _ = writeln!(
            out,
            "    maintenance margin {mm:.4} {c} is {:.2}× the HS VaR 99%",
            mm / hs.var_99
        );
    }
}

/// The desk's VaR and ES in USD and the factors' correlations.
fn desk(out: &mut String, d: &super::var::DeskReport) {
    let w = &d.window;
    let _ = writeln!(
        out,
        "\n== desk VaR/ES in USD, {} days {}..{} ({} history)",
        w.days,
        w.from.as_deref().unwrap_or("?"),
        w.to.as_deref().unwrap_or("?"),
        w.history
    );
    let _ = writeln!(
        out,
        "  {:<4} {:>12} {:>12} {:>12} {:>22} {:>16}",
        "", "VaR 99%", "ES 97.5%", "ES 99%", "sum of accounts' VaR", "diversification"
    );
    for (name, m) in [("HS", &d.var.hs), ("FHS", &d.var.fhs), ("MC", &d.var.mc)] {
        let Some(m) = m else { continue };
        let _ = writeln!(
            out,
            "  {name:<4} {:>12.0} {:>12.0} {:>12.0} {:>22.0} {:>16.0}",
            m.var_99_usd,
            m.es_975_usd,
            m.es_99_usd,
            m.sum_of_accounts_var_99_usd,
            m.sum_of_accounts_var_99_usd - m.var_99_usd
        );
    }
    let f = &d.correlation.factors;
    let _ = writeln!(out, "  correlations: {:>12}", f.join(" "));
    for (name, row) in f.iter().zip(&d.correlation.matrix) {
        let cells: String = row.iter().map(|v| format!(" {v:>+.2}")).collect();
        let _ = writeln!(out, "  {name:>12}{cells}");
    }
}

fn account(out: &mut String, a: &AccountReport) {
    let c = &a.currency;
    let _ = writeln!(
        out,
        "\n== {} [{}] model {}  health {}",
        a.account,
        c,
        a.margin_model,
        a.health.label()
    );
    let _ = writeln!(
        out,
        "  equity {} {c}   margin balance {} {c}   balance {} {c}   options value {} {c}",
        num(a.equity, 6),
        num(a.margin_balance, 6),
        num(a.balance, 6),
        num(a.options_value, 6)
    );
    let _ = writeln!(
        out,
        "  IM {} {c}   MM {} {c}   mm_ratio {}   im_ratio {}   headroom {} {c} ({} USD)",
        num(a.initial_margin, 6),
        num(a.maintenance_margin, 6),
        a.mm_ratio
            .map_or("n/a".into(), |r| format!("{:.2}%", r * 100.0)),
        a.im_ratio
            .map_or("n/a".into(), |r| format!("{:.2}%", r * 100.0)),
        num(a.headroom, 6),
        num(a.headroom_usd, 0),
    );
    if let (Some(im), Some(mm)) = (a.exchange.initial_margin, a.exchange.maintenance_margin) {
        let _ = writeln!(out, "  exchange says: IM {im:.6} {c}   MM {mm:.6} {c}");
    }
    collateral(out, a);
    let m = &a.margin;
    let _ = writeln!(
        out,
        "  margin parts: worst case {:.6}  roll {:.6}  delta shock {:.6}  short option min {:.6}  add-ons {:.6}",
        m.worst_case, m.roll_shock, m.delta_shock, m.short_option_minimum, m.add_ons
    );
    let g = &a.greeks;
    let _ = writeln!(
        out,
        "  greeks: delta_total {:.4} {c}  gamma {:.6}  vega {:.2} USD  theta {:.2} USD/day",
        g.delta_total, g.gamma, g.vega, g.theta
    );
    if let (Some(d), Some(g1)) = (g.delta_total_usd, g.gamma_usd_1pct) {
        let _ = writeln!(
            out,
            "          delta {d:.0} USD  gamma {g1:.0} USD per 1 %  vega {} {c}  theta {} {c}/day",
            num(g.vega_coin, 5),
            num(g.theta_coin, 5)
        );
    }
    if a.greeks_by_expiry.len() > 1 {
        let _ = writeln!(
            out,
            "  {:<12} {:>10} {:>11} {:>10} {:>10}",
            "expiry", "delta", "gamma", "vega", "theta"
        );
        for e in &a.greeks_by_expiry {
            let _ = writeln!(
                out,
                "  {:<12} {:>10.4} {:>11.7} {:>10.2} {:>10.2}",
                e.expiry, e.delta, e.gamma, e.vega, e.theta
            );
        }
    }
    let l = &a.liquidation;
    let _ = writeln!(
        out,
        "  liquidation: down {} ({})   up {} ({})",
        pct(l.down_move),
        num(l.down_price, 0),
        pct(l.up_move),
        num(l.up_price, 0)
    );
    if !a.positions.is_empty() {
        let _ = writeln!(
            out,
            "  {:<26} {:>12} {:>12} {:>10} {:>11} {:>10} {:>10}",
            "position", "size", "mark", "delta", "gamma", "vega", "theta"
        );
        for p in &a.positions {
            let _ = writeln!(
                out,
                "  {:<26} {:>12.4} {:>12.6} {:>10.4} {:>11.7} {:>10.2} {:>10.2}",
                p.instrument, p.size, p.mark_price, p.delta, p.gamma, p.vega, p.theta
            );
        }
    }
    if let Some(rm) = &a.risk_matrix {
        let _ = writeln!(
            out,
            "  risk matrix ({}, {}), P&L in {c}:",
            rm.model, rm.index_name
        );
        let header: String = rm
            .vol_moves
            .iter()
            .map(|v| format!("{:>12}", format!("vol {v}")))
            .collect();
        let _ = writeln!(out, "  {:>8}{header}", "move");
        for (mv, row) in rm.price_moves.iter().zip(&rm.pnl) {
            let cells: String = row.iter().map(|v| format!("{:>12}", num(*v, 5))).collect();
            let _ = writeln!(out, "  {:>7.1}%{cells}", mv * 100.0);
        }
    }
    if !a.stress.is_empty() {
        let _ = writeln!(out, "  stress (P&L in {c}; mm_ratio in the scenario):");
        for s in &a.stress {
            let ratio = s
                .mm_ratio
                .map_or("MB<=0".into(), |r| format!("{:.1}%", r * 100.0));
            let _ = writeln!(
                out,
                "    {:<42} {:>+7.1}% vol {:>+5.0}%  {:>12}  {:>8}",
                s.name,
                s.price_move * 100.0,
                s.vol_move * 100.0,
                num(s.pnl, 5),
                ratio
            );
        }
    }
    var(out, a);
    for w in &a.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
}

/// A cross account's wallets: what backs the requirement, at what value.
fn collateral(out: &mut String, a: &AccountReport) {
    if a.currencies.is_empty() {
        return;
    }
    let ex = &a.exchange;
    let basis = a.basis.unwrap_or("local");
    let _ = writeln!(
        out,
        "  collateral (cross, judged on the {basis} totals): exchange margin balance {} USD, MM {} USD",
        num(ex.margin_balance_usd, 2),
        num(ex.maintenance_margin_usd, 2),
    );
    let _ = writeln!(
        out,
        "    {:<5} {:>14} {:>14} {:>12} {:>8} {:>14} {:>7} {:>14} {:>14} {:>6} {:>12}",
        "ccy",
        "balance",
        "equity",
        "USD rate",
        "from",
        "equity USD",
        "haircut",
        "collateral USD",
        "MM USD",
        "share",
        "coin -10%"
    );
    for p in &a.currencies {
        let _ = writeln!(
            out,
            "    {:<5} {:>14.6} {:>14} {:>12} {:>8} {:>14} {:>6.1}% {:>14} {:>14} {:>6} {:>12}",
            p.currency,
            p.balance,
            num(p.equity, 6),
            num(p.index_price, 4),
            p.rate_source.unwrap_or("none"),
            num(p.equity_usd, 2),
            p.haircut * 100.0,
            num(p.collateral_usd, 2),
            num(p.maintenance_margin_usd, 2),
            p.share_of_requirement
                .map_or("n/a".into(), |s| format!("{:.0}%", s * 100.0)),
            num(p.pnl_usd_coin_down_10pct, 0),
        );
    }
}

//! The default run until the terminal dashboards exist: monitor (the
//! configured accounts, or the built-in demo exchange) and print a table of
//! every account, worst first, once a second.

use margintop::config::Config;
use margintop::demo::server::{self, DemoOptions};
use margintop::engine::live::{AccountSnapshot, Snapshot};
use margintop::margin::config::load_models;
use margintop::margin::stress::{parse_scenarios, BUILTIN_SCENARIOS};
use margintop::monitor;
use margintop::report::{Health, Thresholds};
use margintop::risk::history::History;
use margintop::ui::analysis::Analyst;
use margintop::ui::keymap::KeyMap;
use margintop::ui::results::Results;
use margintop::ui::terminal::{self as ui_terminal, UiOptions};
use margintop::ui::{ColorDepth, Theme};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct WatchArgs {
    /// Configuration file; without one (and no user config) margintop runs
    /// the built-in demo exchange.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Run the demo even if a user config exists.
    #[arg(long)]
    pub demo: bool,
    /// Demo only: start a market crash a few seconds in.
    #[arg(long)]
    pub demo_crash: bool,
    /// Demo only: the simulated market's seed (the same seed gives the same
    /// market path, as `demo-server --seed`).
    #[arg(long, value_name = "N", default_value_t = DemoOptions::default().seed)]
    pub seed: u64,
    /// Demo only: simulated seconds per real second (3600 lives a day in 24
    /// minutes, through the 08:00 UTC settlement and expiries).
    #[arg(long, value_name = "N", default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,
    /// Stop after this many seconds (default: at Ctrl-C).
    #[arg(long, value_name = "S")]
    pub duration_s: Option<u64>,
    /// Colour theme: dark, light, monochrome, high-contrast (NO_COLOR forces monochrome).
    #[arg(long, default_value = "dark")]
    pub theme: String,
    /// Colour depth: truecolor, 256, 16 or none (default: detected from COLORTERM and TERM).
    #[arg(long, value_name = "DEPTH")]
    pub color_depth: Option<String>,
    /// Most frames drawn per second.
    #[arg(long, default_value_t = 10)]
    pub fps: u32,
    /// Print a plain table once a second instead of the dashboards (also when
    /// not on a terminal); alerts go to stderr, one line each.
    #[arg(long)]
    pub plain: bool,
    /// Capture the mouse: the wheel scrolls, a click picks a desk row, a
    /// second click opens it (also `[ui] mouse = true` in the config).
    #[arg(long)]
    pub mouse: bool,
    /// Serve Prometheus metrics at http://ADDRESS/metrics, e.g.
    /// 127.0.0.1:9184 (also `[metrics] listen` in the config).
    #[arg(long, value_name = "ADDRESS")]
    pub metrics: Option<String>,
}

/// A demo speed: a positive number of simulated seconds per real second.
pub fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && (0.01..=100_000.0).contains(&x) => Ok(x),
        _ => Err(format!("{s:?} is not a speed from 0.01 to 100000")),
    }
}

pub fn run(args: WatchArgs) -> Result<(), String> {
    super::runtime()?.block_on(watch(args))
}

async fn watch(args: WatchArgs) -> Result<(), String> {
    let (config, path) = Config::load(args.config.as_deref())?;
    let models = load_models(None).map_err(|e| e.to_string())?;
    // Bad keys are refused before anything starts.
    let keys = KeyMap::with_overrides(&config.ui.key_overrides())?;
    let metrics_addr = config.metrics.address(args.metrics.as_deref())?;
    let scenarios = parse_scenarios(BUILTIN_SCENARIOS, "built-in scenarios")?;
    let use_demo = args.demo || args.demo_crash || config.accounts.is_empty();
    let (mon, demo, banner) = if use_demo {
        let opts = DemoOptions {
            seed: args.seed,
            time_scale: args.speed,
            ..DemoOptions::default()
        };
        let demo = server::start_in_process(opts).await?;
        let mut cfg = Config {
            accounts: vec![server::demo_account(&demo.url())],
            ..config.clone()
        };
        cfg.connection.clock_rate = args.speed.max(1.0);
        let creds = server::demo_credentials();
        let mon = monitor::start_with(&cfg, None, &creds, models, None)?;
        let banner = format!(
            "DEMO DATA — simulated exchange on {} (not real accounts)",
            demo.url()
        );
        (mon, Some(demo), banner)
    } else {
        let base = path
            .as_deref()
            .and_then(|p| p.parent())
            .map(|p| p.to_path_buf());
        let mon = monitor::start(&config, base.as_deref(), models, None)?;
        (
            mon,
            None,
            format!(
                "{} account(s) from {}",
                config.accounts.len(),
                path.map_or("config".into(), |p| p.display().to_string())
            ),
        )
    };
    let thresholds = Thresholds {
        warn_mm_ratio: config.check.warn_mm_ratio,
        critical_mm_ratio: config.check.critical_mm_ratio,
    };
    let alert_rules = config.alert_rules()?;
    let metrics = match metrics_addr {
        Some(addr) => Some(serve_metrics(addr, &mon).await?),
        None => None,
    };
    let banner = match &metrics {
        Some(m) => format!("{banner} · metrics on http://{}/metrics", m.addr),
        None => banner,
    };
    let shared = metrics.as_ref().map(|m| m.source.analysed.clone());
    let interactive =
        !args.plain && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if interactive {
        let theme = theme(&args)?;
        let crash: Option<Box<dyn Fn() + Send>> = demo.as_ref().map(|d| {
            let state = d.state.clone();
            Box::new(move || {
                if let Ok(mut s) = state.lock() {
                    s.crash();
                }
            }) as Box<dyn Fn() + Send>
        });
        if let (Some(d), true) = (&demo, args.demo_crash) {
            d.crash();
        }
        let opts = UiOptions {
            theme,
            fps: args.fps,
            banner: format!("margintop — {banner}"),
            thresholds,
            alert_rules,
            alerting: config.alerting.clone(),
            demo: demo.is_some(),
            keys,
            mouse: args.mouse || config.ui.mouse,
            scenarios,
            var: config.var.settings(),
            backtest: config.var.backtest(),
            history_url: (!use_demo)
                .then(|| config.accounts.first().map(|a| a.url().to_string()))
                .flatten(),
            metrics: shared,
            duration: args.duration_s.map(Duration::from_secs),
        };
        let result =
            ui_terminal::run(mon.snapshots.clone(), mon.queries.clone(), opts, crash).await;
        if let Some(m) = metrics {
            m.server.stop().await;
        }
        mon.stop().await;
        if let Some(d) = demo {
            d.stop();
        }
        return result;
    }
    let tty = std::io::stdout().is_terminal();
    let mut links = super::links::LinkWatch::start(mon.snapshots.clone());
    let mut failed = None;
    let mut reader_gone = false;
    let start = tokio::time::Instant::now();
    let mut crashed = false;
    // Alerts (built-in and configured) go to stderr as they happen, so that
    // a log or journal keeps them apart from the table.
    let mut alerts = margintop::ui::alerts::Alerts::with_rules(alert_rules);
    let (mut sinks, problem) = margintop::alerting::Sinks::new(&config.alerting);
    if let Some(p) = problem {
        eprintln!("margintop: {p}");
    }
    // The liquidation, stress and VaR figures the rules and the metrics
    // read, computed in the background as the dashboards do.
    let var = Some((Arc::new(History::shipped()), config.var.settings()));
    let (mut analyst, mut done) = Analyst::new(mon.queries.clone(), scenarios, var);
    let mut results = Results::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
            why = links.failed() => {
                failed = Some(why);
                break;
            }
            Some(d) = done.recv() => {
                analyst.finished(&d);
                results.absorb(d, None);
                let analysed = results.analysed(&mon.snapshots.borrow().clone());
                if let Some(shared) = &shared {
                    margintop::metrics::publish(shared, analysed.clone());
                }
                alerts.set_analysed(analysed);
                continue;
            }
        }
        if args
            .duration_s
            .is_some_and(|d| start.elapsed() >= Duration::from_secs(d))
        {
            break;
        }
        if let (Some(d), true, false) = (&demo, args.demo_crash, crashed) {
            if start.elapsed() >= Duration::from_secs(5) {
                d.crash();
                crashed = true;
            }
        }
        let snap = mon.snapshots.borrow().clone();
        analyst.desk(results.desk_due(&snap));
        analyst.var(results.var_due(&snap));
        let new = alerts.observe(&snap, &thresholds);
        for a in &new {
            eprintln!("{}", alert_line(a));
        }
        let entries: Vec<_> = new.iter().map(|a| a.entry()).collect();
        for p in sinks.deliver(&entries) {
            eprintln!("margintop: {p}");
        }
        let mut out = String::new();
        if tty {
            out.push_str("\x1b[H\x1b[2J");
        }
        out.push_str(&frame(&snap, &banner, &thresholds, crashed));
        if super::write_stdout(&out).is_err() {
            reader_gone = true;
            break; // the terminal or pipe is gone
        }
    }
    for p in sinks.finish() {
        eprintln!("margintop: {p}");
    }
    if let Some(m) = metrics {
        m.server.stop().await;
    }
    let last = mon.snapshots.borrow().clone();
    mon.stop().await;
    if let Some(d) = demo {
        d.stop();
    }
    // A reader that left early saw what it wanted; otherwise a connection
    // that never went live is a failure, not an empty table.
    match failed
        .or_else(|| links.never_live(&last))
        .filter(|_| !reader_gone)
    {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A running metrics endpoint and what it reads.
struct Metrics {
    server: margintop::metrics::MetricsServer,
    source: margintop::metrics::Source,
    addr: std::net::SocketAddr,
}

/// Serve `/metrics` on `addr` from the monitor's snapshots. An address
/// off the loopback interface is served (it was written), with a word on
/// stderr: every account's figures are readable by whoever reaches it.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    mon: &monitor::Monitor,
) -> Result<Metrics, String> {
    let source = margintop::metrics::Source::new(mon.snapshots.clone());
    let server = margintop::metrics::MetricsServer::start(addr, source.clone()).await?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "margintop: metrics are served on {addr}, not only on this machine: anyone who reaches it reads every account's figures"
        );
    }
    let addr = server.addr;
    Ok(Metrics {
        server,
        source,
        addr,
    })
}

/// An alert as one line of text: UTC time, level, what happened.
fn alert_line(a: &margintop::ui::alerts::Alert) -> String {
    let time = margintop::report::health::time_of_day_utc(a.at_ms);
    format!("{time} {:<8} {}", a.level.name(), a.text)
}

/// One screenful: banner, then one row per account with a book, worst first.
fn frame(snap: &Snapshot, banner: &str, t: &Thresholds, crashed: bool) -> String {
    let mut rows: Vec<(&AccountSnapshot, Health)> = snap
        .accounts
        .iter()
        .filter(|v| !v.positions.is_empty() || v.risk.balance != 0.0 || !v.refused.is_empty())
        .filter(|v| !v.folded_into_cross())
        .map(|v| (v, v.health(t)))
        .collect();
    let ratio = |v: &AccountSnapshot| v.judged_mm_ratio().unwrap_or(f64::INFINITY);
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(ratio(b.0).total_cmp(&ratio(a.0))));
    let mut out = format!("margintop — {banner}\n");
    if crashed {
        out.push_str("CRASH MODE: the demo market is falling\n");
    }
    let live = snap
        .links
        .values()
        .filter(|l| **l == margintop::exchange::feed::LinkState::Live)
        .count();
    out.push_str(&format!(
        "{} connection(s) live of {}, {} messages\n\n",
        live,
        snap.links.len(),
        snap.messages
    ));
    out.push_str(&format!(
        "{:<26} {:<4} {:<11} {:<11} {:>8} {:>13} {:>11} {:>9} {:>8}\n",
        "account", "ccy", "model", "health", "mm_ratio", "equity", "MM", "positions", "age"
    ));
    for (v, h) in rows {
        let ratio = v
            .judged_mm_ratio()
            .map_or("n/a".into(), |r| format!("{:.1}%", r * 100.0));
        let age = v
            .data_age_ms
            .map_or("n/a".into(), |a| format!("{:.1}s", a as f64 / 1000.0));
        // A cross account: one row, its totals in USD.
        let (ccy, equity, mm) = match &v.cross {
            Some(c) => ("USD", c.equity_usd, c.maintenance_margin_usd),
            None => (
                v.currency.as_str(),
                v.risk.equity,
                v.risk.margin.maintenance_margin,
            ),
        };
        out.push_str(&format!(
            "{:<26} {:<4} {:<11} {:<11} {:>8} {:>13.4} {:>11.4} {:>9} {:>8}\n",
            v.label,
            ccy,
            v.model,
            h.label(),
            ratio,
            equity,
            mm,
            v.positions.len(),
            age
        ));
    }
    out.push('\n');
    out
}

/// The theme asked for, at the terminal's colour depth; NO_COLOR wins.
fn theme(args: &WatchArgs) -> Result<Theme, String> {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let depth = match &args.color_depth {
        Some(d) => ColorDepth::parse(d)
            .ok_or_else(|| format!("--color-depth {d:?}: use truecolor, 256, 16 or none"))?,
        None => ColorDepth::detect(
            no_color,
            std::env::var("COLORTERM").ok().as_deref(),
            std::env::var("TERM").ok().as_deref(),
        ),
    };
    let depth = if no_color { ColorDepth::None } else { depth };
    let name = if no_color {
        "monochrome"
    } else {
        args.theme.as_str()
    };
    Theme::builtin(name, depth)
}

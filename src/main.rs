//! margintop command line.

use clap::{Parser, Subcommand};
use margintop::engine::Desk;
use margintop::engine::Ingest;
use margintop::margin::config::load_models;
use margintop::margin::stress::{parse_scenarios, StressScenario, BUILTIN_SCENARIOS};
use margintop::report::{build_report, render_table, ReportOptions};
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

/// The sample recording shipped with margintop (config/samples/README.md).
const SAMPLE: &str = include_str!("../config/samples/deribit_2022-06-02.jsonl");

#[derive(Parser)]
#[command(
    name = "margintop",
    version,
    about = "Terminal risk monitor for crypto derivatives accounts (Deribit portfolio margin, Greeks, stress, liquidation distance)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a recording and print the risk report at its end.
    Report(ReportArgs),
}

#[derive(clap::Args, Default)]
struct ReportArgs {
    /// Recording to replay (JSON lines, FORMATS.md §1). Default: the shipped sample.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Print the report as JSON (FORMATS.md §2) instead of a table.
    #[arg(long)]
    json: bool,
    /// Use this margin model for every account instead of the exchange's
    /// (deribit_pm, deribit_sm, span16, or a name from --models-dir).
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
    /// Directory of extra or replacement margin models (*.toml).
    #[arg(long, value_name = "DIR")]
    models_dir: Option<PathBuf>,
    /// Stress scenarios file (default: the shipped config/scenarios.toml).
    #[arg(long, value_name = "FILE")]
    scenarios: Option<PathBuf>,
    /// Add a custom stress scenario: price move and relative vol move, e.g. -0.2,0.5
    #[arg(long, value_name = "PRICE,VOL", value_parser = parse_custom, allow_hyphen_values = true)]
    stress: Vec<(f64, f64)>,
    /// Account data older than this (milliseconds, recording clock) is stale.
    #[arg(long, default_value_t = 60_000)]
    stale_after_ms: i64,
}

fn parse_custom(s: &str) -> Result<(f64, f64), String> {
    let (p, v) = s
        .split_once(',')
        .ok_or("expected PRICE,VOL such as -0.2,0.5")?;
    let p: f64 = p
        .trim()
        .parse()
        .map_err(|_| format!("price move {p:?} is not a number"))?;
    let v: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("vol move {v:?} is not a number"))?;
    if !(p > -1.0 && v > -1.0 && p.is_finite() && v.is_finite()) {
        return Err("moves must be finite and above -1 (-100 %)".into());
    }
    Ok((p, v))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Report(args)) => report(args),
        None => {
            eprintln!("margintop: the live monitor is not built yet; showing the report of the shipped sample recording.");
            eprintln!(
                "           run `margintop report --help` for replaying your own recordings.\n"
            );
            report(ReportArgs {
                stale_after_ms: i64::MAX,
                ..ReportArgs::default()
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("margintop: {e}");
            ExitCode::from(3)
        }
    }
}

fn report(args: ReportArgs) -> Result<(), String> {
    let models = load_models(args.models_dir.as_deref()).map_err(|e| e.to_string())?;
    if let Some(m) = &args.model {
        if !models.contains_key(m) {
            let known: Vec<&str> = models.keys().map(String::as_str).collect();
            return Err(format!(
                "unknown margin model {m:?}; known: {}",
                known.join(", ")
            ));
        }
    }
    let mut scenarios: Vec<StressScenario> = match &args.scenarios {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            parse_scenarios(&text, &path.display().to_string())?
        }
        None => parse_scenarios(BUILTIN_SCENARIOS, "built-in scenarios")?,
    };
    scenarios.extend(
        args.stress
            .iter()
            .map(|(p, v)| StressScenario::custom(*p, *v)),
    );
    let mut replayer = Ingest::new(Desk::new(models, 0), args.model.clone());
    match &args.replay {
        Some(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| format!("cannot open recording {}: {e}", path.display()))?;
            replayer
                .read(BufReader::new(file))
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
        }
        None => replayer
            .read(SAMPLE.as_bytes())
            .map_err(|e| e.to_string())?,
    }
    let as_of = replayer
        .stats
        .last_t
        .ok_or("the recording holds no entries")?;
    let last = &replayer.last_update;
    let opts = ReportOptions {
        scenarios: &scenarios,
        stale_after_ms: args.stale_after_ms,
    };
    let mut report = build_report(&replayer.desk, &|id| last.get(&id).copied(), as_of, &opts);
    report.warnings = replayer.stats.warnings();
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print!("{}", render_table(&report));
    }
    Ok(())
}

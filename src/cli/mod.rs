//! The subcommands, and the options they share.

pub mod backtest;
pub mod bench;
pub mod check;
pub mod demo;
pub mod links;
pub mod progress;
pub mod record;
pub mod report;
pub mod soak;
pub mod watch;

use margintop::margin::config::{load_models, ModelConfig};
use margintop::margin::stress::{parse_scenarios, StressScenario, BUILTIN_SCENARIOS};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Options about the risk computed (shared by report and check).
#[derive(clap::Args, Default, Clone)]
pub struct RiskArgs {
    /// Use this margin model for every account instead of the exchange's
    /// (deribit_pm, deribit_sm, span16, or a name from --models-dir).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Directory of extra or replacement margin models (*.toml).
    #[arg(long, value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
    /// Stress scenarios file (default: the shipped config/scenarios.toml).
    #[arg(long, value_name = "FILE")]
    pub scenarios: Option<PathBuf>,
    /// Add a custom stress scenario: price move and relative vol move, e.g. -0.2,0.5
    #[arg(long, value_name = "PRICE,VOL", value_parser = parse_custom, allow_hyphen_values = true)]
    pub stress: Vec<(f64, f64)>,
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

impl RiskArgs {
    pub fn models(&self) -> Result<BTreeMap<String, ModelConfig>, String> {
        let models = load_models(self.models_dir.as_deref()).map_err(|e| e.to_string())?;
        if let Some(m) = &self.model {
            if !models.contains_key(m) {
                let known: Vec<&str> = models.keys().map(String::as_str).collect();
                return Err(format!(
                    "unknown margin model {m:?}; known: {}",
                    known.join(", ")
                ));
            }
        }
        Ok(models)
    }

    pub fn scenarios(&self) -> Result<Vec<StressScenario>, String> {
        let mut scenarios = match &self.scenarios {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                parse_scenarios(&text, &path.display().to_string())?
            }
            None => parse_scenarios(BUILTIN_SCENARIOS, "built-in scenarios")?,
        };
        scenarios.extend(
            self.stress
                .iter()
                .map(|(p, v)| StressScenario::custom(*p, *v)),
        );
        Ok(scenarios)
    }
}

/// Write to stdout and flush.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// Write to stdout; a reader that went away (`| head`) ends the output
/// quietly instead of panicking the process.
pub fn out(text: &str) -> Result<(), String> {
    match write_stdout(text) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write the output: {e}"))
        }
        _ => Ok(()),
    }
}

/// Read a recording's lines, skipping (and marking) any longer than `cap` bytes.
pub fn read_lines(path: &std::path::Path, cap: usize) -> Result<Vec<String>, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot open recording {}: {e}", path.display()))?;
    // A large buffer: a recording is tens of megabytes, read in one go.
    let input = std::io::BufReader::with_capacity(1 << 20, file);
    margintop::exchange::recording::read_capped_lines(input, cap)
        .map_err(|e| format!("cannot read recording {}: {e}", path.display()))
}

/// The runtime every networked command runs on: two workers (the machine's
/// two cores), timers and I/O.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

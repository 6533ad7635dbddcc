//! `margintop record`: monitor and write every message to a recording.

use margintop::config::Config;
use margintop::exchange::recording::Recorder;
use margintop::margin::config::load_models;
use margintop::monitor::{self, RecordSink};
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct RecordArgs {
    /// Configuration file (default: config.toml in the platform config directory).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The recording to write (JSON lines; an existing file is refused).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Stop after this many seconds (default: at Ctrl-C or SIGTERM).
    #[arg(long, value_name = "S")]
    pub duration_s: Option<u64>,
    /// Directory of extra or replacement margin models (*.toml).
    #[arg(long, value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
}

pub fn run(args: RecordArgs) -> Result<(), String> {
    let (config, path) = Config::load(args.config.as_deref())?;
    let base = path
        .as_deref()
        .and_then(|p| p.parent())
        .map(|p| p.to_path_buf());
    let models = load_models(args.models_dir.as_deref()).map_err(|e| e.to_string())?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let sink: RecordSink = Box::new(BufWriter::new(file));
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let mon = monitor::start(&config, base.as_deref(), models, Some(Recorder::new(sink)))?;
        eprintln!(
            "margintop: recording to {} (Ctrl-C to stop)",
            args.out.display()
        );
        tokio::spawn(print_warnings(mon.snapshots.clone()));
        let mut links = super::links::LinkWatch::start(mon.snapshots.clone());
        let duration = args.duration_s.map(Duration::from_secs);
        // A recording that cannot be written ends at once: nothing more
        // would reach the file.
        let failed = tokio::select! {
            _ = wait_for_stop(duration) => None,
            why = links.failed() => Some(why),
            _ = write_failed(mon.snapshots.clone()) => None,
        };
        let last = mon.snapshots.borrow().clone();
        let mut engine = mon.stop().await.ok_or("the engine stopped unexpectedly")?;
        let messages = engine.snapshot(0).messages;
        if let Some(e) = engine.recording_error() {
            return Err(format!("recording {} failed: {e}", args.out.display()));
        }
        if let Some(e) = failed.or_else(|| links.never_live(&last)) {
            return Err(e);
        }
        eprintln!(
            "margintop: {messages} messages recorded in {}",
            args.out.display()
        );
        Ok(())
    })
}

/// Resolves when the engine reports that the recording stopped.
async fn write_failed(
    mut rx: tokio::sync::watch::Receiver<std::sync::Arc<margintop::engine::live::Snapshot>>,
) {
    while rx.changed().await.is_ok() {
        if rx.borrow().recording_error.is_some() {
            return;
        }
    }
    std::future::pending().await
}

/// Print each new warning of the engine (connection notices, unreadable
/// messages) once, as it appears.
async fn print_warnings(
    mut rx: tokio::sync::watch::Receiver<std::sync::Arc<margintop::engine::live::Snapshot>>,
) {
    let mut seen = std::collections::HashSet::new();
    while rx.changed().await.is_ok() {
        let warnings = rx.borrow().warnings.clone();
        for w in warnings {
            if seen.insert(w.clone()) {
                eprintln!("margintop: warning: {w}");
            }
        }
    }
}

/// Ctrl-C, SIGTERM, SIGHUP, or the duration, whichever comes first.
async fn wait_for_stop(duration: Option<Duration>) {
    let timer = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = timer => {} }
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
            _ = timer => {}
        }
    }
    #[cfg(not(unix))]
    tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = timer => {} }
}

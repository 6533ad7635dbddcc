//! Wiring of a live monitor: one connection per account for its private
//! data, one market-data connection per exchange URL shared by all accounts
//! on it, and the engine task between them and the snapshot watchers.

use crate::config::{credentials, Config, Credentials};
use crate::engine::live::{self, Engine, EngineSettings, Query, Snapshot, SpawnRequest};
use crate::engine::resync::ResyncTiming;
use crate::engine::{Desk, Ingest};
use crate::exchange::deribit::client::{self, ConnectionSpec};
use crate::exchange::feed::{now_ms, Command, Feed};
use crate::exchange::recording::Recorder;
use crate::margin::config::ModelConfig;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub type RecordSink = Box<dyn Write + Send>;

/// A running monitor.
pub struct Monitor {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Questions to the engine (account inputs for full revaluations).
    pub queries: mpsc::Sender<Query>,
    shutdown: watch::Sender<bool>,
    connections: Vec<JoinHandle<()>>,
    engine: JoinHandle<Engine<RecordSink>>,
}

/// The `acct` label of the market connection for `url`.
pub fn market_label(url: &str) -> String {
    format!("market {url}")
}

/// Start connections and engine for every account of `config`. `base` is
/// the config file's directory (for relative credentials files).
pub fn start(
    config: &Config,
    base: Option<&Path>,
    models: BTreeMap<String, ModelConfig>,
    recorder: Option<Recorder<RecordSink>>,
) -> Result<Monitor, String> {
    start_with(config, base, &HashMap::new(), models, recorder)
}

/// `start`, with credentials given in code for some account labels (the
/// built-in demo) instead of read from the environment or a file.
pub fn start_with(
    config: &Config,
    base: Option<&Path>,
    given: &HashMap<String, Credentials>,
    models: BTreeMap<String, ModelConfig>,
    recorder: Option<Recorder<RecordSink>>,
) -> Result<Monitor, String> {
    if config.accounts.is_empty() {
        return Err(
            "no accounts configured: add [[accounts]] to the config file (see config/default.toml)"
                .into(),
        );
    }
    let mut ingest = Ingest::new(Desk::new(models.clone(), 0), None);
    ingest.desk.set_clock_step(config.engine.clock_step_ms);
    ingest.limits.clock_rate = config.connection.clock_rate;
    let (feed_tx, feed_rx) = mpsc::channel(config.engine.queue_capacity.max(16));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut specs: Vec<(ConnectionSpec, mpsc::Receiver<Command>)> = Vec::new();
    let mut markets: HashMap<String, mpsc::Sender<Command>> = HashMap::new();
    let mut market_currencies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut market_of = HashMap::new();
    let mut privates = HashMap::new();
    for a in &config.accounts {
        if a.model != "auto" {
            if !models.contains_key(&a.model) {
                return Err(format!(
                    "account {}: unknown margin model {:?}",
                    a.label, a.model
                ));
            }
            ingest.label_models.insert(a.label.clone(), a.model.clone());
        }
        if let Some(c) = a.forced_collateral() {
            ingest.label_collateral.insert(a.label.clone(), c);
        }
        let creds = match given.get(&a.label) {
            Some(c) => Some(c.clone()),
            None => credentials(a, base)?,
        };
        if creds.is_none() {
            return Err(format!(
                "account {}: no credentials (set client_id_env and client_secret_env, or credentials_file)",
                a.label
            ));
        }
        let ccys = market_currencies.entry(a.url().to_string()).or_default();
        for c in a.currencies() {
            if !ccys.contains(&c) {
                ccys.push(c);
            }
        }
        market_of.insert(a.label.clone(), market_label(a.url()));
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        privates.insert(a.label.clone(), cmd_tx);
        specs.push((
            ConnectionSpec {
                acct: a.label.clone(),
                url: a.url().to_string(),
                credentials: creds,
                private_currencies: a.currencies(),
                instruments_of: Vec::new(),
                channels: Vec::new(),
                subject_id: None,
                list_subaccounts: a.subaccounts,
                settings: config.connection.clone(),
            },
            cmd_rx,
        ));
    }
    for (url, currencies) in market_currencies {
        let (cmd_tx, cmd_rx) = mpsc::channel(1024);
        let label = market_label(&url);
        markets.insert(label.clone(), cmd_tx);
        specs.push((
            ConnectionSpec {
                acct: label,
                url,
                credentials: None,
                private_currencies: Vec::new(),
                instruments_of: currencies,
                channels: Vec::new(),
                subject_id: None,
                list_subaccounts: false,
                settings: config.connection.clone(),
            },
            cmd_rx,
        ));
    }
    let parents: HashMap<String, ConnectionSpec> = specs
        .iter()
        .filter(|(spec, _)| spec.list_subaccounts)
        .map(|(spec, _)| (spec.acct.clone(), spec.clone()))
        .collect();
    let mut connections: Vec<JoinHandle<()>> = specs
        .into_iter()
        .map(|(spec, commands)| {
            tokio::spawn(client::run(
                spec,
                feed_tx.clone(),
                commands,
                shutdown_rx.clone(),
            ))
        })
        .collect();
    let (spawn_tx, spawn_rx) = mpsc::unbounded_channel();
    connections.push(tokio::spawn(spawn_subaccounts(
        parents,
        spawn_rx,
        feed_tx,
        shutdown_rx,
    )));
    let settings = EngineSettings {
        market_of,
        ..engine_settings(config)
    };
    let (query_tx, query_rx) = mpsc::channel(16);
    let engine = Engine::new(ingest, settings, markets, recorder)
        .with_spawner(spawn_tx)
        .with_queries(query_rx)
        .with_privates(privates);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::default()));
    let engine = tokio::spawn(live::run(engine, feed_rx, snap_tx));
    Ok(Monitor {
        snapshots: snap_rx,
        queries: query_tx,
        shutdown: shutdown_tx,
        connections,
        engine,
    })
}

/// The engine's settings from the configuration.
pub fn engine_settings(config: &Config) -> EngineSettings {
    let e = &config.engine;
    EngineSettings {
        stale_after_ms: e.stale_after_ms,
        equity_tolerance: e.equity_tolerance,
        equity_divergence_ms: e.equity_divergence_ms,
        mm_tolerance: e.mm_tolerance,
        mm_divergence_ms: e.mm_divergence_ms,
        resync: ResyncTiming {
            after_settlement_ms: e.settlement_resync_delay_ms,
            retry_ms: e.expired_retry_ms,
            every_ms: e.resync_interval_ms,
        },
        ..EngineSettings::default()
    }
}

/// A running subaccount connection and its own off switch.
struct Running {
    label: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Start a connection for each subaccount the engine asks for, acting as
/// that subaccount with its parent's key, and stop those it no longer
/// lists; ends at shutdown, after its connections (so that the engine sees
/// every feed sender go).
async fn spawn_subaccounts(
    parents: HashMap<String, ConnectionSpec>,
    mut requests: mpsc::UnboundedReceiver<SpawnRequest>,
    feed: mpsc::Sender<Feed>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut running: Vec<Running> = Vec::new();
    loop {
        tokio::select! {
            request = requests.recv() => match request {
                None => break,
                Some(SpawnRequest::Start { parent, label, subject_id, commands }) => {
                    let Some(parent) = parents.get(&parent) else { continue };
                    let spec = ConnectionSpec {
                        acct: label.clone(),
                        subject_id: Some(subject_id),
                        list_subaccounts: false,
                        ..parent.clone()
                    };
                    let (stop, off) = watch::channel(false);
                    let task = tokio::spawn(client::run(spec, feed.clone(), commands, off));
                    running.push(Running { label, stop, task });
                }
                Some(SpawnRequest::Stop { label }) => {
                    for r in running.iter().filter(|r| r.label == label) {
                        let _ = r.stop.send(true);
                    }
                    running.retain(|r| !r.task.is_finished() && r.label != label);
                }
            },
            _ = shutdown.changed() => break,
        }
    }
    drop(feed);
    for r in running {
        let _ = r.stop.send(true);
        let _ = r.task.await;
    }
}

/// Start an engine fed by a recording instead of connections, at `speed`
/// times the recorded pace (0 = as fast as possible).
pub fn start_replay(
    lines: Vec<String>,
    speed: f64,
    models: BTreeMap<String, ModelConfig>,
    model_override: Option<String>,
    stale_after_ms: i64,
) -> Monitor {
    let ingest = Ingest::new(Desk::new(models, 0), model_override);
    let (feed_tx, feed_rx) = mpsc::channel(65_536);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let player = tokio::spawn(crate::exchange::replay::play(
        lines,
        speed,
        feed_tx,
        shutdown_rx,
    ));
    let settings = EngineSettings {
        stale_after_ms,
        recording_clock: true,
        ..EngineSettings::default()
    };
    let (query_tx, query_rx) = mpsc::channel(16);
    let engine = Engine::new(ingest, settings, HashMap::new(), None).with_queries(query_rx);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::default()));
    let engine = tokio::spawn(live::run(engine, feed_rx, snap_tx));
    Monitor {
        snapshots: snap_rx,
        queries: query_tx,
        shutdown: shutdown_tx,
        connections: vec![player],
        engine,
    }
}

impl Monitor {
    /// Wait for the feeds to end by themselves (a replay played out), then
    /// for the engine; returns it.
    pub async fn finish(self) -> Option<Engine<RecordSink>> {
        for c in self.connections {
            let _ = c.await;
        }
        self.engine.await.ok()
    }

    /// Close every connection and wait for the engine to finish; returns it
    /// (its desk holds the final state; its recording is flushed).
    pub async fn stop(self) -> Option<Engine<RecordSink>> {
        let _ = self.shutdown.send(true);
        for c in self.connections {
            let _ = c.await;
        }
        let mut engine = self.engine.await.ok()?;
        let _ = engine.snapshot(now_ms());
        Some(engine)
    }
}

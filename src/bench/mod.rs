//! `margintop bench`: the full live path on loopback — WebSocket frames →
//! client parse → engine (normalize, incremental revaluation) → snapshot —
//! with a synthetic desk, measuring tick-to-snapshot latency at a paced
//! rate and the highest rate the path sustains.
//!
//! A feeder serves Deribit's protocol on 127.0.0.1 and records when it
//! sent each ticker; the engine counts the notifications it applied; a
//! watcher on the snapshot channel turns "snapshot N covers notifications
//! up to n" into one latency per ticker: from the feeder's send to the
//! first snapshot that includes it.

pub mod replay;

use crate::config::ConnectionConfig;
use crate::engine::live::{self, Engine, EngineSettings, Snapshot};
use crate::engine::{Desk, Ingest};
use crate::exchange::deribit::client::{self, ConnectionSpec};
use crate::exchange::feed::Feed;
use crate::exchange::recording::{Dir, RecordLine};
use crate::margin::config::load_models;
use crate::model::Instrument;
use crate::synthetic::{books, chain, ticker_message, NOW};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub accounts: usize,
    pub positions: usize,
    /// Paced phase: tickers per second, and for how long.
    pub rate: u32,
    pub seconds: f64,
    /// Flood phase: tickers sent as fast as the path takes them.
    pub flood: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            accounts: 100,
            positions: 50,
            rate: 2_000,
            seconds: 10.0,
            flood: 100_000,
        }
    }
}

#[derive(Clone, Debug)]
pub struct BenchReport {
    pub cores: usize,
    pub instruments: usize,
    pub accounts: usize,
    pub rate: u32,
    pub paced_messages: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub flood_messages: usize,
    pub sustained_per_s: f64,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "machine: {} cores; desk: {} accounts, {} instruments",
            self.cores, self.accounts, self.instruments
        )?;
        writeln!(
            f,
            "paced {} msg/s, {} tickers: tick-to-snapshot p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.rate, self.paced_messages, self.p50_ms, self.p99_ms, self.max_ms
        )?;
        write!(
            f,
            "flood of {} tickers: sustained {:.0} msg/s parse-and-apply",
            self.flood_messages, self.sustained_per_s
        )
    }
}

/// When each ticker left the feeder, by sequence number.
type SendTimes = Arc<Mutex<Vec<Instant>>>;

pub async fn run(opts: BenchOptions) -> Result<BenchReport, String> {
    let btc = chain("BTC", 88_000.0);
    let eth = chain("ETH", 3_000.0);
    let instruments: Vec<Instrument> = btc
        .iter()
        .chain(&eth)
        .filter_map(|n| Instrument::parse(n).ok())
        .collect();
    let held_books = books(opts.accounts, opts.positions, &btc, &eth);
    // The paced and flood phases tick what the accounts hold.
    let mut held: Vec<Instrument> = Vec::new();
    for (_, _, list) in &held_books {
        for (name, _) in list {
            if !held.iter().any(|i| &i.name == name) {
                held.push(Instrument::parse(name).map_err(|e| e.to_string())?);
            }
        }
    }
    let sends: SendTimes = Arc::new(Mutex::new(Vec::new()));
    let (phase_tx, phase_rx) = watch::channel(Phase::Warm);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let url = format!("ws://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let feeder = tokio::spawn(feed(
        listener,
        instruments.clone(),
        held,
        sends.clone(),
        phase_rx,
        opts.clone(),
    ));

    // Engine with the accounts already in it; market data comes over the socket.
    let mut ingest = Ingest::new(
        Desk::new(load_models(None).map_err(|e| e.to_string())?, NOW),
        Some("deribit_pm".into()),
    );
    for (i, (label, ccy, list)) in held_books.iter().enumerate() {
        account_lines(&mut ingest, label, ccy, list, i as i64);
    }
    let market = "market".to_string();
    let settings = EngineSettings {
        stale_after_ms: 10_000,
        recording_clock: false,
        ..EngineSettings::default()
    };
    let engine: Engine<Vec<u8>> = Engine::new(ingest, settings, HashMap::new(), None);
    let (feed_tx, feed_rx) = mpsc::channel::<Feed>(65_536);
    let (snap_tx, mut snap_rx) = watch::channel(Arc::new(Snapshot::default()));
    let engine_task = tokio::spawn(live::run(engine, feed_rx, snap_tx));
    let channels: Vec<String> = instruments
        .iter()
        .map(|i| format!("ticker.{}.100ms", i.name))
        .collect();
    let spec = ConnectionSpec {
        acct: market,
        url,
        credentials: None,
        private_currencies: Vec::new(),
        instruments_of: Vec::new(),
        channels,
        subject_id: None,
        list_subaccounts: false,
        settings: ConnectionConfig {
            max_requests_per_s: 1_000,
            ..ConnectionConfig::default()
        },
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (_cmd_tx, cmd_rx) = mpsc::channel(1);
    let client_task = tokio::spawn(client::run(spec, feed_tx, cmd_rx, shutdown_rx));

    // Warm-up: one ticker per instrument.
    let warm = instruments.len() as u64;
    wait_for(&mut snap_rx, warm, Duration::from_secs(60)).await?;
    let paced_n = (opts.rate as f64 * opts.seconds) as u64;
    phase_tx.send(Phase::Paced).map_err(|e| e.to_string())?;
    let mut latencies = Vec::with_capacity(paced_n as usize);
    let mut seen = warm;
    let paced_end = warm + paced_n;
    let deadline = Instant::now() + Duration::from_secs_f64(opts.seconds * 3.0 + 30.0);
    while seen < paced_end && Instant::now() < deadline {
        if tokio::time::timeout(Duration::from_secs(1), snap_rx.changed())
            .await
            .is_ok_and(|r| r.is_err())
        {
            break;
        }
        let now = Instant::now();
        let n = snap_rx.borrow().notifications;
        let times = sends.lock().map_err(|_| "feeder state poisoned")?;
        for seq in seen..n.min(paced_end) {
            if let Some(sent) = times.get(seq as usize) {
                latencies.push(now.duration_since(*sent).as_secs_f64() * 1000.0);
            }
        }
        seen = seen.max(n);
    }
    // Flood: the feeder sends as fast as the socket takes them.
    phase_tx.send(Phase::Flood).map_err(|e| e.to_string())?;
    let flood_end = paced_end + opts.flood as u64;
    let start = Instant::now();
    wait_for(&mut snap_rx, flood_end, Duration::from_secs(120)).await?;
    let flood_secs = start.elapsed().as_secs_f64();
    let _ = shutdown_tx.send(true);
    let _ = client_task.await;
    feeder.abort();
    let _ = engine_task.await;
    if latencies.is_empty() {
        return Err("no ticker reached a snapshot in the paced phase".into());
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    Ok(BenchReport {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        instruments: instruments.len(),
        accounts: opts.accounts,
        rate: opts.rate,
        paced_messages: latencies.len(),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: *latencies.last().unwrap_or(&0.0),
        flood_messages: opts.flood,
        sustained_per_s: opts.flood as f64 / flood_secs,
    })
}

async fn wait_for(
    rx: &mut watch::Receiver<Arc<Snapshot>>,
    notifications: u64,
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while rx.borrow().notifications < notifications {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {notifications} tickers reached the engine within {} s",
                rx.borrow().notifications,
                limit.as_secs()
            ));
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
    }
    Ok(())
}

/// Give an account its balance and positions, as the exchange would.
fn account_lines(ingest: &mut Ingest, label: &str, ccy: &str, list: &[(String, f64)], id: i64) {
    let mut line = |dir, msg: Value| {
        ingest.entry(&RecordLine {
            t: NOW,
            dir,
            acct: label.to_string(),
            msg,
        })
    };
    line(
        Dir::Out,
        json!({"jsonrpc": "2.0", "id": 2 * id, "method": "private/get_positions", "params": {"currency": ccy}}),
    );
    let positions: Vec<Value> = list
        .iter()
        .map(|(n, s)| json!({"instrument_name": n, "size": s}))
        .collect();
    line(
        Dir::In,
        json!({"jsonrpc": "2.0", "id": 2 * id, "result": positions}),
    );
    line(
        Dir::Out,
        json!({"jsonrpc": "2.0", "id": 2 * id + 1, "method": "private/get_account_summary", "params": {"currency": ccy}}),
    );
    line(
        Dir::In,
        json!({"jsonrpc": "2.0", "id": 2 * id + 1, "result": {"currency": ccy, "balance": 100.0, "margin_model": "segregated_pm"}}),
    );
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Warm,
    Paced,
    Flood,
}

/// The feeder: answers the client's setup, then streams tickers phase by phase.
async fn feed(
    listener: TcpListener,
    all: Vec<Instrument>,
    held: Vec<Instrument>,
    sends: SendTimes,
    mut phase: watch::Receiver<Phase>,
    opts: BenchOptions,
) {
    let Ok((tcp, _)) = listener.accept().await else {
        return;
    };
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    let (mut tx, mut rx) = ws.split();
    // Answer requests until the first subscribe is confirmed.
    let mut subscribed = 0;
    while subscribed < all.len() {
        let Some(Ok(Message::Text(text))) = rx.next().await else {
            return;
        };
        let Ok(msg) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let result = match msg["method"].as_str() {
            Some("public/subscribe") => {
                let list = msg["params"]["channels"].clone();
                subscribed += list.as_array().map_or(0, Vec::len);
                list
            }
            _ => json!("ok"),
        };
        let reply = json!({"jsonrpc": "2.0", "id": msg["id"], "result": result});
        if tx.send(Message::text(reply.to_string())).await.is_err() {
            return;
        }
    }
    // Keep reading (heartbeat answers etc.) so the client never blocks.
    tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} });
    let spot = |i: &Instrument| if i.base == "BTC" { 88_000.0 } else { 3_000.0 };
    let start = Instant::now();
    // Exchange time moves with real time, as live: the pricing clock steps once a second.
    let ts = || NOW + start.elapsed().as_millis() as i64;
    let mut seq = 0u64;
    let send = |tx_msg: Value, seq: &mut u64| {
        sends.lock().map(|mut v| v.push(Instant::now())).ok();
        *seq += 1;
        Message::text(tx_msg.to_string())
    };
    for inst in &all {
        let m = send(ticker_message(inst, spot(inst), ts()), &mut seq);
        if tx.send(m).await.is_err() {
            return;
        }
    }
    if phase.wait_for(|p| *p == Phase::Paced).await.is_err() {
        return;
    }
    let per_ms = (opts.rate as f64 / 1000.0).max(0.001);
    let paced_n = (opts.rate as f64 * opts.seconds) as u64;
    let paced_start = Instant::now();
    let mut sent_paced = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    while sent_paced < paced_n {
        tick.tick().await;
        let due = ((paced_start.elapsed().as_secs_f64() * 1000.0 * per_ms) as u64).min(paced_n);
        while sent_paced < due {
            let inst = &held[(sent_paced as usize * 7919) % held.len()];
            let wiggle = 1.0 + 0.0001 * ((sent_paced % 13) as f64 - 6.0);
            let m = send(ticker_message(inst, spot(inst) * wiggle, ts()), &mut seq);
            if tx.send(m).await.is_err() {
                return;
            }
            sent_paced += 1;
        }
    }
    if phase.wait_for(|p| *p == Phase::Flood).await.is_err() {
        return;
    }
    for k in 0..opts.flood as u64 {
        let inst = &held[(k as usize * 7919) % held.len()];
        let wiggle = 1.0 + 0.0001 * ((k % 13) as f64 - 6.0);
        let m = send(ticker_message(inst, spot(inst) * wiggle, ts()), &mut seq);
        if tx.feed(m).await.is_err() {
            return;
        }
        if k % 64 == 0 && tx.flush().await.is_err() {
            return;
        }
    }
    let _ = tx.flush().await;
    let _ = phase.changed().await;
}

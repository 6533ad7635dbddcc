//! The demo exchange with margintop's real monitor on it, for the tests
//! that watch the two together.

#![allow(dead_code)] // each test binary uses its own part

use margintop::config::{Config, ConnectionConfig};
use margintop::demo::server::{self, DemoOptions};
use margintop::engine::live::{AccountSnapshot, Snapshot};
use margintop::margin::config::load_models;
use margintop::monitor;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub fn demo_config(url: &str) -> Config {
    Config {
        accounts: vec![server::demo_account(url)],
        connection: ConnectionConfig {
            max_requests_per_s: 1_000,
            ..ConnectionConfig::default()
        },
        ..Config::default()
    }
}

pub fn creds() -> HashMap<String, margintop::config::Credentials> {
    server::demo_credentials()
}

/// A monitor on the demo at `url`, believing a clock `speed` times real time.
pub fn monitor_on(url: &str, speed: f64) -> monitor::Monitor {
    let mut cfg = demo_config(url);
    cfg.connection.clock_rate = speed.max(1.0);
    monitor::start_with(&cfg, None, &creds(), load_models(None).unwrap(), None).unwrap()
}

/// Start the demo and a monitor on it; wait until every demo book is complete.
pub async fn start_desk(
    opts: DemoOptions,
) -> (
    server::DemoServer,
    monitor::Monitor,
    tokio::sync::watch::Receiver<Arc<Snapshot>>,
    Arc<Snapshot>,
) {
    let speed = opts.time_scale;
    let demo = server::start("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let mon = monitor_on(&demo.url(), speed);
    let mut rx = mon.snapshots.clone();
    let n = demo.state.lock().unwrap().accounts.len();
    let ready = wait_until(&mut rx, Duration::from_secs(30), |s| {
        books(s).len() == n && books(s).iter().all(|v| v.complete)
    })
    .await;
    (demo, mon, rx, ready)
}

/// Views of the demo books (subaccounts, in the currency they hold).
pub fn books(snap: &Snapshot) -> Vec<&AccountSnapshot> {
    snap.accounts
        .iter()
        .filter(|v| v.label.starts_with("demo/") && !v.positions.is_empty())
        .collect()
}

pub async fn wait_until(
    rx: &mut tokio::sync::watch::Receiver<Arc<Snapshot>>,
    limit: Duration,
    done: impl Fn(&Snapshot) -> bool,
) -> Arc<Snapshot> {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(300), rx.changed()).await;
        let snap = rx.borrow().clone();
        if done(&snap) {
            return snap;
        }
    }
    rx.borrow().clone()
}

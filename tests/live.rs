//! The live path against a Deribit-protocol server on 127.0.0.1: auth,
//! heartbeat, chunked subscriptions, snapshots, streamed tickers, and
//! recovery from faults to the same final positions and margins.

#[path = "support/deribit_server.rs"]
mod deribit_server;

use deribit_server::{Faults, Server, BALANCE, OPTION, OPTION_SIZE, PERP, PERP_AFTER, SECRET};
use margintop::config::{AccountConfig, Config, ConnectionConfig};
use margintop::engine::live::{AccountSnapshot, Snapshot};
use margintop::exchange::feed::LinkState;
use margintop::margin::config::load_models;
use margintop::monitor;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A temp dir with an owner-only credentials file.
fn credentials_dir(secret: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "margintop-live-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("creds.toml");
    std::fs::write(
        &path,
        format!("client_id = \"test-id\"\nclient_secret = \"{secret}\"\n"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir
}

fn config(url: &str, chunk: usize) -> Config {
    Config {
        accounts: vec![AccountConfig {
            label: "desk".into(),
            exchange: "deribit".into(),
            url: Some(url.into()),
            client_id_env: None,
            client_secret_env: None,
            credentials_file: Some("creds.toml".into()),
            currencies: Some(vec!["BTC".into()]),
            model: "auto".into(),
            subaccounts: false,
            collateral: "auto".into(),
        }],
        connection: ConnectionConfig {
            heartbeat_interval_s: 10,
            request_timeout_ms: 3_000,
            stall_timeout_ms: 1_000,
            reconnect_min_ms: 50,
            reconnect_max_ms: 300,
            subscribe_chunk: chunk,
            max_requests_per_s: 1_000,
            clock_rate: 1.0,
        },
        ..Config::default()
    }
}

/// The final round's exchange time (deribit_server::round(ROUNDS - 1)).
const FINAL_TS: i64 = 1_654_161_900_000 + 2_000 * (deribit_server::ROUNDS as i64 - 1);

fn settled(snap: &Snapshot) -> Option<AccountSnapshot> {
    let v = snap
        .accounts
        .iter()
        .find(|a| a.label == "desk" && a.currency == "BTC")?;
    (v.complete && !v.stale && snap.pricing_ms == FINAL_TS).then(|| v.clone())
}

/// Run a monitor against `server` until the account has settled on the final
/// round (or 20 s pass); returns the view and the last snapshot.
async fn run_until_settled(
    server: &Server,
    chunk: usize,
) -> (Option<AccountSnapshot>, Arc<Snapshot>) {
    let dir = credentials_dir(SECRET);
    let cfg = config(&server.url(), chunk);
    let mut mon = monitor::start(&cfg, Some(&dir), load_models(None).unwrap(), None).unwrap();
    let mut rx = mon.snapshots.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut found = None;
    while tokio::time::Instant::now() < deadline {
        if tokio::time::timeout(Duration::from_millis(500), rx.changed())
            .await
            .is_ok_and(|r| r.is_err())
        {
            break;
        }
        let snap = rx.borrow().clone();
        if settled(&snap).is_some() && server.perp_size() == PERP_AFTER {
            // The final round has started arriving: let the stream finish and
            // take the next snapshot (the engine republishes at least every 500 ms).
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = tokio::time::timeout(Duration::from_millis(1_000), rx.changed()).await;
            let snap = rx.borrow().clone();
            found = settled(&snap).filter(|v| perp_size(v) == Some(PERP_AFTER));
            break;
        }
    }
    let last = rx.borrow().clone();
    mon.snapshots = rx;
    mon.stop().await;
    std::fs::remove_dir_all(&dir).ok();
    (found, last)
}

/// The perpetual's size as the engine knows it.
fn perp_size(v: &AccountSnapshot) -> Option<f64> {
    v.positions
        .iter()
        .find(|p| p.instrument == PERP)
        .map(|p| p.size)
}

async fn baseline() -> AccountSnapshot {
    let server = Server::start(Faults::default()).await;
    let (view, snap) = run_until_settled(&server, 250).await;
    view.unwrap_or_else(|| panic!("undisturbed run did not settle: {snap:?}"))
}

fn same(a: &AccountSnapshot, b: &AccountSnapshot) {
    for (what, x, y) in [
        (
            "MM",
            a.risk.margin.maintenance_margin,
            b.risk.margin.maintenance_margin,
        ),
        (
            "IM",
            a.risk.margin.initial_margin,
            b.risk.margin.initial_margin,
        ),
        ("equity", a.risk.equity, b.risk.equity),
        ("options value", a.risk.options_value, b.risk.options_value),
    ] {
        assert!(
            (x - y).abs() <= 1e-12 * x.abs().max(1.0),
            "{what}: {x} vs {y}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undisturbed_run_reaches_a_complete_snapshot() {
    let server = Server::start(Faults::default()).await;
    let (view, snap) = run_until_settled(&server, 250).await;
    let v = view.unwrap_or_else(|| panic!("no settled snapshot: {snap:?}"));
    assert_eq!(
        v.model, "deribit_pm",
        "model from the exchange's margin_model"
    );
    assert_eq!(v.risk.balance, BALANCE);
    assert!(v.risk.margin.maintenance_margin > 0.0 && v.risk.mm_ratio.is_some());
    assert_eq!(snap.links.get("desk"), Some(&LinkState::Live));
    assert_eq!(
        snap.stats.connects.get("desk"),
        Some(&1),
        "live once, no reconnect"
    );
    assert!(server.stats(|s| s.auths) >= 1);
    assert!(
        server.stats(|s| s.test_requests_answered) >= 1,
        "test_request answered with public/test"
    );
    let _ = (OPTION, OPTION_SIZE, PERP);
}

/// Run with `faults`, and require the final view of an undisturbed run,
/// at least `connections` connections and `snapshots` position snapshots.
async fn fault_case(faults: Faults, connections: usize, snapshots: usize) -> Arc<Snapshot> {
    let base = baseline().await;
    let server = Server::start(faults.clone()).await;
    let (view, snap) = run_until_settled(&server, 250).await;
    let v = view.unwrap_or_else(|| panic!("{faults:?}: did not recover: {snap:?}"));
    same(&v, &base);
    assert!(
        server.stats(|s| s.connections) >= connections,
        "{faults:?}: expected a reconnect"
    );
    assert!(
        server.stats(|s| s.snapshots) >= snapshots,
        "{faults:?}: positions re-snapshotted after reconnect"
    );
    assert_eq!(perp_size(&v), Some(PERP_AFTER));
    snap
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_recovers_to_the_same_state() {
    let snap = fault_case(
        Faults {
            drop_after: Some(30),
            ..Faults::default()
        },
        4,
        2,
    )
    .await;
    // The metrics' reconnect counter reads this: live again after the drop.
    let connects = snap.stats.connects.get("desk").copied().unwrap_or(0);
    assert!(connects >= 2, "desk went live {connects} time(s)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connection_is_detected_and_replaced() {
    fault_case(
        Faults {
            stall_after: Some(30),
            ..Faults::default()
        },
        3,
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_frames_are_counted_not_fatal() {
    let snap = fault_case(
        Faults {
            garbage_every: Some(7),
            ..Faults::default()
        },
        2,
        1,
    )
    .await;
    assert!(snap.garbage > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_reordered_notifications_change_nothing() {
    fault_case(
        Faults {
            duplicate: true,
            reorder: true,
            ..Faults::default()
        },
        2,
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_backs_off_and_reconnects() {
    fault_case(
        Faults {
            rate_limit_first_subscribe: true,
            ..Faults::default()
        },
        3,
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_go_in_chunks() {
    let server = Server::start(Faults::default()).await;
    let (view, _) = run_until_settled(&server, 2).await;
    assert!(view.is_some());
    assert_eq!(server.stats(|s| s.largest_subscribe), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_reported_and_never_shown() {
    let server = Server::start(Faults::default()).await;
    let dir = credentials_dir("WRONG-PLANTED-SECRET");
    let cfg = config(&server.url(), 250);
    let mon = monitor::start(&cfg, Some(&dir), load_models(None).unwrap(), None).unwrap();
    let mut rx = mon.snapshots.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut failed = None;
    while failed.is_none() && tokio::time::Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(300), rx.changed()).await;
        if let Some(LinkState::AuthFailed(why)) = rx.borrow().links.get("desk") {
            failed = Some(why.clone());
        }
    }
    mon.stop().await;
    std::fs::remove_dir_all(&dir).ok();
    let why = failed.expect("auth failure reported");
    assert!(why.contains("13004") && !why.contains("PLANTED"), "{why}");
    assert!(server.stats(|s| s.auth_failures) >= 1);
}

/// Run `margintop check` against `url` with extra config text; (exit code, stdout, stderr).
async fn check(url: &str, secret: &str, extra: &str, args: &[&str]) -> (i32, String, String) {
    check_config(url, secret, extra, "", args).await
}

/// `check` with extra config text before the account and extra keys in it.
async fn check_config(
    url: &str,
    secret: &str,
    extra: &str,
    account_keys: &str,
    args: &[&str],
) -> (i32, String, String) {
    let dir = credentials_dir(secret);
    let currencies = match account_keys.contains("currencies") {
        true => "",
        false => "currencies = [\"BTC\"]",
    };
    let cfg = format!(
        "{extra}\n[connection]\nstall_timeout_ms = 1000\nreconnect_min_ms = 50\nreconnect_max_ms = 300\nmax_requests_per_s = 1000\n\n[[accounts]]\nlabel = \"desk\"\nurl = \"{url}\"\ncredentials_file = \"creds.toml\"\n{currencies}\n{account_keys}\n"
    );
    std::fs::write(dir.join("config.toml"), cfg).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_margintop"));
    // The VaR history cache goes to the test's directory, not the user's.
    cmd.arg("check")
        .arg("--config")
        .arg(dir.join("config.toml"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exit_codes_follow_health() {
    let server = Server::start(Faults::default()).await;
    let url = server.url();
    let (code, out, err) = check(&url, SECRET, "", &["--timeout-ms", "10000"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("desk BTC deribit_pm OK mm_ratio"), "{out}");
    let (code, out, _) = check(
        &url,
        SECRET,
        "[check]\nwarn_mm_ratio = 0.01\ncritical_mm_ratio = 0.99\n",
        &[],
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(" WARNING "), "{out}");
    let (code, out, _) = check(
        &url,
        SECRET,
        "[check]\nwarn_mm_ratio = 0.01\ncritical_mm_ratio = 0.02\n",
        &[],
    )
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(" CRITICAL "), "{out}");
    // No market data ever comes: after the timeout the account is stale, not current.
    let silent = Server::start(Faults {
        silent_market: true,
        ..Faults::default()
    })
    .await;
    let (code, out, _) = check(
        &silent.url(),
        SECRET,
        "",
        &["--timeout-ms", "1500", "--json"],
    )
    .await;
    assert_eq!(code, 2, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["accounts"][0]["stale"], true);
    assert_eq!(report["accounts"][0]["health"], "stale");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_3_on_configuration_and_connection_errors() {
    let server = Server::start(Faults::default()).await;
    let (code, out, err) = check(&server.url(), "WRONG-PLANTED-SECRET", "", &[]).await;
    assert_eq!(code, 3, "{out}");
    assert!(
        err.contains("authentication failed") && !err.contains("PLANTED"),
        "{err}"
    );
    // Nothing listens on this port any more.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    // It is reported at the first attempt, not after the minute's timeout.
    let (code, _, err) = check(
        &format!("ws://{closed}"),
        SECRET,
        "",
        &["--timeout-ms", "60000"],
    )
    .await;
    assert_eq!(code, 3);
    assert!(err.contains("account desk: cannot connect"), "{err}");
    let (code, _, err) = check(&server.url(), SECRET, "[engine]\nstale_after = 1\n", &[]).await;
    assert_eq!(code, 3);
    assert!(err.contains("unknown field"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_redacts_secrets_and_replays_to_the_live_numbers() {
    let live = baseline().await;
    let server = Server::start(Faults::default()).await;
    let dir = credentials_dir(SECRET);
    let cfg = format!(
        "[connection]\nstall_timeout_ms = 1000\nmax_requests_per_s = 1000\n\n[[accounts]]\nlabel = \"desk\"\nurl = \"{}\"\ncredentials_file = \"creds.toml\"\ncurrencies = [\"BTC\"]\n",
        server.url()
    );
    std::fs::write(dir.join("config.toml"), cfg).unwrap();
    let out = dir.join("rec.jsonl");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_margintop"));
    cmd.args(["record", "--duration-s", "3", "--config"])
        .arg(dir.join("config.toml"))
        .arg("--out")
        .arg(&out);
    let run = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let recording = std::fs::read_to_string(&out).unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    for text in [
        recording.as_str(),
        &stderr,
        &String::from_utf8_lossy(&run.stdout),
    ] {
        assert!(!text.contains("PLANTED"), "a secret leaked");
        assert!(
            !text.contains("1582628593469.1MbQ"),
            "an access token leaked"
        );
    }
    assert!(recording.lines().count() > 100);
    assert!(recording.contains(r#""client_secret":"<redacted>""#));
    // Replaying the recording gives the live run's numbers.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_margintop"));
    cmd.args(["report", "--json", "--replay"]).arg(&out);
    let rep = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&rep.stdout).unwrap();
    let a = &report["accounts"][0];
    let mm = a["maintenance_margin"].as_f64().unwrap();
    assert!(
        (mm - live.risk.margin.maintenance_margin).abs() < 1e-12,
        "{mm} vs {}",
        live.risk.margin.maintenance_margin
    );
    assert!((a["equity"].as_f64().unwrap() - live.risk.equity).abs() < 1e-12);
    // Debug output of the configuration shows no secret either.
    let creds = margintop::config::credentials(
        &margintop::config::Config::load(Some(&dir.join("config.toml")))
            .unwrap()
            .0
            .accounts[0],
        Some(&dir),
    )
    .unwrap()
    .unwrap();
    assert!(!format!("{creds:?}").contains("PLANTED"));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_can_trade_is_warned_about() {
    let server = Server::start(Faults {
        trading_scope: true,
        ..Faults::default()
    })
    .await;
    let (code, out, err) = check(&server.url(), SECRET, "", &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("trade:read_write") && err.contains("read scope only"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_to_end_bench_runs_on_a_small_desk() {
    // Figures come from `margintop bench`; this only checks the harness works.
    let opts = margintop::bench::BenchOptions {
        accounts: 6,
        positions: 10,
        rate: 500,
        seconds: 0.5,
        flood: 2_000,
    };
    let report = margintop::bench::run(opts).await.unwrap();
    assert!(report.paced_messages > 200, "{report}");
    assert!(report.p50_ms <= report.p99_ms && report.p99_ms <= report.max_ms);
    assert!(report.sustained_per_s > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subaccounts_of_a_key_are_watched_too() {
    let server = Server::start(Faults::default()).await;
    let (code, out, err) = check(&server.url(), SECRET, "", &["--timeout-ms", "15000"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.lines().count(),
        1,
        "without subaccounts = true only the account itself: {out}"
    );
    let extra_account_key = "subaccounts = true";
    let (code, out, err) = check_config(
        &server.url(),
        SECRET,
        "",
        extra_account_key,
        &["--json", "--timeout-ms", "15000"],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sub = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == "desk/user_1_1")
        .expect("subaccount reported");
    assert_eq!(sub["balance"].as_f64(), Some(deribit_server::SUB_BALANCE));
    assert_eq!(
        sub["margin_model"], "deribit_pm",
        "cross_pm subaccount valued under PM"
    );
    assert_eq!(sub["positions"].as_array().unwrap().len(), 1);
    assert_eq!(
        sub["positions"][0]["size"].as_f64(),
        Some(deribit_server::SUB_OPTION_SIZE)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refreshed_before_they_expire() {
    let server = Server::start(Faults {
        short_token: true,
        ..Faults::default()
    })
    .await;
    let dir = credentials_dir(SECRET);
    let mon = monitor::start(
        &config(&server.url(), 250),
        Some(&dir),
        load_models(None).unwrap(),
        None,
    )
    .unwrap();
    let rx = mon.snapshots.clone();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let link = rx.borrow().links.get("desk").cloned();
    mon.stop().await;
    std::fs::remove_dir_all(&dir).ok();
    // 1 s tokens (refreshed after at least 1 s): two refreshes or more in 3.5 s, no reconnect.
    assert!(
        server.stats(|s| s.refreshes) >= 2,
        "{}",
        server.stats(|s| s.refreshes)
    );
    assert_eq!(link, Some(LinkState::Live));
    assert_eq!(
        server.stats(|s| s.connections),
        2,
        "the account and the market connection, never replaced"
    );
}

/// Run a monitor against `server` with `cfg` until `done` holds for a
/// snapshot (or 15 s pass); returns that snapshot, or the last one.
async fn run_until(
    server: &Server,
    cfg: Config,
    done: impl Fn(&Snapshot) -> bool,
) -> (bool, Arc<Snapshot>) {
    let dir = credentials_dir(SECRET);
    let mon = monitor::start(&cfg, Some(&dir), load_models(None).unwrap(), None).unwrap();
    let mut rx = mon.snapshots.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut reached = false;
    while !reached && tokio::time::Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(500), rx.changed()).await;
        reached = done(&rx.borrow());
    }
    let last = rx.borrow().clone();
    mon.stop().await;
    std::fs::remove_dir_all(&dir).ok();
    let _ = server;
    (reached, last)
}

fn desk_view<'a>(snap: &'a Snapshot, label: &str, currency: &str) -> Option<&'a AccountSnapshot> {
    (snap.accounts.iter()).find(|v| v.label == label && v.currency == currency)
}

/// A configuration that takes positions and balances again 50 ms after
/// the exchange's clock passes 08:00 UTC, and never on a timer.
fn resync_after_settlement(url: &str) -> Config {
    let mut cfg = config(url, 250);
    cfg.engine.settlement_resync_delay_ms = 50;
    cfg.engine.resync_interval_ms = 0;
    cfg
}

/// 2022-09-30 08:00 UTC: the test option BTC-30SEP22-60000-C expires.
const OPTION_EXPIRY: i64 = 1_664_524_800_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_is_followed_by_a_re_snapshot_without_a_reconnect() {
    // The stream's clock crosses 08:00 at round 20, when the option expires.
    let server = Server::start(Faults {
        clock_start: Some(OPTION_EXPIRY - 20 * 2_000),
        option_expires_at_round: Some(20),
        ..Faults::default()
    })
    .await;
    let cfg = resync_after_settlement(&server.url());
    let settled = |snap: &Snapshot| {
        desk_view(snap, "desk", "BTC").is_some_and(|v| {
            v.complete && !v.stale && v.positions.iter().all(|p| p.instrument != OPTION)
        })
    };
    let (reached, snap) = run_until(&server, cfg, settled).await;
    assert!(reached, "the option never left the book: {snap:?}");
    let v = desk_view(&snap, "desk", "BTC").unwrap();
    assert_eq!(v.positions.len(), 1, "{:?}", v.positions);
    assert!((v.risk.notes.iter())
        .all(|n| !matches!(n, margintop::margin::notes::Note::PastExpiry { .. })));
    assert_eq!(snap.links.get("desk"), Some(&LinkState::Live));
    assert_eq!(
        server.stats(|s| s.connections),
        2,
        "the account and the market connection, never replaced"
    );
    assert!(
        server.stats(|s| s.snapshots) >= 2,
        "a second positions snapshot"
    );
    let unsubscribed = server.stats(|s| s.unsubscribed.clone());
    assert_eq!(unsubscribed, vec![format!("ticker.{OPTION}.100ms")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_settlement_is_followed_without_a_reconnect() {
    // The last round crosses 08:00 UTC (2022-06-03): the perpetual settles
    // at its mark and the exchange books the session's P&L into the balance.
    let last = deribit_server::ROUNDS - 1;
    let server = Server::start(Faults {
        clock_start: Some(1_654_243_200_000 - 2_000 * last as i64),
        settle_at_round: Some(last),
        ..Faults::default()
    })
    .await;
    let cfg = resync_after_settlement(&server.url());
    let settled = |snap: &Snapshot| {
        let resynced = server.stats(|s| s.snapshots) >= 2;
        let v = desk_view(snap, "desk", "BTC");
        resynced
            && v.is_some_and(|v| {
                v.complete
                    && v.exchange
                        .equity
                        .is_some_and(|e| (e - v.risk.equity).abs() < 1e-6)
            })
    };
    let (reached, snap) = run_until(&server, cfg, settled).await;
    let v = desk_view(&snap, "desk", "BTC").expect("the account");
    assert!(
        reached,
        "local {} vs exchange {:?}",
        v.risk.equity, v.exchange.equity
    );
    let exchange = v.exchange.equity.unwrap();
    assert!(
        (v.risk.equity - exchange).abs() < 1e-9,
        "local {} vs exchange {exchange}",
        v.risk.equity
    );
    // The booked P&L is real: counting it twice would be off by this much.
    let booked = v.risk.balance - BALANCE;
    assert!(booked.abs() > 1e-4, "booked {booked}");
    assert!(v.risk.futures_session_upl.abs() < booked.abs() / 10.0);
    assert_eq!(server.stats(|s| s.connections), 2, "no reconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_lifetime_beyond_the_clock_does_not_kill_the_connection() {
    for expires_in in [1e300, 1.9e19] {
        let server = Server::start(Faults {
            expires_in: Some(expires_in),
            ..Faults::default()
        })
        .await;
        let cfg = config(&server.url(), 250);
        let live = |snap: &Snapshot| desk_view(snap, "desk", "BTC").is_some_and(|v| v.complete);
        let (reached, snap) = run_until(&server, cfg, live).await;
        assert!(reached, "{expires_in}: {snap:?}");
        assert_eq!(
            snap.links.get("desk"),
            Some(&LinkState::Live),
            "{expires_in}"
        );
        assert_eq!(
            server.stats(|s| s.connections),
            2,
            "{expires_in}: no reconnect"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_currency_is_a_row_in_error_and_the_others_go_on() {
    for code in [13009, 13021, -32602] {
        let server = Server::start(Faults {
            refuse: Some(("ETH", code)),
            ..Faults::default()
        })
        .await;
        let mut cfg = config(&server.url(), 250);
        cfg.accounts[0].currencies = Some(vec!["BTC".into(), "ETH".into()]);
        let both = |snap: &Snapshot| {
            let btc = desk_view(snap, "desk", "BTC").is_some_and(|v| v.complete && !v.stale);
            let eth = desk_view(snap, "desk", "ETH").is_some_and(|v| v.refused.len() == 2);
            btc && eth
        };
        let (reached, snap) = run_until(&server, cfg, both).await;
        assert!(reached, "{code}: {snap:?}");
        let t = margintop::report::Thresholds::default();
        let eth = desk_view(&snap, "desk", "ETH").unwrap();
        assert_eq!(eth.health(&t), margintop::report::Health::Error);
        let error = eth.error().unwrap();
        assert!(
            error.contains(&format!("({code})")) && error.contains("positions refused"),
            "{error}"
        );
        assert_ne!(
            desk_view(&snap, "desk", "BTC").unwrap().health(&t),
            margintop::report::Health::Error
        );
        assert_eq!(snap.links.get("desk"), Some(&LinkState::Live), "{code}");
        assert_eq!(server.stats(|s| s.connections), 2, "{code}: no reconnect");
    }
    // `check` names the refusal and exits 3.
    let server = Server::start(Faults {
        refuse: Some(("ETH", 13021)),
        ..Faults::default()
    })
    .await;
    let keys = "currencies = [\"BTC\", \"ETH\"]";
    let (code, out, err) = check_config(&server.url(), SECRET, "", keys, &[]).await;
    assert_eq!(code, 3, "{out}{err}");
    let eth = out.lines().find(|l| l.starts_with("desk ETH")).expect(&out);
    assert!(
        eth.contains(" ERROR ") && eth.contains("forbidden (13021)"),
        "{eth}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("desk BTC deribit_pm OK")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subaccounts_are_listed_again_added_and_removed_while_running() {
    let server = Server::start(Faults {
        subaccounts_change: true,
        ..Faults::default()
    })
    .await;
    let mut cfg = config(&server.url(), 250);
    cfg.accounts[0].subaccounts = true;
    cfg.engine.resync_interval_ms = 300;
    let changed = |snap: &Snapshot| {
        let new = desk_view(snap, "desk/user_1_2", "BTC").is_some_and(|v| v.complete);
        let old = snap.accounts.iter().any(|v| v.label == "desk/user_1_1");
        new && !old && !snap.links.contains_key("desk/user_1_1")
    };
    let (reached, snap) = run_until(&server, cfg, changed).await;
    assert!(
        reached,
        "{:?} {:?}",
        snap.links,
        snap.accounts.iter().map(|v| &v.label).collect::<Vec<_>>()
    );
    assert!(server.stats(|s| s.subaccount_listings) >= 2);
    assert_eq!(snap.links.get("desk/user_1_2"), Some(&LinkState::Live));
}

#[test]
fn a_configured_but_empty_wallet_is_healthy_not_unknown() {
    use margintop::engine::{Desk, Ingest};
    // A summary with nothing in it and an empty positions list, as Deribit
    // answers for a currency the account has never used.
    let mut summary = deribit_server::fixture("private_get_account_summary_response.json");
    for key in [
        "balance",
        "equity",
        "margin_balance",
        "initial_margin",
        "maintenance_margin",
    ] {
        summary["result"][key] = serde_json::json!(0.0);
    }
    summary["result"]["currency"] = serde_json::json!("ETH");
    summary["result"]["margin_model"] = serde_json::json!("segregated_pm");
    let lines = [
        serde_json::json!({"t": 1, "dir": "out", "acct": "desk", "msg": {"jsonrpc": "2.0", "id": 1, "method": "private/get_positions", "params": {"currency": "ETH"}}}),
        serde_json::json!({"t": 2, "dir": "in", "acct": "desk", "msg": {"jsonrpc": "2.0", "id": 1, "result": []}}),
        serde_json::json!({"t": 3, "dir": "out", "acct": "desk", "msg": {"jsonrpc": "2.0", "id": 2, "method": "private/get_account_summary", "params": {"currency": "ETH"}}}),
        serde_json::json!({"t": 4, "dir": "in", "acct": "desk", "msg": summary}),
    ];
    let mut ingest = Ingest::new(Desk::new(load_models(None).unwrap(), 0), None);
    for l in lines {
        ingest.line(&l.to_string());
    }
    let id = ingest.desk.find_account("desk", "ETH").unwrap();
    let risk = ingest.desk.risk(id);
    assert_eq!(risk.mm_ratio, Some(0.0));
    let health = margintop::report::Health::of(
        false,
        Some(risk.margin.maintenance_margin),
        risk.mm_ratio,
        &margintop::report::Thresholds::default(),
    );
    assert_eq!(health, margintop::report::Health::Ok);
}

/// `record` and `--plain` (each for at most `duration_s`) with the account
/// at `url`; the stderr of each, which must exit 3.
async fn record_and_plain_fail(url: &str, secret: &str, duration_s: &str) -> Vec<String> {
    let dir = credentials_dir(secret);
    let cfg = format!(
        "[connection]\nstall_timeout_ms = 1000\nreconnect_min_ms = 50\nreconnect_max_ms = 300\nmax_requests_per_s = 1000\n\n[[accounts]]\nlabel = \"desk\"\nurl = \"{url}\"\ncredentials_file = \"creds.toml\"\ncurrencies = [\"BTC\"]\n",
    );
    std::fs::write(dir.join("config.toml"), cfg).unwrap();
    let out = dir.join("rec.jsonl");
    let config = dir.join("config.toml");
    let mut errors = Vec::new();
    for args in [
        vec![
            "record",
            "--duration-s",
            duration_s,
            "--out",
            out.to_str().unwrap(),
        ],
        vec!["--plain", "--duration-s", duration_s],
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_margintop"));
        cmd.args(&args).arg("--config").arg(&config);
        let run = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(3), "{args:?}: {err}");
        errors.push(err.into_owned());
        std::fs::remove_file(&out).ok();
    }
    std::fs::remove_dir_all(&dir).ok();
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_and_plain_fail_loudly_when_the_key_is_refused() {
    let server = Server::start(Faults::default()).await;
    for err in record_and_plain_fail(&server.url(), "WRONG-SECRET", "2").await {
        assert!(
            err.contains("desk: authentication failed") && err.contains("13004"),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_and_plain_stop_at_once_when_the_server_cannot_be_reached() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    // Asked to run for ten minutes; the first failed attempt (of the account
    // link or the market data link, whichever comes first) ends them.
    let url = format!("ws://{closed}");
    for err in record_and_plain_fail(&url, SECRET, "600").await {
        let why = format!(": cannot connect: connect to {url} failed");
        assert!(err.contains(&why), "{err}");
    }
}

#[test]
fn a_recording_that_cannot_be_written_is_an_error() {
    use margintop::engine::live::{Engine, EngineSettings};
    use margintop::engine::{Desk, Ingest};
    use margintop::exchange::feed::Feed;
    use margintop::exchange::recording::{Dir, RecordLine, Recorder};
    /// A disk that is full.
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device",
            ))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let ingest = Ingest::new(Desk::new(load_models(None).unwrap(), 0), None);
    let mut engine = Engine::new(
        ingest,
        EngineSettings::default(),
        Default::default(),
        Some(Recorder::new(Full)),
    );
    let msg = serde_json::json!({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "heartbeat"}});
    for _ in 0..3 {
        let line = RecordLine {
            t: 1,
            dir: Dir::In,
            acct: "desk".into(),
            msg: msg.clone(),
        };
        engine.apply(Feed::Line(line));
    }
    let snap = engine.snapshot(2);
    assert_eq!(snap.messages, 3, "monitoring goes on");
    assert!(
        engine
            .recording_error()
            .is_some_and(|e| e.contains("no space")),
        "{:?}",
        engine.recording_error()
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_on_a_full_disk_exits_3_and_says_so() {
    let server = Server::start(Faults::default()).await;
    let dir = credentials_dir(SECRET);
    let cfg = format!(
        "[[accounts]]\nlabel = \"desk\"\nurl = \"{}\"\ncredentials_file = \"creds.toml\"\ncurrencies = [\"BTC\"]\n",
        server.url()
    );
    std::fs::write(dir.join("config.toml"), cfg).unwrap();
    let out = dir.join("rec.jsonl");
    // The shell's file-size limit (16 blocks, 8 to 16 kB) stands for a full
    // disk: past it a write fails with EFBIG, the signal being ignored. Asked
    // to record for ten minutes, it stops at the failure.
    let script =
        r#"trap '' XFSZ; ulimit -f 16; exec "$0" record --duration-s 600 --config "$1" --out "$2""#;
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", script, env!("CARGO_BIN_EXE_margintop")])
        .arg(dir.join("config.toml"))
        .arg(&out);
    let run = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    let written = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(run.status.code(), Some(3), "{err}");
    assert!(err.contains("recording") && err.contains("failed"), "{err}");
    assert!(!err.contains("messages recorded"), "{err}");
    assert!(written <= 16 * 1024, "the limit held: {written} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_accounts_unconfigured_wallets_are_found_and_followed() {
    let server = Server::start(Faults {
        cross: true,
        ..Faults::default()
    })
    .await;
    // Only BTC is configured; the all-currencies summary shows USDT and ETH
    // holding value (SOL holds nothing).
    let cfg = config(&server.url(), 250);
    let found = |snap: &Snapshot| {
        ["BTC", "USDT", "ETH"]
            .iter()
            .all(|c| desk_view(snap, "desk", c).is_some_and(|v| v.complete))
    };
    let (reached, snap) = run_until(&server, cfg, found).await;
    let labels: Vec<_> = snap
        .accounts
        .iter()
        .map(|v| (&v.label, &v.currency))
        .collect();
    assert!(reached, "{labels:?}");
    let mut asked = server.stats(|s| s.positions_asked.clone());
    asked.sort();
    asked.dedup();
    assert_eq!(
        asked,
        ["BTC", "ETH", "USDT"],
        "positions of each wallet with value"
    );
    let btc = desk_view(&snap, "desk", "BTC").unwrap();
    let cross = btc.cross.as_ref().expect("one cross account");
    let mut wallets: Vec<&str> = cross.wallets.iter().map(|w| w.currency.as_str()).collect();
    wallets.sort();
    assert_eq!(wallets, ["BTC", "ETH", "USDT"]);
    assert!(
        desk_view(&snap, "desk", "SOL").is_none(),
        "an empty wallet stays out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_check_takes_its_var_history_from_the_exchange() {
    let server = Server::start(Faults::default()).await;
    let extra = "[check]\nwarn_var_ratio = 100.0\n[var]\npaths = 1000\n";
    let (code, out, err) = check(&server.url(), SECRET, extra, &["--json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let window = &report["accounts"][0]["var"]["window"];
    // Fetched up to yesterday (and cached); the window itself ends the day
    // before the market's own time, which on this server is in 2022.
    assert_eq!(window["history"], "fetched", "{window}");
    assert_eq!(window["to"], "2022-06-01", "{window}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_var_history_is_extended_from_the_exchange_and_cached() {
    use margintop::history_store::{load, refresh};
    use margintop::risk::history::{parse_date, History, Origin, Series};
    let server = Server::start(Faults::default()).await;
    let dir = std::env::temp_dir().join(format!("margintop-history-{}", std::process::id()));
    let path = dir.join("history.csv");
    // 2026-06-01 08:00 UTC: the shipped prices end on 2026-01-05.
    let now = 1_780_300_800_000;
    let (h, problem) = refresh(&server.url(), now, Some(&path)).await;
    assert_eq!(problem, None);
    assert_eq!(h.origin, Origin::Fetched);
    let day = |s: &str| parse_date(s).unwrap();
    let btc = h.get(&Series::Price("BTC".into())).unwrap();
    let eth = h.get(&Series::Price("ETH".into())).unwrap();
    for d in ["2026-01-06", "2026-03-15", "2026-05-31"] {
        let n = i64::from(day(d));
        assert_eq!(btc[&day(d)], deribit_server::history_close("BTC", n), "{d}");
        assert_eq!(eth[&day(d)], deribit_server::history_close("ETH", n), "{d}");
    }
    // Today's candle is still open; the shipped days are kept as they are.
    assert!(!btc.contains_key(&day("2026-06-01")));
    assert_eq!(btc[&day("2017-08-17")], 4285.08);
    // BTC's volatility index over more than one page (the shipped one ends
    // on 2026-04-20 and keeps its closes); ETH has none.
    let dvol = h.get(&Series::Vol("BTC".into())).unwrap();
    for d in ["2026-04-21", "2026-05-01", "2026-05-31"] {
        assert_eq!(
            dvol[&day(d)],
            deribit_server::history_dvol(i64::from(day(d))),
            "{d}"
        );
    }
    assert_eq!(dvol[&day("2022-11-09")], 114.72);
    assert!(h.get(&Series::Vol("ETH".into())).is_none());
    // The cache holds the fetched days: read back, the same history.
    let mut again = History::shipped();
    assert_eq!(load(&mut again, &path), Ok(0));
    assert!(again.series == h.series, "the cache lost or changed days");
    // A server that cannot be reached: the cached history, and why.
    let (h2, problem) = refresh("ws://127.0.0.1:9", now + 86_400_000 * 3, Some(&path)).await;
    assert!(problem.unwrap().contains("history not extended"));
    assert!(h2.series == h.series, "the cached days are kept");
    std::fs::remove_dir_all(&dir).ok();
}

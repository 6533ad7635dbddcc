//! The metrics endpoint end to end: the demo monitored with `--plain
//! --metrics`, scraped with curl, checked by `promtool check metrics`, and
//! scraped by a real Prometheus server (Debian's `prometheus`, which
//! `.ci/run` installs) whose query API must then return the accounts.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process killed and reaped when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The demo monitored headless, serving metrics on a port of its choosing;
/// `extra` are more arguments. Returns the process and the address its
/// banner names.
fn monitor(seconds: u32, extra: &[&str]) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_margintop"))
        .args([
            "--demo",
            "--plain",
            "--metrics",
            "127.0.0.1:0",
            "--duration-s",
        ])
        .arg(seconds.to_string())
        .args(extra)
        .env("XDG_DATA_HOME", scratch("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("margintop runs");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("metrics on http://").nth(1) {
                let _ = tx.send(rest.trim_end_matches("/metrics").to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the banner names the metrics address");
    (running, addr)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("margintop-metrics-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// GET `path` from `addr`: (status line, body). HTTP/1.0, so that no
/// server answers in chunks.
fn get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("reads the reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a head and a body");
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// Samples of the text format: (name, labels, value), comments skipped.
fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("a value");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = (labels.split("\",").filter(|p| !p.is_empty()))
            .map(|p| {
                let (k, v) = p.split_once("=\"").expect("key=\"value\"");
                (k.to_string(), v.trim_end_matches('"').to_string())
            })
            .collect();
        out.push((name.to_string(), labels, value.parse().expect("a number")));
    }
    out
}

/// The first sample named `name`.
fn one(all: &[(String, BTreeMap<String, String>, f64)], name: &str) -> f64 {
    all.iter()
        .find(|s| s.0 == name)
        .unwrap_or_else(|| panic!("{name} is exposed"))
        .2
}

/// `/metrics` from `addr` as `curl` fetches it (fails on an HTTP error).
fn curl(addr: &str) -> String {
    let out = Command::new("curl")
        .args(["-sSf", "--max-time", "10"])
        .arg(format!("http://{addr}/metrics"))
        .output()
        .expect("curl is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 text")
}

/// The scrape once every account is current (the demo takes a moment to
/// snapshot every subaccount).
fn settled_scrape(addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = curl(addr);
        let all = samples(&body);
        let stale = all.iter().filter(|s| s.0 == "margintop_account_stale");
        let (n, current) = stale.fold((0, 0), |(n, c), s| (n + 1, c + (s.2 == 0.0) as usize));
        if n > 10 && n == current {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "accounts never all current: {current} of {n}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn the_endpoint_serves_every_account_and_the_engine_figures() {
    let (_margintop, addr) = monitor(40, &[]);
    let body = settled_scrape(&addr);
    let all = samples(&body);
    // Every account carries the labels the issue names.
    for (name, labels, _) in all.iter().filter(|s| s.0.starts_with("margintop_account_")) {
        for key in ["account", "currency", "exchange", "model"] {
            assert!(labels.contains_key(key), "{name} {labels:?} lacks {key}");
        }
        assert_eq!(labels["exchange"], "deribit");
    }
    // A wallet's own mm_ratio is its MM over its margin balance (cross
    // wallets show their account's, so they are left out here).
    let by_account = |name: &str| -> BTreeMap<(String, String), f64> {
        (all.iter().filter(|s| s.0 == name))
            .map(|s| ((s.1["account"].clone(), s.1["currency"].clone()), s.2))
            .collect()
    };
    let (mm, mb) = (
        by_account("margintop_account_maintenance_margin"),
        by_account("margintop_account_margin_balance"),
    );
    let ratio = by_account("margintop_account_mm_ratio");
    let mut checked = 0;
    for (key, r) in &ratio {
        if key.0.contains("cross") || mb[key] <= 0.0 {
            continue;
        }
        assert!(
            (r - mm[key] / mb[key]).abs() <= 1e-12 * r.abs().max(1.0),
            "{key:?}"
        );
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} accounts had a ratio to check"
    );
    // Links are up and have not reconnected; the engine counted work.
    let ups: Vec<f64> = all
        .iter()
        .filter(|s| s.0 == "margintop_link_up")
        .map(|s| s.2)
        .collect();
    assert!(
        ups.len() >= 2 && ups.iter().all(|&u| u == 1.0),
        "links: {ups:?}"
    );
    assert!(one(&all, "margintop_messages_total") > 0.0);
    let capacity = one(&all, "margintop_engine_queue_capacity");
    assert!(capacity >= 16.0 && one(&all, "margintop_engine_queue_depth") <= capacity);
    // The histogram is cumulative and ends at the count.
    let buckets: Vec<f64> = (all
        .iter()
        .filter(|s| s.0 == "margintop_snapshot_build_seconds_bucket"))
    .map(|s| s.2)
    .collect();
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    let count = one(&all, "margintop_snapshot_build_seconds_count");
    assert!(count > 0.0);
    assert_eq!(buckets.last().copied(), Some(count));
    // Counters only grow between scrapes.
    std::thread::sleep(Duration::from_millis(1500));
    let later = samples(&curl(&addr));
    assert!(one(&later, "margintop_messages_total") > one(&all, "margintop_messages_total"));
    assert!(one(&later, "margintop_snapshot_build_seconds_count") > count);
    // Anything but a scrape is refused.
    assert_eq!(get(&addr, "/nothing").0, "HTTP/1.1 404 Not Found");
    assert_eq!(get(&addr, "/metrics").0, "HTTP/1.1 200 OK");
    // promtool, Prometheus's own checker, finds nothing to say.
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian's prometheus package; .ci/run installs it)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );
}

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_real_prometheus_scrapes_the_accounts() {
    let (_margintop, target) = monitor(60, &[]);
    let dir = scratch("prometheus");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: margintop\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let web = format!("127.0.0.1:{}", free_port());
    let _prometheus = Running(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed (Debian's prometheus package; .ci/run installs it)"),
    );
    // Prometheus starts, scrapes once a second, and answers queries.
    let deadline = Instant::now() + Duration::from_secs(45);
    let query = "/api/v1/query?query=margintop_account_mm_ratio";
    let series = loop {
        if let Ok(s) = TcpStream::connect(&web) {
            drop(s);
            let (status, body) = get(&web, query);
            if status.ends_with("200 OK") {
                let v: serde_json::Value =
                    serde_json::from_str(&body).expect("JSON from the query API");
                let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
                if result.len() >= 10 {
                    break result;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never held margintop's accounts"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let accounts: Vec<&str> = series
        .iter()
        .filter_map(|s| s["metric"]["account"].as_str())
        .collect();
    assert!(accounts.contains(&"demo/near-liq-pm"), "{accounts:?}");
    for s in &series {
        assert_eq!(s["metric"]["job"], "margintop");
        assert_eq!(s["metric"]["exchange"], "deribit");
        let value: f64 = s["value"][1].as_str().unwrap().parse().unwrap();
        assert!(value.is_finite() && value >= 0.0, "{s}");
    }
    // Prometheus judged the target healthy.
    let (_, body) = get(&web, "/api/v1/query?query=up");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["result"][0]["value"][1], "1", "{body}");
}

#[test]
fn under_a_demo_crash_the_scrapes_show_mm_ratio_crossing_1() {
    // The crash starts 5 s in; the near-liquidation accounts pass 1 soon
    // after. Each account is followed from one scrape to the next.
    let (_margintop, addr) = monitor(40, &["--demo-crash"]);
    let deadline = Instant::now() + Duration::from_secs(35);
    let mut below: BTreeMap<String, f64> = BTreeMap::new();
    let crossed = loop {
        let all = samples(&curl(&addr));
        let ratios = all.iter().filter(|s| s.0 == "margintop_account_mm_ratio");
        let mut crossed = Vec::new();
        for (_, labels, r) in ratios {
            let key = format!("{} [{}]", labels["account"], labels["currency"]);
            match (below.get(&key), *r >= 1.0) {
                (Some(_), true) => crossed.push(key),
                (_, false) => {
                    below.insert(key, *r);
                }
                (None, true) => {}
            }
        }
        if !crossed.is_empty() {
            break crossed;
        }
        assert!(
            Instant::now() < deadline,
            "no mm_ratio crossed 1: {below:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        crossed.iter().any(|k| k.contains("near-liq")),
        "{crossed:?}"
    );
}

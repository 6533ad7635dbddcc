//! Configured alert rules end to end: read from the configuration, applied
//! to the demo's live snapshots, printed by `--plain`; a bad rule refused
//! at start with its name.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory for one test.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("margintop-alerts-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `config.toml` in `dir` with `text`, and the audit log kept in `dir`.
fn config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("config.toml");
    let audit = format!(
        "[alerting]\naudit_log_dir = {:?}\n",
        dir.display().to_string()
    );
    std::fs::write(&path, format!("{audit}{text}")).unwrap();
    path
}

fn run(config: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_margintop"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), err)
}

#[test]
fn plain_mode_prints_what_a_configured_rule_raises() {
    // Every demo account with a book holds margin: the rule fires for
    // them, once each, and the data is current, so the second rule never does.
    let dir = fresh_dir("plain");
    let path = config(
        &dir,
        r#"
[[alerts]]
name = "holds margin"
accounts = ["demo/*"]
condition = "mm_ratio >= 0.05"
clear = "mm_ratio < 0.01"
level = "warning"
repeat_after_s = 3600

[[alerts]]
name = "old data"
condition = "data_age_s > 3600"
level = "critical"
"#,
    );
    let (code, err) = run(&path, &["--demo", "--plain", "--duration-s", "6"]);
    assert_eq!(code, Some(0), "{err}");
    let fired: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(": holds margin: mm_ratio"))
        .collect();
    assert!(fired.len() >= 3, "{err}");
    for line in &fired {
        assert!(line.contains("warning") && line.contains("demo/"), "{line}");
    }
    let accounts: std::collections::HashSet<&str> = fired
        .iter()
        .map(|l| l.split(": holds").next().unwrap())
        .collect();
    assert_eq!(
        accounts.len(),
        fired.len(),
        "raised once per account: {err}"
    );
    assert!(!err.contains("old data"), "{err}");

    // The audit log holds the same alerts, the rule's with what it measured.
    let log = std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_rule: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["rule"] == "holds margin")
        .collect();
    assert_eq!(by_rule.len(), fired.len(), "{log}");
    for e in &by_rule {
        assert_eq!(
            (e["change"].as_str(), e["metric"].as_str()),
            (Some("raised"), Some("mm_ratio"))
        );
        assert!(
            e["value"].as_f64().unwrap() >= 0.05 && e["threshold"] == 0.05,
            "{e}"
        );
        assert!(e["account"].as_str().unwrap().starts_with("demo/"), "{e}");
        assert!(e["time"].as_str().unwrap().ends_with('Z'), "{e}");
        let line = format!(
            "{}: holds margin",
            e["message"]
                .as_str()
                .unwrap()
                .split(": holds")
                .next()
                .unwrap()
        );
        assert!(err.contains(&line), "{line} not in {err}");
    }
    // The built-in alerts (the demo's near-liquidation accounts) too, with no rule.
    assert!(
        entries
            .iter()
            .any(|e| e["rule"].is_null() && e["level"] == "critical"),
        "{log}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_rule_is_refused_at_start_with_its_name() {
    let dir = fresh_dir("bad");
    let path = config(
        &dir,
        "[[alerts]]\nname = \"near liquidation\"\ncondition = \"mm_ratio >= 90\"\nlevel = \"critical\"\n",
    );
    let (code, err) = run(&path, &["--demo", "--plain", "--duration-s", "5"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("alert rule \"near liquidation\""), "{err}");
    assert!(err.contains("0.9 means 90 %"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_command_hook_runs_per_alert_and_its_failures_never_stop_the_monitor() {
    let dir = fresh_dir("hook");
    let out = dir.join("hook.txt");
    // The hook's own program is sh; the alert's text reaches it as $1.
    let script = format!(
        "printf '%s|%s\\n' \"$MARGINTOP_ALERT_RULE\" \"$1\" >> {}",
        out.display()
    );
    let rules = format!(
        r#"on_alert = ["sh", "-c", {script:?}, "hook", "{{account}} {{level}}"]

[[alerts]]
name = "holds margin"
condition = "mm_ratio >= 0.05"
level = "warning"
"#
    );
    let path = config(&dir, &rules);
    let (code, err) = run(&path, &["--demo", "--plain", "--duration-s", "6"]);
    assert_eq!(code, Some(0), "{err}");
    let fired = err
        .lines()
        .filter(|l| l.contains(": holds margin:"))
        .count();
    let ran = std::fs::read_to_string(&out).unwrap_or_default();
    let by_rule: Vec<&str> = ran
        .lines()
        .filter(|l| l.starts_with("holds margin|"))
        .collect();
    assert_eq!(by_rule.len(), fired, "{ran}\n{err}");
    assert!(
        by_rule
            .iter()
            .all(|l| l.ends_with(" warning") && l.contains("|demo/")),
        "{ran}"
    );

    // A command that fails is said on stderr; the monitor runs on to the end.
    let path = config(
        &dir,
        &rules.replace("on_alert = [\"sh\"", "on_alert = [\"false\""),
    );
    let path_text = std::fs::read_to_string(&path).unwrap();
    assert!(path_text.contains("[\"false\""), "{path_text}");
    let (code, err) = run(&path, &["--demo", "--plain", "--duration-s", "4"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("on_alert: false failed"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// An HTTP endpoint on 127.0.0.1 that answers every POST with 200 and
/// keeps the bodies, until `stop`.
struct Endpoint {
    port: u16,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl Endpoint {
    fn start() -> Endpoint {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = bodies.clone();
        let worker = std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                stream
                    .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .ok();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).ok();
                if line.starts_with("STOP") {
                    return;
                }
                let mut length = 0;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).ok();
                kept.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
                let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                (&stream).write_all(ok.as_bytes()).ok();
            }
        });
        Endpoint {
            port,
            bodies,
            worker: Some(worker),
        }
    }

    fn stop(mut self) -> Vec<String> {
        use std::io::Write;
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            s.write_all(b"STOP\r\n").ok();
        }
        if let Some(w) = self.worker.take() {
            w.join().unwrap();
        }
        let bodies = self.bodies.lock().unwrap();
        bodies.clone()
    }
}

#[test]
fn the_webhook_receives_the_demo_crash_liquidations_in_order() {
    let endpoint = Endpoint::start();
    let dir = fresh_dir("webhook");
    let url = format!("http://127.0.0.1:{}/T000/SECRETPART", endpoint.port);
    let path = config(
        &dir,
        &format!(
            "webhook_url = {url:?}\n\n[[alerts]]\nname = \"liquidation\"\ncondition = \"mm_ratio >= 1\"\nclear = \"mm_ratio < 0.95\"\nlevel = \"critical\"\n"
        ),
    );
    let args = ["--demo", "--demo-crash", "--plain", "--duration-s", "14"];
    let (code, err) = run(&path, &args);
    let bodies = endpoint.stop();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("SECRETPART"), "{err}");
    let sent: Vec<serde_json::Value> = bodies
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    // Every alert stderr printed reached the endpoint, in the same order.
    let printed: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("margintop:"))
        .collect();
    let messages: Vec<&str> = sent
        .iter()
        .map(|v| v["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), printed.len(), "{err}");
    for (m, line) in messages.iter().zip(&printed) {
        assert!(line.ends_with(m), "{line} / {m}");
    }
    let times: Vec<i64> = sent.iter().map(|v| v["at_ms"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    // The crash takes at least one account past mm_ratio 1: the rule said so.
    let liquidations: Vec<&serde_json::Value> = (sent.iter())
        .filter(|v| v["rule"] == "liquidation" && v["change"] == "raised")
        .collect();
    assert!(!liquidations.is_empty(), "{err}");
    for v in liquidations {
        assert!(
            v["value"].as_f64().unwrap() >= 1.0 && v["level"] == "critical",
            "{v}"
        );
    }
}

#[test]
fn check_applies_the_rules_once_to_its_report() {
    let dir = fresh_dir("check");
    let rule =
        "[[alerts]]\nname = \"half used\"\ncondition = \"mm_ratio >= 0.5\"\nlevel = \"critical\"\n";
    let path = config(&dir, rule);
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/samples/deribit_2022-06-02.jsonl"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_margintop"))
        .args(["check", "--replay", sample, "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let (stdout, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // The accounts whose own line shows mm_ratio of 50 % or more, and no other.
    let over: Vec<&str> = (stdout.lines())
        .filter(|l| {
            let pct = l
                .split("mm_ratio ")
                .nth(1)
                .and_then(|r| r.split('%').next());
            pct.and_then(|p| p.parse::<f64>().ok())
                .is_some_and(|p| p >= 50.0)
        })
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert!(
        !over.is_empty() && over.len() < stdout.lines().count(),
        "{stdout}"
    );
    let alerted: Vec<&str> = (err.lines())
        .filter_map(|l| l.strip_prefix("alert: critical "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(alerted, over, "{err}");
    let log = std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap();
    assert_eq!(log.lines().count(), over.len(), "{log}");
    // The rule's alerts leave check's exit status as the health decides it.
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_feeds_its_liquidation_search_to_the_rules() {
    // The report's own distances, read from its JSON, decide which
    // accounts each rule must name: the nearer of the two sides, in percent
    // and in daily σ of the index (|ln(1 + move)| / var.index_daily_sigma;
    // the σ rule makes check compute VaR).
    let dir = fresh_dir("check-liq");
    let rules = concat!(
        "[[alerts]]\nname = \"close\"\ncondition = \"liq_distance_pct < 35\"\nlevel = \"warning\"\n",
        "[[alerts]]\nname = \"few sigma\"\ncondition = \"liq_distance_sigma < 8\"\nlevel = \"info\"\n",
    );
    let path = config(&dir, rules);
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/samples/deribit_2022-06-02.jsonl"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_margintop"))
        .args(["check", "--json", "--replay", sample, "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let accounts = report["accounts"].as_array().unwrap();
    let (mut by_pct, mut by_sigma) = (Vec::new(), Vec::new());
    for a in accounts.iter().filter(|a| a["stale"] == false) {
        let l = &a["liquidation"];
        let moves = [l["down_move"].as_f64(), l["up_move"].as_f64()];
        let name = a["account"].as_str().unwrap().to_string();
        let pct = moves
            .iter()
            .flatten()
            .map(|m| m.abs() * 100.0)
            .min_by(f64::total_cmp);
        if pct.is_some_and(|d| d < 35.0) {
            by_pct.push(name.clone());
        }
        let sigma = a["var"]["index_daily_sigma"]
            .as_f64()
            .expect("VaR was computed");
        let k = moves
            .iter()
            .flatten()
            .map(|m| (1.0 + m).ln().abs() / sigma)
            .min_by(f64::total_cmp);
        if k.is_some_and(|k| k < 8.0) {
            by_sigma.push(name);
        }
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let alerted = |level: &str| -> Vec<String> {
        (err.lines())
            .filter_map(|l| l.strip_prefix(&format!("alert: {level} ")))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    };
    assert!(!by_pct.is_empty() && by_pct.len() < accounts.len());
    assert_eq!(alerted("warning"), by_pct, "{err}");
    assert!(!by_sigma.is_empty() && by_sigma.len() < accounts.len());
    assert_eq!(alerted("info"), by_sigma, "{err}");
}

#[test]
fn plain_mode_alerts_on_the_background_liquidation_distance() {
    // The demo's near-liquidation accounts sit a few percent from it; the
    // figure comes from the background search, as on the dashboards.
    let dir = fresh_dir("plain-liq");
    let path = config(
        &dir,
        "[[alerts]]\nname = \"within 5 %\"\naccounts = [\"demo/near-liq-*\"]\ncondition = \"liq_distance_pct < 5\"\nlevel = \"critical\"\n",
    );
    let (_, err) = run(&path, &["--demo", "--plain", "--duration-s", "12"]);
    let raised: Vec<&str> = (err.lines())
        .filter(|l| l.contains("within 5 %: liq_distance_pct"))
        .collect();
    assert!(
        raised.iter().any(|l| l.contains("demo/near-liq-pm [BTC]")),
        "{err}"
    );
}

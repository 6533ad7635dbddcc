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

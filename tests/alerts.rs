//! Configured alert rules end to end: read from the configuration, applied
//! to the demo's live snapshots, printed by `--plain`; a bad rule refused
//! at start with its name.

use std::path::PathBuf;
use std::process::Command;

/// A fresh directory holding `config.toml` with `text`.
fn config(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("margintop-alerts-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(config: &PathBuf, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_margintop"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    std::fs::remove_dir_all(config.parent().unwrap()).ok();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plain_mode_prints_what_a_configured_rule_raises() {
    // Every demo account with a book holds margin: the rule fires for
    // them, once each, and the data is current, so the second rule never does.
    let path = config(
        "plain",
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
}

#[test]
fn a_bad_rule_is_refused_at_start_with_its_name() {
    let path = config(
        "bad",
        "[[alerts]]\nname = \"near liquidation\"\ncondition = \"mm_ratio >= 90\"\nlevel = \"critical\"\n",
    );
    let (code, err) = run(&path, &["--demo", "--plain", "--duration-s", "5"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("alert rule \"near liquidation\""), "{err}");
    assert!(err.contains("0.9 means 90 %"), "{err}");
}

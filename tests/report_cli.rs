//! `margintop report` end to end: the shipped sample, docs/report.md, and bad input.

mod common;

use common::*;
use serde_json::Value;
use std::io::Write;
use std::process::Command;

fn margintop(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_margintop"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn sample() -> String {
    format!(
        "{}/config/samples/deribit_2022-06-02.jsonl",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn json_report(args: &[&str]) -> Value {
    let (code, out, err) = margintop(args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn sample_report_follows_formats_section_2() {
    let r = json_report(&["report", "--replay", &sample(), "--json"]);
    assert_eq!(r["version"], 1);
    assert!(r["as_of"].is_i64());
    let accounts = r["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3);
    for a in accounts {
        for key in ["account", "currency", "margin_model"] {
            assert!(a[key].is_string(), "{key}");
        }
        assert!(a["stale"].is_boolean() && a["data_age_ms"].is_i64());
        for key in [
            "balance",
            "margin_balance",
            "equity",
            "options_value",
            "initial_margin",
            "maintenance_margin",
            "mm_ratio",
            "im_ratio",
        ] {
            assert!(a[key].is_f64(), "{key}: {}", a[key]);
        }
        let mm = a["maintenance_margin"].as_f64().unwrap();
        let mb = a["margin_balance"].as_f64().unwrap();
        assert!((a["mm_ratio"].as_f64().unwrap() - mm / mb).abs() < 1e-12);
        // Identity of docs/design.md on what the report says.
        let eq = a["balance"].as_f64().unwrap()
            + a["futures_session_upl"].as_f64().unwrap()
            + a["options_value"].as_f64().unwrap();
        assert!((a["equity"].as_f64().unwrap() - eq).abs() < 1e-12);
        for key in ["initial_margin", "maintenance_margin", "equity", "as_of"] {
            assert!(a["exchange"].get(key).is_some(), "exchange.{key}");
        }
        for key in ["delta_total", "gamma", "vega", "theta"] {
            assert!(a["greeks"][key].is_f64(), "greeks.{key}");
        }
        for p in a["positions"].as_array().unwrap() {
            for key in [
                "instrument",
                "size",
                "mark_price",
                "index_price",
                "delta",
                "gamma",
                "vega",
                "theta",
            ] {
                assert!(!p[key].is_null(), "positions.{key}");
            }
        }
        let rm = &a["risk_matrix"];
        assert_eq!(rm["price_moves"].as_array().unwrap().len(), 9);
        assert_eq!(rm["vol_moves"], serde_json::json!(["up", "same", "down"]));
        assert_eq!(rm["pnl"].as_array().unwrap().len(), 9);
        assert!(a["stress"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"].as_str().unwrap().contains("Black Thursday")));
        for key in ["down_move", "down_price", "up_move", "up_price"] {
            assert!(a["liquidation"].get(key).is_some(), "liquidation.{key}");
        }
    }
    // The PM short-call book: its matrix entry at 0 % / unchanged vol is zero P&L.
    let pm = &accounts[0];
    assert_eq!(pm["risk_matrix"]["pnl"][4][1].as_f64().unwrap(), 0.0);
}

#[test]
fn report_without_replay_shows_the_shipped_sample() {
    let (code, out, _) = margintop(&["report"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("pm-vol-seller") && out.contains("risk matrix"),
        "{out}"
    );
}

#[test]
fn default_run_watches_the_demo_desk() {
    // No config given and none in this test's (empty) config directory.
    let home = std::env::temp_dir().join(format!("margintop-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_margintop"))
        .args(["--duration-s", "4"])
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .output()
        .unwrap();
    std::fs::remove_dir_all(&home).ok();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("DEMO DATA"), "{text}");
    assert!(
        text.contains("demo/btc-desk") && text.contains("demo/near-liq-pm"),
        "{text}"
    );
}

#[test]
fn garbage_lines_are_counted_not_fatal() {
    let dir = std::env::temp_dir().join(format!("margintop-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("garbage.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    let sample = std::fs::read_to_string(sample()).unwrap();
    writeln!(f, "this is not json").unwrap();
    write!(f, "{sample}").unwrap();
    writeln!(f, "{{\"t\": 1, \"dir\": \"in\"}}").unwrap();
    // A ticker with a negative IV and one with no timestamp.
    writeln!(f, r#"{{"t":1654161842000,"dir":"in","msg":{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"ticker.BTC-30SEP22-60000-C.100ms","data":{{"instrument_name":"BTC-30SEP22-60000-C","mark_price":0.008,"mark_iv":-5,"underlying_price":30000,"index_price":29900,"timestamp":1654161842000}}}}}}}}"#).unwrap();
    writeln!(f, r#"{{"t":1654161842100,"dir":"in","msg":{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"ticker.BTC-PERPETUAL.100ms","data":{{"instrument_name":"BTC-PERPETUAL","mark_price":30000}}}}}}}}"#).unwrap();
    drop(f);
    let r = json_report(&["report", "--replay", path.to_str().unwrap(), "--json"]);
    let warnings: Vec<String> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("2 recording line(s)")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("ticker")),
        "{warnings:?}"
    );
    // The option with a negative IV is left out, and the report says so instead of a number.
    let pm = &r["accounts"][0];
    assert!(pm["maintenance_margin"].is_null());
    let acct_warnings = pm["warnings"].to_string();
    assert!(acct_warnings.contains("mark_iv"), "{acct_warnings}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_arguments_give_clear_errors() {
    let (code, _, err) = margintop(&["report", "--replay", "/nonexistent/rec.jsonl"]);
    assert_eq!(code, 3);
    assert!(err.contains("cannot open recording"), "{err}");
    let (code, _, err) = margintop(&["report", "--replay", &sample(), "--model", "nope"]);
    assert_eq!(code, 3);
    assert!(err.contains("unknown margin model"), "{err}");
    let empty = fixture("deribit/SOURCES.md"); // not a recording: every line is bad
    let (code, out, _) = margintop(&["report", "--replay", empty.to_str().unwrap(), "--json"]);
    assert_eq!(code, 3, "{out}");
}

#[test]
fn other_models_and_custom_stress() {
    let r = json_report(&[
        "report",
        "--replay",
        &sample(),
        "--json",
        "--model",
        "span16",
        "--stress=-0.2,0.5",
    ]);
    for a in r["accounts"].as_array().unwrap() {
        assert_eq!(a["margin_model"], "span16");
        let last = a["stress"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["price_move"].as_f64().unwrap(), -0.2);
        assert!(last["pnl"].is_f64());
    }
}

#[test]
fn an_account_with_no_positions_has_no_margin_and_no_liquidation() {
    let dir = std::env::temp_dir().join(format!("margintop-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("empty.jsonl");
    let lines = [
        r#"{"t":1000,"dir":"out","acct":"idle","msg":{"jsonrpc":"2.0","id":1,"method":"private/get_positions","params":{"currency":"BTC"}}}"#,
        r#"{"t":1001,"dir":"in","acct":"idle","msg":{"jsonrpc":"2.0","id":1,"result":[]}}"#,
        r#"{"t":1002,"dir":"out","acct":"idle","msg":{"jsonrpc":"2.0","id":2,"method":"private/get_account_summary","params":{"currency":"BTC"}}}"#,
        r#"{"t":1003,"dir":"in","acct":"idle","msg":{"jsonrpc":"2.0","id":2,"result":{"currency":"BTC","balance":1.5,"margin_model":"segregated_pm"}}}"#,
    ];
    std::fs::write(&path, lines.join("\n")).unwrap();
    let r = json_report(&["report", "--replay", path.to_str().unwrap(), "--json"]);
    let a = &r["accounts"][0];
    assert_eq!(a["account"], "idle");
    assert_eq!(a["margin_model"], "deribit_pm");
    assert_eq!(a["equity"].as_f64(), Some(1.5));
    assert_eq!(a["maintenance_margin"].as_f64(), Some(0.0));
    assert_eq!(a["mm_ratio"].as_f64(), Some(0.0));
    assert!(a["liquidation"]["down_move"].is_null() && a["liquidation"]["up_move"].is_null());
    assert!(a["risk_matrix"].is_null());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_broken_model_file_is_refused_with_its_name_and_reason() {
    let dir = std::env::temp_dir().join(format!("margintop-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("mine.toml"),
        "name = \"mine\"\nkind = \"risk_matrix\"\nmm_factor = \"high\"\n",
    )
    .unwrap();
    let (code, _, err) = margintop(&["report", "--models-dir", dir.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(
        err.contains("mine.toml") && err.contains("mm_factor"),
        "{err}"
    );
    std::fs::write(
        dir.join("mine.toml"),
        std::fs::read_to_string(format!(
            "{}/config/models/deribit_pm.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .replace("name = \"deribit_pm\"", "name = \"mine\"")
        .replace("price_range = 0.16", "price_range = 1.6"),
    )
    .unwrap();
    let (code, _, err) = margintop(&["report", "--models-dir", dir.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(err.contains("price_range must be in (0, 1)"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn paced_replay_through_the_engine_gives_the_same_numbers() {
    let cfg = format!("{}/config/default.toml", env!("CARGO_MANIFEST_DIR"));
    let fast = json_report_code(&["check", "--config", &cfg, "--json", "--replay", &sample()]);
    let start = std::time::Instant::now();
    let paced = json_report_code(&[
        "check",
        "--config",
        &cfg,
        "--json",
        "--replay",
        &sample(),
        "--speed",
        "4",
    ]);
    // The sample spans about 3.6 s of recording: at 4× that is about 0.9 s of waiting.
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(600),
        "{:?}",
        start.elapsed()
    );
    for (a, b) in fast["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(paced["accounts"].as_array().unwrap())
    {
        for key in [
            "maintenance_margin",
            "initial_margin",
            "equity",
            "data_age_ms",
        ] {
            assert_eq!(a[key], b[key], "{key}");
        }
    }
}

/// A JSON report from a command whose exit status is a health code (0–2).
fn json_report_code(args: &[&str]) -> Value {
    let (code, out, err) = margintop(args);
    assert!((0..=2).contains(&code), "{code}: {err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn bad_key_bindings_are_refused_before_anything_starts() {
    let dir = std::env::temp_dir().join(format!("margintop-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("keys.toml");
    for (keys, says) in [
        ("matrix = [\"m\", \"s\"]", "key \"s\" is bound to both"),
        ("matrx = \"x\"", "unknown action \"matrx\""),
    ] {
        std::fs::write(&cfg, format!("[ui.keys]\n{keys}\n")).unwrap();
        let args = [
            "--config",
            cfg.to_str().unwrap(),
            "--plain",
            "--duration-s",
            "5",
        ];
        let (code, _, err) = margintop(&args);
        assert_ne!(code, 0);
        assert!(err.contains(says), "{err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_reader_that_goes_away_is_not_a_crash() {
    // `margintop report | head -1`: the pipe closes early; no panic, exit 0.
    let mut child = Command::new(env!("CARGO_BIN_EXE_margintop"))
        .arg("report")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

#[test]
fn report_var_adds_var_to_every_account_and_the_desk() {
    let plain = json_report(&["report", "--replay", &sample(), "--json"]);
    assert!(plain.get("desk").is_none(), "only when asked for");
    assert!(plain["accounts"][0].get("var").is_none());
    let r = json_report(&["report", "--replay", &sample(), "--json", "--var"]);
    // The sample is priced on 2022-06-02; BTC's DVOL starts on 2021-03-24,
    // so the first day with a vol move is 2021-03-25 (403 days in all).
    let window = &r["desk"]["window"];
    assert_eq!(window["from"], "2021-03-25");
    assert_eq!(window["to"], "2022-06-01");
    assert_eq!(window["days"], 403);
    assert_eq!(window["history"], "shipped");
    for a in r["accounts"].as_array().unwrap() {
        let v = &a["var"];
        assert_eq!(v["horizon_days"], 1);
        for m in ["hs", "fhs", "mc"] {
            let f = &v[m];
            for field in [
                "var_99",
                "es_975",
                "es_99",
                "var_99_usd",
                "es_975_usd",
                "es_99_usd",
            ] {
                assert!(
                    f[field].as_f64().is_some_and(f64::is_finite),
                    "{m}.{field}: {f}"
                );
            }
            assert!(f["es_99"].as_f64() >= f["var_99"].as_f64(), "{f}");
        }
        assert_eq!(v["mc"]["paths"], 10_000);
        assert_eq!(v["mc"]["seed"], 1);
        assert_eq!(v["mc"]["repaired"], false);
    }
    let desk = &r["desk"]["var"]["hs"];
    let sum: f64 = (r["accounts"].as_array().unwrap().iter())
        .map(|a| a["var"]["hs"]["var_99_usd"].as_f64().unwrap())
        .sum();
    let got = desk["sum_of_accounts_var_99_usd"].as_f64().unwrap();
    assert!((got - sum).abs() < 1e-6 * sum, "{got} vs {sum}");
    let c = &r["desk"]["correlation"];
    assert_eq!(c["factors"], serde_json::json!(["btc_usd", "btc_usd.iv"]));
    assert_eq!(c["matrix"][0][0], 1.0);
    // The same figures in the table.
    let (code, table, _) = margintop(&["report", "--replay", &sample(), "--var"]);
    assert_eq!(code, 0);
    let hs = r["accounts"][0]["var"]["hs"]["var_99"].as_f64().unwrap();
    assert!(table.contains(&format!("{hs:.4}")), "{table}");
    assert!(table.contains("== desk VaR/ES in USD, 403 days 2021-03-25..2022-06-01"));
}

#[test]
fn check_warns_when_var_passes_its_share_of_the_margin_balance() {
    let r = json_report(&["report", "--replay", &sample(), "--json", "--var"]);
    let share = |name: &str| {
        let a = (r["accounts"].as_array().unwrap().iter())
            .find(|a| a["account"] == name)
            .unwrap();
        a["var"]["hs"]["var_99"].as_f64().unwrap() / a["margin_balance"].as_f64().unwrap()
    };
    let (over, under) = (share("sm-hedged-future"), share("pm-covered-call"));
    assert!(under < 0.2 && over > 0.2, "{under} {over}");
    let dir = std::env::temp_dir().join(format!("margintop-check-var-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, "[check]\nwarn_var_ratio = 0.2\n").unwrap();
    let cfg = cfg.to_str().unwrap();
    let (code, out, err) = margintop(&["check", "--replay", &sample(), "--config", cfg]);
    assert_eq!(code, 1, "{out}{err}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .to_string()
    };
    let want = format!(
        "VaR 99% (HS) is {:.0}% of the margin balance (limit 20%)",
        over * 100.0
    );
    assert!(line("sm-hedged-future").contains(&want), "{out}");
    assert!(!line("pm-covered-call").contains("VaR"), "{out}");
    // Without the limit, check computes no VaR.
    let (_, plain, _) = margintop(&["check", "--replay", &sample()]);
    assert!(!plain.contains("VaR"), "{plain}");
    std::fs::write(dir.join("bad.toml"), "[check]\nwarn_var_ratio = -1\n").unwrap();
    let bad = dir.join("bad.toml");
    let (code, _, err) = margintop(&[
        "check",
        "--replay",
        &sample(),
        "--config",
        bad.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("check.warn_var_ratio = -1"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A configuration whose VaR window fits the sample's history (it is
/// dated 2022-06-02; BTC's DVOL starts in 2021-03).
fn short_window_config(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("margintop-bt-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, "[var]\nwindow_days = 250\nbacktest_days = 150\n").unwrap();
    path
}

#[test]
fn report_backtest_adds_the_documented_fields() {
    let cfg = short_window_config("json");
    let cfg = cfg.to_str().unwrap();
    let r = json_report(&[
        "report",
        "--replay",
        &sample(),
        "--json",
        "--backtest",
        "--config",
        cfg,
    ]);
    for a in r["accounts"].as_array().unwrap() {
        let b = &a["backtest"];
        assert_eq!(b["days"], 150, "{b}");
        assert_eq!(b["alpha"], 0.99);
        assert_eq!(b["to"], "2022-06-01", "the day before the recording's");
        assert!(b["from"].as_str().unwrap() < "2022-01-05");
        for m in ["hs", "fhs"] {
            let t = &b[m];
            let x = t["exceptions"].as_u64().unwrap();
            assert!(x <= 150);
            for key in ["lr_pof", "p_pof", "lr_ind", "p_ind", "lr_cc", "p_cc"] {
                assert!(t[key].as_f64().unwrap() >= 0.0, "{m}.{key}");
            }
            // Conditional coverage is the sum of the two ratios.
            let sum = t["lr_pof"].as_f64().unwrap() + t["lr_ind"].as_f64().unwrap();
            assert!((t["lr_cc"].as_f64().unwrap() - sum).abs() < 1e-12);
            // The zone follows the count: for T = 150 at 99 %, binomial
            // CDF(3) = 0.9353 < 0.95 ≤ CDF(4) = 0.9820, and CDF(7) = 0.99985
            // < 0.9999 ≤ CDF(8): yellow from 4, red from 8.
            let zone = match x {
                0..=3 => "green",
                4..=7 => "yellow",
                _ => "red",
            };
            assert_eq!(t["zone"], zone, "{m}: {x} exceptions");
        }
        // The account's own model at its own maintenance margin, and the
        // two other shipped models beside it.
        let own = &b["margin"];
        assert_eq!(own["model"], a["margin_model"]);
        assert_eq!(own["maintenance_margin"], a["maintenance_margin"]);
        let others: Vec<&str> = (b["margin_by_model"].as_array().unwrap().iter())
            .map(|m| m["model"].as_str().unwrap())
            .collect();
        assert_eq!(others.len(), 2, "{others:?}");
        assert!(!others.contains(&a["margin_model"].as_str().unwrap()));
        for m in std::iter::once(own).chain(b["margin_by_model"].as_array().unwrap()) {
            let x = m["exceptions"].as_f64().unwrap();
            assert!((m["share"].as_f64().unwrap() - x / 150.0).abs() < 1e-12);
            assert_eq!(x == 0.0, m["worst_excess"].as_f64().unwrap() == 0.0, "{m}");
        }
    }
    std::fs::remove_dir_all(std::path::Path::new(cfg).parent().unwrap()).ok();
}

#[test]
fn the_backtest_command_prints_a_table_in_words() {
    let cfg = short_window_config("table");
    let cfg = cfg.to_str().unwrap();
    let args = [
        "backtest",
        "--replay",
        &sample(),
        "--config",
        cfg,
        "--account",
        "pm-vol-seller",
    ];
    let (code, out, err) = margintop(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("pm-vol-seller (BTC)"), "{out}");
    assert!(!out.contains("pm-covered-call"), "one account only");
    assert!(
        out.contains("150 days, ") && out.contains("1.5 exceptions expected"),
        "{out}"
    );
    for row in ["HS ", "FHS ", "deribit_pm", "deribit_sm", "span16"] {
        assert!(out.contains(row), "{row}: {out}");
    }
    assert!(
        out.contains("consistent with 99 %") || out.contains("understates"),
        "{out}"
    );
    // JSON: the report's shape, with the one account.
    let json = json_report(&[&args[..], &["--json", "--days", "100"]].concat());
    assert_eq!(json["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(json["accounts"][0]["backtest"]["days"], 100);
    // An account the recording does not have is an error, not an empty table.
    let (code, _, err) = margintop(&["backtest", "--replay", &sample(), "--account", "nobody"]);
    assert_eq!(code, 3);
    assert!(err.contains("no account \"nobody\""), "{err}");
    std::fs::remove_dir_all(std::path::Path::new(cfg).parent().unwrap()).ok();
}

/// The 2026 sample's market is the real chain of that morning: every
/// option ticker carries the snapshot's mark, IV, forward and index.
#[test]
fn the_2026_sample_quotes_the_real_chain() {
    let root = env!("CARGO_MANIFEST_DIR");
    let chain = std::fs::read_to_string(format!(
        "{root}/tests/fixtures/data/deribit_options_snapshot_20260101T091835Z.csv"
    ))
    .unwrap();
    let mut lines = chain.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: std::collections::HashMap<String, Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .map(|r| (r[col("instrument_name")].clone(), r))
        .collect();
    let sample =
        std::fs::read_to_string(format!("{root}/config/samples/deribit_2026-01-01.jsonl")).unwrap();
    let mut options = 0;
    for line in sample.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let data = &v["msg"]["params"]["data"];
        let Some(row) = data["instrument_name"].as_str().and_then(|n| rows.get(n)) else {
            continue;
        };
        let num = |name: &str| row[col(name)].parse::<f64>().unwrap();
        assert_eq!(data["mark_price"].as_f64().unwrap(), num("mark_price"));
        let iv = data["mark_iv"].as_f64().unwrap() / 100.0;
        assert!((iv - num("implied_volatility")).abs() < 1e-9);
        assert_eq!(
            data["underlying_price"].as_f64().unwrap(),
            num("futures_price")
        );
        assert_eq!(data["index_price"].as_f64().unwrap(), num("index_price"));
        options += 1;
    }
    assert_eq!(options, 9);
}

/// With no recording given, `backtest` walks the 2026 sample, which the
/// shipped history covers at the defaults: 500 test days, 1000-day window.
#[test]
fn the_backtest_command_runs_on_its_sample_at_the_defaults() {
    let (code, out, err) = margintop(&["backtest"]);
    assert_eq!(code, 0, "{err}");
    for account in ["pm-vol-seller", "pm-calendar", "sm-covered-call"] {
        assert!(
            out.contains(&format!("{account} (BTC)")),
            "{account}: {out}"
        );
    }
    assert_eq!(out.matches("500 days, ").count(), 3, "{out}");
    assert!(!out.contains("no backtest"), "{out}");
    let path = format!(
        "{}/config/samples/deribit_2026-01-01.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let json = json_report(&["backtest", "--replay", &path, "--json"]);
    for a in json["accounts"].as_array().unwrap() {
        let b = &a["backtest"];
        assert_eq!(b["days"], 500, "{b}");
        assert!(b["from"].is_string() && b["to"].is_string(), "{b}");
        assert!(b["hs"]["exceptions"].as_u64().is_some(), "{b}");
        assert!(b["fhs"]["exceptions"].as_u64().is_some(), "{b}");
    }
}

#[test]
fn a_window_longer_than_the_history_says_so() {
    let (code, out, err) = margintop(&["backtest", "--replay", &sample()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("no backtest") && out.contains("1000-day window"),
        "{out}"
    );
}

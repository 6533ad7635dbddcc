//! Bad input never reads as healthy. Each case mutates the shipped sample
//! recording (whose baseline is pm-vol-seller WARNING 70.3 %, exit 1) the
//! way a hostile or broken feed would, and runs `margintop check --replay`
//! on it: the account concerned must not read OK, the exit status must
//! not be 0 or 1, and no NaN or inf may be printed.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

fn sample() -> Vec<Value> {
    let path = format!(
        "{}/config/samples/deribit_2022-06-02.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write(name: &str, lines: &[Value]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("margintop-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// `margintop check --replay` on `lines`: (exit code, stdout, stderr).
fn check(name: &str, lines: &[Value], json: bool) -> (i32, String, String) {
    let path = write(name, lines);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_margintop"));
    cmd.args(["check", "--replay"]).arg(&path);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    std::fs::remove_file(&path).ok();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The line of `check` output for an account.
fn line_of<'a>(out: &'a str, account: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{account} ")))
        .unwrap_or_else(|| panic!("no line for {account}: {out}"))
}

/// The account is not judged healthy, and nothing prints a non-number.
fn never_ok(case: &str, lines: &[Value], account: &str) -> String {
    let (code, out, err) = check(&format!("{case}.jsonl"), lines, false);
    let line = line_of(&out, account);
    assert!(
        !line.contains(" OK ") && !line.contains(" WARNING "),
        "{case}: {line}\n{err}"
    );
    assert!(code >= 2, "{case}: exit {code}\n{out}{err}");
    for text in [&out, &err] {
        let lower = text.to_lowercase();
        assert!(
            !lower.contains("nan") && !lower.contains("inf%") && !lower.contains(" inf"),
            "{case}: {text}"
        );
    }
    line.to_string()
}

fn index_tick(t: i64, price: f64, timestamp: i64) -> Value {
    json!({"t": t, "dir": "in", "acct": "market", "msg": {"jsonrpc": "2.0", "method": "subscription",
        "params": {"channel": "deribit_price_index.btc_usd",
                   "data": {"index_name": "btc_usd", "price": price, "timestamp": timestamp}}}})
}

const LAST_T: i64 = 1_654_161_844_000;
const LAST_TS: i64 = 1_654_161_843_367;

/// Index of the first line whose message is on `channel`.
fn ticker_line(lines: &[Value], instrument: &str) -> usize {
    let channel = format!("ticker.{instrument}.100ms");
    lines
        .iter()
        .position(|l| l["msg"]["params"]["channel"] == channel.as_str())
        .unwrap()
}

#[test]
fn the_baseline_is_a_warning() {
    let (code, out, _) = check("baseline.jsonl", &sample(), false);
    assert_eq!(code, 1, "{out}");
    assert!(line_of(&out, "pm-vol-seller").contains(" WARNING mm_ratio 70.3%"));
}

#[test]
fn absurd_prices_are_rejected_not_turned_into_nan() {
    for price in [1.797e308, 1e-308, 5e-324, 1e9] {
        let mut lines = sample();
        lines.push(index_tick(LAST_T, price, LAST_TS));
        let line = never_ok(&format!("index-{price:e}"), &lines, "pm-vol-seller");
        assert!(
            line.contains("btc_usd"),
            "the rejected index is named: {line}"
        );
    }
    // A ticker's index_price that is not a price.
    let mut lines = sample();
    let i = ticker_line(&lines, "BTC-30SEP22-60000-C");
    lines[i]["msg"]["params"]["data"]["index_price"] = json!(5e-324);
    never_ok("ticker-index", &lines, "pm-vol-seller");
    // A futures settlement price that is not a price.
    let mut lines = sample();
    let i = ticker_line(&lines, "BTC-PERPETUAL");
    lines[i]["msg"]["params"]["data"]["settlement_price"] = json!(5e-324);
    never_ok("settlement", &lines, "sm-hedged-future");
}

#[test]
fn one_message_dated_years_ahead_does_not_move_the_pricing_clock() {
    // An index tick dated 2023, and a perpetual ticker dated 2100.
    let mut lines = sample();
    lines.push(index_tick(LAST_T, 29_950.0, 1_690_000_000_000));
    let line = never_ok("index-2023", &lines, "pm-vol-seller");
    assert!(line.contains("ahead of the exchange's clock"), "{line}");
    let mut lines = sample();
    let i = ticker_line(&lines, "BTC-PERPETUAL");
    let mut late = lines[i].clone();
    late["t"] = json!(LAST_T);
    late["msg"]["params"]["data"]["timestamp"] = json!(4_102_444_800_000_i64);
    lines.push(late);
    let (_, out, err) = check("perp-2100.jsonl", &lines, false);
    assert!(
        !out.contains("past expiry") && !err.contains("past expiry"),
        "{out}{err}"
    );
    let line = never_ok("perp-2100", &lines, "pm-vol-seller");
    assert!(line.contains("ahead of the exchange's clock"), "{line}");
}

#[test]
fn absurd_implied_volatilities_are_rejected() {
    for iv in [6770.0, 1e308, 1e-300] {
        let mut lines = sample();
        let i = ticker_line(&lines, "BTC-30SEP22-60000-C");
        lines[i]["msg"]["params"]["data"]["mark_iv"] = json!(iv);
        let line = never_ok(&format!("iv-{iv:e}"), &lines, "pm-vol-seller");
        assert!(line.contains("mark_iv"), "{line}");
    }
    // markprice.options sends fractions: 67.7 is a percent sent by mistake.
    let mut lines = sample();
    lines.push(
        json!({"t": LAST_T, "dir": "in", "acct": "market", "msg": {"jsonrpc": "2.0",
        "method": "subscription", "params": {"channel": "markprice.options.btc_usd",
        "data": [{"instrument_name": "BTC-30SEP22-60000-C", "mark_price": 0.0084, "iv": 67.7,
                  "timestamp": LAST_TS}]}}}),
    );
    let line = never_ok("markprice-percent", &lines, "pm-vol-seller");
    assert!(line.contains("looks like a percent"), "{line}");
}

/// The pm-vol-seller account's reply to a request (its `id`).
fn reply_of(lines: &mut [Value], id: i64) -> &mut Value {
    lines
        .iter_mut()
        .find(|l| l["dir"] == "in" && l["acct"] == "pm-vol-seller" && l["msg"]["id"] == id)
        .unwrap()
}

#[test]
fn an_unreadable_or_missing_answer_is_unknown_never_zero() {
    // One field of the wrong type in the positions reply.
    let mut lines = sample();
    reply_of(&mut lines, 10)["msg"]["result"][0]["size"] = json!("lots");
    let line = never_ok("positions-unreadable", &lines, "pm-vol-seller");
    assert!(
        line.contains("UNKNOWN") && line.contains("get_positions"),
        "{line}"
    );
    // No account summary at all.
    let mut lines = sample();
    lines.retain(|l| !(l["acct"] == "pm-vol-seller" && (l["msg"]["id"] == 11)));
    let line = never_ok("no-summary", &lines, "pm-vol-seller");
    assert!(line.contains("no account summary"), "{line}");
    // A margin model Deribit does not document, as text and as a number.
    for model in [json!("legacy"), json!(42)] {
        let mut lines = sample();
        reply_of(&mut lines, 11)["msg"]["result"]["margin_model"] = model.clone();
        let line = never_ok(&format!("model-{model}"), &lines, "pm-vol-seller");
        assert!(line.contains("margin_model"), "{model}: {line}");
    }
}

#[test]
fn positions_that_do_not_belong_make_no_phantom_accounts() {
    for name in ["NOT-AN-INSTRUMENT", "ETH-30SEP22-2000-C"] {
        let mut lines = sample();
        let reply = reply_of(&mut lines, 10);
        let mut extra = reply["msg"]["result"][0].clone();
        extra["instrument_name"] = json!(name);
        reply["msg"]["result"].as_array_mut().unwrap().push(extra);
        let (_, out, _) = check(&format!("phantom-{name}.jsonl"), &lines, false);
        assert_eq!(out.lines().count(), 3, "{name}: no new account\n{out}");
        let line = never_ok(&format!("phantom-{name}"), &lines, "pm-vol-seller");
        assert!(line.contains(name), "{line}");
    }
}

#[test]
fn data_age_runs_from_the_newest_line_and_times_never_wrap() {
    for t in [0, i64::MIN] {
        let mut lines = sample();
        let mut last = lines.last().unwrap().clone();
        last["t"] = json!(t);
        lines.push(last);
        let (code, out, err) = check(&format!("t-{t}.jsonl"), &lines, true);
        assert!(code <= 2, "{code}: {err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        for a in report["accounts"].as_array().unwrap() {
            let age = a["data_age_ms"].as_i64().unwrap();
            assert!(
                (2_000..4_000).contains(&age),
                "age from the newest line: {age}"
            );
        }
        let warnings = report["warnings"].to_string();
        assert!(warnings.contains("out of order"), "{warnings}");
    }
    // A recording in reverse order says so.
    let mut lines = sample();
    lines.reverse();
    let (code, out, err) = check("reversed.jsonl", &lines, false);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("out of order"), "{out}{err}");
}

#[test]
fn a_line_of_bad_bytes_is_counted_not_fatal() {
    let mut text: Vec<u8> = Vec::new();
    for (i, l) in sample().iter().enumerate() {
        if i == 3 {
            text.extend(b"{\"t\": 1, \"dir\": \"in\", \xff\xfe}\n");
        }
        text.extend(l.to_string().as_bytes());
        text.push(b'\n');
    }
    let path = std::env::temp_dir().join(format!("margintop-utf8-{}.jsonl", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_margintop"))
        .args(["check", "--replay"])
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "the baseline still: {stdout}{stderr}"
    );
    assert!(stderr.contains("(first: line 4)"), "{stderr}");
}

#[test]
fn control_characters_from_a_recording_never_reach_the_output() {
    let mut lines = sample();
    let hostile = "evil\u{1b}]0;owned\u{7}\nnot-an-account BTC deribit_pm OK";
    for l in lines.iter_mut().filter(|l| l["acct"] == "pm-vol-seller") {
        l["acct"] = json!(hostile);
    }
    let i = ticker_line(&lines, "BTC-30SEP22-60000-C");
    lines[i]["msg"]["params"]["data"]["mark_iv"] = json!("\u{1b}[2J");
    let (_, out, err) = check("escapes.jsonl", &lines, false);
    for text in [&out, &err] {
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
    }
    assert_eq!(out.lines().count(), 3, "no forged line: {out}");
    assert!(out.contains("evil]0;ownednot-an-account"), "{out}");
}

#[test]
fn lines_over_the_configured_cap_are_skipped_with_their_number() {
    // A heartbeat padded to 8 kB: harmless, but longer than the cap below.
    let mut lines = sample();
    let padded = json!({"t": LAST_T - 5000, "dir": "in", "acct": "market",
        "msg": {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "heartbeat"},
                "padding": "x".repeat(8000)}});
    lines.insert(5, padded);
    let path = write("capped.jsonl", &lines);
    let config = path.with_extension("toml");
    std::fs::write(&config, "[engine]\nmax_line_bytes = 4096\n").unwrap();
    for command in ["check", "report"] {
        let out = Command::new(env!("CARGO_BIN_EXE_margintop"))
            .args([command, "--replay"])
            .arg(&path)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(text.contains("(first: line 6)"), "{command}: {text}");
        assert!(text.contains("WARNING"), "the baseline still: {text}");
    }
    // Without the cap the same line is read like any other.
    let (code, out, err) = check("uncapped.jsonl", &lines, false);
    assert_eq!(code, 1, "{out}{err}");
    assert!(!err.contains("first: line"), "{err}");
    std::fs::remove_file(&path).ok();
    std::fs::remove_file(&config).ok();
}

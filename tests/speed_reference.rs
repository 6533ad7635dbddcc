//! The speed work (issue 15) must not move a figure: `report --replay
//! --json` on a desk recording is compared with the report the code wrote
//! before that work began (tests/fixtures/speed, README there): every
//! number to 1e-9 relative, liquidation moves to 1e-6, everything else
//! exactly.

use serde_json::Value;
use std::process::Command;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/speed");

/// The reference desk recording.
fn desk() -> String {
    format!("{DIR}/desk_12x20.jsonl")
}

/// margintop's stdout with `args`; it must succeed.
fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_margintop"))
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    String::from_utf8(out.stdout).unwrap()
}

/// How far `got` may be from `want` at this path of the report.
fn tolerance(path: &str, want: f64) -> f64 {
    let liquidation = path.contains("liquidation");
    let moves = liquidation && path.ends_with("_move");
    match (liquidation, moves) {
        (true, true) => 1e-6,
        (true, false) => 1e-6 * want.abs().max(1.0),
        _ => 1e-9 * want.abs().max(1e-3),
    }
}

fn compare(path: &str, got: &Value, want: &Value, out: &mut Vec<String>) {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            if (g - w).abs() > tolerance(path, w) {
                out.push(format!("{path}: {g} vs {w}"));
            }
        }
        (Value::Object(g), Value::Object(w)) => {
            let keys: std::collections::BTreeSet<&String> = g.keys().chain(w.keys()).collect();
            for k in keys {
                match (g.get(k), w.get(k)) {
                    (Some(a), Some(b)) => compare(&format!("{path}.{k}"), a, b, out),
                    _ => out.push(format!("{path}.{k}: present on one side only")),
                }
            }
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                compare(&format!("{path}[{i}]"), a, b, out);
            }
        }
        _ if got == want => {}
        _ => out.push(format!("{path}: {got} vs {want}")),
    }
}

#[test]
fn the_desk_report_is_the_one_before_the_speed_work() {
    let got: Value =
        serde_json::from_str(&run(&["report", "--replay", &desk(), "--json"])).unwrap();
    let text = std::fs::read_to_string(format!("{DIR}/desk_12x20.report.json")).unwrap();
    let want: Value = serde_json::from_str(&text).unwrap();
    let accounts = want["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 12);
    let mut differences = Vec::new();
    compare("report", &got, &want, &mut differences);
    assert!(
        differences.is_empty(),
        "{} differences, first: {:#?}",
        differences.len(),
        &differences[..differences.len().min(10)]
    );
}

/// The comparison can fail: a figure moved by more than its tolerance is
/// reported with its path.
#[test]
fn a_moved_figure_is_found() {
    let want: Value = serde_json::json!({"accounts": [{"mm_ratio": 0.5,
        "liquidation": {"down_move": -0.2, "down_price": 50_000.0}}]});
    let mut got = want.clone();
    got["accounts"][0]["liquidation"]["down_move"] = serde_json::json!(-0.2 + 5e-7);
    let mut out = Vec::new();
    compare("report", &got, &want, &mut out);
    assert!(out.is_empty(), "{out:?}");
    got["accounts"][0]["mm_ratio"] = serde_json::json!(0.5 + 1e-6);
    got["accounts"][0]["liquidation"]["down_move"] = serde_json::json!(-0.2 + 2e-6);
    compare("report", &got, &want, &mut out);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out[0].starts_with("report.accounts[0].liquidation.down_move"));
}

/// The desk generator writes what the fixture is: the same bytes for the
/// same shape (so the reference keeps its meaning), the accounts' four
/// lines each and, per round, a ticker per held instrument and both
/// indices' ticks.
#[test]
fn the_desk_generator_is_deterministic_and_shaped_as_documented() {
    use margintop::synthetic::desk::{recording, Shape};
    let shape = Shape {
        accounts: 12,
        options: 20,
        rounds: 2,
    };
    let lines = recording(&shape).unwrap();
    let fixture = std::fs::read_to_string(format!("{DIR}/desk_12x20.jsonl")).unwrap();
    assert_eq!(lines.join("\n") + "\n", fixture);
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let account_lines = parsed.iter().filter(|l| l["acct"] != "market").count();
    assert_eq!(account_lines, 12 * 4);
    let channel = |l: &Value| l["msg"]["params"]["channel"].as_str().map(str::to_string);
    let channels: Vec<String> = parsed.iter().filter_map(channel).collect();
    let index_ticks = channels
        .iter()
        .filter(|c| c.starts_with("deribit_price_index."))
        .count();
    assert_eq!(index_ticks, 2 * 2);
    // Every position's instrument gets one ticker per round.
    let mut held = std::collections::BTreeSet::new();
    for l in &parsed {
        for p in l["msg"]["result"].as_array().into_iter().flatten() {
            held.insert(format!(
                "ticker.{}.100ms",
                p["instrument_name"].as_str().unwrap()
            ));
        }
    }
    for c in channels.iter().filter(|c| c.starts_with("ticker.")) {
        assert!(held.contains(c), "{c} is held by nobody");
    }
    assert_eq!(channels.len() - index_ticks, 2 * held.len());
}

/// `margintop bench --replay` times the phases of a report on a recording.
#[test]
fn the_replay_bench_reports_each_phase() {
    let text = run(&["bench", "--replay", &desk(), "--repeat", "1"]);
    assert!(
        text.contains("508 lines") && text.contains("12 accounts"),
        "{text}"
    );
    for phase in [
        "ingest",
        "JSON parsing",
        "margin",
        "stress",
        "liquidation",
        "json",
    ] {
        assert!(text.contains(phase), "{phase}: {text}");
    }
}

/// Stress results found for the whole desk at once (each instrument priced
/// once per scenario for every account holding it) are each account's own,
/// exactly; and the accounts holding only instruments others priced first
/// still have their margin (a model builds its grid on first use).
#[test]
fn desk_wide_stress_equals_each_accounts_own() {
    use margintop::engine::{Desk, Ingest};
    use margintop::margin::book::PreparedModel;
    use margintop::margin::stress::{
        desk_stress_results, parse_scenarios, stress_results, BUILTIN_SCENARIOS,
    };
    let models = margintop::margin::config::load_models(None).unwrap();
    let mut ingest = Ingest::new(Desk::new(models, 0), None);
    ingest.lines(std::fs::read_to_string(desk()).unwrap().lines());
    let desk = &ingest.desk;
    let mut all: Vec<_> = (0..desk.account_count())
        .map(|id| desk.inputs(id, &[]))
        .collect();
    // An account holding half of the first one's book: every price it
    // needs is found already.
    let mut half = all[0].clone();
    half.account.label = "half".into();
    let n = half.account.positions.len() / 2;
    half.account.positions.truncate(n);
    all.push(half);
    let refs: Vec<_> = all.iter().collect();
    let scenarios = parse_scenarios(BUILTIN_SCENARIOS, "built-in").unwrap();
    let shared = desk_stress_results(&refs, &scenarios);
    assert_eq!(shared.len(), 13);
    for (i, shared) in all.iter().zip(shared) {
        let mut model = PreparedModel::new(i.model().unwrap().clone(), &i.account.currency);
        let (a, now) = (&i.account, i.now_ms);
        let own = stress_results(a, &i.instruments, &i.market, &mut model, now, &scenarios);
        assert_eq!(shared.unwrap(), own, "{}", a.label);
        assert!(
            own.iter().all(|r| r.maintenance_margin > 0.0),
            "{}",
            a.label
        );
    }
}

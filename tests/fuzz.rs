//! A mutation fuzzer on stable Rust for everything a recording or the
//! exchange can send: seeded with the verbatim Deribit fixtures and the
//! shipped sample, each input is a message with one field replaced by a
//! hostile value (extreme or non-finite numbers, wrong types, control
//! characters, deleted keys) or a line with a byte flipped. Every input
//! goes through the ingest; every so often the report is built. Nothing
//! may panic, and no account may read healthy on a figure that is not a
//! finite number. `MARGINTOP_FUZZ_N` sets the number of inputs (CI runs
//! 100,000; README gives a longer run's figures).

use margintop::engine::{Desk, Ingest};
use margintop::margin::config::load_models;
use margintop::report::{build_report, Freshness, Health, ReportOptions, Thresholds};
use serde_json::{json, Value};

/// xorshift64*: reproducible, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Seeds: the sample's lines, and every fixture message as a recording line
/// (answers preceded by their request, so that they are read as such).
fn seeds() -> Vec<Vec<Value>> {
    let root = env!("CARGO_MANIFEST_DIR");
    let sample =
        std::fs::read_to_string(format!("{root}/config/samples/deribit_2022-06-02.jsonl")).unwrap();
    let mut out: Vec<Vec<Value>> = sample
        .lines()
        .map(|l| vec![serde_json::from_str(l).unwrap()])
        .collect();
    let dir = format!("{root}/tests/fixtures/deribit");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(msg) = serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap())
        else {
            continue;
        };
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let method = [
            "get_positions",
            "get_account_summary",
            "get_instruments",
            "ticker",
        ]
        .into_iter()
        .find(|m| name.contains(m))
        .map(|m| match m {
            "ticker" => "public/ticker".to_string(),
            "get_instruments" => "public/get_instruments".to_string(),
            m => format!("private/{m}"),
        });
        let mut lines = Vec::new();
        if let (Some(m), Some(id)) = (method, msg.get("id").cloned()) {
            lines.push(json!({"t": 1, "dir": "out", "acct": "fuzz",
                "msg": {"jsonrpc": "2.0", "id": id, "method": m, "params": {"currency": "BTC"}}}));
        }
        lines.push(json!({"t": 1, "dir": "in", "acct": "fuzz", "msg": msg}));
        out.push(lines);
    }
    out
}

/// What a hostile or broken sender puts where a value should be.
fn hostile(rng: &mut Rng) -> Value {
    let choices = [
        json!(0),
        json!(-1),
        json!(1.797e308),
        json!(-1.797e308),
        json!(5e-324),
        json!(1e-300),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(67.7),
        json!(6770),
        json!(null),
        json!(true),
        json!("NaN"),
        json!("inf"),
        json!("\u{1b}]0;x\u{7}\n"),
        json!(""),
        json!([]),
        json!({}),
        json!("BTC-30SEP22-60000-C"),
        json!(4_102_444_800_000_i64),
        json!(-4_102_444_800_000_i64),
    ];
    choices[rng.below(choices.len())].clone()
}

/// Replace (or delete) one value somewhere inside `v`.
fn mutate(v: &mut Value, rng: &mut Rng) {
    let depth_stop = rng.below(4) == 0;
    match v {
        Value::Object(map) if !map.is_empty() && !depth_stop => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.below(keys.len())];
            if rng.below(8) == 0 {
                map.remove(key);
            } else {
                mutate(map.get_mut(key).unwrap(), rng);
            }
        }
        Value::Array(list) if !list.is_empty() && !depth_stop => {
            let i = rng.below(list.len());
            mutate(&mut list[i], rng);
        }
        _ => *v = hostile(rng),
    }
}

/// One input: a seed's lines, one of them mutated (as JSON, or as bytes).
fn input(seeds: &[Vec<Value>], rng: &mut Rng) -> Vec<String> {
    let seed = &seeds[rng.below(seeds.len())];
    let k = rng.below(seed.len());
    seed.iter()
        .enumerate()
        .map(|(i, line)| {
            if i != k {
                return line.to_string();
            }
            let mut line = line.clone();
            if rng.below(10) == 0 {
                let mut bytes = line.to_string().into_bytes();
                let at = rng.below(bytes.len());
                bytes[at] ^= 1 << rng.below(8);
                return String::from_utf8_lossy(&bytes).into_owned();
            }
            mutate(&mut line["msg"], rng);
            line.to_string()
        })
        .collect()
}

/// No account reads healthy unless its figures are finite numbers.
fn verdicts_are_sound(ingest: &Ingest, round: usize) {
    let as_of = ingest.stats.last_t.unwrap_or(0);
    let opts = ReportOptions {
        scenarios: &[],
        thresholds: Thresholds::default(),
    };
    let fresh = |id| {
        Some(Freshness {
            error: ingest.error(id),
            unknown: ingest.unknown_reason(id),
            ..Freshness::from_update(ingest.inputs_t(id), as_of, 60_000)
        })
    };
    let report = build_report(&ingest.desk, &fresh, as_of, &opts);
    for a in &report.accounts {
        let finite = |v: Option<f64>| v.is_some_and(f64::is_finite);
        if matches!(a.health, Health::Ok | Health::Warning | Health::Critical) {
            assert!(
                finite(a.mm_ratio) && finite(a.maintenance_margin) && finite(a.equity),
                "round {round}: {} reads {:?} on {:?} / {:?}",
                a.account,
                a.health,
                a.mm_ratio,
                a.maintenance_margin
            );
        }
        for v in [
            a.mm_ratio,
            a.im_ratio,
            a.equity,
            a.margin_balance,
            a.headroom,
        ] {
            assert!(
                v.is_none_or(f64::is_finite),
                "round {round}: a non-number is reported"
            );
        }
        let label = &a.account;
        assert!(
            !label.chars().any(char::is_control),
            "round {round}: {label:?}"
        );
        if let Some(key) = rejected_input_of(ingest, label, &a.currency) {
            JUDGED_ON_REJECTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            assert!(
                !matches!(a.health, Health::Ok | Health::Warning | Health::Critical),
                "round {round}: {label} reads {:?} although the latest {key} was rejected",
                a.health
            );
        }
    }
}

/// Verdicts checked on accounts holding something whose latest value was rejected.
static JUDGED_ON_REJECTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// An instrument or index the account holds whose latest value was rejected.
fn rejected_input_of(ingest: &Ingest, label: &str, currency: &str) -> Option<String> {
    let id = ingest.desk.find_account(label, currency)?;
    ingest.desk.account(id).positions.iter().find_map(|p| {
        let index = ingest.desk.instrument(&p.instrument).map(|i| &i.index_name);
        std::iter::once(&p.instrument)
            .chain(index)
            .find(|key| ingest.rejected.contains_key(key.as_str()))
            .cloned()
    })
}

#[test]
fn hostile_inputs_never_panic_nor_read_healthy() {
    let n: usize = std::env::var("MARGINTOP_FUZZ_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let seeds = seeds();
    assert!(seeds.len() > 60, "{}", seeds.len());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let models = load_models(None).unwrap();
    let fresh_ingest = || Ingest::new(Desk::new(models.clone(), 0), None);
    let mut ingest = fresh_ingest();
    let mut lines = 0usize;
    for round in 0..n {
        for line in input(&seeds, &mut rng) {
            ingest.line(&line);
            lines += 1;
        }
        // Judge now and then, and start afresh so that state stays small.
        if round % 2_000 == 1_999 {
            verdicts_are_sound(&ingest, round);
            ingest = fresh_ingest();
        }
    }
    verdicts_are_sound(&ingest, n);
    let judged = JUDGED_ON_REJECTED.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "fuzz: {n} inputs, {lines} lines, no panic, no unsound verdict \
         ({judged} verdicts on accounts with a rejected input)"
    );
    assert!(
        n < 100_000 || judged > 0,
        "the rejection path was never judged"
    );
}

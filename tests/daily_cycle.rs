//! Deribit's daily cycle in recordings: futures settled at 08:00 UTC (the
//! session P&L booked into the balance, the session reference reset to the
//! settlement price) and instruments expiring. The recordings are written
//! here from the verbatim message shapes, by a small ledger that keeps the
//! account the way the exchange does; margintop's equity must then equal
//! the exchange's identity `balance + futures_session_upl +
//! futures_session_rpl + options_value` after every figure it sends.

mod common;

use common::read_json;
use margintop::engine::{Desk, Ingest};
use margintop::margin::config::load_models;
use margintop::margin::notes::Note;
use serde_json::{json, Value};

/// 2022-09-28 08:00:00 UTC; BTC-30SEP22 expires two days later.
const SETTLE_0928: i64 = 1_664_352_000_000;
const DAY: i64 = 86_400_000;
const MINUTE: i64 = 60_000;
const EXPIRY_0930: i64 = SETTLE_0928 + 2 * DAY;

const PERP: &str = "BTC-PERPETUAL";
const FUTURE: &str = "BTC-30SEP22";

/// The index at local/exchange time `t`: a deterministic path that moves
/// several percent a day, so that each session has a P&L to book.
fn index_at(t: i64) -> f64 {
    let hours = (t - SETTLE_0928) as f64 / 3_600_000.0;
    19_500.0 * (1.0 + 0.04 * (hours / 7.0).sin() + 0.002 * hours / 24.0)
}

fn mark_of(name: &str, t: i64) -> f64 {
    let i = index_at(t);
    match name {
        PERP => i * 1.0004,
        FUTURE => i * (1.0 + 0.0002 * ((EXPIRY_0930 - t).max(0) as f64 / DAY as f64)),
        _ => unreachable!(),
    }
}

struct Future {
    name: &'static str,
    /// USD, negative = short.
    size: f64,
    /// The price the session P&L is measured from (the last settlement).
    reference: f64,
    expiry: Option<i64>,
}

fn future(name: &'static str, size: f64, reference: f64, expiry: Option<i64>) -> Future {
    Future {
        name,
        size,
        reference,
        expiry,
    }
}

struct Option_ {
    name: &'static str,
    size: f64,
    strike: f64,
    call: bool,
    expiry: i64,
}

impl Option_ {
    /// A mark in coin: intrinsic over the forward plus some time value.
    fn mark(&self, t: i64) -> f64 {
        let f = index_at(t);
        let intrinsic = if self.call {
            (f - self.strike).max(0.0)
        } else {
            (self.strike - f).max(0.0)
        };
        let days = (self.expiry - t).max(0) as f64 / DAY as f64;
        intrinsic / f + 0.004 * days.sqrt()
    }

    /// What one contract pays at delivery price `d`, in coin.
    fn payoff(&self, d: f64) -> f64 {
        let v = if self.call {
            (d - self.strike).max(0.0)
        } else {
            (self.strike - d).max(0.0)
        };
        v / d
    }
}

/// The account as the exchange keeps it.
struct Ledger {
    balance: f64,
    futures: Vec<Future>,
    options: Vec<Option_>,
}

impl Ledger {
    fn futures_session_upl(&self, t: i64) -> f64 {
        (self.futures.iter())
            .map(|f| f.size * (1.0 / f.reference - 1.0 / mark_of(f.name, t)))
            .sum()
    }

    fn options_value(&self, t: i64) -> f64 {
        self.options.iter().map(|o| o.size * o.mark(t)).sum()
    }

    /// Deribit's identity (futures_session_rpl is 0: no trades).
    fn equity(&self, t: i64) -> f64 {
        self.balance + self.futures_session_upl(t) + self.options_value(t)
    }

    /// 08:00 UTC: book every future's session P&L and reset its reference
    /// to the settlement price; deliver what expires now.
    fn settle(&mut self, t: i64) {
        let delivery = index_at(t);
        for f in &mut self.futures {
            let price = if f.expiry == Some(t) {
                delivery
            } else {
                mark_of(f.name, t)
            };
            self.balance += f.size * (1.0 / f.reference - 1.0 / price);
            f.reference = price;
        }
        for o in self.options.iter().filter(|o| o.expiry == t) {
            self.balance += o.size * o.payoff(delivery);
        }
        self.futures.retain(|f| f.expiry != Some(t));
        self.options.retain(|o| o.expiry != t);
    }
}

/// Writes recording lines (docs/recording.md) from the verbatim shapes.
struct Recording {
    lines: Vec<String>,
    next_id: i64,
}

impl Recording {
    fn new() -> Recording {
        Recording {
            lines: Vec::new(),
            next_id: 1,
        }
    }

    fn push(&mut self, t: i64, dir: &str, msg: Value) {
        let line = json!({"t": t, "dir": dir, "acct": "desk", "msg": msg});
        self.lines.push(line.to_string());
    }

    fn notify(&mut self, t: i64, channel: &str, data: Value) {
        let msg = json!({"jsonrpc": "2.0", "method": "subscription",
                         "params": {"channel": channel, "data": data}});
        self.push(t, "in", msg);
    }

    /// A request and its answer.
    fn ask(&mut self, t: i64, method: &str, result: Value) {
        let id = self.next_id;
        self.next_id += 1;
        let params = json!({"currency": "BTC"});
        self.push(
            t,
            "out",
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        );
        self.push(
            t,
            "in",
            json!({"jsonrpc": "2.0", "id": id, "result": result, "usOut": t * 1000}),
        );
    }

    fn market(&mut self, t: i64, ledger: &Ledger, settlements: &[(&str, f64)], live: &[&str]) {
        let mut idx =
            read_json("deribit/deribit_price_index_btc_usd.json")["params"]["data"].clone();
        idx["price"] = json!(index_at(t));
        idx["timestamp"] = json!(t);
        self.notify(t, "deribit_price_index.btc_usd", idx);
        for f in &ledger.futures {
            if !live.contains(&f.name) {
                continue;
            }
            let mut d =
                read_json("deribit/ticker_perpetual_100ms_2025.json")["params"]["data"].clone();
            d["instrument_name"] = json!(f.name);
            d["mark_price"] = json!(mark_of(f.name, t));
            d["index_price"] = json!(index_at(t));
            d["estimated_delivery_price"] = json!(index_at(t));
            let settled = settlements.iter().find(|(n, _)| *n == f.name);
            d["settlement_price"] = json!(settled.map(|s| s.1));
            d["timestamp"] = json!(t);
            self.notify(t, &format!("ticker.{}.100ms", f.name), d);
        }
        for o in &ledger.options {
            if !live.contains(&o.name) {
                continue;
            }
            let mut d = read_json("deribit/ticker_option_100ms.json")["params"]["data"].clone();
            d["instrument_name"] = json!(o.name);
            d["mark_price"] = json!(o.mark(t));
            d["mark_iv"] = json!(60.0);
            d["underlying_price"] = json!(index_at(t));
            d["index_price"] = json!(index_at(t));
            d["timestamp"] = json!(t);
            self.notify(t, &format!("ticker.{}.100ms", o.name), d);
        }
    }

    fn portfolio(&mut self, t: i64, ledger: &Ledger) {
        let mut d = read_json("deribit/user_portfolio_btc.json")["params"]["data"].clone();
        let equity = ledger.equity(t);
        d["balance"] = json!(ledger.balance);
        d["futures_session_upl"] = json!(ledger.futures_session_upl(t));
        d["futures_session_rpl"] = json!(0.0);
        d["options_value"] = json!(ledger.options_value(t));
        d["equity"] = json!(equity);
        d["margin_balance"] = json!(equity);
        d["margin_model"] = json!("segregated_pm");
        self.notify(t, "user.portfolio.btc", d);
    }

    fn positions(&mut self, t: i64, ledger: &Ledger) {
        let template =
            read_json("deribit/private_get_positions_response.json")["result"][0].clone();
        let mut list = Vec::new();
        for f in &ledger.futures {
            let mut p = template.clone();
            p["instrument_name"] = json!(f.name);
            p["size"] = json!(f.size);
            p["kind"] = json!("future");
            p["settlement_price"] = json!(f.reference);
            p["average_price"] = json!(f.reference * 0.98);
            list.push(p);
        }
        for o in &ledger.options {
            let mut p = template.clone();
            p["instrument_name"] = json!(o.name);
            p["size"] = json!(o.size);
            p["kind"] = json!("option");
            p["average_price"] = json!(0.01);
            p["settlement_price"] = json!(0.01);
            list.push(p);
        }
        self.ask(t, "private/get_positions", Value::Array(list));
    }

    /// Make the last line's exchange equity differ from the identity.
    fn add_to_last_equity(&mut self, extra: f64) {
        let last = self.lines.pop().unwrap();
        let mut v: Value = serde_json::from_str(&last).unwrap();
        let data = &mut v["msg"]["params"]["data"];
        data["equity"] = json!(data["equity"].as_f64().unwrap() + extra);
        self.lines.push(v.to_string());
    }

    /// Make the last line's exchange maintenance margin this.
    fn set_last_mm(&mut self, mm: f64) {
        let last = self.lines.pop().unwrap();
        let mut v: Value = serde_json::from_str(&last).unwrap();
        let msg = &mut v["msg"];
        let data = match msg.get("result") {
            Some(_) => &mut msg["result"],
            None => &mut msg["params"]["data"],
        };
        data["maintenance_margin"] = json!(mm);
        self.lines.push(v.to_string());
    }

    fn summary(&mut self, t: i64, ledger: &Ledger) {
        let mut s =
            read_json("deribit/private_get_account_summary_response.json")["result"].clone();
        let equity = ledger.equity(t);
        s["balance"] = json!(ledger.balance);
        s["equity"] = json!(equity);
        s["margin_balance"] = json!(equity);
        s["futures_session_rpl"] = json!(0.0);
        s["futures_session_upl"] = json!(ledger.futures_session_upl(t));
        s["options_value"] = json!(ledger.options_value(t));
        s["margin_model"] = json!("segregated_pm");
        self.ask(t, "private/get_account_summary", s);
    }
}

fn ingest() -> Ingest {
    Ingest::new(Desk::new(load_models(None).unwrap(), 0), None)
}

/// The desk's equity for the test account, with the exchange's equity.
fn equities(ing: &Ingest) -> (f64, f64) {
    let id = ing.desk.find_account("desk", "BTC").expect("account");
    let exchange = ing
        .desk
        .account(id)
        .exchange
        .equity
        .expect("exchange equity");
    (ing.desk.risk(id).equity, exchange)
}

/// Feed the recording's new lines; return how many were fed.
fn feed(ing: &mut Ingest, rec: &Recording, from: usize) -> usize {
    for line in &rec.lines[from..] {
        ing.line(line);
    }
    assert_eq!(ing.stats.bad_lines, 0);
    assert!(ing.stats.failures.is_empty(), "{:?}", ing.stats.failures);
    rec.lines.len()
}

/// A short perpetual and a long dated future held through two daily
/// settlements with no trade: the equity follows the exchange's at every
/// portfolio message, although the positions were taken once, before both.
#[test]
fn futures_settled_twice_without_a_trade_keep_equity_equal_to_the_exchange() {
    let start = SETTLE_0928 - 2 * 3_600_000;
    let mut ledger = Ledger {
        balance: 1.5,
        futures: vec![
            future(PERP, -30_000.0, mark_of(PERP, start) * 1.01, None),
            future(
                FUTURE,
                20_000.0,
                mark_of(FUTURE, start) * 0.99,
                Some(EXPIRY_0930),
            ),
        ],
        options: Vec::new(),
    };
    let mut rec = Recording::new();
    let mut ing = ingest();
    let mut fed = 0;
    let refs = |l: &Ledger| -> Vec<(&'static str, f64)> {
        l.futures.iter().map(|f| (f.name, f.reference)).collect()
    };
    rec.market(start, &ledger, &refs(&ledger), &[PERP, FUTURE]);
    rec.positions(start, &ledger);
    rec.summary(start, &ledger);
    let balance_at_start = ledger.balance;
    let mut checked = 0;
    let mut t = start;
    let end = SETTLE_0928 + DAY + 2 * 3_600_000;
    let mut next_settlement = SETTLE_0928;
    while t < end {
        t += 10 * MINUTE;
        if t >= next_settlement {
            ledger.settle(next_settlement);
            next_settlement += DAY;
        }
        rec.market(t, &ledger, &refs(&ledger), &[PERP, FUTURE]);
        rec.portfolio(t, &ledger);
        fed = feed(&mut ing, &rec, fed);
        let (local, exchange) = equities(&ing);
        let identity = ledger.equity(t);
        assert!(
            (exchange - identity).abs() < 1e-12,
            "the ledger's own identity"
        );
        assert!(
            (local - exchange).abs() < 1e-9,
            "at {t}: local equity {local} vs exchange {exchange}"
        );
        checked += 1;
    }
    assert_eq!(checked, 6 * 28);
    // Two settlements booked real P&L: the check above could have failed.
    assert!(
        (ledger.balance - balance_at_start).abs() > 1e-3,
        "balance moved by {}",
        ledger.balance - balance_at_start
    );
}

/// Options in and out of the money and a dated future expire at 08:00 on
/// 30 September; a perpetual and a later option stay. The exchange books
/// the deliveries, the next positions snapshot no longer holds the expired
/// ones, and from then on equity equals the exchange's; the account's data
/// age counts only the instruments still quoted, so it never goes stale.
#[test]
fn expiry_settles_options_and_a_future_and_the_account_stays_current() {
    let later = "BTC-28OCT22-20000-C";
    let itm_call = "BTC-30SEP22-18000-C";
    let otm_put = "BTC-30SEP22-18000-P";
    let start = EXPIRY_0930 - 30 * MINUTE;
    let mut ledger = Ledger {
        balance: 2.0,
        futures: vec![
            future(PERP, -10_000.0, mark_of(PERP, start) * 1.002, None),
            future(
                FUTURE,
                20_000.0,
                mark_of(FUTURE, start) * 0.995,
                Some(EXPIRY_0930),
            ),
        ],
        options: vec![
            Option_ {
                name: itm_call,
                size: 2.0,
                strike: 18_000.0,
                call: true,
                expiry: EXPIRY_0930,
            },
            Option_ {
                name: otm_put,
                size: -3.0,
                strike: 18_000.0,
                call: false,
                expiry: EXPIRY_0930,
            },
            Option_ {
                name: later,
                size: 1.0,
                strike: 20_000.0,
                call: true,
                expiry: EXPIRY_0930 + 28 * DAY,
            },
        ],
    };
    assert!(
        index_at(EXPIRY_0930) > 18_000.0,
        "the call ends in the money"
    );
    let refs = |l: &Ledger| -> Vec<(&'static str, f64)> {
        l.futures.iter().map(|f| (f.name, f.reference)).collect()
    };
    let all = [PERP, FUTURE, itm_call, otm_put, later];
    let mut rec = Recording::new();
    let mut ing = ingest();
    rec.market(start, &ledger, &refs(&ledger), &all);
    rec.positions(start, &ledger);
    rec.summary(start, &ledger);
    let mut fed = feed(&mut ing, &rec, 0);
    let stale_after = 90_000;
    let id = ing.desk.find_account("desk", "BTC").unwrap();
    let mut t = start;
    while t < EXPIRY_0930 - MINUTE {
        t += MINUTE;
        rec.market(t, &ledger, &refs(&ledger), &all);
        rec.portfolio(t, &ledger);
        fed = feed(&mut ing, &rec, fed);
        let (local, exchange) = equities(&ing);
        assert!((local - exchange).abs() < 1e-9, "before expiry at {t}");
    }
    // 08:00: the exchange settles and delivers; the expired instruments
    // send no more tickers. Five seconds later margintop's re-snapshot.
    let balance_before = ledger.balance;
    ledger.settle(EXPIRY_0930);
    let live = [PERP, later];
    rec.market(EXPIRY_0930 + 1_000, &ledger, &refs(&ledger), &live);
    rec.portfolio(EXPIRY_0930 + 1_000, &ledger);
    fed = feed(&mut ing, &rec, fed);
    let risk = ing.desk.risk(id);
    for name in [FUTURE, itm_call, otm_put] {
        assert!(
            risk.notes.iter().any(|n| matches!(
                n,
                Note::PastExpiry { instrument, .. } if instrument == name
            )),
            "{name} is said to be past expiry until it leaves: {:?}",
            risk.notes
        );
    }
    rec.market(EXPIRY_0930 + 5_000, &ledger, &refs(&ledger), &live);
    rec.positions(EXPIRY_0930 + 5_000, &ledger);
    rec.summary(EXPIRY_0930 + 5_000, &ledger);
    fed = feed(&mut ing, &rec, fed);
    let held: Vec<String> = (ing.desk.account(id).positions.iter())
        .map(|p| p.instrument.clone())
        .collect();
    assert_eq!(held, vec![PERP.to_string(), later.to_string()]);
    let delivered = ledger.balance - balance_before;
    assert!(delivered.abs() > 1e-3, "delivery booked {delivered}");
    let (local, exchange) = equities(&ing);
    assert!((local - exchange).abs() < 1e-9, "{local} vs {exchange}");
    assert!(ing
        .desk
        .risk(id)
        .notes
        .iter()
        .all(|n| !matches!(n, Note::PastExpiry { .. })));
    // The next ten minutes: equity keeps matching and the data stays current.
    t = EXPIRY_0930;
    for _ in 0..10 {
        t += MINUTE;
        rec.market(t, &ledger, &refs(&ledger), &live);
        rec.portfolio(t, &ledger);
        fed = feed(&mut ing, &rec, fed);
        let (local, exchange) = equities(&ing);
        assert!((local - exchange).abs() < 1e-9, "after expiry at {t}");
        let age = t - ing.inputs_t(id).expect("inputs");
        assert!(age <= stale_after, "data age {age} ms at {t}");
    }
}

/// Between the expiry and the re-snapshot the expired positions are still
/// held, but they no longer set the data age: only live instruments do.
#[test]
fn data_age_ignores_instruments_past_expiry() {
    let ledger = Ledger {
        balance: 1.0,
        futures: vec![
            future(PERP, 10_000.0, 19_000.0, None),
            future(FUTURE, 10_000.0, 19_000.0, Some(EXPIRY_0930)),
        ],
        options: Vec::new(),
    };
    let start = EXPIRY_0930 - 2 * MINUTE;
    let mut rec = Recording::new();
    let refs = [(PERP, 19_000.0), (FUTURE, 19_000.0)];
    rec.market(start, &ledger, &refs, &[PERP, FUTURE]);
    rec.positions(start, &ledger);
    rec.summary(start, &ledger);
    for k in 1..=5 {
        rec.market(EXPIRY_0930 + k * MINUTE, &ledger, &refs, &[PERP]);
    }
    let mut ing = ingest();
    feed(&mut ing, &rec, 0);
    let id = ing.desk.find_account("desk", "BTC").unwrap();
    assert_eq!(
        ing.desk.account(id).positions.len(),
        2,
        "not re-snapshotted yet"
    );
    assert_eq!(ing.inputs_t(id), Some(EXPIRY_0930 + 5 * MINUTE));
    let (name, _) = ing.oldest_quote(id).unwrap();
    assert_eq!(name, PERP);
}

/// An hour after a settlement: a ledger short the perpetual, and its
/// session reference.
fn short_perpetual() -> (i64, Ledger, [(&'static str, f64); 1]) {
    let start = SETTLE_0928 + 3_600_000;
    let ledger = Ledger {
        balance: 1.0,
        futures: vec![future(PERP, -10_000.0, mark_of(PERP, start), None)],
        options: Vec::new(),
    };
    (start, ledger, [(PERP, mark_of(PERP, start))])
}

/// Local and exchange equity are compared: a difference above the
/// tolerance that lasts longer than the allowed time is shown on the
/// account (and alerted by the screens); it ends when they agree again.
#[test]
fn a_lasting_equity_difference_with_the_exchange_is_flagged() {
    use margintop::engine::live::{Engine, EngineSettings};
    let (start, ledger, refs) = short_perpetual();
    let mut rec = Recording::new();
    rec.market(start, &ledger, &refs, &[PERP]);
    rec.positions(start, &ledger);
    rec.summary(start, &ledger);
    let settings = EngineSettings {
        stale_after_ms: 3_600_000,
        recording_clock: true,
        equity_tolerance: 0.005,
        equity_divergence_ms: 30_000,
        ..EngineSettings::default()
    };
    let mut engine: Engine<Vec<u8>> = Engine::new(ingest(), settings, Default::default(), None);
    let mut fed = feed(&mut engine.ingest, &rec, 0);
    let divergence = |engine: &mut Engine<Vec<u8>>, now: i64| {
        let snap = engine.snapshot(now);
        snap.accounts[0].equity_divergence
    };
    assert_eq!(divergence(&mut engine, start), None);
    // The exchange counts 2 % more equity than margintop can explain (as
    // a session P&L counted twice would look from the other side).
    let t1 = start + 1_000;
    let extra = 0.02 * ledger.equity(t1);
    rec.market(t1, &ledger, &refs, &[PERP]);
    rec.portfolio(t1, &ledger);
    rec.add_to_last_equity(extra);
    fed = feed(&mut engine.ingest, &rec, fed);
    assert_eq!(divergence(&mut engine, t1), None, "not yet lasting");
    assert_eq!(divergence(&mut engine, t1 + 29_000), None);
    let d = divergence(&mut engine, t1 + 31_000).expect("flagged after 30 s");
    assert_eq!(d.since, t1);
    assert!((d.gap + extra).abs() < 1e-9, "{d:?}");
    // The exchange's figures agree again: the flag goes.
    let t2 = t1 + 40_000;
    rec.market(t2, &ledger, &refs, &[PERP]);
    rec.portfolio(t2, &ledger);
    feed(&mut engine.ingest, &rec, fed);
    let (local, exchange) = equities(&engine.ingest);
    assert!((local - exchange).abs() < 1e-9, "{local} vs {exchange}");
    assert_eq!(divergence(&mut engine, t2), None);
}

/// The local maintenance margin is compared with the exchange's at each of
/// its reports: the account keeps the gap now, its mean size and its
/// largest size since start, and a gap beyond the tolerance that lasts is
/// flagged until they agree again.
#[test]
fn the_local_mm_is_tracked_against_the_exchanges_reports() {
    use margintop::engine::live::{Engine, EngineSettings};
    let (start, ledger, refs) = short_perpetual();
    let settings = EngineSettings {
        stale_after_ms: 3_600_000,
        recording_clock: true,
        mm_tolerance: 0.05,
        mm_divergence_ms: 60_000,
        ..EngineSettings::default()
    };
    let mut engine: Engine<Vec<u8>> = Engine::new(ingest(), settings, Default::default(), None);
    let mut rec = Recording::new();
    let mut fed = 0;
    // Each round: the market at t, then the exchange's report of
    // `local / (1 + gap)`, i.e. a gap of exactly `gap` of the larger figure
    // (the exchange's) for gap ≤ 0.
    let mut round = |engine: &mut Engine<Vec<u8>>, t: i64, gap: f64, first: bool| {
        rec.market(t, &ledger, &refs, &[PERP]);
        if first {
            // The summary names the margin model: the local MM follows it.
            rec.positions(t, &ledger);
            rec.summary(t, &ledger);
        }
        fed = feed(&mut engine.ingest, &rec, fed);
        let id = engine.ingest.desk.find_account("desk", "BTC").unwrap();
        let local = engine.ingest.desk.risk(id).margin.maintenance_margin;
        assert!(local > 0.0);
        rec.portfolio(t, &ledger);
        rec.set_last_mm(local / (1.0 + gap));
        fed = feed(&mut engine.ingest, &rec, fed);
    };
    let look = |engine: &mut Engine<Vec<u8>>, now: i64| {
        let snap = engine.snapshot(now);
        let v = &snap.accounts[0];
        (v.mm_tracking.expect("tracked"), v.mm_divergence)
    };
    round(&mut engine, start, 0.0, true);
    let (t0, d) = look(&mut engine, start);
    assert_eq!((t0.reports, d), (1, None));
    assert!(t0.last.abs() < 1e-12, "{t0:?}");
    // The exchange asks 10 % more than the local model for a while.
    let t1 = start + 1_000;
    round(&mut engine, t1, -0.10, false);
    let (s, d) = look(&mut engine, t1);
    assert_eq!((s.reports, d), (2, None), "not yet lasting");
    // A snapshot without a new report counts nothing again.
    let (s, _) = look(&mut engine, t1 + 500);
    assert_eq!(s.reports, 2);
    let t2 = t1 + 30_000;
    round(&mut engine, t2, -0.04, false);
    let (s, d) = look(&mut engine, t2);
    assert_eq!(d, None, "4 % is within the tolerance: the divergence ends");
    let t3 = t2 + 1_000;
    round(&mut engine, t3, -0.20, false);
    assert_eq!(look(&mut engine, t3).1, None);
    let (_, d) = look(&mut engine, t3 + 59_000);
    assert_eq!(d, None, "not yet lasting");
    let (s3, d) = look(&mut engine, t3 + 60_000);
    let d = d.expect("flagged after 60 s");
    assert_eq!(d.since, t3);
    assert!((d.gap + 0.20).abs() < 1e-9, "{d:?}");
    // Gaps 0, 10 %, 4 %, 20 %: mean size 8.5 %, largest 20 %, now −20 %.
    assert_eq!(s3.reports, 4);
    assert!((s3.last + 0.20).abs() < 1e-9, "{s3:?}");
    assert!((s3.mean_abs - 0.085).abs() < 1e-9, "{s3:?}");
    assert!((s3.max_abs - 0.20).abs() < 1e-9, "{s3:?}");
    assert!((s.max_abs - 0.10).abs() < 1e-9, "{s:?}");
    // They agree again: the flag goes.
    let t4 = t3 + 61_000;
    round(&mut engine, t4, 0.0, false);
    assert_eq!(look(&mut engine, t4).1, None);
}

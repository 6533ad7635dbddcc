//! A Deribit API v2 server on 127.0.0.1 for tests: it answers with the
//! verbatim fixtures (ids swapped in), streams real tickers to whoever
//! subscribes, and can misbehave on request: drop the connection
//! mid-stream, stall, send garbage, duplicate and reorder notifications,
//! answer 10028. Every loop is bounded; the server stops with the test.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/deribit/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Misbehaviour, each applied to the first connection that streams.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Close the socket after this many streamed messages.
    pub drop_after: Option<usize>,
    /// Stop sending anything (socket left open) after this many.
    pub stall_after: Option<usize>,
    /// Send a non-JSON frame before every n-th streamed message.
    pub garbage_every: Option<usize>,
    /// Send every streamed message twice.
    pub duplicate: bool,
    /// Swap neighbouring messages of different instruments.
    pub reorder: bool,
    /// Answer the first subscribe with 10028 and close, as Deribit does.
    pub rate_limit_first_subscribe: bool,
    /// Never stream market data (subscriptions are answered, nothing follows).
    pub silent_market: bool,
    /// Grant the key trading and withdrawal scope in the auth reply.
    pub trading_scope: bool,
    /// Tokens that expire after one second.
    pub short_token: bool,
    /// The auth reply's `expires_in`, whatever it is (hostile servers).
    pub expires_in: Option<f64>,
    /// Exchange time of the first streamed round (default 2022-06-02 09:25 UTC).
    pub clock_start: Option<i64>,
    /// From this round on the option has expired: its ticker stops and
    /// positions replies no longer hold it (the exchange settled it).
    pub option_expires_at_round: Option<usize>,
    /// Refuse positions and summaries of this currency with this error code.
    pub refuse: Option<(&'static str, i64)>,
    /// The subaccount list from the second listing on: user_1_1 is gone,
    /// user_1_2 has appeared.
    pub subaccounts_change: bool,
    /// The daily settlement happens at this round: from then on the
    /// perpetual's settlement price is its mark at that round, and the
    /// balance holds the session P&L booked. Tickers then quote one index.
    pub settle_at_round: Option<usize>,
    /// The account is in cross-collateral mode: summaries say so, and
    /// `private/get_account_summaries` answers with the verbatim cross_pm
    /// fixture (BTC, USDT, SOL, ETH); other currencies hold no position.
    pub cross: bool,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub connections: usize,
    pub auths: usize,
    pub auth_failures: usize,
    pub test_requests_answered: usize,
    pub largest_subscribe: usize,
    pub snapshots: usize,
    pub refreshes: usize,
    pub unsubscribed: Vec<String>,
    pub subaccount_listings: usize,
    /// Currencies whose positions were asked for.
    pub positions_asked: Vec<String>,
}

struct State {
    faults: Faults,
    /// Faults already used up (they hit one connection only).
    faulted: bool,
    /// The private connection's drop already happened.
    private_dropped: bool,
    rate_limited: bool,
    /// The account's futures position, USD; changes once during the stream.
    perp_size: f64,
    /// The option has expired and been settled.
    option_expired: bool,
    /// The last round streamed (its marks value the account summary).
    last_round: usize,
    stats: Stats,
}

pub struct Server {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

pub const SECRET: &str = "PLANTED-SECRET-7f3a";
pub const OPTION: &str = "BTC-30SEP22-60000-C";
pub const PERP: &str = "BTC-PERPETUAL";
pub const FUTURE: &str = "BTC-30SEP22";
/// Streamed rounds; the perpetual position changes at this round.
pub const ROUNDS: usize = 40;
pub const CHANGE_AT: usize = 20;
pub const PERP_BEFORE: f64 = -30_000.0;
pub const PERP_AFTER: f64 = -50_000.0;
pub const OPTION_SIZE: f64 = -20.0;
pub const BALANCE: f64 = 5.0;

impl Server {
    pub async fn start(faults: Faults) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            faults,
            faulted: false,
            private_dropped: false,
            rate_limited: false,
            perp_size: PERP_BEFORE,
            option_expired: false,
            last_round: 0,
            stats: Stats::default(),
        }));
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                        connection(ws, st).await;
                    }
                });
            }
        });
        Server { addr, state }
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn stats<T>(&self, f: impl FnOnce(&Stats) -> T) -> T {
        f(&self.state.lock().unwrap().stats)
    }

    pub fn perp_size(&self) -> f64 {
        self.state.lock().unwrap().perp_size
    }
}

fn reply(id: &Value, mut template: Value) -> Value {
    template["id"] = id.clone();
    template
}

fn notification(channel: &str, data: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}})
}

/// How far round `i` has moved the market from the fixtures.
fn drift(i: usize) -> f64 {
    1.0 + 0.001 * (i as f64 - 20.0)
}

fn perp_mark(i: usize) -> f64 {
    fixture("ticker_perpetual_100ms_2022.json")["params"]["data"]["mark_price"]
        .as_f64()
        .unwrap()
        * drift(i)
}

fn option_mark(i: usize) -> f64 {
    fixture("ticker_option_100ms.json")["params"]["data"]["mark_price"]
        .as_f64()
        .unwrap()
        * drift(i).powi(8)
}

/// The close this server gives `coin`'s perpetual on day `d` (days since
/// 1970): a slow drift, different per coin.
pub fn history_close(coin: &str, d: i64) -> f64 {
    let base = if coin == "BTC" { 90_000.0 } else { 3_000.0 };
    base * (1.0 + 0.001 * (d % 17) as f64)
}

/// BTC's volatility index close on day `d`; ETH has none here.
pub fn history_dvol(d: i64) -> f64 {
    40.0 + (d % 11) as f64
}

/// The daily candles from the start to the end timestamp, as Deribit
/// shapes `get_tradingview_chart_data`'s result.
fn chart_reply(id: &Value, p: &Value) -> Value {
    let coin = p["instrument_name"]
        .as_str()
        .unwrap_or("")
        .split('-')
        .next()
        .unwrap_or("");
    let days = candle_days(p);
    let close: Vec<f64> = days.iter().map(|d| history_close(coin, *d)).collect();
    let ticks: Vec<i64> = days.iter().map(|d| d * 86_400_000).collect();
    json!({"jsonrpc": "2.0", "id": id, "usIn": 1, "usOut": 2, "usDiff": 1, "testnet": false,
        "result": {"volume": vec![1.5; days.len()], "ticks": ticks, "status": "ok",
            "open": close, "low": close, "high": close, "cost": vec![100.0; days.len()], "close": close}})
}

/// Volatility index candles, at most 100 a page from the end backwards
/// with a continuation, as `get_volatility_index_data` answers; a currency
/// without an index is refused as Deribit does (−32602).
fn vol_reply(id: &Value, p: &Value) -> Value {
    if p["currency"] != "BTC" {
        return json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32602, "message": "Invalid params",
            "data": {"reason": "wrong format", "param": "currency"}}});
    }
    let days = candle_days(p);
    let page = &days[days.len().saturating_sub(100)..];
    let data: Vec<Value> = page
        .iter()
        .map(|d| {
            let c = history_dvol(*d);
            json!([d * 86_400_000, c, c, c, c])
        })
        .collect();
    let continuation = (page.len() < days.len()).then(|| (page[0] - 1) * 86_400_000);
    json!({"jsonrpc": "2.0", "id": id, "usIn": 1, "usOut": 2, "usDiff": 1, "testnet": false,
        "result": {"data": data, "continuation": continuation}})
}

fn candle_days(p: &Value) -> Vec<i64> {
    let from = p["start_timestamp"]
        .as_i64()
        .unwrap_or(0)
        .div_euclid(86_400_000);
    let to = p["end_timestamp"]
        .as_i64()
        .unwrap_or(0)
        .div_euclid(86_400_000);
    (from..=to).collect()
}

/// The perpetual's session reference before any settlement in the stream.
pub const PERP_SETTLEMENT: f64 = 29_945.69;

/// Round `i` of the market stream: the three verbatim tickers and an index,
/// moved a little each round; the last round is the same on every connection.
fn round(i: usize, f: &Faults) -> Vec<(String, Value)> {
    let t0 = f.clock_start.unwrap_or(1_654_161_900_000) + 2_000 * i as i64;
    let drift = drift(i);
    let index = 29_939.43 * drift;
    let mut out = Vec::new();
    for (file, name) in [
        ("ticker_perpetual_100ms_2022.json", PERP),
        ("ticker_future_100ms.json", FUTURE),
        ("ticker_option_100ms.json", OPTION),
    ] {
        let mut d = fixture(file)["params"]["data"].clone();
        d["timestamp"] = json!(t0);
        for key in ["mark_price", "index_price", "underlying_price"] {
            if let Some(v) = d[key].as_f64() {
                d[key] = json!(if name == OPTION && key == "mark_price" {
                    v * drift.powi(8)
                } else {
                    v * drift
                });
            }
        }
        if let Some(at) = f.settle_at_round {
            d["index_price"] = json!(index);
            if name == PERP && i >= at {
                d["settlement_price"] = json!(perp_mark(at));
            }
        }
        out.push((
            name.to_string(),
            notification(&format!("ticker.{name}.100ms"), d),
        ));
    }
    let mut idx = fixture("deribit_price_index_btc_usd.json")["params"]["data"].clone();
    idx["price"] = json!(index);
    idx["timestamp"] = json!(t0 + 1);
    out.push((
        "index".into(),
        notification("deribit_price_index.btc_usd", idx),
    ));
    out
}

fn positions(id: &Value, perp: f64, option_expired: bool, settlement: f64) -> Value {
    let template = fixture("private_get_positions_response.json")["result"][0].clone();
    let mut list = Vec::new();
    let option_size = if option_expired { 0.0 } else { OPTION_SIZE };
    for (name, size, kind) in [(PERP, perp, "future"), (OPTION, option_size, "option")] {
        if size == 0.0 {
            continue;
        }
        let mut p = template.clone();
        p["instrument_name"] = json!(name);
        p["size"] = json!(size);
        p["kind"] = json!(kind);
        p["settlement_price"] = json!(if kind == "future" { settlement } else { 0.01 });
        list.push(p);
    }
    json!({"jsonrpc": "2.0", "id": id, "result": list})
}

pub const SUB_BALANCE: f64 = 2.0;
pub const SUB_OPTION_SIZE: f64 = -10.0;

fn sub_positions(id: &Value) -> Value {
    let mut p = fixture("private_get_positions_response.json")["result"][0].clone();
    p["instrument_name"] = json!(OPTION);
    p["size"] = json!(SUB_OPTION_SIZE);
    p["kind"] = json!("option");
    json!({"jsonrpc": "2.0", "id": id, "result": [p]})
}

fn summary(id: &Value) -> Value {
    let mut s = fixture("private_get_account_summary_response.json");
    s["id"] = id.clone();
    s["result"]["balance"] = json!(BALANCE);
    s["result"]["margin_model"] = json!("segregated_pm");
    s["result"]["futures_session_rpl"] = json!(0.0);
    s
}

/// The main account's summary once the settlement of round `at` is booked,
/// its money valued at round `now`'s marks (Deribit's identity).
fn settled_summary(id: &Value, perp: f64, at: usize, now: usize) -> Value {
    let mut s = summary(id);
    let settle = perp_mark(at);
    let balance = BALANCE + perp * (1.0 / PERP_SETTLEMENT - 1.0 / settle);
    let upl = perp * (1.0 / settle - 1.0 / perp_mark(now));
    let options_value = OPTION_SIZE * option_mark(now);
    let r = &mut s["result"];
    r["balance"] = json!(balance);
    r["futures_session_upl"] = json!(upl);
    r["options_value"] = json!(options_value);
    r["equity"] = json!(balance + upl + options_value);
    s
}

/// The settlement round, once the stream has reached it.
fn settled_round(st: &Arc<Mutex<State>>) -> Option<usize> {
    let s = st.lock().unwrap();
    s.faults.settle_at_round.filter(|at| s.last_round >= *at)
}

/// The error code with which the server refuses this request, if it does.
fn refused(st: &Arc<Mutex<State>>, method: &str, msg: &Value) -> Option<i64> {
    let (currency, code) = st.lock().unwrap().faults.refuse?;
    let private = matches!(
        method,
        "private/get_positions" | "private/get_account_summary"
    );
    (private && msg["params"]["currency"] == currency).then_some(code)
}

/// Deribit's error answer with `code`, shaped as the verbatim -32602 fixture.
fn refusal(id: &Value, code: i64) -> Value {
    let mut r = reply(id, fixture("error_invalid_params_-32602.json"));
    let message = match code {
        13009 => "unauthorized",
        13021 => "forbidden",
        _ => "Invalid params",
    };
    r["error"]["code"] = json!(code);
    r["error"]["message"] = json!(message);
    if code != -32602 {
        r["error"].as_object_mut().unwrap().remove("data");
    }
    r
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connection(ws: Ws, st: Arc<Mutex<State>>) {
    st.lock().unwrap().stats.connections += 1;
    let (mut tx, mut rx) = ws.split();
    let mut public: BTreeSet<String> = BTreeSet::new();
    let mut private = false;
    let mut streaming = false;
    let mut sent = 0usize;
    let mut round_no = 0usize;
    let mut faults: Option<Faults> = None;
    // The subaccount this session acts as (public/exchange_token).
    let mut subject: Option<i64> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    let mut heartbeat = tokio::time::interval(Duration::from_millis(200));
    let mut stalled = false;
    loop {
        // The main account's futures position changes; a subaccount's does not.
        let change_due = private && subject.is_none() && st.lock().unwrap().perp_size == PERP_AFTER;
        tokio::select! {
            frame = rx.next() => {
                let Some(Ok(Message::Text(text))) = frame else { return };
                let Ok(msg) = serde_json::from_str::<Value>(&text) else { continue };
                let id = msg["id"].clone();
                let method = msg["method"].as_str().unwrap_or("").to_string();
                let answer = match method.as_str() {
                    "public/auth" => {
                        let ok = msg["params"]["grant_type"] == "refresh_token" || msg["params"]["client_secret"] == SECRET;
                        let mut s = st.lock().unwrap();
                        if ok { s.stats.auths += 1 } else { s.stats.auth_failures += 1 }
                        let mut r = reply(&id, fixture(if ok { "public_auth_response.json" } else { "error_invalid_credentials_13004.json" }));
                                                if msg["params"]["grant_type"] == "refresh_token" {
                            s.stats.refreshes += 1;
                        }
                        if ok && s.faults.short_token {
                            r["result"]["expires_in"] = json!(1);
                        }
                        if let (true, Some(e)) = (ok, s.faults.expires_in) {
                            r["result"]["expires_in"] = json!(e);
                        }
                        if ok && s.faults.trading_scope {
                            r["result"]["scope"] = json!("connection account:read trade:read_write wallet:read_write");
                        }
                        r
                    }
                    "public/set_heartbeat" => {
                        let r = reply(&id, fixture("public_set_heartbeat_response.json"));
                        let _ = tx.send(Message::text(r.to_string())).await;
                        fixture("heartbeat_test_request.json")
                    }
                    "public/get_tradingview_chart_data" => chart_reply(&id, &msg["params"]),
                    "public/get_volatility_index_data" => vol_reply(&id, &msg["params"]),
                    "public/test" => {
                        st.lock().unwrap().stats.test_requests_answered += 1;
                        reply(&id, fixture("public_test_response.json"))
                    }
                    "public/subscribe" | "private/subscribe" => {
                        let channels: Vec<String> = msg["params"]["channels"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
                        let limit = {
                            let mut s = st.lock().unwrap();
                            s.stats.largest_subscribe = s.stats.largest_subscribe.max(channels.len());
                            let limit = s.faults.rate_limit_first_subscribe && !s.rate_limited;
                            s.rate_limited |= limit;
                            limit
                        };
                        if limit {
                            let _ = tx.send(Message::text(reply(&id, fixture("error_too_many_requests_10028.json")).to_string())).await;
                            let _ = tx.close().await;
                            return;
                        }
                        for c in &channels {
                            if c.starts_with("user.") { private = true } else { public.insert(c.clone()); }
                        }
                        let silent = st.lock().unwrap().faults.silent_market;
                        streaming |= !silent && public.iter().any(|c| c.starts_with("ticker."));
                        json!({"jsonrpc": "2.0", "id": id, "result": channels})
                    }
                                        "public/get_instruments" => reply(&id, fixture("public_get_instruments_future_response.json")),
                    "private/get_subaccounts" => {
                        let mut s = st.lock().unwrap();
                        s.stats.subaccount_listings += 1;
                        let mut r = reply(&id, fixture("private_get_subaccounts_response.json"));
                        if s.faults.subaccounts_change && s.stats.subaccount_listings > 1 {
                            r["result"][1]["username"] = json!("user_1_2");
                            r["result"][1]["id"] = json!(8);
                        }
                        r
                    }
                    "public/unsubscribe" => {
                        let channels: Vec<String> = msg["params"]["channels"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
                        for c in &channels {
                            public.remove(c);
                        }
                        st.lock().unwrap().stats.unsubscribed.extend(channels.clone());
                        json!({"jsonrpc": "2.0", "id": id, "result": channels})
                    }
                    "public/exchange_token" => {
                        subject = msg["params"]["subject_id"].as_i64();
                        reply(&id, fixture("public_auth_response.json"))
                    }
                    _ if refused(&st, &method, &msg).is_some() => {
                        let code = refused(&st, &method, &msg).unwrap();
                        refusal(&id, code)
                    }
                    "private/get_positions" if msg["params"]["currency"] != "BTC" => {
                        let ccy = msg["params"]["currency"].as_str().unwrap_or("").to_string();
                        st.lock().unwrap().stats.positions_asked.push(ccy);
                        json!({"jsonrpc": "2.0", "id": id, "result": []})
                    }
                    "private/get_account_summaries" if st.lock().unwrap().faults.cross => {
                        let mut r = fixture("private_get_account_summaries_cross_pm.json");
                        r["id"] = id.clone();
                        r
                    }
                    "private/get_positions" => {
                        let (size, expired) = {
                            let mut s = st.lock().unwrap();
                            s.stats.snapshots += 1;
                            s.stats.positions_asked.push("BTC".into());
                            (s.perp_size, s.option_expired)
                        };
                        let settlement = settled_round(&st).map_or(PERP_SETTLEMENT, perp_mark);
                        match subject {
                            // The subaccount holds only the option, half as many.
                            Some(_) => sub_positions(&id),
                            None => positions(&id, size, expired, settlement),
                        }
                    }
                    "private/get_account_summary" if subject.is_none() && settled_round(&st).is_some() => {
                        let (perp, at, now) = {
                            let s = st.lock().unwrap();
                            (s.perp_size, s.faults.settle_at_round.unwrap(), s.last_round)
                        };
                        settled_summary(&id, perp, at, now)
                    }
                    "private/get_account_summary" => {
                        let mut s = summary(&id);
                        if st.lock().unwrap().faults.cross {
                            s["result"]["margin_model"] = json!("cross_pm");
                            s["result"]["cross_collateral_enabled"] = json!(true);
                        }
                        if subject.is_some() {
                            s["result"]["balance"] = json!(SUB_BALANCE);
                            s["result"]["margin_model"] = json!("cross_pm");
                        }
                        s
                    }
                    _ => json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}}),
                };
                if tx.send(Message::text(answer.to_string())).await.is_err() { return }
            }
            _ = tick.tick(), if streaming && round_no < ROUNDS => {
                let f = faults.get_or_insert_with(|| {
                    let mut s = st.lock().unwrap();
                    if s.faulted { Faults::default() } else { s.faulted = true; s.faults.clone() }
                }).clone();
                let (script, expired) = {
                    let mut s = st.lock().unwrap();
                    if round_no == CHANGE_AT {
                        s.perp_size = PERP_AFTER;
                    }
                    s.option_expired |= s.faults.option_expires_at_round.is_some_and(|r| round_no >= r);
                    s.last_round = s.last_round.max(round_no);
                    (s.faults.clone(), s.option_expired)
                };
                let mut msgs: Vec<(String, Value)> = round(round_no, &script).into_iter()
                    .filter(|(name, m)| public.contains(m["params"]["channel"].as_str().unwrap()) && !(expired && name == OPTION))
                    .collect();
                if f.reorder && msgs.len() > 1 { msgs.swap(0, 1) }
                round_no += 1;
                for (_, m) in msgs {
                    if f.stall_after.is_some_and(|n| sent >= n) { stalled = true; streaming = false; break }
                    if f.drop_after.is_some_and(|n| sent >= n) { let _ = tx.close().await; return }
                    if f.garbage_every.is_some_and(|n| sent.is_multiple_of(n)) {
                        let _ = tx.send(Message::text("{not json")).await;
                    }
                    let copies = if f.duplicate { 2 } else { 1 };
                    for _ in 0..copies {
                        if tx.send(Message::text(m.to_string())).await.is_err() { return }
                    }
                    sent += 1;
                }
            }
            // Deribit sends heartbeats at the set interval; here every 200 ms.
            _ = heartbeat.tick(), if !stalled => {
                if tx.send(Message::text(fixture("heartbeat_heartbeat.json").to_string())).await.is_err() { return }
            }
            // Private connections hear about the position change.
            _ = tokio::time::sleep(Duration::from_millis(20)), if change_due => {
                // With drop_after set, the first private connection is lost just
                // before it hears of the change: only a re-snapshot can tell.
                let drop_now = {
                    let mut s = st.lock().unwrap();
                    let d = s.faults.drop_after.is_some() && !s.private_dropped;
                    s.private_dropped |= d;
                    d
                };
                if drop_now {
                    let _ = tx.close().await;
                    return;
                }
                let mut change = fixture("user_changes_future_btc_raw.json");
                let data = &mut change["params"]["data"];
                data["positions"][0]["size"] = json!(PERP_AFTER);
                data["positions"][0]["settlement_price"] = json!(29_945.69);
                change["params"]["channel"] = json!("user.changes.any.BTC.raw");
                let _ = tx.send(Message::text(change.to_string())).await;
                private = false; // once per connection
            }
        }
    }
}

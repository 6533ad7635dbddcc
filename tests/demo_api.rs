//! The demo exchange as another Deribit client sees it: a bare JSON-RPC
//! client over a WebSocket (not margintop's), asking the public reference
//! methods; every answer is read with the same code that reads the
//! verbatim Deribit fixtures, and shaped like them.

mod common;

use common::read_json;
use futures_util::{SinkExt, StreamExt};
use margintop::demo::server::{self, DemoOptions};
use margintop::model::{Instrument, InstrumentSpec, Kind};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A bare client: one request at a time, the answer with the same id.
/// It keeps under Deribit's rate limit as a well-behaved client does: a
/// burst of 90 requests, then 20 a second.
struct Client {
    ws: Ws,
    next: u64,
}

impl Client {
    async fn connect(url: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connects");
        Client { ws, next: 1 }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        if self.next > 90 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.send(method, params).await
    }

    /// A request at once, whatever the rate.
    async fn send(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.ws.send(Message::text(req.to_string())).await.unwrap();
        let wait = async {
            while let Some(Ok(frame)) = self.ws.next().await {
                let Message::Text(text) = frame else { continue };
                let v: Value = serde_json::from_str(&text).expect("JSON");
                if v["id"] == id {
                    return v;
                }
            }
            panic!("the connection closed before answering {method}");
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("an answer")
    }
}

impl Client {
    /// The next `n` subscription notifications (within ten seconds).
    async fn notifications(&mut self, n: usize) -> Vec<Value> {
        let mut out = Vec::new();
        let read = async {
            while let Some(Ok(frame)) = self.ws.next().await {
                let Message::Text(text) = frame else { continue };
                let v: Value = serde_json::from_str(&text).expect("JSON");
                if v["method"] == "subscription" {
                    out.push(v);
                    if out.len() == n {
                        return;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
        out
    }

    /// `get_instruments` of `currency` and `kind`: the records.
    async fn listed(&mut self, currency: &str, kind: &str) -> Vec<Value> {
        let r = self
            .call(
                "public/get_instruments",
                json!({"currency": currency, "kind": kind}),
            )
            .await;
        r["result"].as_array().cloned().unwrap_or_default()
    }
}

/// The keys of a JSON object.
fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The demo on a fixed clock: 2026-12-02 12:00 UTC, four hours past the
/// day's expiry, so that no answer depends on the hour the tests run at
/// (minutes before 08:00 the expiring options' marks round to nothing).
async fn demo() -> (server::DemoServer, Client) {
    let noon =
        margintop::model::instrument::days_from_civil(2026, 12, 2) * 86_400_000 + 12 * 3_600_000;
    let opts = DemoOptions {
        start_ms: Some(noon),
        ..DemoOptions::default()
    };
    let demo = server::start("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let client = Client::connect(&demo.url()).await;
    (demo, client)
}

#[tokio::test]
async fn the_index_price_is_answered_as_deribit_answers_it() {
    let (demo, mut c) = demo().await;
    let fixture = read_json("deribit/public_get_index_price_response.json");
    for index in ["btc_usd", "eth_usd"] {
        let r = c
            .call("public/get_index_price", json!({"index_name": index}))
            .await;
        let result = &r["result"];
        assert_eq!(keys(result), keys(&fixture["result"]), "{r}");
        let price = result["index_price"].as_f64().unwrap();
        assert!(
            price > 0.0 && result["estimated_delivery_price"] == price,
            "{r}"
        );
    }
    let r = c
        .call("public/get_index_price", json!({"index_name": "xyz_usd"}))
        .await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert_eq!(r["error"]["data"]["param"], "index_name");
    let shape = read_json("deribit/error_invalid_params_-32602.json");
    assert_eq!(keys(&r["error"]), keys(&shape["error"]));
    assert_eq!(keys(&r["error"]["data"]), keys(&shape["error"]["data"]));
    demo.stop();
}

#[tokio::test]
async fn instruments_are_listed_by_kind() {
    let (demo, mut c) = demo().await;
    let list = |r: &Value| r["result"].as_array().cloned().unwrap_or_default();
    let all = list(
        &c.call("public/get_instruments", json!({"currency": "BTC"}))
            .await,
    );
    let futures = c.listed("BTC", "future").await;
    let options = c.listed("BTC", "option").await;
    assert!(!futures.is_empty() && !options.is_empty());
    assert_eq!(futures.len() + options.len(), all.len());
    // Read as the fixtures are read: each record is what its kind says.
    for (records, want_option) in [(&futures, false), (&options, true)] {
        for r in records {
            let spec: InstrumentSpec =
                serde_json::from_value(r.clone()).expect("an instrument record");
            let inst = Instrument::from_spec(&spec).expect("a known instrument");
            assert_eq!(matches!(inst.kind, Kind::Option { .. }), want_option, "{r}");
            assert_eq!(inst.index_name, "btc_usd");
        }
    }
    let names: Vec<&str> = futures
        .iter()
        .filter_map(|r| r["instrument_name"].as_str())
        .collect();
    assert!(names.contains(&"BTC-PERPETUAL"), "{names:?}");
    // Nothing has expired yet; a kind Deribit does not know is refused.
    let expired = c
        .call(
            "public/get_instruments",
            json!({"currency": "BTC", "expired": true}),
        )
        .await;
    assert_eq!(expired["result"], json!([]));
    let bad = c
        .call(
            "public/get_instruments",
            json!({"currency": "BTC", "kind": "swap"}),
        )
        .await;
    assert_eq!(
        (
            bad["error"]["code"].clone(),
            bad["error"]["data"]["param"].clone()
        ),
        (json!(-32602), json!("kind"))
    );
    demo.stop();
}

#[tokio::test]
async fn one_instrument_is_described_like_the_fixture() {
    let (demo, mut c) = demo().await;
    let options = c.listed("ETH", "option").await;
    let name = options[0]["instrument_name"].as_str().unwrap().to_string();
    let r = c
        .call("public/get_instrument", json!({"instrument_name": name}))
        .await;
    let fixture = read_json("deribit/public_get_instrument_option_response.json");
    // Every field the demo gives is one Deribit gives.
    let extra: Vec<String> = keys(&r["result"])
        .difference(&keys(&fixture["result"]))
        .cloned()
        .collect();
    assert!(extra.is_empty(), "fields Deribit does not have: {extra:?}");
    let spec: InstrumentSpec = serde_json::from_value(r["result"].clone()).unwrap();
    let inst = Instrument::from_spec(&spec).unwrap();
    assert_eq!(inst.name, name);
    assert_eq!(inst.index_name, "eth_usd");
    let missing = c
        .call(
            "public/get_instrument",
            json!({"instrument_name": "ETH-1JAN20-1-C"}),
        )
        .await;
    assert_eq!(missing["error"]["code"], -32602, "{missing}");
    let unknown = c.call("public/no_such_method", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    demo.stop();
}

/// Black-76 in USD on one coin (the test's own: textbook formula with the
/// normal CDF from margintop's tested `pricing::normal`).
fn b76(call: bool, f: f64, k: f64, t: f64, sigma: f64) -> f64 {
    use margintop::pricing::normal::cdf;
    let sd = sigma * t.sqrt();
    let d1 = (f / k).ln() / sd + 0.5 * sd;
    let d2 = d1 - sd;
    match call {
        true => f * cdf(d1) - k * cdf(d2),
        false => k * cdf(-d2) - f * cdf(-d1),
    }
}

#[tokio::test]
async fn option_tickers_carry_greeks_that_match_finite_differences_of_their_own_inputs() {
    let (demo, mut c) = demo().await;
    let records = c.listed("BTC", "option").await;
    let fixture = read_json("deribit/ticker_option_100ms.json");
    let mut checked = 0;
    for r in records.iter().step_by(37) {
        let name = r["instrument_name"].as_str().unwrap();
        let t = c
            .call("public/ticker", json!({"instrument_name": name}))
            .await["result"]
            .clone();
        // Every greek Deribit publishes, and nothing but what it publishes.
        assert_eq!(
            keys(&t["greeks"]),
            keys(&fixture["params"]["data"]["greeks"]),
            "{t}"
        );
        let extra: Vec<String> = keys(&t)
            .difference(&keys(&fixture["params"]["data"]))
            .cloned()
            .collect();
        assert!(
            extra.is_empty(),
            "{name}: fields Deribit's ticker does not have: {extra:?}"
        );
        assert!(t["best_bid_price"].as_f64() <= t["mark_price"].as_f64());
        assert!(t["best_ask_price"].as_f64() >= t["mark_price"].as_f64());
        let (f, sigma) = (
            t["underlying_price"].as_f64().unwrap(),
            t["mark_iv"].as_f64().unwrap() / 100.0,
        );
        let k = r["strike"].as_f64().unwrap();
        let years = (r["expiration_timestamp"].as_i64().unwrap() - t["timestamp"].as_i64().unwrap())
            as f64
            / (365.0 * 86_400_000.0);
        if years < 1.0 / 365.0 {
            continue; // the last day: the Greeks are steep and rounded to nothing
        }
        let call = r["option_type"] == "call";
        let v = |f: f64, t: f64, s: f64| b76(call, f, k, t, s);
        let (h, dv, dt) = (f * 1e-4, 1e-4, 1e-5);
        let delta = (v(f + h, years, sigma) - v(f - h, years, sigma)) / (2.0 * h);
        let vega = (v(f, years, sigma + dv) - v(f, years, sigma - dv)) / (2.0 * dv) / 100.0;
        let theta = (v(f, years - dt, sigma) - v(f, years + dt, sigma)) / (2.0 * dt) / 365.0;
        let g = &t["greeks"];
        let near = |got: &Value, want: f64, what: &str| {
            let got = got.as_f64().unwrap();
            // Five decimals published, and the finite difference's own error.
            assert!(
                (got - want).abs() <= 1e-5 + 1e-4 * want.abs(),
                "{name} {what}: {got} vs {want}"
            );
        };
        near(&g["delta"], delta, "delta");
        near(&g["vega"], vega, "vega");
        near(&g["theta"], theta, "theta");
        // The mark is the same Black-76 on the ticker's own forward and IV,
        // in coin (one tick of rounding allowed).
        let mark_usd = t["mark_price"].as_f64().unwrap() * f;
        assert!(
            (mark_usd - v(f, years, sigma)).abs() <= 1e-4 * f,
            "{name}: mark {mark_usd} vs {}",
            v(f, years, sigma)
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} options checked");
    let missing = c
        .call(
            "public/ticker",
            json!({"instrument_name": "BTC-1JAN20-1-C"}),
        )
        .await;
    assert_eq!(missing["error"]["code"], -32602, "{missing}");
    demo.stop();
}

#[tokio::test]
async fn positions_are_listed_by_kind_for_an_authenticated_subaccount() {
    let (demo, mut c) = demo().await;
    let before = c
        .call("private/get_positions", json!({"currency": "BTC"}))
        .await;
    assert_eq!(
        before["error"]["code"], 13009,
        "private before auth: {before}"
    );
    let auth =
        json!({"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo"});
    assert!(c.call("public/auth", auth).await["result"]["access_token"].is_string());
    let subs = c.call("private/get_subaccounts", json!({})).await;
    let mut seen_both = false;
    for sub in subs["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["type"] == "subaccount")
    {
        let token = c
            .call(
                "public/exchange_token",
                json!({"refresh_token": "demo-refresh", "subject_id": sub["id"]}),
            )
            .await;
        assert!(token["result"].is_object(), "{token}");
        for ccy in ["BTC", "ETH"] {
            let list = |r: Value| r["result"].as_array().cloned().unwrap_or_default();
            let all = list(
                c.call("private/get_positions", json!({"currency": ccy}))
                    .await,
            );
            let futures = list(
                c.call(
                    "private/get_positions",
                    json!({"currency": ccy, "kind": "future"}),
                )
                .await,
            );
            let options = list(
                c.call(
                    "private/get_positions",
                    json!({"currency": ccy, "kind": "option"}),
                )
                .await,
            );
            assert!(futures.iter().all(|p| p["kind"] == "future"));
            assert!(options.iter().all(|p| p["kind"] == "option"));
            assert_eq!(
                futures.len() + options.len(),
                all.len(),
                "{} {ccy}",
                sub["username"]
            );
            seen_both |= !futures.is_empty() && !options.is_empty();
        }
    }
    assert!(seen_both, "no demo book holds both kinds");
    let bad = c
        .call(
            "private/get_positions",
            json!({"currency": "BTC", "kind": "swap"}),
        )
        .await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    demo.stop();
}

#[tokio::test]
async fn an_order_book_is_ordered_around_the_mark() {
    let (demo, mut c) = demo().await;
    for name in ["BTC-PERPETUAL", "ETH-PERPETUAL"] {
        let r = c
            .call(
                "public/get_order_book",
                json!({"instrument_name": name, "depth": 3}),
            )
            .await;
        let book = &r["result"];
        let prices = |side: &str| -> Vec<f64> {
            (book[side].as_array().unwrap().iter())
                .map(|l| l[0].as_f64().unwrap())
                .collect()
        };
        let (bids, asks) = (prices("bids"), prices("asks"));
        assert_eq!((bids.len(), asks.len()), (3, 3), "{r}");
        assert!(bids.windows(2).all(|w| w[0] > w[1]) && asks.windows(2).all(|w| w[0] < w[1]));
        let mark = book["mark_price"].as_f64().unwrap();
        assert!(bids[0] < mark && mark < asks[0], "{r}");
        assert_eq!(book["best_bid_price"].as_f64(), Some(bids[0]));
        assert_eq!(book["best_ask_price"].as_f64(), Some(asks[0]));
    }
    let bad = c
        .call(
            "public/get_order_book",
            json!({"instrument_name": "BTC-PERPETUAL", "depth": 0}),
        )
        .await;
    assert_eq!(bad["error"]["data"]["param"], "depth", "{bad}");
    demo.stop();
}

#[tokio::test]
async fn book_summaries_cover_every_listed_instrument() {
    let (demo, mut c) = demo().await;
    for kind in ["option", "future"] {
        let listed = c.listed("ETH", kind).await;
        let r = c
            .call(
                "public/get_book_summary_by_currency",
                json!({"currency": "ETH", "kind": kind}),
            )
            .await;
        let summaries = r["result"].as_array().cloned().unwrap_or_default();
        assert_eq!(summaries.len(), listed.len(), "{kind}");
        for s in &summaries {
            let (bid, ask, mid) = (
                s["bid_price"].as_f64().unwrap(),
                s["ask_price"].as_f64().unwrap(),
                s["mid_price"].as_f64().unwrap(),
            );
            assert!(
                bid <= mid && mid <= ask && (mid - (bid + ask) / 2.0).abs() < 1e-12,
                "{s}"
            );
            assert!(s["mark_price"].as_f64().unwrap() > 0.0, "{s}");
            assert_eq!(s["mark_iv"].is_number(), kind == "option", "{s}");
        }
    }
    let bad = c
        .call(
            "public/get_book_summary_by_currency",
            json!({"currency": "ETH", "kind": "x"}),
        )
        .await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    demo.stop();
}

#[tokio::test]
async fn a_client_past_the_rate_limit_gets_10028_and_is_disconnected() {
    let (demo, mut c) = demo().await;
    let shape = read_json("deribit/error_too_many_requests_10028.json");
    let mut answered = 0;
    let started = std::time::Instant::now();
    let limited = loop {
        let r = c.send("public/test", json!({})).await;
        if r.get("error").is_some() {
            break r;
        }
        answered += 1;
        assert!(answered <= 10_000, "never limited");
    };
    // A burst of 100 (Deribit's credit pool: 50 000 credits, 500 a
    // request), and the 20 a second it refills while the burst lasts.
    let refilled = (20.0 * started.elapsed().as_secs_f64()).ceil() as usize;
    assert!(
        (100..=100 + refilled).contains(&answered),
        "{answered} answered, {refilled} refilled"
    );
    assert_eq!(limited["error"], shape["error"], "{limited}");
    let next = c.ws.next().await;
    assert!(
        matches!(next, None | Some(Ok(Message::Close(_))) | Some(Err(_))),
        "the connection closes: {next:?}"
    );
    demo.stop();
}

#[tokio::test]
async fn subaccounts_carry_their_portfolio_when_asked() {
    let (demo, mut c) = demo().await;
    let auth =
        json!({"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo"});
    c.call("public/auth", auth).await;
    let fixture = read_json("deribit/private_get_subaccounts_response.json");
    let want = keys(&fixture["result"][0]["portfolio"]["btc"]);
    let plain = c.call("private/get_subaccounts", json!({})).await;
    assert!(plain["result"][1].get("portfolio").is_none(), "{plain}");
    let r = c
        .call("private/get_subaccounts", json!({"with_portfolio": true}))
        .await;
    let mut funded = 0;
    for sub in r["result"].as_array().unwrap() {
        let p = &sub["portfolio"];
        for ccy in ["btc", "eth", "usdc"] {
            let w = &p[ccy];
            assert_eq!(keys(w), want, "{}: {w}", sub["username"]);
            assert_eq!(w["currency"], ccy);
            let f = |k: &str| w[k].as_f64().unwrap();
            // Deribit's identities (MARGIN_METHODOLOGY.md A.1), to the last
            // digits JSON keeps.
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0);
            let available = f("margin_balance") - f("initial_margin");
            assert!(close(f("available_funds"), available), "{w}");
            let withdrawable = f("balance").min(f("margin_balance")) - f("initial_margin");
            assert!(close(f("available_withdrawal_funds"), withdrawable), "{w}");
            if f("maintenance_margin") > 0.0 {
                funded += 1;
            }
        }
    }
    assert!(funded >= 14, "{funded} wallets hold margin");
    demo.stop();
}

#[tokio::test]
async fn the_volatility_index_and_futures_charts_come_from_the_markets_own_past() {
    // A simulated minute a second: a few seconds make a few candles.
    let opts = DemoOptions {
        time_scale: 60.0,
        ..DemoOptions::default()
    };
    let demo = server::start("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let mut c = Client::connect(&demo.url()).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let now = demo.state.lock().unwrap().market.now_ms;
    let range = |extra: Value| {
        let mut p = json!({"start_timestamp": now - 3_600_000, "end_timestamp": now});
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        p
    };
    let r = c
        .call(
            "public/get_volatility_index_data",
            range(json!({"currency": "BTC", "resolution": "60"})),
        )
        .await;
    let data = r["result"]["data"].as_array().expect("candles").clone();
    assert!(data.len() >= 3, "{r}");
    let mut last_t = 0;
    for row in &data {
        let v: Vec<f64> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let (t, open, high, low, close) = (v[0] as i64, v[1], v[2], v[3], v[4]);
        assert!(t > last_t && t % 60_000 == 0, "{row}");
        assert!(low <= open.min(close) && high >= open.max(close), "{row}");
        assert!(
            (20.0..200.0).contains(&close),
            "a vol index in percent: {row}"
        );
        last_t = t;
    }
    let perp = c
        .call(
            "public/get_tradingview_chart_data",
            range(json!({"instrument_name": "BTC-PERPETUAL", "resolution": "1"})),
        )
        .await;
    let result = &perp["result"];
    assert_eq!(result["status"], "ok", "{perp}");
    let ticker = c
        .call("public/ticker", json!({"instrument_name": "BTC-PERPETUAL"}))
        .await;
    let closes = result["close"].as_array().unwrap();
    assert_eq!(closes.len(), result["ticks"].as_array().unwrap().len());
    // The last candle closes at the mark the ticker quotes now.
    let mark = ticker["result"]["mark_price"].as_f64().unwrap();
    let last = closes.last().unwrap().as_f64().unwrap();
    assert!((last / mark - 1.0).abs() < 0.01, "{last} vs {mark}");
    let option = demo
        .state
        .lock()
        .unwrap()
        .market
        .instruments
        .iter()
        .find(|i| i.is_option())
        .unwrap()
        .name
        .clone();
    let none = c
        .call(
            "public/get_tradingview_chart_data",
            range(json!({"instrument_name": option, "resolution": "60"})),
        )
        .await;
    assert_eq!(none["result"]["status"], "no_data", "{none}");
    let bad = c
        .call(
            "public/get_volatility_index_data",
            range(json!({"currency": "BTC", "resolution": "7"})),
        )
        .await;
    assert_eq!(bad["error"]["data"]["param"], "resolution", "{bad}");
    demo.stop();
}

#[tokio::test]
async fn subscribed_option_tickers_are_marked_with_black76_on_their_own_inputs() {
    let opts = DemoOptions {
        publish_interval: Duration::from_millis(100),
        ..DemoOptions::default()
    };
    let demo = server::start("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let mut c = Client::connect(&demo.url()).await;
    let records = c.listed("ETH", "option").await;
    let chosen: Vec<&Value> = records.iter().step_by(41).take(6).collect();
    let channels: Vec<String> = (chosen.iter())
        .map(|r| format!("ticker.{}.100ms", r["instrument_name"].as_str().unwrap()))
        .collect();
    let r = c
        .call("public/subscribe", json!({"channels": channels}))
        .await;
    assert_eq!(r["result"], json!(channels), "{r}");
    let fixture = read_json("deribit/ticker_option_100ms.json");
    let seen = c.notifications(3 * channels.len()).await;
    assert_eq!(seen.len(), 3 * channels.len());
    for n in &seen {
        let (ch, d) = (
            n["params"]["channel"].as_str().unwrap(),
            &n["params"]["data"],
        );
        assert!(channels.iter().any(|c| c == ch), "{ch}");
        assert!(keys(d).is_subset(&keys(&fixture["params"]["data"])), "{d}");
        let r = (chosen.iter())
            .find(|r| r["instrument_name"] == d["instrument_name"])
            .unwrap();
        let (f, sigma) = (
            d["underlying_price"].as_f64().unwrap(),
            d["mark_iv"].as_f64().unwrap() / 100.0,
        );
        let years = (r["expiration_timestamp"].as_i64().unwrap() - d["timestamp"].as_i64().unwrap())
            as f64
            / (365.0 * 86_400_000.0);
        let want = b76(
            r["option_type"] == "call",
            f,
            r["strike"].as_f64().unwrap(),
            years,
            sigma,
        );
        let mark_usd = d["mark_price"].as_f64().unwrap() * f;
        assert!(
            (mark_usd - want).abs() <= 1e-9 * f,
            "{ch}: {mark_usd} vs {want}"
        );
    }
    demo.stop();
}

#[tokio::test]
async fn what_expires_is_listed_as_expired_and_still_described() {
    // Thirty simulated minutes before a 08:00 UTC expiry, at 600×: three
    // seconds of real time (the first step alone is 150 simulated seconds).
    let expiry =
        margintop::model::instrument::days_from_civil(2026, 12, 4) * 86_400_000 + 8 * 3_600_000;
    let opts = DemoOptions {
        time_scale: 600.0,
        start_ms: Some(expiry - 30 * 60_000),
        ..DemoOptions::default()
    };
    let demo = server::start("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let mut c = Client::connect(&demo.url()).await;
    let before = c.listed("BTC", "option").await;
    let expiring: Vec<String> = (before.iter())
        .filter(|r| r["expiration_timestamp"] == expiry)
        .map(|r| r["instrument_name"].as_str().unwrap().to_string())
        .collect();
    assert!(!expiring.is_empty());
    let crossed = || demo.state.lock().unwrap().market.now_ms > expiry;
    for _ in 0..100 {
        if crossed() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(crossed(), "the clock passed the expiry");
    let live = c.listed("BTC", "option").await;
    assert!(live
        .iter()
        .all(|r| r["expiration_timestamp"].as_i64() > Some(expiry)));
    let gone = c
        .call(
            "public/get_instruments",
            json!({"currency": "BTC", "kind": "option", "expired": true}),
        )
        .await;
    let gone = gone["result"].as_array().unwrap();
    assert_eq!(gone.len(), expiring.len());
    assert!(gone.iter().all(|r| r["is_active"] == false));
    let one = c
        .call(
            "public/get_instrument",
            json!({"instrument_name": expiring[0]}),
        )
        .await;
    assert_eq!(one["result"]["is_active"], false, "{one}");
    assert!(Instrument::from_spec(
        &serde_json::from_value::<InstrumentSpec>(one["result"].clone()).unwrap()
    )
    .is_ok());
    demo.stop();
}

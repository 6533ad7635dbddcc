//! The demo exchange's Deribit API v2 server on loopback.
//!
//! It speaks the protocol the real client speaks (auth, heartbeat,
//! subscribe, the reference and chart methods, positions, summaries,
//! subaccounts, exchange_token, ticker / index / markprice / user.portfolio
//! / user.changes channels; README "The demo exchange" lists them), so the
//! monitor runs its real code path on it. What it answers is read from the
//! exchange's books (`state.rs`), which value every account with
//! margintop's own engine, so the figures it reports in user.portfolio can
//! be compared with the monitor's local ones.

use super::chaos::Chaos;
use super::credits::Credits;
use super::desk::DemoAccount;
use super::history::{resolution_ms, Candle};
use super::state::{Change, DemoState, Fill};
use crate::exchange::recording::REDACTED;
use crate::model::{Instrument, Kind, Settlement};
use crate::pricing::OptionType;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::Message;

/// The demo key: client_id and client_secret both "demo".
pub const DEMO_CLIENT_ID: &str = "demo";

/// The monitor's account entry for the demo exchange at `url`: the demo key,
/// watching every subaccount (the demo desk).
pub fn demo_account(url: &str) -> crate::config::AccountConfig {
    crate::config::AccountConfig {
        label: "demo".into(),
        exchange: "deribit".into(),
        url: Some(url.into()),
        client_id_env: None,
        client_secret_env: None,
        credentials_file: None,
        currencies: Some(vec!["BTC".into(), "ETH".into(), "USDC".into()]),
        model: "auto".into(),
        subaccounts: true,
        collateral: "auto".into(),
    }
}

/// The demo key's credentials, by the label of `demo_account`.
pub fn demo_credentials() -> std::collections::HashMap<String, crate::config::Credentials> {
    let c = crate::config::Credentials {
        client_id: DEMO_CLIENT_ID.into(),
        client_secret: crate::config::Secret::new(DEMO_CLIENT_ID),
    };
    std::collections::HashMap::from([("demo".to_string(), c)])
}

#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub seed: u64,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// How often each subscribed ticker, index and portfolio is sent.
    pub publish_interval: Duration,
    /// Seconds between simulated trades on the desk.
    pub trade_every_s: f64,
    /// Seconds between risk added to the drifting books.
    pub drift_every_s: f64,
    /// Keep the market still (for exact comparisons in tests).
    pub frozen: bool,
    /// The simulated clock's start (epoch ms); default the real time.
    pub start_ms: Option<i64>,
    /// Inject a fault into each connection about this often (soak runs).
    pub chaos_every: Option<Duration>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: 2026,
            time_scale: 1.0,
            publish_interval: Duration::from_millis(1000),
            trade_every_s: 30.0,
            drift_every_s: 20.0,
            frozen: false,
            start_ms: None,
            chaos_every: None,
        }
    }
}

impl DemoState {
    fn instrument_record(inst: &Instrument) -> Value {
        let mut r = json!({
            "instrument_name": inst.name,
            "base_currency": inst.base,
            "settlement_currency": inst.settlement_currency,
            "price_index": inst.index_name,
            "contract_size": inst.contract_size,
            "is_active": true,
        });
        match inst.kind {
            Kind::Option {
                option_type,
                strike,
                expiry_ms,
            } => {
                r["kind"] = json!("option");
                r["strike"] = json!(strike);
                r["option_type"] = json!(if option_type == OptionType::Call {
                    "call"
                } else {
                    "put"
                });
                r["expiration_timestamp"] = json!(expiry_ms);
            }
            Kind::Future { expiry_ms } => {
                r["kind"] = json!("future");
                r["expiration_timestamp"] = json!(expiry_ms);
            }
            Kind::Perpetual => {
                r["kind"] = json!("future");
                r["settlement_period"] = json!("perpetual");
            }
        }
        r
    }

    /// The public reference methods: `get_instruments` (by currency, and
    /// `kind` when given; `expired = true` lists what expired in the last
    /// 30 days), `get_instrument` and `get_index_price`. An error names
    /// the parameter and the reason, as Deribit's -32602 does.
    fn public_reference(
        &self,
        method: &str,
        params: &Value,
    ) -> Result<Value, (&'static str, &'static str)> {
        let text = |key: &'static str| params[key].as_str().ok_or((key, "must be a string"));
        match method {
            "public/get_instruments" => {
                let ccy = text("currency")?.to_ascii_uppercase();
                let kind = match &params["kind"] {
                    Value::Null => None,
                    Value::String(k) if KINDS.contains(&k.as_str()) => Some(k.as_str()),
                    _ => {
                        return Err((
                            "kind",
                            "must be one of future, option, spot, future_combo, option_combo",
                        ))
                    }
                };
                let expired = params["expired"].as_bool() == Some(true);
                let listed = match expired {
                    true => &self.market.expired,
                    false => &self.market.instruments,
                };
                let list = (listed.iter())
                    .filter(|i| i.base == ccy)
                    .map(DemoState::instrument_record)
                    .map(|mut r| {
                        r["is_active"] = json!(!expired);
                        r
                    })
                    .filter(|r| kind.is_none_or(|k| r["kind"] == k))
                    .collect();
                Ok(Value::Array(list))
            }
            "public/get_instrument" => {
                let name = text("instrument_name")?;
                let live = self.market.instruments.iter().find(|i| i.name == name);
                let record = match live {
                    Some(i) => DemoState::instrument_record(i),
                    None => {
                        let gone = self.market.expired.iter().find(|i| i.name == name);
                        let mut r = gone
                            .map(DemoState::instrument_record)
                            .ok_or(("instrument_name", "instrument not found"))?;
                        r["is_active"] = json!(false);
                        r
                    }
                };
                Ok(record)
            }
            _ => {
                let name = text("index_name")?;
                let u = self
                    .market
                    .underlyings
                    .iter()
                    .find(|u| u.index_name == name);
                let price = u.map(|u| u.index).ok_or(("index_name", "unknown index"))?;
                Ok(json!({"index_price": price, "estimated_delivery_price": price}))
            }
        }
    }

    /// `get_book_summary_by_currency`: each instrument's top of book and
    /// day from its ticker (`kind` filters as in `get_instruments`).
    fn book_summaries(&self, params: &Value) -> Result<Value, (&'static str, &'static str)> {
        let mut list = self.public_reference("public/get_instruments", params)?;
        for record in list.as_array_mut().into_iter().flatten() {
            let name = record["instrument_name"].as_str().unwrap_or("").to_string();
            let Some(t) = self.ticker(&name) else {
                continue;
            };
            let (bid, ask) = (t["best_bid_price"].as_f64(), t["best_ask_price"].as_f64());
            let mut summary = json!({
                "instrument_name": name,
                "base_currency": record["base_currency"],
                "quote_currency": if record["kind"] == "option" { record["base_currency"].clone() } else { json!("USD") },
                "creation_timestamp": t["timestamp"],
                "mark_price": t["mark_price"],
                "bid_price": bid, "ask_price": ask,
                "mid_price": bid.zip(ask).map(|(b, a)| (b + a) / 2.0),
                "volume": 0.0, "volume_usd": 0.0, "open_interest": 0.0, "price_change": 0.0,
                "high": t["stats"]["high"], "low": t["stats"]["low"], "last": Value::Null,
                "estimated_delivery_price": t["estimated_delivery_price"],
            });
            for key in ["mark_iv", "underlying_price", "interest_rate"] {
                if !t[key].is_null() {
                    summary[key] = t[key].clone();
                }
            }
            *record = summary;
        }
        Ok(list)
    }

    /// `get_volatility_index_data` and `get_tradingview_chart_data` from
    /// the market's own past (`history.rs`): the volatility index of a
    /// currency, the mark of a future (the demo's market has no trades;
    /// options have no chart: `no_data`, as Deribit answers for an
    /// instrument that has not traded).
    fn charts(&self, method: &str, params: &Value) -> Result<Value, (&'static str, &'static str)> {
        let int = |key: &'static str| params[key].as_i64().ok_or((key, "must be an integer"));
        let (start, end) = (int("start_timestamp")?, int("end_timestamp")?);
        let resolution = match &params["resolution"] {
            Value::String(r) => r.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(("resolution", "must be a string")),
        };
        let resolution = resolution.as_str();
        if method == "public/get_volatility_index_data" {
            let ccy = params["currency"]
                .as_str()
                .ok_or(("currency", "must be a string"))?
                .to_ascii_uppercase();
            self.market
                .underlying(&ccy)
                .ok_or(("currency", "no volatility index"))?;
            let step = resolution_ms(resolution, &["60", "3600", "43200", "1D"], 1_000).ok_or((
                "resolution",
                "must be 60, 3600, 43200 or 1D (the demo keeps minute candles at the finest)",
            ))?;
            let data: Vec<Value> = (self
                .history
                .candles(&format!("{ccy} DVOL"), start, end, step)
                .iter())
            .map(|c| json!([c.t, c.open, c.high, c.low, c.close]))
            .collect();
            return Ok(json!({"data": data, "continuation": null}));
        }
        let name = params["instrument_name"]
            .as_str()
            .ok_or(("instrument_name", "must be a string"))?;
        self.desk
            .instrument(name)
            .ok_or(("instrument_name", "instrument not found"))?;
        let allowed = [
            "1", "3", "5", "10", "15", "30", "60", "120", "180", "360", "720", "1D",
        ];
        let step = resolution_ms(resolution, &allowed, 60_000).ok_or((
            "resolution",
            "must be 1, 3, 5, 10, 15, 30, 60, 120, 180, 360, 720 or 1D",
        ))?;
        let candles = self.history.candles(name, start, end, step);
        let column = |f: fn(&Candle) -> f64| candles.iter().map(f).collect::<Vec<f64>>();
        Ok(json!({
            "status": if candles.is_empty() { "no_data" } else { "ok" },
            "ticks": candles.iter().map(|c| c.t).collect::<Vec<i64>>(),
            "open": column(|c| c.open), "high": column(|c| c.high),
            "low": column(|c| c.low), "close": column(|c| c.close),
            "volume": vec![0.0; candles.len()], "cost": vec![0.0; candles.len()],
        }))
    }

    fn ticker(&self, name: &str) -> Option<Value> {
        let inst = self.market.instruments.iter().find(|i| i.name == name)?;
        let q = self.market.quote(inst)?;
        let mut d = json!({
            "instrument_name": name,
            "timestamp": q.timestamp,
            "mark_price": q.mark_price,
            "index_price": q.index_price,
            "state": "open",
        });
        if let (Some(iv), Some(f)) = (q.mark_iv, q.underlying_price) {
            d["mark_iv"] = json!(iv * 100.0);
            d["underlying_price"] = json!(f);
        }
        if let (
            Kind::Option {
                option_type,
                strike,
                expiry_ms,
            },
            Some(iv),
            Some(f),
        ) = (inst.kind, q.mark_iv, q.underlying_price)
        {
            let t = crate::pricing::years_between(q.timestamp, expiry_ms).max(0.0);
            let g = crate::pricing::black76::greeks(option_type, f, strike, t, iv);
            let round = |x: f64| (x * 1e5).round() / 1e5; // Deribit's five decimals
            d["greeks"] = json!({"delta": round(g.delta), "gamma": round(g.gamma), "vega": round(g.vega),
                                 "theta": round(g.theta), "rho": round(g.rho)});
            d["interest_rate"] = json!(0.0);
        }
        if let Some(price) = self.settlement_prices.get(name) {
            d["settlement_price"] = json!(price);
        }
        if inst.kind == Kind::Perpetual {
            let rate = self.market.funding_8h(&inst.base);
            d["funding_8h"] = json!(rate);
            d["current_funding"] = json!(rate);
        }
        quoted_book(&mut d, inst, q.mark_price, q.index_price);
        Some(d)
    }

    /// `markprice.options.{index}`: mark and IV (a fraction) of every option on it.
    fn markprices(&self, index: &str) -> Value {
        let list: Vec<Value> = self
            .market
            .instruments
            .iter()
            .filter(|i| i.index_name == index && i.is_option())
            .filter_map(|i| {
                let q = self.market.quote(i)?;
                Some(json!({"instrument_name": i.name, "mark_price": q.mark_price, "iv": q.mark_iv?, "timestamp": q.timestamp}))
            })
            .collect();
        Value::Array(list)
    }

    fn positions(&self, subject: Option<i64>, currency: &str) -> Value {
        let Some((i, a)) = subject.and_then(|id| self.account(id)) else {
            return json!([]);
        };
        if !a.currency.eq_ignore_ascii_case(currency) {
            return json!([]);
        }
        let acct = self.desk.account(self.desk_ids[i]);
        let list: Vec<Value> = acct
            .positions
            .iter()
            .filter_map(|p| {
                let inst = self.desk.instrument(&p.instrument)?;
                let mark = self.market.quote(inst)?.mark_price;
                let kind = if inst.is_option() { "option" } else { "future" };
                let direction = if p.size > 0.0 { "buy" } else { "sell" };
                let mut v = json!({"instrument_name": p.instrument, "size": p.size, "kind": kind,
                                   "direction": direction, "mark_price": mark});
                if !inst.is_option() {
                    v["settlement_price"] = json!(p.session_ref_price.unwrap_or(mark));
                    if inst.settlement == Settlement::Inverse {
                        v["size_currency"] = json!(p.size / mark);
                    }
                }
                Some(v)
            })
            .collect();
        Value::Array(list)
    }

    /// A cross-collateral account's summary for one of its wallets: the
    /// wallet's own balance and equity, the account's totals converted to
    /// the currency, and the totals in USD (as Deribit sends them).
    fn cross_summary(&self, i: usize, a: &DemoAccount, currency: &str) -> Value {
        let ccy = currency.to_ascii_uppercase();
        let other = a.collateral.as_ref().filter(|(c, _)| *c == ccy);
        let r = self.desk.risk(self.desk_ids[i]);
        let book_rate = self.usd_rate(&a.currency);
        let backing = a.collateral.as_ref().map_or(0.0, |(_, b)| *b);
        let mb_usd = r.margin_balance * book_rate + backing;
        let equity_usd = r.equity * book_rate + backing;
        let (im_usd, mm_usd) = (
            r.margin.initial_margin * book_rate,
            r.margin.maintenance_margin * book_rate,
        );
        let rate = self.usd_rate(&ccy);
        // Every currency is a wallet of the account; most are empty.
        let (balance, equity, options_value, upl, rpl) = match other {
            Some((_, b)) => (*b, *b, 0.0, 0.0, 0.0),
            None if ccy == a.currency => (
                a.balance,
                r.equity,
                r.options_value,
                r.futures_session_upl,
                a.session_rpl,
            ),
            None => (0.0, 0.0, 0.0, 0.0, 0.0),
        };
        json!({"currency": ccy, "balance": balance, "equity": equity,
            "margin_balance": mb_usd / rate, "initial_margin": im_usd / rate,
            "maintenance_margin": mm_usd / rate, "available_funds": (mb_usd - im_usd) / rate,
            "options_value": options_value, "futures_session_upl": upl, "futures_session_rpl": rpl,
            "margin_model": a.margin_model, "cross_collateral_enabled": true,
            "portfolio_margining_enabled": a.margin_model.ends_with("_pm"),
            "total_margin_balance_usd": mb_usd, "total_equity_usd": equity_usd,
            "total_initial_margin_usd": im_usd, "total_maintenance_margin_usd": mm_usd})
    }

    fn summary(&self, subject: Option<i64>, currency: &str) -> Value {
        let base = json!({"currency": currency.to_ascii_uppercase(), "balance": 0.0, "equity": 0.0,
                          "margin_balance": 0.0, "initial_margin": 0.0, "maintenance_margin": 0.0,
                          "margin_model": "segregated_pm", "futures_session_rpl": 0.0});
        let Some((i, a)) = subject.and_then(|id| self.account(id)) else {
            return base;
        };
        if a.margin_model.starts_with("cross_") {
            return self.cross_summary(i, a, currency);
        }
        if !a.currency.eq_ignore_ascii_case(currency) {
            return base;
        }
        let r = self.desk.risk(self.desk_ids[i]);
        json!({"currency": a.currency, "balance": a.balance, "equity": r.equity,
               "margin_balance": r.margin_balance, "initial_margin": r.margin.initial_margin,
               "maintenance_margin": r.margin.maintenance_margin, "options_value": r.options_value,
               "margin_model": a.margin_model, "futures_session_rpl": a.session_rpl,
               "futures_session_upl": r.futures_session_upl})
    }

    fn subaccounts(&self, with_portfolio: bool) -> Value {
        let mut list = vec![
            json!({"id": 1, "username": DEMO_CLIENT_ID, "type": "main", "margin_model": "segregated_pm"}),
        ];
        list.extend(self.accounts.iter().map(|a| {
            json!({"id": a.id, "username": a.username, "type": "subaccount", "margin_model": a.margin_model})
        }));
        if with_portfolio {
            for entry in &mut list {
                entry["portfolio"] = self.portfolio(entry["id"].as_i64());
            }
        }
        Value::Array(list)
    }

    /// `get_subaccounts`' portfolio of one account: each wallet's money in
    /// the shape of `private_get_subaccounts_response.json` (lower-case
    /// currency keys).
    fn portfolio(&self, subject: Option<i64>) -> Value {
        let mut out = serde_json::Map::new();
        for ccy in ["BTC", "ETH", "USDC"] {
            let s = self.summary(subject, ccy);
            let num = |k: &str| s[k].as_f64().unwrap_or(0.0);
            let (balance, mb, im) = (num("balance"), num("margin_balance"), num("initial_margin"));
            out.insert(ccy.to_ascii_lowercase(), json!({
                "currency": ccy.to_ascii_lowercase(), "balance": balance, "equity": num("equity"),
                "margin_balance": mb, "initial_margin": im, "maintenance_margin": num("maintenance_margin"),
                "available_funds": mb - im, "available_withdrawal_funds": balance.min(mb) - im,
                "additional_reserve": 0.0, "spot_reserve": 0.0}));
        }
        Value::Object(out)
    }
}

/// A running demo exchange.
pub struct DemoServer {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<DemoState>>,
    shutdown: watch::Sender<bool>,
}

impl DemoServer {
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn crash(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.crash();
        }
    }

    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// Start the demo exchange on a free loopback port, for a monitor in the
/// same process.
pub async fn start_in_process(opts: DemoOptions) -> Result<DemoServer, String> {
    start("127.0.0.1:0".parse().expect("loopback address"), opts)
        .await
        .map_err(|e| format!("cannot start the demo exchange: {e}"))
}

/// Start the demo exchange on `listen` (use port 0 for any free port).
pub async fn start(listen: SocketAddr, opts: DemoOptions) -> std::io::Result<DemoServer> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let now = opts.start_ms.unwrap_or_else(crate::exchange::feed::now_ms);
    let state = Arc::new(Mutex::new(DemoState::new(opts.seed, now)));
    let (changes_tx, _) = broadcast::channel::<Change>(1024);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    tokio::spawn(simulate(
        state.clone(),
        changes_tx.clone(),
        opts.clone(),
        shutdown_rx.clone(),
    ));
    let accept_state = state.clone();
    let mut accept_shutdown = shutdown_rx.clone();
    tokio::spawn(async move {
        let mut sessions = 0u64;
        loop {
            tokio::select! {
                conn = listener.accept() => {
                    let Ok((tcp, _)) = conn else { continue };
                    sessions += 1;
                    let chaos = opts.chaos_every.map(|every| Chaos::new(every, opts.seed ^ sessions));
                    let (st, ch, op, sd) = (accept_state.clone(), changes_tx.subscribe(), opts.clone(), shutdown_rx.clone());
                    tokio::spawn(async move {
                        if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                            session(ws, st, ch, op, sd, chaos).await;
                        }
                    });
                }
                _ = accept_shutdown.changed() => break,
            }
        }
    });
    Ok(DemoServer {
        addr,
        state,
        shutdown: shutdown_tx,
    })
}

/// The market clock: a step every 250 ms of real time.
async fn simulate(
    state: Arc<Mutex<DemoState>>,
    changes: broadcast::Sender<Change>,
    opts: DemoOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let tick = Duration::from_millis(250);
    let mut interval = tokio::time::interval(tick);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => return,
        }
        if opts.frozen {
            continue;
        }
        let dt = tick.as_secs_f64() * opts.time_scale;
        let list = match state.lock() {
            Ok(mut s) => s.advance(dt, &opts),
            Err(_) => return,
        };
        for c in list {
            let _ = changes.send(c);
        }
    }
}

/// The instrument kinds Deribit's `get_instruments` accepts.
const KINDS: [&str; 5] = ["future", "option", "spot", "future_combo", "option_combo"];

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

fn reply(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// The parts of a ticker a trading screen reads besides the mark: a
/// synthetic best bid and ask around it (options 2 % wide, at least one
/// tick; futures one USD), the day's stats (no trades in the demo, so no
/// volume and the mark as high and low), and the delivery estimate.
fn quoted_book(d: &mut Value, inst: &Instrument, mark: f64, index: Option<f64>) {
    let (bid, ask, amount) = match inst.kind {
        Kind::Option { .. } => {
            let half = (mark * 0.01).max(0.0001);
            ((mark - half).max(0.0), mark + half, 10.0)
        }
        _ => (mark - 0.5, mark + 0.5, 10_000.0),
    };
    d["best_bid_price"] = json!(bid);
    d["best_ask_price"] = json!(ask);
    d["best_bid_amount"] = json!(amount);
    d["best_ask_amount"] = json!(amount);
    d["stats"] = json!({"volume": 0.0, "price_change": 0.0, "low": mark, "high": mark});
    if let Some(i) = index {
        d["estimated_delivery_price"] = json!(i);
    }
}

/// `get_order_book`: the ticker with `depth` synthetic levels a side,
/// stepping away from the best bid and ask by a twentieth of the spread
/// (the demo has no orders; the book only gives a client a shape to read).
fn order_book(mut t: Value, depth: usize) -> Value {
    let (bid, ask) = (
        t["best_bid_price"].as_f64().unwrap_or(0.0),
        t["best_ask_price"].as_f64().unwrap_or(0.0),
    );
    let amount = t["best_bid_amount"].as_f64().unwrap_or(0.0);
    let step = ((ask - bid) / 20.0).max(f64::EPSILON);
    let side = |from: f64, dir: f64| -> Vec<Value> {
        (0..depth)
            .map(|i| from + dir * step * i as f64)
            .take_while(|p| *p > 0.0)
            .map(|p| json!([p, amount]))
            .collect()
    };
    t["bids"] = Value::Array(side(bid, -1.0));
    t["asks"] = Value::Array(side(ask, 1.0));
    t["change_id"] = t["timestamp"].clone();
    t
}

/// Deribit's answer to a parameter it cannot use: -32602 with the
/// parameter and the reason (the shape of
/// `tests/fixtures/deribit/error_invalid_params_-32602.json`).
fn invalid_params(id: &Value, param: &str, reason: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32602, "message": "Invalid params",
           "data": {"reason": reason, "param": param}}})
}

fn notification(channel: &str, data: Value) -> Message {
    Message::text(json!({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}}).to_string())
}

async fn session(
    ws: Ws,
    state: Arc<Mutex<DemoState>>,
    mut changes: broadcast::Receiver<Change>,
    opts: DemoOptions,
    mut shutdown: watch::Receiver<bool>,
    mut chaos: Option<Chaos>,
) {
    let (mut tx, mut rx) = ws.split();
    let mut channels: BTreeSet<String> = BTreeSet::new();
    let mut authed = false;
    let mut subject: Option<i64> = None;
    let mut heartbeat: Option<tokio::time::Interval> = None;
    let mut publish = tokio::time::interval(opts.publish_interval);
    let mut credits = Credits::new();
    loop {
        let beat = async {
            match heartbeat.as_mut() {
                Some(h) => {
                    h.tick().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let out: Vec<Message> = tokio::select! {
            frame = rx.next() => {
                let Some(Ok(Message::Text(text))) = frame else { return };
                let Ok(msg) = serde_json::from_str::<Value>(&text) else { continue };
                let (id, method, params) = (msg["id"].clone(), msg["method"].as_str().unwrap_or(""), &msg["params"]);
                if !credits.pay(std::time::Instant::now()) {
                    let _ = tx.send(Message::text(error(&id, 10028, "too_many_requests").to_string())).await;
                    return;
                }
                let answer = match method {
                    "public/auth" => {
                        let ok = params["client_id"] == DEMO_CLIENT_ID || params["grant_type"] == "refresh_token";
                        authed |= ok;
                        if ok {
                            reply(&id, json!({"access_token": REDACTED, "refresh_token": "demo-refresh", "expires_in": 31_536_000,
                                               "scope": "connection account:read", "token_type": "bearer"}))
                        } else {
                            error(&id, 13004, "invalid_credentials")
                        }
                    }
                    "public/exchange_token" => {
                        let wanted = params["subject_id"].as_i64();
                        let known = wanted.is_some_and(|w| state.lock().is_ok_and(|s| s.account(w).is_some()));
                        if authed && known {
                            subject = wanted;
                            reply(&id, json!({"access_token": REDACTED, "refresh_token": "demo-refresh", "expires_in": 31_536_000,
                                               "scope": "connection account:read", "token_type": "bearer"}))
                        } else {
                            error(&id, 13009, "unauthorized")
                        }
                    }
                    "public/set_heartbeat" => {
                        let secs = params["interval"].as_u64().unwrap_or(30).max(10);
                        let mut h = tokio::time::interval(Duration::from_secs(secs));
                        h.tick().await;
                        heartbeat = Some(h);
                        reply(&id, json!("ok"))
                    }
                    "public/test" => reply(&id, json!({"version": "demo"})),
                    "public/subscribe" | "private/subscribe" => {
                        let list: Vec<String> = params["channels"].as_array().map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_string)).collect()).unwrap_or_default();
                        let private = list.iter().any(|c| c.starts_with("user."));
                        if private && !authed {
                            error(&id, 13009, "unauthorized")
                        } else {
                            channels.extend(list.iter().cloned());
                            reply(&id, json!(list))
                        }
                    }
                    "public/get_book_summary_by_currency" => match state.lock() {
                        Ok(s) => match s.book_summaries(params) {
                            Ok(list) => reply(&id, list),
                            Err((param, reason)) => invalid_params(&id, param, reason),
                        },
                        Err(_) => error(&id, 11050, "bad_request"),
                    },
                    "public/get_order_book" => {
                        let name = params["instrument_name"].as_str().unwrap_or("");
                        let depth = params["depth"].as_u64().unwrap_or(5);
                        match state.lock().ok().and_then(|s| s.ticker(name)) {
                            _ if !(1..=10_000).contains(&depth) => invalid_params(&id, "depth", "must be 1 to 10000"),
                            Some(t) => reply(&id, order_book(t, depth as usize)),
                            None => invalid_params(&id, "instrument_name", "instrument not found"),
                        }
                    }
                    "public/ticker" => {
                        let name = params["instrument_name"].as_str().unwrap_or("");
                        match state.lock().ok().and_then(|s| s.ticker(name)) {
                            Some(t) => reply(&id, t),
                            None => invalid_params(&id, "instrument_name", "instrument not found"),
                        }
                    }
                    "public/get_volatility_index_data" | "public/get_tradingview_chart_data" => match state.lock() {
                        Ok(s) => match s.charts(method, params) {
                            Ok(result) => reply(&id, result),
                            Err((param, reason)) => invalid_params(&id, param, reason),
                        },
                        Err(_) => error(&id, 11050, "bad_request"),
                    },
                    "public/get_instruments" | "public/get_instrument" | "public/get_index_price" => {
                        match state.lock() {
                            Ok(s) => match s.public_reference(method, params) {
                                Ok(result) => reply(&id, result),
                                Err((param, reason)) => invalid_params(&id, param, reason),
                            },
                            Err(_) => error(&id, 11050, "bad_request"),
                        }
                    }
                    "private/get_positions" | "private/get_account_summary" | "private/get_account_summaries" | "private/get_subaccounts" if !authed => error(&id, 13009, "unauthorized"),
                    "private/get_positions" => match &params["kind"] {
                        Value::String(k) if !KINDS.contains(&k.as_str()) => invalid_params(&id, "kind", "must be one of future, option, spot, future_combo, option_combo"),
                        kind => {
                            let ccy = params["currency"].as_str().unwrap_or("");
                            let all = state.lock().map(|s| s.positions(subject, ccy)).unwrap_or(json!([]));
                            let keep = |p: &Value| kind.is_null() || p["kind"] == *kind;
                            reply(&id, Value::Array(all.as_array().into_iter().flatten().filter(|p| keep(p)).cloned().collect()))
                        }
                    },
                    "private/get_account_summary" => {
                        let ccy = params["currency"].as_str().unwrap_or("");
                        let mut r = reply(&id, state.lock().map(|s| s.summary(subject, ccy)).unwrap_or(json!({})));
                        r["usOut"] = json!(state.lock().map(|s| s.market.now_ms * 1000).unwrap_or(0));
                        r
                    }
                    "private/get_account_summaries" => {
                        let all = |s: &DemoState| {
                            let list: Vec<Value> = ["BTC", "ETH", "USDC"].iter().map(|c| s.summary(subject, c)).collect();
                            json!({"id": subject.unwrap_or(1), "type": "subaccount", "summaries": list})
                        };
                        let mut r = reply(&id, state.lock().map(|s| all(&s)).unwrap_or(json!({})));
                        r["usOut"] = json!(state.lock().map(|s| s.market.now_ms * 1000).unwrap_or(0));
                        r
                    }
                    "private/get_subaccounts" => {
                        let with_portfolio = params["with_portfolio"].as_bool() == Some(true);
                        reply(&id, state.lock().map(|s| s.subaccounts(with_portfolio)).unwrap_or(json!([])))
                    }
                    _ => error(&id, -32601, "Method not found"),
                };
                vec![Message::text(answer.to_string())]
            }
            _ = beat => vec![Message::text(json!({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}).to_string())],
            _ = publish.tick() => publications(&state, &channels, subject),
            change = changes.recv() => match change {
                Ok(c) if Some(c.account) == subject => user_change(&state, &channels, &c),
                _ => Vec::new(),
            },
            _ = shutdown.changed() => return,
        };
        let out = match chaos.as_mut() {
            Some(c) => c.apply(out),
            None => Some(out),
        };
        let Some(out) = out else {
            return; // a fault: the connection drops
        };
        for m in out {
            if tx.send(m).await.is_err() {
                return;
            }
        }
    }
}

/// Tickers, indices and the subject's portfolio for the subscribed channels.
fn publications(
    state: &Arc<Mutex<DemoState>>,
    channels: &BTreeSet<String>,
    subject: Option<i64>,
) -> Vec<Message> {
    let Ok(s) = state.lock() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ch in channels {
        let parts: Vec<&str> = ch.split('.').collect();
        match parts.as_slice() {
            ["ticker", name, _] => {
                if let Some(d) = s.ticker(name) {
                    out.push(notification(ch, d));
                }
            }
            ["deribit_price_index", index] => {
                if let Some(u) = s.market.underlyings.iter().find(|u| u.index_name == *index) {
                    out.push(notification(ch, json!({"index_name": index, "price": u.index, "timestamp": s.market.now_ms})));
                }
            }
            ["user", "portfolio", ccy] => out.push(notification(ch, s.summary(subject, ccy))),
            ["markprice", "options", index] => out.push(notification(ch, s.markprices(index))),
            _ => {}
        }
    }
    out
}

fn user_change(
    state: &Arc<Mutex<DemoState>>,
    channels: &BTreeSet<String>,
    c: &Change,
) -> Vec<Message> {
    let Ok(s) = state.lock() else {
        return Vec::new();
    };
    let Some((_, a)) = s.account(c.account) else {
        return Vec::new();
    };
    let ch = format!("user.changes.any.{}.raw", a.currency);
    if !channels.contains(&ch) {
        return Vec::new();
    }
    let positions = s.positions(Some(c.account), &a.currency);
    let changed: Vec<Value> = positions
        .as_array()
        .map(|l| {
            l.iter()
                .filter(|p| p["instrument_name"] == c.instrument.as_str())
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let changed = if changed.is_empty() {
        vec![json!({"instrument_name": c.instrument, "size": c.size})]
    } else {
        changed
    };
    let (orders, trades) = match &c.fill {
        Some(f) => fill_records(c, f, &a.currency, &s),
        None => (Vec::new(), Vec::new()),
    };
    vec![notification(
        &ch,
        json!({"instrument_name": c.instrument, "orders": orders, "trades": trades, "positions": changed}),
    )]
}

/// The filled market order and its trade behind a change, in the shape of
/// `user_changes_future_btc_raw.json`; a liquidation's are marked as
/// Deribit marks them (`is_liquidation`, `liquidation: "T"`).
fn fill_records(c: &Change, f: &Fill, currency: &str, s: &DemoState) -> (Vec<Value>, Vec<Value>) {
    let direction = if f.amount > 0.0 { "buy" } else { "sell" };
    let index = s
        .desk
        .instrument(&c.instrument)
        .and_then(|i| s.market.underlying(&i.base))
        .map(|u| u.index);
    let order_id = format!("demo-{}", f.id);
    let order = json!({"order_id": order_id, "instrument_name": c.instrument, "direction": direction,
        "amount": f.amount.abs(), "filled_amount": f.amount.abs(), "price": f.price, "average_price": f.price,
        "order_type": "market", "order_state": "filled", "time_in_force": "good_til_cancelled",
        "is_liquidation": f.liquidation, "reduce_only": f.liquidation, "post_only": false, "api": false,
        "creation_timestamp": f.timestamp, "last_update_timestamp": f.timestamp});
    let mut trade = json!({"trade_id": f.id.to_string(), "trade_seq": f.id, "order_id": order_id,
        "instrument_name": c.instrument, "direction": direction, "amount": f.amount.abs(), "price": f.price,
        "mark_price": f.price, "index_price": index, "fee": f.fee, "fee_currency": currency,
        "liquidity": "T", "order_type": "market", "state": "filled", "timestamp": f.timestamp});
    if f.liquidation {
        trade["liquidation"] = json!("T");
    }
    (vec![order], vec![trade])
}

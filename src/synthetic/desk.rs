//! A realistic desk's recording for the speed work (issue 15): accounts
//! holding options of the real Deribit chain of 2026-08-01 06:06 UTC
//! (tests/fixtures/data, provenance there) and a perpetual hedge, then
//! rounds in which every held instrument gets a ticker and each index a
//! tick. Deterministic: the same shape always writes the same bytes.
//!
//! The chain's marks, implied volatilities and forwards are real; the
//! books, balances and the small moves of the rounds are made up.

use crate::pricing::black76::{coin_price, greeks, years_between, OptionType};
use crate::risk::history::parse_date;
use serde_json::{json, Value};

/// The real chain the books are drawn from.
pub const CHAIN: &str =
    include_str!("../../tests/fixtures/data/deribit_options_snapshot_20260801T060623Z.csv");

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    /// Accounts, half BTC and half ETH (BTC first).
    pub accounts: usize,
    /// Options per account (each account also holds its perpetual hedge).
    pub options: usize,
    /// Rounds of tickers and index ticks after the accounts' snapshots.
    pub rounds: usize,
}

/// Issue 15's desk: 100 accounts × 50 options + a hedge, 21 rounds.
pub const ISSUE_15: Shape = Shape {
    accounts: 100,
    options: 50,
    rounds: 21,
};

/// One option of the chain.
#[derive(Clone, Debug)]
struct Row {
    name: String,
    coin: String,
    option_type: OptionType,
    strike: f64,
    expiry_ms: i64,
    forward: f64,
    iv: f64,
    delta: f64,
    index: f64,
}

/// The chain's options with a usable mark IV and forward, and its time.
fn chain() -> Result<(Vec<Row>, i64), String> {
    let mut lines = CHAIN.lines();
    let header: Vec<&str> = lines.next().ok_or("empty chain")?.split(',').collect();
    let col =
        |name: &str| (header.iter().position(|h| *h == name)).ok_or(format!("chain has no {name}"));
    let c = [
        "timestamp",
        "instrument_name",
        "option_type",
        "strike",
        "expiry_datetime",
        "futures_price",
        "implied_volatility",
        "delta",
        "currency",
        "index_price",
    ]
    .map(col);
    let [ts, name, kind, strike, expiry, fwd, iv, delta, coin, index] = c;
    let (ts, name, kind, strike, expiry, fwd) = (ts?, name?, kind?, strike?, expiry?, fwd?);
    let (iv, delta, coin, index) = (iv?, delta?, coin?, index?);
    let mut rows = Vec::new();
    let mut now = None;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
        now = now.or_else(|| f.get(ts).and_then(|t| epoch_ms(t)));
        let (Some(k), Some(fw), Some(v), Some(d), Some(ix)) =
            (num(strike), num(fwd), num(iv), num(delta), num(index))
        else {
            continue;
        };
        let Some(expiry_ms) = f.get(expiry).and_then(|t| epoch_ms(t)) else {
            continue;
        };
        let option_type = match f.get(kind) {
            Some(&"call") => OptionType::Call,
            Some(&"put") => OptionType::Put,
            _ => continue,
        };
        if !(v > 0.0 && fw > 0.0 && ix > 0.0) {
            continue;
        }
        rows.push(Row {
            name: f[name].to_string(),
            coin: f[coin].to_string(),
            option_type,
            strike: k,
            expiry_ms,
            forward: fw,
            iv: v,
            delta: d,
            index: ix,
        });
    }
    let now = now.ok_or("chain has no timestamp")?;
    // An option expiring within a day of the snapshot would expire mid-test.
    rows.retain(|r| r.expiry_ms > now + 86_400_000);
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((rows, now))
}

/// "2026-08-01T06:06:23.352669+00:00" (UTC) → epoch ms, to the second.
fn epoch_ms(s: &str) -> Option<i64> {
    let day = i64::from(parse_date(s)?);
    let clock = s.get(11..19)?;
    let mut parts = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
    Some(day * 86_400_000 + ((h * 60 + m) * 60 + sec) * 1000)
}

/// A small deterministic generator (SplitMix64): the picks and sizes.
struct Picks(u64);

impl Picks {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One account: label, coin, option positions (row index, size in coin)
/// and the perpetual hedge in USD.
struct Book {
    label: String,
    coin: &'static str,
    options: Vec<(usize, f64)>,
    hedge_usd: f64,
    balance: f64,
}

fn books(rows: &[Row], shape: &Shape) -> Vec<Book> {
    (0..shape.accounts)
        .map(|a| {
            let coin = if a < shape.accounts.div_ceil(2) {
                "BTC"
            } else {
                "ETH"
            };
            let of_coin: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].coin == coin).collect();
            let mut picks = Picks(a as u64 + 1);
            let unit = if coin == "BTC" { 0.1 } else { 1.0 };
            let mut options: Vec<(usize, f64)> = Vec::new();
            while options.len() < shape.options.min(of_coin.len()) {
                let i = of_coin[picks.below(of_coin.len())];
                if options.iter().any(|(j, _)| *j == i) {
                    continue;
                }
                // Mostly short, from one to twenty lots.
                let lots = 1 + picks.below(20);
                let sign = if picks.below(3) == 0 { 1.0 } else { -1.0 };
                options.push((i, sign * lots as f64 * unit));
            }
            let delta: f64 = options.iter().map(|(i, s)| rows[*i].delta * s).sum();
            let index = options.first().map_or(0.0, |(i, _)| rows[*i].index);
            let contract = if coin == "BTC" { 10.0 } else { 1.0 };
            let hedge_usd = (-delta * index / contract).round() * contract;
            let gross: f64 = options.iter().map(|(_, s)| s.abs()).sum();
            // From comfortable to tight: 15 % to 60 % of the gross size.
            let balance = gross * (0.15 + 0.45 * picks.below(100) as f64 / 100.0);
            Book {
                label: format!("desk-{coin}-{a:03}").to_lowercase(),
                coin,
                options,
                hedge_usd,
                balance,
            }
        })
        .collect()
}

/// The recording's lines (docs/recording.md), oldest first.
pub fn recording(shape: &Shape) -> Result<Vec<String>, String> {
    let (rows, now) = chain()?;
    let books = books(&rows, shape);
    let mut out = Vec::new();
    let mut line = |t: i64, dir: &str, acct: &str, msg: Value| {
        out.push(json!({"t": t, "dir": dir, "acct": acct, "msg": msg}).to_string());
    };
    for (n, b) in books.iter().enumerate() {
        let (t, id) = (now - 1_000, 2 * n as i64 + 10);
        let perpetual = format!("{}-PERPETUAL", b.coin);
        let mut positions: Vec<Value> = (b.options.iter())
            .map(|(i, s)| json!({"instrument_name": rows[*i].name, "size": s, "kind": "option"}))
            .collect();
        positions
            .push(json!({"instrument_name": perpetual, "size": b.hedge_usd, "kind": "future"}));
        let ask = |id: i64, method: &str| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {"currency": b.coin}});
        line(t, "out", &b.label, ask(id, "private/get_positions"));
        line(
            t + 20,
            "in",
            &b.label,
            json!({"jsonrpc": "2.0", "id": id, "result": positions}),
        );
        line(
            t + 40,
            "out",
            &b.label,
            ask(id + 1, "private/get_account_summary"),
        );
        let summary = json!({"currency": b.coin, "balance": b.balance,
                             "margin_model": "segregated_pm", "futures_session_rpl": 0.0});
        line(
            t + 60,
            "in",
            &b.label,
            json!({"jsonrpc": "2.0", "id": id + 1, "result": summary}),
        );
    }
    let held = held_rows(&books);
    for round in 0..shape.rounds {
        let t = now + round as i64 * 1_000;
        for coin in ["BTC", "ETH"] {
            let Some(index) = rows.iter().find(|r| r.coin == coin).map(|r| r.index) else {
                continue;
            };
            let f = move_of(coin, round);
            for &i in held.iter().filter(|&&i| rows[i].coin == coin) {
                line(t, "in", "market", option_ticker(&rows[i], f, round, t));
            }
            let name = format!("{coin}-PERPETUAL");
            line(t, "in", "market", perpetual_ticker(&name, index * f, t));
            let index_name = format!("{}_usd", coin.to_lowercase());
            let data = json!({"index_name": index_name, "price": index * f, "timestamp": t});
            line(
                t,
                "in",
                "market",
                notification(&format!("deribit_price_index.{index_name}"), data),
            );
        }
    }
    Ok(out)
}

/// The rows some account holds, in chain order.
fn held_rows(books: &[Book]) -> Vec<usize> {
    let mut held: Vec<usize> = (books.iter())
        .flat_map(|b| b.options.iter().map(|(i, _)| *i))
        .collect();
    held.sort_unstable();
    held.dedup();
    held
}

/// The index factor of `coin` in round `round`: a few tenths of a percent.
fn move_of(coin: &str, round: usize) -> f64 {
    let phase = if coin == "BTC" { 0.0 } else { 1.3 };
    (0.004 * (0.9 * round as f64 + phase).sin()).exp()
}

fn notification(channel: &str, data: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "subscription",
           "params": {"channel": channel, "data": data}})
}

/// An option's ticker in round `round`: the forward and index moved by
/// `f`, the IV by a tenth of a point either way, the mark and Greeks from
/// Black-76; the other fields of a Deribit ticker (quotes, stats) made up
/// around the mark, so that a line is as long as the exchange's.
fn option_ticker(r: &Row, f: f64, round: usize, t: i64) -> Value {
    let iv = r.iv + 0.001 * (round as f64 * 0.7).cos();
    let forward = r.forward * f;
    let years = years_between(t, r.expiry_ms);
    let mark = coin_price(r.option_type, forward, r.strike, years, iv);
    let g = greeks(r.option_type, forward, r.strike, years, iv);
    let tick = |p: f64| (p / 0.0001).round() * 0.0001;
    let data = json!({
        "underlying_price": forward, "underlying_index": format!("SYN.{}", expiry_of(&r.name)),
        "timestamp": t,
        "stats": {"volume": 12.5, "price_change": -3.1, "low": tick(mark * 0.9), "high": tick(mark * 1.1)},
        "state": "open", "settlement_price": tick(mark), "open_interest": 250.0,
        "min_price": 0.0001, "max_price": tick(mark * 2.0 + 0.01),
        "mark_price": mark, "mark_iv": iv * 100.0, "last_price": tick(mark),
        "interest_rate": 0.0, "instrument_name": r.name, "index_price": r.index * f,
        "greeks": {"vega": g.vega, "theta": g.theta, "rho": 0.0, "gamma": g.gamma, "delta": g.delta},
        "estimated_delivery_price": r.index * f,
        "bid_iv": iv * 100.0 - 1.0, "best_bid_price": tick(mark * 0.97), "best_bid_amount": 10.0,
        "best_ask_price": tick(mark * 1.03) + 0.0001, "best_ask_amount": 12.5, "ask_iv": iv * 100.0 + 1.0,
    });
    notification(&format!("ticker.{}.100ms", r.name), data)
}

/// "BTC-28AUG26" of "BTC-28AUG26-60000-C".
fn expiry_of(name: &str) -> &str {
    name.rsplitn(3, '-').nth(2).unwrap_or(name)
}

fn perpetual_ticker(name: &str, index: f64, t: i64) -> Value {
    let mark = index * 1.0002;
    let data = json!({
        "timestamp": t, "state": "open",
        "stats": {"high": mark * 1.02, "low": mark * 0.98, "price_change": 1.2,
                  "volume": 11_897.3, "volume_usd": 1.09e9, "volume_notional": 1.09e9},
        "index_price": index, "instrument_name": name, "last_price": mark,
        "settlement_price": mark * 1.001, "min_price": mark * 0.985, "max_price": mark * 1.015,
        "open_interest": 1.13e9, "mark_price": mark, "interest_value": 0.0028,
        "best_ask_price": mark + 0.5, "best_bid_price": mark - 0.5,
        "estimated_delivery_price": index, "best_ask_amount": 186_520.0,
        "best_bid_amount": 117_660.0, "current_funding": 0.0, "funding_8h": 1.7e-5,
    });
    notification(&format!("ticker.{name}.100ms"), data)
}

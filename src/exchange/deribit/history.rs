//! Daily history from Deribit's public API, to extend the shipped risk
//! factor history up to yesterday: the perpetual's daily candles
//! (`public/get_tradingview_chart_data`, resolution `1D`) and the volatility
//! index's (`public/get_volatility_index_data`, resolution `1D`). A
//! candle's timestamp is the UTC day it opened; its close is that day's.

use crate::risk::history::{day_of, Day, Series};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const DAY_MS: i64 = 86_400_000;

/// Daily closes, by day.
pub type Closes = Vec<(Day, f64)>;

pub fn chart_request(id: u64, instrument: &str, from: Day, to: Day) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "public/get_tradingview_chart_data",
        "params": {"instrument_name": instrument, "resolution": "1D",
            "start_timestamp": i64::from(from) * DAY_MS, "end_timestamp": i64::from(to) * DAY_MS}})
}

pub fn vol_request(id: u64, currency: &str, from: Day, to: Day) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "public/get_volatility_index_data",
        "params": {"currency": currency, "resolution": "1D",
            "start_timestamp": i64::from(from) * DAY_MS, "end_timestamp": i64::from(to) * DAY_MS}})
}

/// The exchange's error, in words, or the result.
fn result(reply: &Value) -> Result<&Value, String> {
    if let Some(e) = reply.get("error") {
        let code = e["code"].as_i64().unwrap_or(0);
        let msg = e["message"].as_str().unwrap_or("no message");
        return Err(format!("the exchange refused ({code}): {msg}"));
    }
    reply
        .get("result")
        .ok_or_else(|| "a reply without a result".into())
}

/// Daily closes from a `get_tradingview_chart_data` reply.
pub fn parse_chart(reply: &Value) -> Result<Closes, String> {
    let r = result(reply)?;
    if r["status"].as_str().is_some_and(|s| s != "ok") {
        return Ok(Vec::new()); // "no_data"
    }
    let (ticks, closes) = (r["ticks"].as_array(), r["close"].as_array());
    let (Some(ticks), Some(closes)) = (ticks, closes) else {
        return Err("a chart reply without ticks and closes".into());
    };
    if ticks.len() != closes.len() {
        return Err("a chart reply whose ticks and closes differ in length".into());
    }
    ticks
        .iter()
        .zip(closes)
        .map(|(t, c)| match (t.as_i64(), c.as_f64()) {
            (Some(t), Some(c)) if c.is_finite() && c > 0.0 => Ok((day_of(t), c)),
            _ => Err(format!(
                "a chart candle that is not a time and a price: {t}, {c}"
            )),
        })
        .collect()
}

/// Daily closes from a `get_volatility_index_data` reply, and where to
/// continue (an earlier end) when the exchange cut the answer short.
pub fn parse_vol(reply: &Value) -> Result<(Closes, Option<i64>), String> {
    let r = result(reply)?;
    let data = r["data"]
        .as_array()
        .ok_or("a volatility reply without data")?;
    let candles = data
        .iter()
        .map(|c| match (c[0].as_i64(), c[4].as_f64()) {
            (Some(t), Some(close)) if close.is_finite() && close > 0.0 => Ok((day_of(t), close)),
            _ => Err(format!(
                "a volatility candle that is not [time, o, h, l, close]: {c}"
            )),
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((candles, r["continuation"].as_i64()))
}

/// Fetch, on one public connection to `url`, every coin's perpetual closes
/// and (where the exchange has one) its volatility index from `from` to
/// `to` (days, inclusive); days still open are left out by the caller.
pub async fn fetch(
    url: &str,
    coins: &[&str],
    from: Day,
    to: Day,
    timeout: Duration,
) -> Result<Vec<(Series, Closes)>, String> {
    let connect = tokio_tungstenite::connect_async(url);
    let (mut ws, _) = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| format!("no answer from {url} within {} s", timeout.as_secs()))?
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    let mut out = Vec::new();
    let mut id = 0;
    for coin in coins {
        id += 1;
        let reply = ask(
            &mut ws,
            chart_request(id, &format!("{coin}-PERPETUAL"), from, to),
            timeout,
        )
        .await?;
        out.push((Series::Price(coin.to_string()), parse_chart(&reply)?));
        // Continuations walk back in time; a bounded number of pages.
        let mut vols = Vec::new();
        let mut end = to;
        for _ in 0..20 {
            id += 1;
            let reply = ask(&mut ws, vol_request(id, coin, from, end), timeout).await?;
            // A coin without a volatility index is refused: it has none.
            let Ok((page, more)) = parse_vol(&reply) else {
                break;
            };
            vols.extend(page);
            match more.map(day_of) {
                Some(next) if next < end && next >= from => end = next,
                _ => break,
            }
        }
        if !vols.is_empty() {
            out.push((Series::Vol(coin.to_string()), vols));
        }
    }
    let _ = ws.close(None).await;
    Ok(out)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Send a request and wait for the reply with its id (other frames, like
/// heartbeats, are skipped).
async fn ask(ws: &mut Ws, request: Value, timeout: Duration) -> Result<Value, String> {
    let id = request["id"].clone();
    ws.send(Message::text(request.to_string()))
        .await
        .map_err(|e| format!("the connection failed: {e}"))?;
    let wait = async {
        while let Some(frame) = ws.next().await {
            let Ok(Message::Text(text)) = frame else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if v["id"] == id {
                return Ok(v);
            }
        }
        Err("the connection closed before the reply".to_string())
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| format!("no reply within {} s", timeout.as_secs()))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::history::parse_date;

    #[test]
    fn replies_in_deribits_shape_are_read() {
        let chart = json!({"jsonrpc": "2.0", "id": 1, "result": {"status": "ok",
            "ticks": [1_767_571_200_000i64, 1_767_657_600_000i64],
            "open": [91000.0, 93000.0], "high": [94000.0, 95000.0], "low": [90000.0, 92000.0],
            "close": [93100.5, 94200.0], "volume": [1.0, 2.0], "cost": [1.0, 2.0]}});
        let got = parse_chart(&chart).unwrap();
        assert_eq!(got[0], (parse_date("2026-01-05").unwrap(), 93100.5));
        let vol = json!({"jsonrpc": "2.0", "id": 2, "result": {"continuation": null,
            "data": [[1_767_571_200_000i64, 44.1, 45.0, 43.0, 44.7]]}});
        let (v, more) = parse_vol(&vol).unwrap();
        assert_eq!(v, vec![(parse_date("2026-01-05").unwrap(), 44.7)]);
        assert_eq!(more, None);
        let refused = json!({"jsonrpc": "2.0", "id": 3,
            "error": {"code": -32602, "message": "Invalid params"}});
        assert!(parse_vol(&refused).unwrap_err().contains("-32602"));
        let bad = json!({"jsonrpc": "2.0", "id": 1, "result": {"status": "ok",
            "ticks": [1], "close": ["x"]}});
        assert!(parse_chart(&bad).is_err());
    }
}

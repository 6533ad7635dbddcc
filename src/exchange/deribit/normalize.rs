//! Deribit API v2 messages → normalized events for the engine.
//!
//! Takes a JSON-RPC message (and, for responses, the method of the request
//! it answers) and returns what it says about instruments, marks, indices,
//! positions and balances. Anything else is ignored; anything malformed is
//! an error naming the message kind, never a panic.

use crate::exchange::clean_text;
use crate::model::{InstrumentSpec, Position, Quote};
use serde_json::Value;
use std::borrow::Cow;

/// What a message tells the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Instruments(Vec<InstrumentSpec>),
    Quote {
        instrument: String,
        quote: Quote,
    },
    /// Mark and IV only (markprice.options): forward and index stay as they were.
    MarkIv {
        instrument: String,
        mark_price: f64,
        iv: f64,
        timestamp: i64,
    },
    Index {
        index_name: String,
        price: f64,
        timestamp: i64,
    },
    /// Every position of an account in one currency (a snapshot).
    Positions {
        currency: Option<String>,
        positions: Vec<Position>,
    },
    /// Positions that changed (user.changes).
    PositionChanges {
        positions: Vec<Position>,
    },
    Balance(Balance),
    /// The price from which futures session P&L is now measured: the
    /// instrument's last settlement (tickers carry it; it changes at the
    /// daily settlement, 08:00 UTC).
    Settlement {
        instrument: String,
        price: f64,
    },
    /// The exchange refused a request about one currency of the account
    /// (its positions or its summary): the row must say so, not vanish.
    Refused {
        method: String,
        code: i64,
        message: String,
    },
}

/// An account summary or portfolio notification.
#[derive(Clone, Debug, PartialEq)]
pub struct Balance {
    pub currency: String,
    pub balance: f64,
    pub futures_session_rpl: f64,
    pub margin_model: Option<String>,
    pub initial_margin: Option<f64>,
    pub maintenance_margin: Option<f64>,
    pub equity: Option<f64>,
    pub margin_balance: Option<f64>,
    /// Whether the account is in cross-collateral mode (Deribit's
    /// `cross_collateral_enabled`, else read from `margin_model`).
    pub cross: Option<bool>,
    /// The account's totals in USD (`total_*_usd`, cross mode only).
    pub totals_usd: Option<crate::model::UsdTotals>,
    pub timestamp: Option<i64>,
}

/// Which kind of message failed, for counting ("ticker", "get_positions").
pub type Kind = String;

/// Normalize one message. `method` is the request's method for responses.
pub fn normalize(msg: &Value, method: Option<&str>) -> Result<Vec<Event>, (Kind, String)> {
    if let Some("subscription") = msg.get("method").and_then(Value::as_str) {
        let params = &msg["params"];
        let channel = params["channel"].as_str().unwrap_or("");
        let kind = channel.split('.').next().unwrap_or("").to_string();
        return notification(channel, &params["data"]).map_err(|e| (kind, e));
    }
    let Some(method) = method else {
        return Ok(Vec::new());
    };
    if let Some(error) = msg.get("error") {
        return Ok(refused(method, error).into_iter().collect());
    }
    let Some(result) = msg.get("result") else {
        return Ok(Vec::new());
    };
    let us_out = msg.get("usOut").and_then(Value::as_i64).map(|us| us / 1000);
    response(method, result, us_out).map_err(|e| (method.to_string(), e))
}

fn notification(channel: &str, data: &Value) -> Result<Vec<Event>, String> {
    let parts: Vec<&str> = channel.split('.').collect();
    match parts.as_slice() {
        ["ticker", ..] | ["incremental_ticker", ..] => ticker(data),
        ["deribit_price_index", ..] => Ok(vec![Event::Index {
            index_name: str_field(data, "index_name")?,
            price: num(data, "price")?,
            timestamp: int(data, "timestamp")?,
        }]),
        ["markprice", "options", ..] => data
            .as_array()
            .ok_or("markprice data is not an array")?
            .iter()
            .map(|d| {
                Ok(Event::MarkIv {
                    instrument: str_field(d, "instrument_name")?,
                    mark_price: num(d, "mark_price")?,
                    iv: num(d, "iv")?,
                    timestamp: int(d, "timestamp")?,
                })
            })
            .collect(),
        ["user", "portfolio", ..] => Ok(vec![Event::Balance(balance(data, None)?)]),
        ["user", "changes", ..] => {
            let list = data["positions"]
                .as_array()
                .ok_or("user.changes without positions")?;
            Ok(vec![Event::PositionChanges {
                positions: list.iter().map(position).collect::<Result<_, _>>()?,
            }])
        }
        _ => Ok(Vec::new()),
    }
}

fn response(method: &str, result: &Value, us_out: Option<i64>) -> Result<Vec<Event>, String> {
    match method {
        "public/get_instruments" => {
            let specs = serde_json::from_value(result.clone())
                .map_err(|e| format!("instrument list: {e}"))?;
            Ok(vec![Event::Instruments(specs)])
        }
        "public/get_instrument" => {
            let spec =
                serde_json::from_value(result.clone()).map_err(|e| format!("instrument: {e}"))?;
            Ok(vec![Event::Instruments(vec![spec])])
        }
        "public/ticker" => ticker(result),
        "private/get_positions" => {
            let list = result.as_array().ok_or("positions are not an array")?;
            let positions: Vec<Position> = list.iter().map(position).collect::<Result<_, _>>()?;
            Ok(vec![Event::Positions {
                currency: None,
                positions,
            }])
        }
        "private/get_account_summary" => Ok(vec![Event::Balance(balance(result, us_out)?)]),
        "private/get_account_summaries" => result["summaries"]
            .as_array()
            .ok_or("summaries are not an array")?
            .iter()
            .map(|s| Ok(Event::Balance(balance(s, us_out)?)))
            .collect(),
        _ => Ok(Vec::new()),
    }
}

/// An error answer to one of the account's private requests.
fn refused(method: &str, error: &Value) -> Option<Event> {
    if !matches!(
        method,
        "private/get_positions" | "private/get_account_summary" | "private/get_account_summaries"
    ) {
        return None;
    }
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    let mut message = clean_text(
        error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("error"),
    )
    .into_owned();
    // Deribit names the offending parameter in `data`.
    if let Some(reason) = error["data"]["reason"].as_str() {
        message = format!("{message}: {}", clean_text(reason));
    }
    if let Some(param) = error["data"]["param"].as_str() {
        message = format!("{message} ({})", clean_text(param));
    }
    Some(Event::Refused {
        method: method.to_string(),
        code,
        message,
    })
}

fn ticker(d: &Value) -> Result<Vec<Event>, String> {
    let num = |k: &str| d.get(k).and_then(Value::as_f64);
    ticker_events(TickerFields {
        instrument_name: Cow::Borrowed(
            d.get("instrument_name")
                .and_then(Value::as_str)
                .ok_or("missing text field instrument_name")?,
        ),
        settlement_price: num("settlement_price"),
        mark_price: num("mark_price"),
        mark_iv: num("mark_iv"),
        underlying_price: num("underlying_price"),
        index_price: num("index_price"),
        timestamp: d.get("timestamp").map(|t| t.as_i64().ok_or(())),
    })
}

/// The fields of a ticker that margintop reads, however it was parsed
/// (from a `Value`, or straight from the text by `hot`).
pub(crate) struct TickerFields<'a> {
    pub instrument_name: Cow<'a, str>,
    pub settlement_price: Option<f64>,
    pub mark_price: Option<f64>,
    pub mark_iv: Option<f64>,
    pub underlying_price: Option<f64>,
    pub index_price: Option<f64>,
    /// Err: present but not an integer.
    pub timestamp: Option<Result<i64, ()>>,
}

pub(crate) fn ticker_events(d: TickerFields) -> Result<Vec<Event>, String> {
    let instrument = clean_text(&d.instrument_name).into_owned();
    let mut events = Vec::new();
    // Options carry a settlement price too, but no session P&L hangs on it.
    let option = instrument.ends_with("-C") || instrument.ends_with("-P");
    if let Some(price) = (d.settlement_price).filter(|p| !option && p.is_finite() && *p > 0.0) {
        events.push(Event::Settlement {
            instrument: instrument.clone(),
            price,
        });
    }
    let Some(mark) = d.mark_price else {
        // incremental_ticker changes may carry no mark: nothing to update.
        return Ok(events);
    };
    let Some(Ok(timestamp)) = d.timestamp else {
        return Err("missing integer timestamp".into());
    };
    events.push(Event::Quote {
        instrument,
        quote: Quote {
            mark_price: mark,
            // Tickers send IV in percent.
            mark_iv: d.mark_iv.map(|iv| iv / 100.0),
            underlying_price: d.underlying_price,
            index_price: d.index_price,
            timestamp,
        },
    });
    Ok(events)
}

fn position(p: &Value) -> Result<Position, String> {
    let size = num(p, "size")?;
    let reference = p
        .get("settlement_price")
        .and_then(Value::as_f64)
        .or_else(|| p.get("average_price").and_then(Value::as_f64))
        .filter(|x| *x > 0.0);
    Ok(Position {
        instrument: str_field(p, "instrument_name")?,
        size,
        session_ref_price: reference,
    })
}

fn balance(d: &Value, timestamp: Option<i64>) -> Result<Balance, String> {
    let opt = |k: &str| d.get(k).and_then(Value::as_f64);
    if d.get("margin_model").is_some_and(|m| !m.is_string()) {
        return Err("margin_model is not text".into());
    }
    let margin_model = d.get("margin_model").and_then(Value::as_str);
    let cross = match d.get("cross_collateral_enabled") {
        None => margin_model.map(|m| m.starts_with("cross_")),
        Some(v) => Some(
            v.as_bool()
                .ok_or("cross_collateral_enabled is not true/false")?,
        ),
    };
    Ok(Balance {
        currency: str_field(d, "currency")?.to_ascii_uppercase(),
        balance: num(d, "balance")?,
        futures_session_rpl: opt("futures_session_rpl").unwrap_or(0.0),
        margin_model: d
            .get("margin_model")
            .and_then(Value::as_str)
            .map(str::to_string),
        initial_margin: opt("initial_margin"),
        maintenance_margin: opt("maintenance_margin"),
        equity: opt("equity"),
        margin_balance: opt("margin_balance"),
        cross,
        totals_usd: usd_totals(d)?,
        timestamp,
    })
}

/// `total_*_usd`: all four, or none (a part alone cannot be used).
fn usd_totals(d: &Value) -> Result<Option<crate::model::UsdTotals>, String> {
    if d.get("total_margin_balance_usd").is_none() {
        return Ok(None);
    }
    Ok(Some(crate::model::UsdTotals {
        margin_balance: num(d, "total_margin_balance_usd")?,
        equity: num(d, "total_equity_usd")?,
        initial_margin: num(d, "total_initial_margin_usd")?,
        maintenance_margin: num(d, "total_maintenance_margin_usd")?,
    }))
}

fn str_field(v: &Value, key: &str) -> Result<String, String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(|s| clean_text(s).into_owned())
        .ok_or_else(|| format!("missing text field {key}"))
}

fn num(v: &Value, key: &str) -> Result<f64, String> {
    v.get(key)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("missing number {key}"))
}

fn int(v: &Value, key: &str) -> Result<i64, String> {
    v.get(key)
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("missing integer {key}"))
}

//! The hot lines of a recording: ticker and index notifications, nearly
//! every line of a busy desk's, read straight from the text into their
//! events with borrowed strings, rather than through a `serde_json::Value`
//! (a map and an owned key for every field of every ticker).
//!
//! A line this does not fully understand (another message, a field of an
//! unexpected type, a duplicate key) is left to the general path, which
//! reads every line the same way: the events are the same whichever path a
//! line takes, only the cost differs.

use super::normalize::{ticker_events, Event, TickerFields};
use crate::exchange::clean_text;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::borrow::Cow;

/// A notification read on the fast path.
#[derive(Debug, PartialEq)]
pub struct HotLine<'a> {
    /// Local clock, epoch milliseconds.
    pub t: i64,
    /// The account label, as written ("default" when the line names none).
    pub acct: Cow<'a, str>,
    pub events: Vec<Event>,
}

#[derive(Deserialize)]
struct Line<'a> {
    t: i64,
    #[serde(borrow)]
    dir: Cow<'a, str>,
    #[serde(borrow, default)]
    acct: Option<Cow<'a, str>>,
    #[serde(borrow)]
    msg: Msg<'a>,
}

#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow)]
    params: Params<'a>,
    /// A notification has no id; one that has goes the general way.
    #[serde(default)]
    id: Option<IgnoredAny>,
}

/// A notification's channel and data, the data read straight into the
/// shape its channel names (so it is scanned once): the channel must come
/// first, as Deribit sends it.
struct Params<'a> {
    data: Data<'a>,
}

enum Data<'a> {
    Ticker(Ticker<'a>),
    Index(Index<'a>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Params<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ParamsVisitor(std::marker::PhantomData))
    }
}

struct ParamsVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> serde::de::Visitor<'de> for ParamsVisitor<'a> {
    type Value = Params<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a ticker or index notification's params")
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Params<'a>, M::Error> {
        use serde::de::Error;
        let (mut kind, mut data) = (None, None);
        // Keys and channel borrowed (an escaped one fails, and the line
        // goes the general way).
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "channel" if kind.is_none() => {
                    let channel: &'de str = map.next_value()?;
                    kind = Some(match channel.split('.').next() {
                        Some("ticker" | "incremental_ticker") => Kind::Ticker,
                        Some("deribit_price_index") => Kind::Index,
                        _ => return Err(M::Error::custom("not a hot channel")),
                    });
                }
                "data" if data.is_none() => {
                    data = Some(match kind {
                        Some(Kind::Ticker) => Data::Ticker(map.next_value()?),
                        Some(Kind::Index) => Data::Index(map.next_value()?),
                        None => return Err(M::Error::custom("data before channel")),
                    });
                }
                "channel" | "data" => return Err(M::Error::custom("duplicate key")),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let data = data.ok_or_else(|| M::Error::custom("no data"))?;
        Ok(Params { data })
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Ticker,
    Index,
}

#[derive(Deserialize)]
struct Ticker<'a> {
    #[serde(borrow)]
    instrument_name: Cow<'a, str>,
    settlement_price: Option<f64>,
    mark_price: Option<f64>,
    mark_iv: Option<f64>,
    underlying_price: Option<f64>,
    index_price: Option<f64>,
    timestamp: Option<i64>,
}

#[derive(Deserialize)]
struct Index<'a> {
    #[serde(borrow)]
    index_name: Cow<'a, str>,
    price: f64,
    timestamp: i64,
}

/// The line's events, when it is a well-formed ticker or index
/// notification received (None: read it the general way).
pub fn parse(line: &str) -> Option<HotLine<'_>> {
    let l: Line = serde_json::from_str(line).ok()?;
    if l.dir != "in" || l.msg.method != "subscription" || l.msg.id.is_some() {
        return None;
    }
    let events = match l.msg.params.data {
        Data::Ticker(d) => ticker_events(TickerFields {
            instrument_name: d.instrument_name,
            settlement_price: d.settlement_price,
            mark_price: d.mark_price,
            mark_iv: d.mark_iv,
            underlying_price: d.underlying_price,
            index_price: d.index_price,
            timestamp: d.timestamp.map(Ok),
        })
        .ok()?,
        Data::Index(d) if d.price.is_finite() => vec![Event::Index {
            index_name: clean_text(&d.index_name).into_owned(),
            price: d.price,
            timestamp: d.timestamp,
        }],
        Data::Index(_) => return None,
    };
    Some(HotLine {
        t: l.t,
        acct: l.acct.unwrap_or(Cow::Borrowed("default")),
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::deribit::normalize;
    use crate::exchange::recording::{Dir, RecordLine};

    /// What the general path makes of a line: (t, acct, events), None when
    /// it is no entry or its message fails to read.
    fn general(line: &str) -> Option<(i64, String, Vec<Event>)> {
        let e = RecordLine::parse(line)?;
        if e.dir != Dir::In {
            return None;
        }
        let events = normalize(&e.msg, None).ok()?;
        Some((e.t, e.acct, events))
    }

    fn fast(line: &str) -> Option<(i64, String, Vec<Event>)> {
        parse(line).map(|h| (h.t, h.acct.into_owned(), h.events))
    }

    fn wrap(msg: &str) -> String {
        format!(r#"{{"t":1700000000000,"dir":"in","acct":"desk-a","msg":{msg}}}"#)
    }

    /// Every line the fast path takes reads the same as on the general path.
    fn agree_on(lines: &str) -> usize {
        let mut taken = 0;
        for line in lines.lines() {
            if let Some(f) = fast(line) {
                assert_eq!(Some(&f), general(line).as_ref(), "{line}");
                taken += 1;
            }
        }
        taken
    }

    #[test]
    fn recordings_read_the_same_on_both_paths() {
        let dir = env!("CARGO_MANIFEST_DIR");
        for (file, least) in [
            ("tests/fixtures/speed/desk_12x20.jsonl", 400),
            ("config/samples/deribit_2026-01-01.jsonl", 10),
            ("config/samples/deribit_2022-06-02.jsonl", 6),
        ] {
            let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
            let taken = agree_on(&text);
            assert!(taken >= least, "{file}: {taken} lines on the fast path");
        }
    }

    #[test]
    fn verbatim_deribit_notifications_read_the_same_on_both_paths() {
        let dir = env!("CARGO_MANIFEST_DIR");
        let mut taken = 0;
        for name in [
            "ticker_option_100ms",
            "ticker_future_100ms",
            "ticker_perpetual_100ms_2022",
            "ticker_perpetual_100ms_2025",
            "incremental_ticker_change",
            "incremental_ticker_snapshot",
            "deribit_price_index_btc_usd",
        ] {
            let path = format!("{dir}/tests/fixtures/deribit/{name}.json");
            let msg = std::fs::read_to_string(path).unwrap();
            let line = wrap(
                &serde_json::from_str::<serde_json::Value>(&msg)
                    .unwrap()
                    .to_string(),
            );
            taken += agree_on(&line);
        }
        assert_eq!(taken, 7);
    }

    #[test]
    fn what_the_fast_path_does_not_fully_understand_goes_the_general_way() {
        let tick = r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"instrument_name":"BTC-PERPETUAL","mark_price":50000.5,"index_price":49990,"timestamp":1700000000000}}}"#;
        assert!(fast(&wrap(tick)).is_some());
        let general_only = [
            // A request sent, a response, an id on a notification.
            wrap(tick).replace(r#""dir":"in""#, r#""dir":"out""#),
            wrap(r#"{"jsonrpc":"2.0","id":7,"result":{"index_price":50000}}"#),
            wrap(&tick.replace(r#""jsonrpc":"2.0""#, r#""id":3"#)),
            // A field of an unexpected type, a duplicate key, a mark without a time.
            wrap(&tick.replace("50000.5", r#""50000.5""#)),
            wrap(&tick.replace(r#""index_price":49990"#, r#""mark_price":1"#)),
            wrap(&tick.replace(r#","timestamp":1700000000000"#, "")),
            // An escaped key, data before its channel.
            wrap(&tick.replace(r#""channel""#, r#""chann\u0065l""#)),
            wrap(
                r#"{"method":"subscription","params":{"data":{"index_name":"btc_usd","price":1,"timestamp":2},"channel":"deribit_price_index.btc_usd"}}"#,
            ),
            // Another channel, a non-integer local time.
            wrap(&tick.replace("ticker.BTC", "book.BTC")),
            wrap(tick).replace("1700000000000,", "1.5,"),
        ];
        for line in &general_only {
            assert_eq!(fast(line), None, "{line}");
        }
        // Where the general path reads them, the two agree on the rest.
        let odd = [
            wrap(&tick.replace("BTC-PERPETUAL\",\"mark", "BTC-PERP\\u001b[2J\",\"mark")),
            wrap(tick).replace(r#""acct":"desk-a""#, r#""acct":null"#),
            wrap(&tick.replace(r#""index_price":49990"#, r#""index_price":null"#)),
            wrap(&tick.replace(r#""mark_price":50000.5,"#, "")),
        ];
        for line in &odd {
            assert_eq!(agree_on(line), 1, "{line}");
        }
        assert_eq!(fast(&odd[0]).unwrap().2.len(), 1);
        assert_eq!(fast(&odd[1]).unwrap().1, "default");
    }
}

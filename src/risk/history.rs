//! Daily closes of the risk factors' sources: each coin's price and each
//! coin's volatility index, by UTC day. The shipped series are compiled
//! in (`history/README.md` says where they come from); live mode may add
//! newer days fetched from the exchange.

use crate::model::instrument::{civil, days_from_civil};
use std::collections::BTreeMap;

/// Days since 1970-01-01 (UTC).
pub type Day = i32;

const MS_PER_DAY: i64 = 86_400_000;

/// The UTC day of an epoch-ms time.
pub fn day_of(ms: i64) -> Day {
    ms.div_euclid(MS_PER_DAY) as Day
}

/// Which series a close belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Series {
    /// A coin's price in USD ("BTC").
    Price(String),
    /// A coin's volatility index, in vol points ("BTC" → DVOL).
    Vol(String),
}

/// Where the history came from, for the screen and the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    #[default]
    Shipped,
    /// Shipped, extended with days fetched from the exchange.
    Fetched,
}

#[derive(Clone, Debug, PartialEq)]
pub struct History {
    pub series: BTreeMap<Series, BTreeMap<Day, f64>>,
    pub origin: Origin,
}

const BTC_CSV: &str = include_str!("history/binance_btcusdt_1d_2017_2026.csv");
const ETH_CSV: &str = include_str!("history/binance_ethusdt_1d_2017_2026.csv");
const BTC_DVOL_CSV: &str = include_str!("history/deribit_dvol_btc_daily_2021_2026.csv");

impl History {
    /// The history compiled into the binary.
    pub fn shipped() -> History {
        let mut series = BTreeMap::new();
        // The shipped files are part of the source: a bad line is a build
        // mistake the tests catch, so it is skipped rather than fatal here.
        series.insert(Series::Price("BTC".into()), closes(BTC_CSV, "close").0);
        series.insert(Series::Price("ETH".into()), closes(ETH_CSV, "close").0);
        series.insert(
            Series::Vol("BTC".into()),
            closes(BTC_DVOL_CSV, "dvol_close").0,
        );
        History {
            series,
            origin: Origin::Shipped,
        }
    }

    pub fn get(&self, s: &Series) -> Option<&BTreeMap<Day, f64>> {
        self.series.get(s)
    }

    /// Add days (from the exchange, or its cache); a day already known
    /// keeps its close, so that the shipped history never changes.
    pub fn extend(&mut self, s: Series, days: impl IntoIterator<Item = (Day, f64)>) {
        let closes = self.series.entry(s).or_default();
        let before = closes.len();
        for (d, v) in days {
            if v.is_finite() && v > 0.0 {
                closes.entry(d).or_insert(v);
            }
        }
        if closes.len() > before {
            self.origin = Origin::Fetched;
        }
    }
}

/// The closes of a CSV with a `date`/`timestamp` column first and the
/// column `field`; the lines that could not be read, by number.
pub fn closes(csv: &str, field: &str) -> (BTreeMap<Day, f64>, Vec<usize>) {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let Some(col) = header.iter().position(|h| h.trim() == field) else {
        return (BTreeMap::new(), vec![1]);
    };
    let mut out = BTreeMap::new();
    let mut bad = Vec::new();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let day = cells.first().and_then(|d| parse_date(d));
        let value = (cells.get(col)).and_then(|v| v.trim().parse::<f64>().ok());
        match (day, value) {
            (Some(d), Some(v)) if v.is_finite() && v > 0.0 => {
                out.insert(d, v);
            }
            _ if line.trim().is_empty() => {}
            _ => bad.push(i + 2),
        }
    }
    (out, bad)
}

/// "2024-03-01" (anything after the date is ignored) → its day number.
pub fn parse_date(s: &str) -> Option<Day> {
    let s = s.trim();
    let (y, m, d) = (s.get(0..4)?, s.get(5..7)?, s.get(8..10)?);
    if s.get(4..5)? != "-" || s.get(7..8)? != "-" {
        return None;
    }
    let (y, m, d) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| days_from_civil(y, m, d) as Day)
}

/// The date of a day number, "YYYY-MM-DD".
pub fn date(day: Day) -> String {
    let (y, m, d) = civil(i64::from(day));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_match_unix_time() {
        // 2022-09-30 08:00 UTC is 1,664,524,800,000 ms.
        let day = day_of(1_664_524_800_000);
        assert_eq!(date(day), "2022-09-30");
        assert_eq!(parse_date("2022-09-30"), Some(day));
        assert_eq!(parse_date("1970-01-01 00:00:00"), Some(0));
        assert_eq!(date(-1), "1969-12-31");
        assert_eq!(
            parse_date("2024-02-29"),
            Some(parse_date("2024-03-01").unwrap() - 1)
        );
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("garbage"), None);
    }

    #[test]
    fn the_shipped_files_are_read_whole() {
        for (csv, field, rows) in [
            (BTC_CSV, "close", 3064),
            (ETH_CSV, "close", 3064),
            (BTC_DVOL_CSV, "dvol_close", 1767),
        ] {
            let (closes, bad) = closes(csv, field);
            assert!(bad.is_empty(), "{bad:?}");
            assert_eq!(closes.len(), rows);
        }
        let h = History::shipped();
        let btc = h.get(&Series::Price("BTC".into())).unwrap();
        assert_eq!(btc[&parse_date("2017-08-17").unwrap()], 4285.08);
        let dvol = h.get(&Series::Vol("BTC".into())).unwrap();
        assert_eq!(dvol[&parse_date("2022-11-09").unwrap()], 114.72);
    }

    #[test]
    fn bad_lines_are_named_not_fatal() {
        let (c, bad) = closes(
            "date,close\n2024-01-01,5\nnope,1\n2024-01-02,NaN\n",
            "close",
        );
        assert_eq!(c.len(), 1);
        assert_eq!(bad, vec![3, 4]);
    }
}

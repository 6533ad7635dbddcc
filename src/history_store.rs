//! The risk factors' history in live mode: the shipped closes, the days
//! fetched before (cached in the platform's cache directory), and the days
//! since, fetched from the exchange's public API up to yesterday. `report`
//! and `check --replay` never come here: they use the shipped history.

use crate::exchange::deribit::history::fetch;
use crate::risk::history::{date, day_of, parse_date, Day, History, Series};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Coins whose history is kept.
const COINS: [&str; 2] = ["BTC", "ETH"];

/// The cache file: `history.csv` in the platform's cache directory.
pub fn cache_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "margintop").map(|d| d.cache_dir().join("history.csv"))
}

fn series_name(s: &Series) -> (&'static str, &str) {
    match s {
        Series::Price(c) => ("price", c),
        Series::Vol(c) => ("vol", c),
    }
}

/// Add the cached days to `h` (a missing file is no error); the number of
/// lines that could not be read.
pub fn load(h: &mut History, path: &Path) -> Result<usize, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut bad = 0;
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let parsed = match c[..] {
            [kind, coin, day, close] => {
                let series = match kind {
                    "price" => Some(Series::Price(coin.to_string())),
                    "vol" => Some(Series::Vol(coin.to_string())),
                    _ => None,
                };
                series.zip(parse_date(day)).zip(close.parse::<f64>().ok())
            }
            _ => None,
        };
        match parsed {
            Some(((s, d), v)) => h.extend(s, [(d, v)]),
            None => bad += 1,
        }
    }
    Ok(bad)
}

/// Write the days of `h` that `shipped` lacks to `path`.
pub fn save(h: &History, shipped: &History, path: &Path) -> Result<(), String> {
    let mut out = String::from("series,coin,date,close\n");
    for (s, closes) in &h.series {
        let known = shipped.get(s);
        let (kind, coin) = series_name(s);
        for (d, v) in closes {
            if known.is_none_or(|k| !k.contains_key(d)) {
                out.push_str(&format!("{kind},{coin},{},{v}\n", date(*d)));
            }
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    // Written aside and renamed: a crash never leaves half a file.
    let tmp = path.with_extension("csv.tmp");
    std::fs::write(&tmp, out).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The shipped history with the cached days, extended from the exchange at
/// `url` up to the day before `now_ms`; the cache is updated. On a network
/// failure, what could be had, and why the rest could not.
pub async fn refresh(url: &str, now_ms: i64, path: Option<&Path>) -> (History, Option<String>) {
    let shipped = History::shipped();
    let mut h = shipped.clone();
    let mut problem = None;
    if let Some(p) = path {
        if let Err(e) = load(&mut h, p) {
            problem = Some(e);
        }
    }
    let today = day_of(now_ms);
    let from = last_common_day(&h).map_or(today - 1, |d| d + 1);
    if from < today {
        match fetch(url, &COINS, from, today - 1, Duration::from_secs(20)).await {
            Ok(series) => {
                for (s, closes) in series {
                    // Today's candle is still open: not a close.
                    h.extend(s, closes.into_iter().filter(|(d, _)| *d < today));
                }
                if let Some(p) = path {
                    if let Err(e) = save(&h, &shipped, p) {
                        problem = Some(e);
                    }
                }
            }
            Err(e) => problem = Some(format!("history not extended: {e}")),
        }
    }
    (h, problem)
}

/// The last day every kept coin's price has a close on.
fn last_common_day(h: &History) -> Option<Day> {
    (COINS.iter())
        .map(|c| {
            h.get(&Series::Price(c.to_string()))?
                .keys()
                .next_back()
                .copied()
        })
        .min()
        .flatten()
}

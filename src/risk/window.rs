//! The risk factors a desk needs and their moves over the history window
//! (docs/risk.md §1): one price factor per index held, named after the index,
//! then one volatility factor per index (`<index>.iv`); the window is the
//! most recent days on which every factor has a move.

use super::history::{Day, History, Series};
use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq)]
pub struct Factor {
    /// "btc_usd", or "btc_usd.iv".
    pub name: String,
    /// The index the factor moves.
    pub index: String,
    pub series: Series,
    /// A volatility factor borrowed from another coin's series (there is
    /// no volatility index of this coin).
    pub proxy: bool,
}

impl Factor {
    pub fn is_vol(&self) -> bool {
        matches!(self.series, Series::Vol(_))
    }
}

/// The coin an index follows: "btc_usd" and "btc_usdc" → "BTC".
pub fn coin_of(index: &str) -> String {
    index
        .split('_')
        .next()
        .unwrap_or(index)
        .to_ascii_uppercase()
}

/// The coin whose volatility index stands in when a coin has none.
const VOL_PROXY: &str = "BTC";

/// The factors of `indices` in the order of docs/risk.md §1 (prices sorted by
/// name, then the vols in the same order), and the indices left out for
/// want of a price history.
pub fn factors(indices: &BTreeSet<String>, history: &History) -> (Vec<Factor>, Vec<String>) {
    let mut missing = Vec::new();
    let priced: Vec<&String> = (indices.iter())
        .filter(|i| {
            let known = history.get(&Series::Price(coin_of(i))).is_some();
            if !known {
                missing.push(i.to_string());
            }
            known
        })
        .collect();
    let prices = priced.iter().map(|i| Factor {
        name: i.to_string(),
        index: i.to_string(),
        series: Series::Price(coin_of(i)),
        proxy: false,
    });
    let vols = priced.iter().map(|i| {
        let own = Series::Vol(coin_of(i));
        let proxy = history.get(&own).is_none();
        Factor {
            name: format!("{i}.iv"),
            index: i.to_string(),
            series: if proxy {
                Series::Vol(VOL_PROXY.into())
            } else {
                own
            },
            proxy,
        }
    });
    (prices.chain(vols).collect(), missing)
}

/// The factors' moves over the window.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub factors: Vec<Factor>,
    /// The days `d` of the moves, oldest first.
    pub days: Vec<Day>,
    /// `moves[t][f]`: factor `f`'s move over the `horizon` days to `days[t]`
    /// (log return for a price, relative change for a vol).
    pub moves: Vec<Vec<f64>>,
    pub horizon: u32,
}

impl Window {
    pub fn len(&self) -> usize {
        self.days.len()
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// The position of a factor by name.
    pub fn factor(&self, name: &str) -> Option<usize> {
        self.factors.iter().position(|f| f.name == name)
    }
}

/// The `days` most recent days before `as_of` on which every factor has a
/// close on the day and `horizon` days before it (no filling).
pub fn window(
    history: &History,
    factors: &[Factor],
    as_of: Day,
    days: usize,
    horizon: u32,
) -> Window {
    let h = horizon.max(1) as Day;
    let series: Vec<_> = (factors.iter())
        .map(|f| history.get(&f.series))
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    let mut picked: Vec<(Day, Vec<f64>)> = Vec::new();
    if series.len() == factors.len() && !factors.is_empty() {
        // Walk back from the day before as-of over the first factor's days.
        for (&d, _) in series[0].range(..as_of).rev() {
            if picked.len() == days {
                break;
            }
            let moves: Option<Vec<f64>> = (factors.iter().zip(&series))
                .map(|(f, s)| {
                    let (now, then) = (s.get(&d)?, s.get(&(d - h))?);
                    Some(match f.is_vol() {
                        true => now / then - 1.0,
                        false => (now / then).ln(),
                    })
                })
                .collect();
            picked.extend(moves.map(|m| (d, m)));
        }
    }
    picked.reverse();
    let (days, moves) = picked.into_iter().unzip();
    Window {
        factors: factors.to_vec(),
        days,
        moves,
        horizon: h as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::history::{parse_date, Origin};
    use std::collections::BTreeMap;

    fn history(btc: &[(Day, f64)], dvol: &[(Day, f64)]) -> History {
        let mut series = BTreeMap::new();
        series.insert(Series::Price("BTC".into()), btc.iter().copied().collect());
        series.insert(Series::Price("ETH".into()), btc.iter().copied().collect());
        series.insert(Series::Vol("BTC".into()), dvol.iter().copied().collect());
        History {
            series,
            origin: Origin::Shipped,
        }
    }

    #[test]
    fn factors_are_prices_by_name_then_vols_and_eth_borrows_btcs_vol() {
        let idx: BTreeSet<String> = ["eth_usd", "btc_usd", "sol_usdc"].map(String::from).into();
        let (f, missing) = factors(&idx, &History::shipped());
        let names: Vec<&str> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["btc_usd", "eth_usd", "btc_usd.iv", "eth_usd.iv"]);
        assert_eq!(missing, ["sol_usdc"]);
        assert!(f[3].proxy && !f[2].proxy);
        assert_eq!(f[3].series, Series::Vol("BTC".into()));
    }

    #[test]
    fn the_window_skips_days_a_factor_lacks_and_ends_before_as_of() {
        // Prices on days 0..=6, the vol missing on day 3.
        let btc: Vec<(Day, f64)> = (0..7).map(|d| (d, 100.0 + d as f64)).collect();
        let dvol: Vec<(Day, f64)> = [0, 1, 2, 4, 5, 6].map(|d| (d, 50.0 + d as f64)).into();
        let h = history(&btc, &dvol);
        let idx: BTreeSet<String> = ["btc_usd".to_string()].into();
        let (f, _) = factors(&idx, &h);
        let w = window(&h, &f, 6, 10, 1);
        // Day 6 is as-of (excluded); days 3 and 4 lack a vol on d or d − 1.
        assert_eq!(w.days, vec![1, 2, 5]);
        assert!((w.moves[2][0] - (105.0f64 / 104.0).ln()).abs() < 1e-15);
        assert!((w.moves[2][1] - (55.0 / 54.0 - 1.0)).abs() < 1e-15);
        // The most recent `days` only.
        assert_eq!(window(&h, &f, 6, 2, 1).days, vec![2, 5]);
        // Two-day moves overlap; day 5 would need the vol of day 3.
        let w2 = window(&h, &f, 7, 10, 2);
        assert_eq!(w2.days, vec![2, 4, 6]);
        assert!((w2.moves[2][0] - (106.0f64 / 104.0).ln()).abs() < 1e-15);
    }

    #[test]
    fn the_shipped_window_says_its_dates() {
        let idx: BTreeSet<String> = ["btc_usd".to_string()].into();
        let h = History::shipped();
        let (f, _) = factors(&idx, &h);
        let w = window(&h, &f, parse_date("2026-01-06").unwrap(), 1000, 1);
        assert_eq!(w.len(), 1000);
        assert_eq!(*w.days.last().unwrap(), parse_date("2026-01-05").unwrap());
    }
}

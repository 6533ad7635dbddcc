//! Books revalued in every scenario (docs/risk.md §2): full Black-76
//! revaluation, no time step. Each instrument is priced once per scenario,
//! per unit of size, and the table is shared by every book that holds it.

use super::scenarios::Scenarios;
use super::window::Factor;
use crate::margin::account::Instruments;
use crate::model::market::MarketState;
use crate::model::valuation::{resolve, Repricer, Shock};
use std::collections::{BTreeMap, BTreeSet};

/// One unit's P&L of each instrument in each scenario, in the instrument's
/// settlement currency.
#[derive(Clone, Debug, Default)]
pub struct PnlTable {
    pub rows: BTreeMap<String, Vec<f64>>,
    /// Instruments that could not be priced, and why.
    pub unpriced: BTreeMap<String, String>,
}

/// Each factor's moves across the scenarios, with what every instrument
/// on it shares: a price factor's growth e^r, a vol factor's multiplier
/// max(1 + v, 0.01). Computed once per scenario set, not per instrument.
struct Columns {
    log: Vec<Vec<f64>>,
    shared: Vec<Vec<f64>>,
}

impl Columns {
    fn new(factors: &[Factor], scenarios: &Scenarios) -> Columns {
        let log: Vec<Vec<f64>> = (0..factors.len())
            .map(|f| scenarios.iter().map(|x| x[f]).collect())
            .collect();
        let shared = (factors.iter().zip(&log))
            .map(|(f, col)| match f.is_vol() {
                true => col.iter().map(|v| (1.0 + v).max(0.01)).collect(),
                false => col.iter().map(|r| r.exp()).collect(),
            })
            .collect();
        Columns { log, shared }
    }
}

/// Price every instrument of `names` in every scenario.
pub fn price_table(
    names: &BTreeSet<String>,
    instruments: &Instruments,
    market: &MarketState,
    now_ms: i64,
    factors: &[Factor],
    scenarios: &Scenarios,
) -> PnlTable {
    let columns = Columns::new(factors, scenarios);
    let mut table = PnlTable::default();
    for name in names {
        match unit_pnls(name, instruments, market, now_ms, factors, &columns) {
            Ok(row) => {
                table.rows.insert(name.clone(), row);
            }
            Err(why) => {
                table.unpriced.insert(name.clone(), why);
            }
        }
    }
    table
}

fn unit_pnls(
    name: &str,
    instruments: &Instruments,
    market: &MarketState,
    now_ms: i64,
    factors: &[Factor],
    columns: &Columns,
) -> Result<Vec<f64>, String> {
    let inst =
        (instruments.get(name)).ok_or_else(|| format!("{name} is not a known instrument"))?;
    let at = |n: &str| factors.iter().position(|f| f.name == n);
    let price =
        at(&inst.index_name).ok_or_else(|| format!("no price history for {}", inst.index_name))?;
    let vol = at(&format!("{}.iv", inst.index_name));
    let r = resolve(inst, market, now_ms, Shock::NONE)?;
    let unit = Repricer::new(inst, &r);
    let (log, growth) = (&columns.log[price], &columns.shared[price]);
    Ok(match vol {
        Some(v) => (log.iter().zip(growth).zip(&columns.shared[v]))
            .map(|((lr, g), m)| unit.pnl_grown(*lr, *g, r.sigma * m))
            .collect(),
        None => (log.iter().zip(growth))
            .map(|(lr, g)| unit.pnl_grown(*lr, *g, r.sigma))
            .collect(),
    })
}

/// A book to revalue: positions held constant, cash unchanged in its own
/// currency.
#[derive(Clone, Debug)]
pub struct Book {
    pub currency: String,
    /// (instrument, size).
    pub positions: Vec<(String, f64)>,
    /// Equity now, in `currency`.
    pub equity: f64,
}

/// Coins whose USD value does not move in a scenario.
pub fn is_stable(currency: &str) -> bool {
    matches!(currency, "USD" | "USDC" | "USDT")
}

/// The index that prices a coin account's collateral in USD.
pub fn usd_index(currency: &str) -> String {
    format!("{}_usd", currency.to_ascii_lowercase())
}

/// A position's unit P&L row, or why it has none.
pub fn row<'a>(table: &'a PnlTable, name: &str) -> Result<&'a [f64], String> {
    match (table.rows.get(name), table.unpriced.get(name)) {
        (Some(row), _) => Ok(row),
        (None, Some(why)) => Err(why.clone()),
        (None, None) => Err(format!("{name} was not priced")),
    }
}

/// The book's P&L in each scenario, in its currency.
pub fn book_pnl(book: &Book, table: &PnlTable, n: usize) -> Result<Vec<f64>, String> {
    let mut total = vec![0.0; n];
    for (name, size) in &book.positions {
        for (t, u) in total.iter_mut().zip(row(table, name)?) {
            *t += size * u;
        }
    }
    Ok(total)
}

/// The book's P&L in USD: a coin's equity is revalued with its index,
/// `(E0 + P&L) × I × e^r − E0 × I`; a stable coin's P&L is USD already.
pub fn usd_pnl(
    book: &Book,
    pnl: &[f64],
    market: &MarketState,
    factors: &[Factor],
    scenarios: &Scenarios,
) -> Result<Vec<f64>, String> {
    if is_stable(&book.currency) {
        return Ok(pnl.to_vec());
    }
    let index = usd_index(&book.currency);
    let f = (factors.iter().position(|f| f.name == index))
        .ok_or_else(|| format!("no price history for {index}"))?;
    let i = (market.index(&index))
        .filter(|p| p.is_finite() && *p > 0.0)
        .ok_or_else(|| format!("no {index} price"))?;
    let e0 = book.equity;
    Ok((pnl.iter().zip(scenarios))
        .map(|(p, x)| (e0 + p) * i * x[f].exp() - e0 * i)
        .collect())
}

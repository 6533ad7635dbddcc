//! Books revalued in every scenario (docs/risk.md §2): full Black-76
//! revaluation, no time step. Each instrument is priced once per scenario,
//! per unit of size, and added into every book that holds it; its row is
//! not kept (for a desk that would be every instrument × 10,000 paths).

use super::scenarios::Scenarios;
use super::window::Factor;
use crate::margin::account::Instruments;
use crate::model::market::MarketState;
use crate::model::valuation::{resolve, Repricer, Shock};
use crate::pricing::lanes::{call_and_put_values, values, Inputs, Moves};
use crate::pricing::OptionType;
use std::collections::{BTreeMap, BTreeSet};

/// An instrument resolved at the pricing time, with the factors it moves
/// with: its price factor and, for options, its vol factor when there is one.
#[derive(Clone, Copy, Debug)]
struct Unit {
    repricer: Repricer,
    price: usize,
    vol: Option<usize>,
}

/// Every instrument the books hold, resolved once for all scenario sets,
/// or why it cannot be priced.
pub struct Units(BTreeMap<String, Result<Unit, String>>);

impl Units {
    pub fn new(
        names: &BTreeSet<String>,
        instruments: &Instruments,
        market: &MarketState,
        now_ms: i64,
        factors: &[Factor],
    ) -> Units {
        let unit = |name: &str| -> Result<Unit, String> {
            let inst = (instruments.get(name))
                .ok_or_else(|| format!("{name} is not a known instrument"))?;
            let at = |n: &str| factors.iter().position(|f| f.name == n);
            let price = at(&inst.index_name)
                .ok_or_else(|| format!("no price history for {}", inst.index_name))?;
            let vol = at(&format!("{}.iv", inst.index_name));
            let r = resolve(inst, market, now_ms, Shock::NONE)?;
            let repricer = Repricer::new(inst, &r);
            Ok(Unit {
                repricer,
                price,
                vol,
            })
        };
        Units(names.iter().map(|n| (n.clone(), unit(n))).collect())
    }

    fn get(&self, name: &str) -> Result<&Unit, String> {
        match self.0.get(name) {
            Some(Ok(unit)) => Ok(unit),
            Some(Err(why)) => Err(why.clone()),
            None => Err(format!("{name} was not priced")),
        }
    }
}

/// Each factor's moves across one scenario set, with what every
/// instrument on it shares: a price factor's growth e^r, a vol factor's
/// multiplier max(1 + v, 0.01), and their reciprocals. Computed once per
/// scenario set, not per instrument.
pub struct Columns {
    log: Vec<Vec<f64>>,
    shared: Vec<Vec<f64>>,
    inverse: Vec<Vec<f64>>,
    /// The vol multiplier of an instrument without a vol factor.
    ones: Vec<f64>,
}

impl Columns {
    pub fn new(factors: &[Factor], scenarios: &Scenarios) -> Columns {
        let log: Vec<Vec<f64>> = (0..factors.len())
            .map(|f| scenarios.iter().map(|x| x[f]).collect())
            .collect();
        let shared: Vec<Vec<f64>> = (factors.iter().zip(&log))
            .map(|(f, col)| match f.is_vol() {
                true => col.iter().map(|v| (1.0 + v).max(0.01)).collect(),
                false => col.iter().map(|r| r.exp()).collect(),
            })
            .collect();
        let inverse = (shared.iter())
            .map(|col| col.iter().map(|x| 1.0 / x).collect())
            .collect();
        let ones = vec![1.0; scenarios.len()];
        Columns {
            log,
            shared,
            inverse,
            ones,
        }
    }

    pub fn len(&self) -> usize {
        self.ones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ones.is_empty()
    }

    fn moves(&self, unit: &Unit) -> Moves<'_> {
        let (p, vol) = (unit.price, unit.vol);
        Moves {
            log: &self.log[p],
            grown: &self.shared[p],
            inv_grown: &self.inverse[p],
            vol: vol.map_or(&self.ones, |v| &self.shared[v]),
            inv_vol: vol.map_or(&self.ones, |v| &self.inverse[v]),
        }
    }

    /// The same moves in the scenarios `picked` only.
    pub fn picked(&self, picked: &[usize]) -> Columns {
        let pick = |cols: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
            (cols.iter())
                .map(|c| picked.iter().map(|&i| c[i]).collect())
                .collect()
        };
        Columns {
            log: pick(&self.log),
            shared: pick(&self.shared),
            inverse: pick(&self.inverse),
            ones: vec![1.0; picked.len()],
        }
    }
}

/// Each book's P&L in each scenario, in its currency, or why it has none
/// (the first of its positions that cannot be priced). Every instrument
/// is priced once and added into each book that holds it.
pub fn book_pnls(
    units: &Units,
    columns: &Columns,
    books: &[&Book],
) -> Vec<Result<Vec<f64>, String>> {
    let mut out: Vec<Result<Vec<f64>, String>> = (books.iter())
        .map(
            |b| match b.positions.iter().find_map(|(n, _)| units.get(n).err()) {
                Some(why) => Err(why),
                None => Ok(vec![0.0; columns.len()]),
            },
        )
        .collect();
    let mut holders: BTreeMap<&str, Vec<(usize, f64)>> = BTreeMap::new();
    for (i, b) in books.iter().enumerate().filter(|(i, _)| out[*i].is_ok()) {
        for (name, size) in &b.positions {
            holders.entry(name).or_default().push((i, *size));
        }
    }
    let mut rows = Rows::new(columns.len());
    for group in groups(units, holders.keys().copied()) {
        rows.price(units, columns, &group, |name, row| {
            for (i, size) in &holders[name] {
                if let Ok(total) = &mut out[*i] {
                    total.iter_mut().zip(row).for_each(|(t, u)| *t += size * u);
                }
            }
        });
    }
    out
}

/// Instruments priced together: options on the same factors, forward,
/// strike and volatility (a call and its put, inverse and linear) share
/// every normal tail of Black-76, so a group costs about one of them.
fn groups<'a>(units: &Units, names: impl Iterator<Item = &'a str>) -> Vec<Vec<&'a str>> {
    let mut shared: BTreeMap<[u64; 6], Vec<&str>> = BTreeMap::new();
    let mut out = Vec::new();
    for name in names {
        match units.get(name).ok().and_then(Unit::shared_key) {
            Some(key) => shared.entry(key).or_default().push(name),
            None => out.push(vec![name]),
        }
    }
    out.extend(shared.into_values());
    out
}

impl Unit {
    /// What an option priced with others must share with them.
    fn shared_key(&self) -> Option<[u64; 6]> {
        let s = self.repricer.lanes()?;
        let vol = self.vol.map_or(u64::MAX, |v| v as u64);
        let bits = [s.strike, s.forward, s.ln_fk, s.total_vol].map(f64::to_bits);
        Some([self.price as u64, vol, bits[0], bits[1], bits[2], bits[3]])
    }
}

/// Buffers reused from one instrument to the next.
struct Rows {
    calls: Vec<f64>,
    puts: Vec<f64>,
    row: Vec<f64>,
}

impl Rows {
    fn new(n: usize) -> Rows {
        Rows {
            calls: vec![0.0; n],
            puts: vec![0.0; n],
            row: vec![0.0; n],
        }
    }

    /// Each priced instrument of `group`'s unit P&L row, given to `each`.
    fn price(
        &mut self,
        units: &Units,
        columns: &Columns,
        group: &[&str],
        mut each: impl FnMut(&str, &[f64]),
    ) {
        let members: Vec<(&str, &Unit)> = (group.iter())
            .filter_map(|n| units.get(n).ok().map(|u| (*n, u)))
            .collect();
        let shared = members.first().and_then(|(_, u)| u.repricer.lanes());
        let Some(shared) = shared.filter(|_| members.len() > 1) else {
            for (name, unit) in members {
                unit.repricer.pnl_many(&columns.moves(unit), &mut self.row);
                each(name, &self.row);
            }
            return;
        };
        let moves = columns.moves(members[0].1);
        let is_call =
            |u: &Unit| u.repricer.lanes().map(|s| s.option_type) == Some(OptionType::Call);
        let calls = members.iter().any(|(_, u)| is_call(u));
        let puts = members.iter().any(|(_, u)| !is_call(u));
        match (calls, puts) {
            (true, true) => call_and_put_values(&shared, &moves, &mut self.calls, &mut self.puts),
            (true, false) => values(
                &Inputs {
                    option_type: OptionType::Call,
                    ..shared
                },
                &moves,
                &mut self.calls,
            ),
            _ => values(
                &Inputs {
                    option_type: OptionType::Put,
                    ..shared
                },
                &moves,
                &mut self.puts,
            ),
        }
        for (name, unit) in members {
            let side = if is_call(unit) {
                &self.calls
            } else {
                &self.puts
            };
            self.row.copy_from_slice(side);
            unit.repricer.pnl_from_values(&moves, &mut self.row);
            each(name, &self.row);
        }
    }
}

/// One unit's P&L of `name` in every scenario of `columns`: positions'
/// ES shares need rows that `book_pnls` does not keep (over the tail
/// scenarios only, `Columns::picked`).
pub fn unit_pnl(units: &Units, columns: &Columns, name: &str) -> Result<Vec<f64>, String> {
    let unit = units.get(name)?;
    let mut row = vec![0.0; columns.len()];
    unit.repricer.pnl_many(&columns.moves(unit), &mut row);
    Ok(row)
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

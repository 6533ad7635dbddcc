//! Value-at-Risk and Expected Shortfall over correlated risk factors
//! (docs/risk.md): how much each account, and the desk as a whole, can lose
//! over a day given how BTC, ETH and their volatilities have moved
//! together. Pure like the rest of the risk core: the history and the
//! time are passed in.
//!
//! - `history`: daily closes (shipped, or extended from the exchange);
//! - `window`: the factors a desk needs and their moves over the window;
//! - `scenarios`: HS, FHS and MC scenario sets;
//! - `revalue`: every instrument priced once per scenario, books summed;
//! - `measure`: VaR, ES and Euler contributions.

pub mod backtest;
pub mod coverage;
pub mod history;
pub mod measure;
pub mod revalue;
pub mod scenarios;
pub mod window;

use crate::margin::account::Instruments;
use crate::model::market::MarketState;
use history::{day_of, Day, History};
use measure::{contribution_over, measures, measures_and_tail, Measures};
use nalgebra::DMatrix;
use revalue::{book_pnls, unit_pnl, usd_index, usd_pnl, Book, Columns, Units};
use scenarios::{correlation, ewma_covariance, Draws, Scenarios};
use std::collections::BTreeSet;
use window::{factors, window, Factor};

/// How VaR is computed (the `[var]` section of the configuration).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Days in the history window (W).
    pub window_days: usize,
    /// The horizon h: moves over h days, overlapping.
    pub horizon_days: u32,
    /// Monte Carlo paths and their seed.
    pub paths: usize,
    pub seed: u64,
    pub draws: Draws,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            window_days: 1000,
            horizon_days: 1,
            paths: 10_000,
            seed: 1,
            draws: Draws::Normal,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Hs,
    Fhs,
    Mc,
}

pub const METHODS: [Method; 3] = [Method::Hs, Method::Fhs, Method::Mc];

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Hs => "hs",
            Method::Fhs => "fhs",
            Method::Mc => "mc",
        }
    }
}

/// An account as VaR sees it: one book, or a cross account's wallets
/// judged together in USD.
#[derive(Clone, Debug)]
pub struct Holder {
    pub label: String,
    /// The unit of its figures: its currency, "USD" for a cross account.
    pub currency: String,
    pub books: Vec<Book>,
}

impl Holder {
    fn in_usd(&self) -> bool {
        self.books.len() != 1 || self.currency == "USD"
    }
}

/// One method's figures for an account.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// In the account's currency.
    pub own: Measures,
    pub usd: Measures,
    /// Each position's share of the account's ES 97.5 % (single books).
    pub positions_es: Vec<(String, f64)>,
    /// The P&L in each scenario, in the account's currency (HS and FHS:
    /// one per window day, oldest first).
    pub pnl: Vec<f64>,
}

/// One method on the whole desk, in USD.
#[derive(Clone, Debug, PartialEq)]
pub struct DeskFigures {
    pub usd: Measures,
    /// The accounts' standalone VaRs added up: minus `usd.var_99`, the
    /// diversification benefit.
    pub sum_of_accounts_var_99_usd: f64,
    /// Each account's share of the desk's ES 97.5 %, by holder.
    pub contributions: Vec<f64>,
}

/// VaR and ES of every account and of the desk.
#[derive(Clone, Debug)]
pub struct DeskVar {
    pub settings: Settings,
    pub factors: Vec<Factor>,
    /// The window's days, oldest first.
    pub days: Vec<Day>,
    /// Correlations of the EWMA covariance, before any repair.
    pub correlation: DMatrix<f64>,
    /// Each factor's EWMA volatility of one horizon's move today (the
    /// square root of the covariance's diagonal, before any repair).
    pub volatility: Vec<f64>,
    /// The MC covariance needed a repair.
    pub repaired: bool,
    /// Indices held with no price history (their books have no VaR).
    pub missing: Vec<String>,
    pub holders: Vec<Holder>,
    /// `results[h][m]`: holder `h` under `METHODS[m]`, or why not.
    pub results: Vec<[Result<Figures, String>; 3]>,
    /// The desk under each method (None: no account could be valued).
    pub desk: [Option<DeskFigures>; 3],
}

impl DeskVar {
    /// The daily volatility of `index`'s log price today (EWMA over the
    /// window; a horizon of several days is scaled back by its square
    /// root). None: the index has no price history in the window.
    pub fn daily_sigma(&self, index: &str) -> Option<f64> {
        let f = (self.factors.iter()).position(|f| f.index == index && !f.is_vol())?;
        let sigma = self.volatility.get(f)? / f64::from(self.settings.horizon_days.max(1)).sqrt();
        (sigma.is_finite() && sigma > 0.0).then_some(sigma)
    }

    /// The holder of an account: by label and currency, or by label alone
    /// for a cross account (its figures are the account's, in USD).
    pub fn holder(&self, label: &str, currency: &str, cross: bool) -> Option<usize> {
        let currency = if cross { "USD" } else { currency };
        (self.holders.iter()).position(|h| h.label == label && h.currency == currency)
    }
}

/// The market a desk is valued at.
pub struct Market<'a> {
    pub instruments: &'a Instruments,
    pub market: &'a MarketState,
    pub now_ms: i64,
}

/// A copy of what VaR needs from the engine: every account and the market
/// of the instruments they hold.
#[derive(Clone, Debug, Default)]
pub struct DeskInputs {
    pub holders: Vec<Holder>,
    pub instruments: Instruments,
    pub market: MarketState,
    pub now_ms: i64,
}

impl DeskInputs {
    pub fn var(self, history: &History, s: Settings) -> DeskVar {
        let m = Market {
            instruments: &self.instruments,
            market: &self.market,
            now_ms: self.now_ms,
        };
        desk_var(self.holders, &m, history, s)
    }
}

/// Compute VaR and ES for every holder and the desk, with the history's
/// window ending the day before the pricing time's UTC date.
pub fn desk_var(holders: Vec<Holder>, m: &Market, history: &History, s: Settings) -> DeskVar {
    let indices = needed_indices(&holders, m.instruments);
    let (factors, missing) = factors(&indices, history);
    let w = window(
        history,
        &factors,
        day_of(m.now_ms),
        s.window_days,
        s.horizon_days,
    );
    let cov = ewma_covariance(&w);
    // Without a single day of history there is no covariance to draw from.
    let paths = if w.is_empty() { 0 } else { s.paths };
    let (mc, repaired) = scenarios::mc(&cov, paths, s.seed, s.draws);
    let sets: [Scenarios; 3] = [scenarios::hs(&w), scenarios::fhs(&w), mc];
    let names: BTreeSet<String> = (holders.iter().flat_map(|h| &h.books))
        .flat_map(|b| b.positions.iter().map(|(n, _)| n.clone()))
        .collect();
    let mut results: Vec<[Result<Figures, String>; 3]> = (0..holders.len())
        .map(|_| std::array::from_fn(|_| Err(String::new())))
        .collect();
    let mut desk: [Option<DeskFigures>; 3] = Default::default();
    let units = Units::new(&names, m.instruments, m.market, m.now_ms, &factors);
    let books: Vec<&Book> = holders.iter().flat_map(|h| &h.books).collect();
    for (k, set) in sets.iter().enumerate() {
        let columns = Columns::new(&factors, set);
        let mut pnls = book_pnls(&units, &columns, &books).into_iter();
        let mut usd_by_holder = Vec::new();
        for (h, holder) in holders.iter().enumerate() {
            let own = pnls.by_ref().take(holder.books.len()).collect();
            let (figures, usd) = match holder_pnl(holder, own, m.market, &factors, set) {
                Ok((own, usd)) => {
                    let figures = holder_figures(holder, &units, &columns, own, &usd);
                    (figures, Some(usd))
                }
                Err(e) => (Err(e), None),
            };
            results[h][k] = figures;
            usd_by_holder.push(usd);
        }
        desk[k] = desk_figures(&usd_by_holder, &results, k, set.len());
    }
    DeskVar {
        settings: s,
        correlation: correlation(&cov),
        volatility: cov.diagonal().iter().map(|v| v.max(0.0).sqrt()).collect(),
        factors,
        days: w.days,
        repaired,
        missing,
        holders,
        results,
        desk,
    }
}

/// Every index the desk's positions follow, and those that price coin
/// collateral in USD.
fn needed_indices(holders: &[Holder], instruments: &Instruments) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for b in holders.iter().flat_map(|h| &h.books) {
        if !revalue::is_stable(&b.currency) {
            out.insert(usd_index(&b.currency));
        }
        for (name, _) in &b.positions {
            out.extend(instruments.get(name).map(|i| i.index_name.clone()));
        }
    }
    out
}

/// A holder's P&L per scenario in its unit and in USD.
type HolderPnl = (Vec<f64>, Vec<f64>);

/// A holder's figures from its P&L in its unit (`own`) and in USD.
fn holder_figures(
    holder: &Holder,
    units: &Units,
    columns: &Columns,
    own: Vec<f64>,
    usd: &[f64],
) -> Result<Figures, String> {
    let none = || "no scenarios: no day of history has every factor".to_string();
    let (m, tail) = measures_and_tail(&own).ok_or_else(none)?;
    Ok(Figures {
        own: m,
        usd: measures(usd).ok_or_else(none)?,
        positions_es: positions_es(holder, units, &columns.picked(&tail)),
        pnl: own,
    })
}

/// Each position's share of a single book's ES: its mean loss over the
/// book's tail scenarios, which `tail` holds (a cross account's positions
/// are in other units than its USD figures: none).
fn positions_es(holder: &Holder, units: &Units, tail: &Columns) -> Vec<(String, f64)> {
    let Some(b) = holder.books.first().filter(|_| !holder.in_usd()) else {
        return Vec::new();
    };
    let all: Vec<usize> = (0..tail.len()).collect();
    (b.positions.iter())
        .filter_map(|(name, size)| {
            let row = unit_pnl(units, tail, name).ok()?;
            Some((name.clone(), size * contribution_over(&all, &row)))
        })
        .collect()
}

/// A holder's P&L per scenario in its unit and in USD, from each of its
/// books' P&L in the book's currency.
fn holder_pnl(
    holder: &Holder,
    books: Vec<Result<Vec<f64>, String>>,
    market: &MarketState,
    factors: &[Factor],
    set: &Scenarios,
) -> Result<HolderPnl, String> {
    let n = set.len();
    let mut own = vec![0.0; n];
    let mut usd = vec![0.0; n];
    for (b, pnl) in holder.books.iter().zip(books) {
        let pnl = pnl?;
        let in_usd = usd_pnl(b, &pnl, market, factors, set)?;
        for t in 0..n {
            usd[t] += in_usd[t];
            own[t] += pnl[t];
        }
    }
    if holder.in_usd() {
        own.clone_from(&usd);
    }
    // A price or an equity that is not known never reads as a small loss.
    if !own.iter().chain(&usd).all(|v| v.is_finite()) {
        return Err("the P&L could not be computed (equity or a price is not known)".into());
    }
    Ok((own, usd))
}

fn desk_figures(
    usd_by_holder: &[Option<Vec<f64>>],
    results: &[[Result<Figures, String>; 3]],
    k: usize,
    n: usize,
) -> Option<DeskFigures> {
    let valued: Vec<&Vec<f64>> = usd_by_holder.iter().flatten().collect();
    if valued.is_empty() || n == 0 {
        return None;
    }
    let total: Vec<f64> = (0..n).map(|t| valued.iter().map(|p| p[t]).sum()).collect();
    let (usd, tail) = measures_and_tail(&total)?;
    Some(DeskFigures {
        usd,
        sum_of_accounts_var_99_usd: (results.iter())
            .filter_map(|r| r[k].as_ref().ok())
            .map(|f| f.usd.var_99)
            .sum(),
        contributions: (usd_by_holder.iter())
            .map(|p| p.as_ref().map_or(0.0, |p| contribution_over(&tail, p)))
            .collect(),
    })
}

//! The walk-forward backtest (docs/risk.md §6): today's books held
//! constant and walked through the last T qualifying days; each day's VaR
//! from the W days before it against the book's P&L under that day's
//! moves.
//!
//! Under HS every window is a slice of one P&L series (the book under each
//! day's raw moves), so the walk costs one revaluation per day. FHS
//! rescales each window to the volatility of its own end, so every test
//! day needs W revaluations of its own: they go through the shared
//! per-instrument pricing (`revalue::book_pnls`) a batch of days at a time.
//! MC draws its paths on each test day from that window's covariance, with
//! the same seed every day (so the days differ only by their covariance).

use super::coverage::{coverage, Coverage};
use super::history::{day_of, Day, History};
use super::measure::{var, P99};
use super::revalue::{book_pnls, Book, Columns, Units};
use super::scenarios::{ewma_covariance, fhs, hs, mc, Scenarios};
use super::window::{factors, window, Factor, Window};
use super::{holder_pnl, needed_indices, Holder, Market, Method, Settings};
use std::collections::BTreeSet;

/// The methods walked, in the order of `Tracks::methods`.
pub const WALKED: [Method; 3] = [Method::Hs, Method::Fhs, Method::Mc];

/// Test days whose FHS scenarios are revalued together: large enough to
/// share each instrument's setup, small enough to keep memory bounded
/// (days × W scenarios per book).
const FHS_BATCH: usize = 25;

/// VaR confidence of the walk.
pub const ALPHA: f64 = 0.99;

/// One model's walk over an account: its VaR on each test day, and the tests.
#[derive(Clone, Debug)]
pub struct Track {
    pub var: Vec<f64>,
    pub exceptions: Vec<bool>,
    pub coverage: Coverage,
}

/// An account's walk: its P&L on each test day (in its currency) and each
/// method's track.
#[derive(Clone, Debug)]
pub struct Tracks {
    pub pnl: Vec<f64>,
    pub methods: [Track; 3],
}

#[derive(Clone, Debug)]
pub struct Walk {
    pub settings: Settings,
    /// The test days, oldest first.
    pub days: Vec<Day>,
    pub holders: Vec<Holder>,
    pub results: Vec<Result<Tracks, String>>,
}

/// Walk every holder's book over the last `test_days` qualifying days
/// before the pricing date (fewer when the history is shorter), each
/// day's VaR from the `settings.window_days` before it. `progress` hears
/// (days done, days in all).
pub fn walk(
    holders: Vec<Holder>,
    m: &Market,
    history: &History,
    s: Settings,
    test_days: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Walk, String> {
    let indices = needed_indices(&holders, m.instruments);
    // An index without history fails only the books that need it (their
    // instruments, or their coin's USD value, cannot be revalued).
    let (factors, _missing) = factors(&indices, history);
    let w = s.window_days;
    let full = window(
        history,
        &factors,
        day_of(m.now_ms),
        w + test_days,
        s.horizon_days,
    );
    if full.len() <= w || test_days == 0 {
        return Err(format!(
            "{} days of history have every factor: a backtest needs more than the {w}-day \
             window ([var] window_days)",
            full.len()
        ));
    }
    let first = full.len() - test_days.min(full.len() - w);
    let names: BTreeSet<String> = (holders.iter().flat_map(|h| &h.books))
        .flat_map(|b| b.positions.iter().map(|(n, _)| n.clone()))
        .collect();
    let units = Units::new(&names, m.instruments, m.market, m.now_ms, &factors);
    let walker = Walker {
        s,
        holders: &holders,
        units: &units,
        factors: &factors,
        m,
        full: &full,
        w,
    };
    let hs = walker.hs_series();
    // Progress counts FHS's test days, then MC's.
    let n = full.len() - first;
    let mut fhs_var = vec![Vec::new(); holders.len()];
    for start in (first..full.len()).step_by(FHS_BATCH) {
        let end = (start + FHS_BATCH).min(full.len());
        progress(start - first, 2 * n);
        for (h, vars) in walker.fhs_vars(start..end).into_iter().enumerate() {
            fhs_var[h].extend(vars);
        }
    }
    let mut mc_var = vec![Vec::with_capacity(n); holders.len()];
    for t in first..full.len() {
        progress(n + t - first, 2 * n);
        for (h, v) in walker.mc_vars(t).into_iter().enumerate() {
            mc_var[h].push(v);
        }
    }
    progress(2 * n, 2 * n);
    let results = (hs.into_iter().zip(fhs_var).zip(mc_var))
        .map(|((series, fhs_var), mc_var)| {
            let series = series?;
            let pnl = series[first..].to_vec();
            let hs_var = (first..full.len())
                .map(|t| var(&series[t - w..t], P99).unwrap_or(f64::NAN))
                .collect();
            Ok(Tracks {
                methods: [
                    track(&pnl, hs_var),
                    track(&pnl, fhs_var),
                    track(&pnl, mc_var),
                ],
                pnl,
            })
        })
        .collect();
    Ok(Walk {
        settings: s,
        days: full.days[first..].to_vec(),
        holders,
        results,
    })
}

/// A method's track from its VaRs: exception where −P&L > VaR. A VaR that
/// could not be computed (NaN) counts as an exception, never as covered.
fn track(pnl: &[f64], var: Vec<f64>) -> Track {
    let covered = |loss: f64, v: f64| loss <= v;
    let exceptions: Vec<bool> = (pnl.iter().zip(&var))
        .map(|(p, v)| !covered(-p, *v))
        .collect();
    Track {
        coverage: coverage(&exceptions, ALPHA),
        exceptions,
        var,
    }
}

struct Walker<'a> {
    s: Settings,
    holders: &'a [Holder],
    units: &'a Units,
    factors: &'a [Factor],
    m: &'a Market<'a>,
    full: &'a Window,
    /// W: the days of each VaR window.
    w: usize,
}

impl Walker<'_> {
    /// Each holder's P&L under every day of the full window, in its unit.
    fn hs_series(&self) -> Vec<Result<Vec<f64>, String>> {
        self.pnl_by_holder(&hs(self.full))
    }

    /// Each holder's FHS VaR on the test days `days` (indices in `full`).
    fn fhs_vars(&self, days: std::ops::Range<usize>) -> Vec<Vec<f64>> {
        let mut scenarios: Scenarios = Vec::with_capacity(days.len() * self.w);
        for t in days.clone() {
            scenarios.extend(fhs(&self.window_before(t)));
        }
        (self.pnl_by_holder(&scenarios).into_iter())
            .map(|series| match series {
                Ok(p) => (p.chunks(self.w))
                    .map(|day| var(day, P99).unwrap_or(f64::NAN))
                    .collect(),
                Err(_) => vec![f64::NAN; days.len()],
            })
            .collect()
    }

    /// Each holder's MC VaR on test day `t` (an index in `full`): the
    /// configured paths, from the covariance of the window before it.
    fn mc_vars(&self, t: usize) -> Vec<f64> {
        let cov = ewma_covariance(&self.window_before(t));
        let (set, _) = mc(&cov, self.s.paths, self.s.seed, self.s.draws);
        (self.pnl_by_holder(&set).into_iter())
            .map(|p| p.ok().and_then(|p| var(&p, P99)).unwrap_or(f64::NAN))
            .collect()
    }

    /// The W qualifying days before test day `t`.
    fn window_before(&self, t: usize) -> Window {
        let from = t - self.w;
        Window {
            factors: self.full.factors.clone(),
            days: self.full.days[from..t].to_vec(),
            moves: self.full.moves[from..t].to_vec(),
            horizon: self.full.horizon,
        }
    }

    fn pnl_by_holder(&self, set: &Scenarios) -> Vec<Result<Vec<f64>, String>> {
        let columns = Columns::new(self.factors, set);
        let books: Vec<&Book> = self.holders.iter().flat_map(|h| &h.books).collect();
        let mut pnls = book_pnls(self.units, &columns, &books).into_iter();
        (self.holders.iter())
            .map(|h| {
                let own = pnls.by_ref().take(h.books.len()).collect();
                holder_pnl(h, own, self.m.market, self.factors, set).map(|(own, _)| own)
            })
            .collect()
    }
}

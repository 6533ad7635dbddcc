//! The results of the background revaluations the screens draw: the open
//! account's analysis, the desk's costly columns, the instrument chain.

use super::analysis::{books_of, Analysis, DeskFigures, Done, VarBasis, VarFigures};
use super::validation::{Backtest, Basis};
use crate::engine::live::{AccountSnapshot, Snapshot};
use crate::metrics::Analysed;
use crate::model::AccountKey;
use crate::risk::history::Origin;
use crate::risk::Figures;
use std::collections::{BTreeMap, HashMap};

/// The overview's costly columns are recomputed at least this often, and
/// sooner when positions change or the index moves by `DUE_MOVE`.
const DUE_AFTER_MS: i64 = 30_000;
const DUE_MOVE: f64 = 0.01;

#[derive(Clone, Debug, Default)]
pub struct Results {
    /// The open account fully revalued (liquidation, stress, models, what-if).
    pub account: Option<Box<Analysis>>,
    /// The desk's liquidation and worst-stress columns, by account.
    pub desk: HashMap<AccountKey, DeskFigures>,
    /// Every instrument the engine knows (the what-if picker).
    pub chain: Vec<String>,
    /// The desk's VaR and ES, the latest computed.
    pub var: Option<Box<VarFigures>>,
    /// The history the next VaR run uses (fetched replaces shipped).
    pub history: Origin,
    /// The open account's backtest (validation screen).
    pub backtest: Option<Box<Backtest>>,
}

/// VaR is recomputed at least this often, and sooner when a book changes
/// or an index moves by `DUE_MOVE`.
const VAR_DUE_AFTER_MS: i64 = 60_000;

impl Results {
    /// The last analysis of `key` (None: none yet, or of another account).
    pub fn analysis_of(&self, key: &AccountKey) -> Option<&Analysis> {
        self.account.as_deref().filter(|a| &a.request.key == key)
    }

    /// Take in a finished job; an analysis of an account no longer open is dropped.
    pub fn absorb(&mut self, done: Done, open: Option<&AccountKey>) {
        match done {
            Done::Account(a) if Some(&a.request.key) == open => self.account = Some(a),
            Done::Desk(key, figures) => {
                self.desk.insert(key, *figures);
            }
            Done::Chain(names) if !names.is_empty() => self.chain = names,
            Done::Var(v) => self.var = Some(v),
            Done::Backtest(b) => self.backtest = Some(b),
            _ => {}
        }
    }

    /// An account's VaR and ES under `method` (None: not computed yet, or
    /// the account could not be revalued).
    pub fn var_of(&self, v: &AccountSnapshot, method: usize) -> Option<&Figures> {
        let d = &self.var.as_ref()?.var;
        let h = d.holder(&v.label, &v.currency, v.cross.is_some())?;
        d.results[h][method].as_ref().ok()
    }

    /// What VaR would be computed from now, when the last figures are out
    /// of date (None: they are current, or no account is complete yet).
    pub fn var_due(&self, snap: &Snapshot) -> Option<VarBasis> {
        if !snap
            .accounts
            .iter()
            .any(|v| v.complete && !v.positions.is_empty())
        {
            return None;
        }
        let now = VarBasis {
            pricing_ms: snap.pricing_ms,
            indices: snap.indices.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            books: books_of(snap),
        };
        let Some(v) = &self.var else { return Some(now) };
        let was = &v.basis;
        let moved = (now.indices.iter()).any(|(name, p)| {
            (was.indices.iter()).any(|(n, q)| n == name && (p / q - 1.0).abs() > DUE_MOVE)
        });
        let old = now.pricing_ms - was.pricing_ms > VAR_DUE_AFTER_MS;
        let newer_history = v.history != self.history;
        (moved || old || newer_history || was.books != now.books).then_some(now)
    }

    /// The backtest of `v`'s book, when the last one is of another
    /// account or book (None: it is current, or the book is not complete).
    pub fn backtest_due(&self, v: &AccountSnapshot) -> Option<Basis> {
        if !v.complete || v.positions.is_empty() {
            return None;
        }
        let now = Basis::of(v);
        match &self.backtest {
            Some(b) if b.basis == now => None,
            _ => Some(now),
        }
    }

    /// The backtest of `v`'s book as it is now (None: none yet, or of
    /// another account or book).
    pub fn backtest_of(&self, v: &AccountSnapshot) -> Option<&Backtest> {
        (self.backtest.as_deref()).filter(|b| b.basis == Basis::of(v))
    }

    /// The VaR figures are from other books or another market than the
    /// snapshot's (a recomputation is due or under way).
    pub fn var_outdated(&self, snap: &Snapshot) -> bool {
        self.var.is_some() && self.var_due(snap).is_some()
    }

    /// What the metrics endpoint shows of these results: each account's
    /// liquidation distances and worst stress (desk columns) and its HS
    /// VaR, in USD at the snapshot's rate.
    pub fn analysed(&self, snap: &Snapshot) -> BTreeMap<AccountKey, Analysed> {
        let mut out = BTreeMap::new();
        for v in &snap.accounts {
            let desk = self.desk.get(&v.key());
            let var = self.var_of(v, 0).map(|f| f.usd.var_99);
            if desk.is_none() && var.is_none() {
                continue;
            }
            let liq = desk.map(|d| &d.liquidation);
            let usd = |x: f64| v.usd_per_unit.map(|u| x * u);
            let sigma = (self.var.as_ref())
                .zip(v.index.as_ref())
                .and_then(|(f, (index, _))| f.var.daily_sigma(index));
            let a = Analysed {
                liq_down_pct: liq.and_then(|l| l.down_move).map(|m| -m * 100.0),
                liq_up_pct: liq.and_then(|l| l.up_move).map(|m| m * 100.0),
                liq_sigma: liq.zip(sigma).and_then(|(l, s)| l.nearer_in_sigmas(s)),
                worst_stress_usd: desk
                    .and_then(|d| d.worst_stress.as_ref())
                    .and_then(|w| usd(w.1)),
                var_99_usd: var,
            };
            out.insert(v.key(), a);
        }
        out
    }

    /// Accounts whose desk columns are missing or out of date.
    pub fn desk_due(&self, snap: &Snapshot) -> Vec<AccountKey> {
        snap.accounts
            .iter()
            .filter(|v| v.complete && !v.stale && !v.positions.is_empty())
            .filter(|v| {
                let Some(f) = self.desk.get(&v.key()) else {
                    return true;
                };
                let moved = match (f.index_price, v.index.as_ref()) {
                    (Some(a), Some((_, b))) => (b / a - 1.0).abs() > DUE_MOVE,
                    _ => false,
                };
                moved || f.positions != v.positions || snap.pricing_ms - f.pricing_ms > DUE_AFTER_MS
            })
            .map(|v| v.key())
            .collect()
    }
}

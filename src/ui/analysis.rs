//! Full revaluations for the screens: liquidation distance, stress, other
//! models and what-if trades, and the desk's VaR and ES. They cost
//! milliseconds per account (VaR up to a second for a large desk), so they
//! run on a blocking thread from a copy of the inputs that the engine hands
//! out (`Query::Inputs`, `Query::Var`), never on the engine's tick path nor
//! on the draw path. The revaluation itself is `margin::analysis` and
//! `risk` (pure); `Analyst` paces the jobs.

use super::revalued::Revalued;
use super::validation::{compute, Backtest, Basis};
use crate::engine::live::{Query, Snapshot};
use crate::margin::analysis::{
    analyse_account, analyse_cross, under_each_model, with_trades, ModelFigures, Trade,
};
use crate::margin::inputs::{AccountInputs, CrossInputs};
use crate::margin::liquidation::Liquidation;
use crate::margin::stress::StressScenario;
use crate::model::Position;
use crate::model::{AccountKey, Collateral};
use crate::risk::history::{History, Origin};
use crate::risk::{DeskVar, Settings};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// What the open account's screens need computed.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub key: AccountKey,
    /// Also value the book under every other model (matrix screen).
    pub compare: bool,
    /// Hypothetical trades (what-if screen); empty: none.
    pub trades: Vec<Trade>,
    /// Scenarios added from the screen, after the configured ones.
    pub custom: Vec<StressScenario>,
}

/// The book after hypothetical trades.
#[derive(Clone, Debug)]
pub struct WhatIf {
    pub after: Revalued,
    /// Trades' instruments without a quote yet (left out until one arrives).
    pub missing: Vec<String>,
}

/// One account fully revalued.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub request: Request,
    /// Pricing clock of the inputs, epoch ms.
    pub pricing_ms: i64,
    pub revalued: Revalued,
    /// Under each loaded model (when asked).
    pub models: Vec<ModelFigures>,
    pub whatif: Option<WhatIf>,
    pub took: Duration,
}

/// The overview's costly columns for one account.
#[derive(Clone, Debug, PartialEq)]
pub struct DeskFigures {
    pub liquidation: Liquidation,
    /// The scenario with the largest loss, and that P&L (account currency).
    pub worst_stress: Option<(String, f64)>,
    pub pricing_ms: i64,
    /// What the figures were computed from, to tell when they are due again.
    pub positions: Vec<Position>,
    pub index_price: Option<f64>,
}

/// Revalue the account as `req` asks, with the configured `scenarios`;
/// `wallets` are every wallet's inputs when the account is cross-collateral.
pub fn analyse(
    inputs: &AccountInputs,
    wallets: Vec<AccountInputs>,
    req: &Request,
    scenarios: &[StressScenario],
) -> Analysis {
    let start = Instant::now();
    let all: Vec<StressScenario> = scenarios.iter().chain(&req.custom).cloned().collect();
    let models = match req.compare {
        true => under_each_model(inputs),
        false => Vec::new(),
    };
    let whatif = (!req.trades.is_empty()).then(|| {
        let missing = (req.trades.iter())
            .filter(|t| !inputs.market.quotes.contains_key(&t.instrument))
            .map(|t| t.instrument.clone())
            .collect();
        // The trades land in the open wallet; a cross account is judged
        // on its totals with that wallet so changed.
        let traded = with_trades(inputs, &req.trades);
        let traded_wallets = (wallets.iter())
            .map(|w| match w.account.currency == inputs.account.currency {
                true => traded.clone(),
                false => w.clone(),
            })
            .collect();
        WhatIf {
            after: revalue(&traded, traded_wallets, &all),
            missing,
        }
    });
    Analysis {
        request: req.clone(),
        pricing_ms: inputs.now_ms,
        revalued: revalue(inputs, wallets, &all),
        models,
        whatif,
        took: start.elapsed(),
    }
}

/// The overview's liquidation and worst-stress columns for one account.
pub fn desk_figures(
    inputs: &AccountInputs,
    wallets: Vec<AccountInputs>,
    scenarios: &[StressScenario],
) -> DeskFigures {
    let revalued = revalue(inputs, wallets, scenarios);
    let worst_stress = (revalued.stress().into_iter())
        .filter_map(|s| Some((s.name, s.pnl?)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    DeskFigures {
        liquidation: revalued.liquidation().cloned().unwrap_or_default(),
        worst_stress,
        pricing_ms: inputs.now_ms,
        positions: inputs.account.positions.clone(),
        index_price: revalued.positions().first().map(|p| p.index_price),
    }
}

/// The account `inputs` belongs to, revalued: a cross account's totals
/// when `wallets` are given (every wallet, as the engine has them), else
/// the wallet's own figures.
fn revalue(
    inputs: &AccountInputs,
    wallets: Vec<AccountInputs>,
    scenarios: &[StressScenario],
) -> Revalued {
    if wallets.is_empty() {
        return match analyse_account(inputs, scenarios) {
            Some(a) => Revalued::Own(Box::new(a)),
            None => Revalued::Unknown,
        };
    }
    let each = (wallets.iter())
        .filter_map(|w| analyse_account(w, scenarios))
        .collect();
    match CrossInputs::from_wallets(wallets) {
        Some(cross) => Revalued::Cross {
            account: Box::new(analyse_cross(&cross, scenarios)),
            wallets: each,
        },
        None => Revalued::Unknown,
    }
}

/// What VaR was (or is to be) computed from, to tell when it is due again.
#[derive(Clone, Debug, PartialEq)]
pub struct VarBasis {
    pub pricing_ms: i64,
    pub indices: Vec<(String, f64)>,
    /// `books_of` the snapshot.
    pub books: u64,
}

/// The desk's VaR and ES.
#[derive(Clone, Debug)]
pub struct VarFigures {
    pub var: DeskVar,
    pub history: Origin,
    pub basis: VarBasis,
    pub took: Duration,
}

/// A fingerprint of every account's positions and completeness: VaR is
/// due again when it changes.
pub fn books_of(snap: &Snapshot) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for a in &snap.accounts {
        a.label.hash(&mut h);
        a.currency.hash(&mut h);
        // Figures computed before every quote had come are redone once it has.
        a.complete.hash(&mut h);
        for p in &a.positions {
            p.instrument.hash(&mut h);
            p.size.to_bits().hash(&mut h);
        }
    }
    h.finish()
}

/// A finished job, for the screens.
#[derive(Debug)]
pub enum Done {
    /// The desk's VaR and ES.
    Var(Box<VarFigures>),
    Account(Box<Analysis>),
    /// The account is unknown to the engine, or the engine has stopped.
    AccountGone,
    Desk(AccountKey, Box<DeskFigures>),
    /// The engine's instrument names (what-if picker).
    Chain(Vec<String>),
    /// A desk round finished (the next may start).
    DeskRound(Duration),
    /// The open account's backtest (validation screen).
    Backtest(Box<Backtest>),
}

/// Most accounts revalued in one round of the overview's columns.
const DESK_ROUND: usize = 16;

/// Starts jobs and paces them: the open account at most once a second (at
/// once when the question changes), the overview's columns in rounds that
/// use at most a tenth of a core.
pub struct Analyst {
    queries: mpsc::Sender<Query>,
    done: mpsc::UnboundedSender<Done>,
    scenarios: Arc<Vec<StressScenario>>,
    account_busy: bool,
    last_account: Option<(Request, Instant)>,
    desk_busy: bool,
    desk_next: Instant,
    chain_asked: bool,
    var: Option<(Arc<History>, Settings)>,
    var_busy: bool,
    backtest_busy: bool,
    /// A backtest's settings and test days (`VarConfig::backtest`).
    pub backtest: (Settings, usize),
}

impl Analyst {
    /// `var`: the history and settings of VaR and ES (None: not computed).
    pub fn new(
        queries: mpsc::Sender<Query>,
        scenarios: Vec<StressScenario>,
        var: Option<(Arc<History>, Settings)>,
    ) -> (Analyst, mpsc::UnboundedReceiver<Done>) {
        let (done, rx) = mpsc::unbounded_channel();
        let analyst = Analyst {
            queries,
            done,
            scenarios: Arc::new(scenarios),
            account_busy: false,
            last_account: None,
            desk_busy: false,
            desk_next: Instant::now(),
            chain_asked: false,
            var,
            var_busy: false,
            backtest_busy: false,
            backtest: crate::config::VarConfig::default().backtest(),
        };
        (analyst, rx)
    }

    /// Note a finished job (call for every `Done` received).
    pub fn finished(&mut self, done: &Done) {
        match done {
            Done::Account(_) | Done::AccountGone => self.account_busy = false,
            Done::DeskRound(took) => {
                self.desk_busy = false;
                self.desk_next = Instant::now() + (*took * 9).max(Duration::from_secs(1));
            }
            Done::Chain(names) => self.chain_asked = !names.is_empty(),
            Done::Var(_) => self.var_busy = false,
            Done::Backtest(_) => self.backtest_busy = false,
            Done::Desk(..) => {}
        }
    }

    /// Revalue the open account if `req` is new, or a second has passed.
    pub fn account(&mut self, req: Option<Request>) {
        let Some(req) = req else { return };
        let due = match &self.last_account {
            Some((last, at)) => *last != req || at.elapsed() >= Duration::from_secs(1),
            None => true,
        };
        if self.account_busy || !due {
            return;
        }
        self.account_busy = true;
        self.last_account = Some((req.clone(), Instant::now()));
        let extra = req.trades.iter().map(|t| t.instrument.clone()).collect();
        let (queries, done) = (self.queries.clone(), self.done.clone());
        let scenarios = self.scenarios.clone();
        tokio::spawn(async move {
            let inputs = ask(&queries, &req.key, extra).await;
            let wallets = match &inputs {
                Some(i) => wallets_of(&queries, i).await,
                None => Vec::new(),
            };
            let job = move || inputs.map(|i| Box::new(analyse(&i, wallets, &req, &scenarios)));
            let result = tokio::task::spawn_blocking(job).await.ok().flatten();
            let _ = done.send(match result {
                Some(a) => Done::Account(a),
                None => Done::AccountGone,
            });
        });
    }

    /// Revalue the overview's columns of the `due` accounts (a round at a time).
    pub fn desk(&mut self, mut due: Vec<AccountKey>) {
        if self.desk_busy || due.is_empty() || Instant::now() < self.desk_next {
            return;
        }
        due.truncate(DESK_ROUND);
        self.desk_busy = true;
        let (queries, done) = (self.queries.clone(), self.done.clone());
        let scenarios = self.scenarios.clone();
        tokio::spawn(async move {
            let mut took = Duration::ZERO;
            for key in due {
                let Some(inputs) = ask(&queries, &key, Vec::new()).await else {
                    continue;
                };
                let wallets = wallets_of(&queries, &inputs).await;
                let scenarios = scenarios.clone();
                let job = move || {
                    let start = Instant::now();
                    (desk_figures(&inputs, wallets, &scenarios), start.elapsed())
                };
                let Ok((figures, t)) = tokio::task::spawn_blocking(job).await else {
                    break;
                };
                took += t;
                if done.send(Done::Desk(key, Box::new(figures))).is_err() {
                    return;
                }
            }
            let _ = done.send(Done::DeskRound(took));
        });
    }

    /// Use `history` from the next VaR run on (fetched from the exchange).
    pub fn set_history(&mut self, history: Arc<History>) {
        if let Some((h, _)) = &mut self.var {
            *h = history;
        }
    }

    /// Compute the desk's VaR and ES when `due` (one job at a time, on a
    /// blocking thread: it revalues every instrument in every scenario).
    pub fn var(&mut self, due: Option<VarBasis>) {
        let (Some((history, settings)), Some(basis)) = (&self.var, due) else {
            return;
        };
        if self.var_busy {
            return;
        }
        self.var_busy = true;
        let (history, settings) = (history.clone(), *settings);
        let (queries, done) = (self.queries.clone(), self.done.clone());
        tokio::spawn(async move {
            let (reply, rx) = oneshot::channel();
            let asked = queries.send(Query::Var { reply }).await.is_ok();
            let Some(inputs) = (match asked {
                true => rx.await.ok(),
                false => None,
            }) else {
                return; // the engine has stopped
            };
            let job = move || {
                let start = Instant::now();
                let var = inputs.var(&history, settings);
                VarFigures {
                    var,
                    history: history.origin,
                    basis,
                    took: start.elapsed(),
                }
            };
            if let Ok(v) = tokio::task::spawn_blocking(job).await {
                let _ = done.send(Done::Var(Box::new(v)));
            }
        });
    }

    /// Walk the open account's book through history when `due` (one job
    /// at a time, on a blocking thread).
    pub fn backtest(&mut self, due: Option<Basis>) {
        let (Some((history, _)), Some(basis)) = (&self.var, due) else {
            return;
        };
        if self.backtest_busy {
            return;
        }
        self.backtest_busy = true;
        let (queries, done) = (self.queries.clone(), self.done.clone());
        let ((settings, days), history) = (self.backtest, history.clone());
        tokio::spawn(async move {
            let (reply, rx) = oneshot::channel();
            if queries.send(Query::Var { reply }).await.is_err() {
                return; // the engine has stopped
            }
            let Ok(inputs) = rx.await else { return };
            let account = ask(&queries, &basis.key, Vec::new()).await;
            let job = move || compute(inputs, account, basis, &history, settings, days);
            if let Ok(b) = tokio::task::spawn_blocking(job).await {
                let _ = done.send(Done::Backtest(Box::new(b)));
            }
        });
    }

    /// Fetch the engine's instrument list once (what-if picker).
    pub fn chain(&mut self) {
        if self.chain_asked {
            return;
        }
        self.chain_asked = true;
        let (queries, done) = (self.queries.clone(), self.done.clone());
        tokio::spawn(async move {
            let (reply, rx) = oneshot::channel();
            if queries.send(Query::Instruments { reply }).await.is_ok() {
                if let Ok(names) = rx.await {
                    let _ = done.send(Done::Chain(names));
                }
            }
        });
    }
}

/// Every wallet's inputs when `inputs` is one wallet of a cross-collateral
/// account (empty otherwise): its figures are the account's.
async fn wallets_of(queries: &mpsc::Sender<Query>, inputs: &AccountInputs) -> Vec<AccountInputs> {
    if inputs.account.collateral != Collateral::Cross {
        return Vec::new();
    }
    let (reply, rx) = oneshot::channel();
    let query = Query::Wallets {
        label: inputs.account.label.clone(),
        reply,
    };
    if queries.send(query).await.is_err() {
        return Vec::new();
    }
    rx.await.unwrap_or_default()
}

/// One account's inputs from the engine (None: unknown account, or the
/// engine has stopped).
async fn ask(
    queries: &mpsc::Sender<Query>,
    key: &AccountKey,
    extra: Vec<String>,
) -> Option<AccountInputs> {
    let (reply, rx) = oneshot::channel();
    let query = Query::Inputs {
        label: key.label.clone(),
        currency: key.currency.clone(),
        extra,
        reply,
    };
    queries.send(query).await.ok()?;
    rx.await.ok().flatten()
}

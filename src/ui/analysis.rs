//! Full revaluations for the screens: liquidation distance, stress, other
//! models and what-if trades. They cost milliseconds per account, so they
//! run on a blocking thread from a copy of the account's inputs that the
//! engine hands out (`Query::Inputs`), never on the engine's tick path nor
//! on the draw path. The revaluation itself is `margin::analysis` (pure); `Analyst`
//! paces the jobs.

use crate::engine::live::Query;
use crate::margin::analysis::{with_trades, Trade};
use crate::margin::inputs::AccountInputs;
use crate::margin::liquidation::Liquidation;
use crate::margin::stress::StressScenario;
use crate::model::Position;
use crate::model::{AccountKey, Collateral};
use crate::report::{
    account_report, under_each_model, AccountReport, Freshness, ModelFigures, ReportOptions,
    Thresholds,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Staleness is the snapshot's business (the screens mark it over these
/// figures), so revaluations take their inputs as current.
const CURRENT: Freshness = Freshness::CURRENT;

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
    pub after: AccountReport,
    /// Trades' instruments without a quote yet (left out until one arrives).
    pub missing: Vec<String>,
}

/// One account fully revalued.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub request: Request,
    /// Pricing clock of the inputs, epoch ms.
    pub pricing_ms: i64,
    pub report: AccountReport,
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

/// Revalue the account as `req` asks, with the configured `scenarios`.
pub fn analyse(
    inputs: &AccountInputs,
    wallets: Vec<AccountInputs>,
    req: &Request,
    scenarios: &[StressScenario],
    thresholds: Thresholds,
) -> Analysis {
    let start = Instant::now();
    let all: Vec<StressScenario> = scenarios.iter().chain(&req.custom).cloned().collect();
    let opts = ReportOptions {
        scenarios: &all,
        thresholds,
    };
    let report = report_of(inputs, wallets, &opts);
    let models = match req.compare {
        true => under_each_model(inputs),
        false => Vec::new(),
    };
    let whatif = (!req.trades.is_empty()).then(|| {
        let missing = req
            .trades
            .iter()
            .filter(|t| !inputs.market.quotes.contains_key(&t.instrument))
            .map(|t| t.instrument.clone())
            .collect();
        WhatIf {
            after: account_report(&with_trades(inputs, &req.trades), CURRENT, &opts),
            missing,
        }
    });
    Analysis {
        request: req.clone(),
        pricing_ms: inputs.now_ms,
        report,
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
    thresholds: Thresholds,
) -> DeskFigures {
    let opts = ReportOptions {
        scenarios,
        thresholds,
    };
    let report = report_of(inputs, wallets, &opts);
    let worst_stress = report
        .stress
        .iter()
        .filter_map(|s| s.pnl.map(|p| (s.name.clone(), p)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    DeskFigures {
        liquidation: report.liquidation,
        worst_stress,
        pricing_ms: inputs.now_ms,
        positions: inputs.account.positions.clone(),
        index_price: report.positions.first().map(|p| p.index_price),
    }
}

/// A finished job, for the screens.
#[derive(Debug)]
pub enum Done {
    Account(Box<Analysis>),
    /// The account is unknown to the engine, or the engine has stopped.
    AccountGone,
    Desk(AccountKey, Box<DeskFigures>),
    /// The engine's instrument names (what-if picker).
    Chain(Vec<String>),
    /// A desk round finished (the next may start).
    DeskRound(Duration),
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
    thresholds: Thresholds,
    account_busy: bool,
    last_account: Option<(Request, Instant)>,
    desk_busy: bool,
    desk_next: Instant,
    chain_asked: bool,
}

impl Analyst {
    pub fn new(
        queries: mpsc::Sender<Query>,
        scenarios: Vec<StressScenario>,
        thresholds: Thresholds,
    ) -> (Analyst, mpsc::UnboundedReceiver<Done>) {
        let (done, rx) = mpsc::unbounded_channel();
        let analyst = Analyst {
            queries,
            done,
            scenarios: Arc::new(scenarios),
            thresholds,
            account_busy: false,
            last_account: None,
            desk_busy: false,
            desk_next: Instant::now(),
            chain_asked: false,
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
        let (scenarios, thresholds) = (self.scenarios.clone(), self.thresholds);
        tokio::spawn(async move {
            let inputs = ask(&queries, &req.key, extra).await;
            let wallets = match &inputs {
                Some(i) => wallets_of(&queries, i).await,
                None => Vec::new(),
            };
            let job = move || {
                inputs.map(|i| Box::new(analyse(&i, wallets, &req, &scenarios, thresholds)))
            };
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
        let (scenarios, thresholds) = (self.scenarios.clone(), self.thresholds);
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
                    (
                        desk_figures(&inputs, wallets, &scenarios, thresholds),
                        start.elapsed(),
                    )
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

/// The report of the account `inputs` belongs to: a cross account's
/// totals when `wallets` are given, else the wallet's own.
fn report_of(
    inputs: &AccountInputs,
    wallets: Vec<AccountInputs>,
    opts: &ReportOptions,
) -> AccountReport {
    let fresh = wallets.into_iter().map(|w| (w, CURRENT)).collect();
    match crate::report::cross_account_report(fresh, opts) {
        Some(cross) => cross,
        None => account_report(inputs, CURRENT, opts),
    }
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

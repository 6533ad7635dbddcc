//! An account's full revaluation as the account screens read it: the
//! core's typed results (`margin::analysis`), and the figures the screens
//! list, each in the money the account is judged in (its coin, or USD for
//! a cross-collateral account). Numbers that lean on what could not be
//! valued read as None, never as a figure.

use crate::margin::account::PositionRisk;
pub use crate::margin::analysis::ScenarioRow;
use crate::margin::analysis::{shown, AccountAnalysis, CrossAnalysis, ExpiryGreeks};
use crate::margin::liquidation::Liquidation;

/// One account revalued.
#[derive(Clone, Debug)]
pub enum Revalued {
    /// A segregated account, under its own model, in its coin.
    Own(Box<AccountAnalysis>),
    /// A cross-collateral account: its totals in USD, and each wallet.
    Cross {
        account: Box<CrossAnalysis>,
        wallets: Vec<AccountAnalysis>,
    },
    /// The account's margin model is not loaded: nothing to show.
    Unknown,
}

/// The figures a trade can move, in the account's money.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    pub margin_balance: Option<f64>,
    pub equity: Option<f64>,
    pub initial_margin: Option<f64>,
    pub maintenance_margin: Option<f64>,
    pub mm_ratio: Option<f64>,
    pub im_ratio: Option<f64>,
    pub headroom: Option<f64>,
    /// Net delta: in the coin, or in USD for a cross account.
    pub delta: f64,
    /// Deribit's gamma in the coin; a cross account's USD delta change for
    /// a 1 % move.
    pub gamma: f64,
    /// USD, as Deribit gives them.
    pub vega: f64,
    pub theta: f64,
    pub liquidation: Liquidation,
    /// The largest stress loss.
    pub worst_stress: Option<f64>,
}

impl Revalued {
    /// Money is in USD (a cross account), not in the account's coin.
    pub fn in_usd(&self) -> bool {
        matches!(self, Revalued::Cross { .. })
    }

    pub fn figures(&self) -> Figures {
        let worst_stress = (self.stress().iter())
            .filter_map(|s| s.pnl)
            .reduce(f64::min);
        match self {
            Revalued::Own(a) => {
                let (r, sums) = (&a.risk, &a.book.sums);
                let known = |v| shown(r.complete, v);
                Figures {
                    margin_balance: known(r.margin_balance),
                    equity: known(r.equity),
                    initial_margin: known(r.margin.initial_margin),
                    maintenance_margin: known(r.margin.maintenance_margin),
                    mm_ratio: r.mm_ratio.and_then(known),
                    im_ratio: r.im_ratio.and_then(known),
                    headroom: known(r.headroom),
                    delta: sums.net_delta,
                    gamma: sums.gamma,
                    vega: sums.vega,
                    theta: sums.theta,
                    liquidation: a.liquidation.clone(),
                    worst_stress,
                }
            }
            Revalued::Cross { account, wallets } => {
                let t = &account.totals;
                let known = |v| shown(t.complete, v);
                // Greeks add up across wallets in USD, each coin at its index.
                let held = || {
                    (wallets.iter().flat_map(|w| &w.book.sums.per_index))
                        .filter(|s| s.positions > 0)
                };
                Figures {
                    margin_balance: known(t.margin_balance_usd),
                    equity: known(t.equity_usd),
                    initial_margin: known(t.initial_margin_usd),
                    maintenance_margin: known(t.maintenance_margin_usd),
                    mm_ratio: t.mm_ratio().and_then(known),
                    im_ratio: t.im_ratio().and_then(known),
                    headroom: known(t.headroom_usd()),
                    delta: held().map(|s| s.net_delta * s.index_price).sum(),
                    gamma: held()
                        .map(|s| s.gamma * s.index_price * s.index_price / 100.0)
                        .sum(),
                    vega: wallets.iter().map(|w| w.book.sums.vega).sum(),
                    theta: wallets.iter().map(|w| w.book.sums.theta).sum(),
                    liquidation: self.liquidation().cloned().unwrap_or_default(),
                    worst_stress,
                }
            }
            Revalued::Unknown => Figures::default(),
        }
    }

    /// Each scenario's P&L and margin after it, in the account's money.
    pub fn stress(&self) -> Vec<ScenarioRow> {
        match self {
            Revalued::Own(a) => a.scenario_rows(),
            Revalued::Cross { account, .. } => account.scenario_rows(account.totals.complete),
            Revalued::Unknown => Vec::new(),
        }
    }

    /// The liquidation distance (None: the model is not loaded).
    pub fn liquidation(&self) -> Option<&Liquidation> {
        match self {
            Revalued::Own(a) => Some(&a.liquidation),
            Revalued::Cross { account, .. } => Some(&account.liquidation),
            Revalued::Unknown => None,
        }
    }

    /// Greeks by expiry, of every wallet for a cross account.
    pub fn expiries(&self) -> Vec<&ExpiryGreeks> {
        self.books().flat_map(|a| &a.expiries).collect()
    }

    /// The valued positions, of every wallet for a cross account.
    pub fn positions(&self) -> Vec<&PositionRisk> {
        self.books().flat_map(|a| &a.book.positions).collect()
    }

    /// A cross account's USD P&L if `currency`'s coin alone fell 10 %.
    pub fn coin_down(&self, currency: &str) -> Option<f64> {
        match self {
            Revalued::Cross { account, .. } => (account.coin_down.get(currency).copied())
                .and_then(|p| shown(account.totals.complete, p)),
            _ => None,
        }
    }

    fn books(&self) -> impl Iterator<Item = &AccountAnalysis> {
        let (own, wallets): (Option<&AccountAnalysis>, &[AccountAnalysis]) = match self {
            Revalued::Own(a) => (Some(a), &[]),
            Revalued::Cross { wallets, .. } => (None, wallets),
            Revalued::Unknown => (None, &[]),
        };
        own.into_iter().chain(wallets)
    }
}

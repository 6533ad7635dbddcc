//! Cross-collateral accounts (docs/report.md): every currency's wallet of
//! one exchange account backs one requirement, compared in USD.
//!
//! Each wallet is valued and margined under the account's model in its own
//! currency, as a segregated one would be; the totals convert each wallet at
//! its USD rate: collateral = margin balance × rate × (1 − haircut), and
//! requirement = the wallet's IM or MM × rate. Deribit's PM correlation
//! contingency between indices is not published: it counts as 0 here, and
//! positions on one index settled in two currencies are margined apart.
//!
//! A market move moves each coin's USD rate with its index, so a BTC balance
//! backing short BTC puts loses value in the same fall; stable coins keep
//! theirs (a depeg is not modelled).

use super::account::{account_risk, value_book, Instruments};
use super::book::PreparedModel;
use super::inputs::CrossInputs;
use super::liquidation::{find_side, IndexLiquidation, Liquidation};
use crate::model::valuation::Shock;
use crate::model::{Account, Instrument, MarketState};

/// Currencies valued at par with the USD when no rate is known, and never
/// moved by a stress or a liquidation search.
pub const STABLE: [&str; 2] = ["USDC", "USDT"];

pub fn is_stable(currency: &str) -> bool {
    STABLE.contains(&currency)
}

/// The index that a coin's USD value follows ("BTC" → "btc_usd").
pub fn usd_index(currency: &str) -> String {
    format!("{}_usd", currency.to_ascii_lowercase())
}

/// Where a wallet's USD rate comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateSource {
    /// The currency's index (`btc_usd`) as last received.
    Index,
    /// Implied by the exchange's own summary: its total margin balance in
    /// USD over the same total in this currency.
    Exchange,
    /// A stable coin with no rate received: 1 USD.
    Par,
}

impl RateSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RateSource::Index => "index",
            RateSource::Exchange => "exchange",
            RateSource::Par => "par",
        }
    }
}

/// USD per unit of the account's currency now, and where it comes from
/// (None: no rate is known, and the wallet cannot be counted).
pub fn usd_rate(account: &Account, market: &MarketState) -> Option<(f64, RateSource)> {
    let ok = |r: &f64| r.is_finite() && *r > 0.0;
    if let Some(r) = market.index(&usd_index(&account.currency)).filter(ok) {
        return Some((r, RateSource::Index));
    }
    let ex = &account.exchange;
    let implied = ex
        .totals_usd
        .zip(ex.margin_balance)
        .filter(|(_, mb)| *mb != 0.0)
        .map(|(t, mb)| t.margin_balance / mb)
        .filter(ok);
    if let Some(r) = implied {
        return Some((r, RateSource::Exchange));
    }
    is_stable(&account.currency).then_some((1.0, RateSource::Par))
}

/// The exchange's totals of a cross account as of its newest summary that
/// has them (every wallet's summary carries the same totals).
pub fn exchange_totals<'a>(
    wallets: impl Iterator<Item = &'a Account>,
) -> Option<crate::model::UsdTotals> {
    wallets
        .filter_map(|a| a.exchange.totals_usd.map(|t| (a.exchange.as_of, t)))
        .max_by_key(|(as_of, _)| *as_of)
        .map(|(_, t)| t)
}

/// One currency's wallet of a cross account, ready to be valued.
pub struct Wallet<'a> {
    pub account: &'a Account,
    pub model: PreparedModel,
    /// USD per unit of the currency now (None: no rate known).
    pub usd_rate: Option<f64>,
    pub haircut: f64,
}

/// Each wallet of `inputs` under the account's model, at its USD rate now
/// (a wallet whose model is not loaded is left out).
pub fn wallets(inputs: &CrossInputs) -> Vec<Wallet<'_>> {
    (inputs.wallets.iter())
        .filter_map(|a| {
            let config = inputs.models.get(&a.model)?.clone();
            Some(Wallet {
                account: a,
                haircut: config.haircut(&a.currency),
                model: PreparedModel::new(config, &a.currency),
                usd_rate: usd_rate(a, &inputs.market).map(|(r, _)| r),
            })
        })
        .collect()
}

/// A wallet's figures: in its currency, and in USD at its rate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WalletFigures {
    pub currency: String,
    pub balance: f64,
    pub equity: f64,
    pub options_value: f64,
    pub futures_session_upl: f64,
    pub margin_balance: f64,
    pub initial_margin: f64,
    pub maintenance_margin: f64,
    /// The rate after the move the figures were valued in.
    pub usd_rate: Option<f64>,
    pub haircut: f64,
    /// Every position of the wallet could be valued.
    pub complete: bool,
}

impl WalletFigures {
    fn usd(&self, v: f64) -> Option<f64> {
        self.usd_rate.map(|r| v * r)
    }
    pub fn equity_usd(&self) -> Option<f64> {
        self.usd(self.equity)
    }
    /// The wallet's margin balance as collateral, after its haircut.
    pub fn collateral_usd(&self) -> Option<f64> {
        self.usd(self.margin_balance * (1.0 - self.haircut))
    }
    pub fn initial_margin_usd(&self) -> Option<f64> {
        self.usd(self.initial_margin)
    }
    pub fn maintenance_margin_usd(&self) -> Option<f64> {
        self.usd(self.maintenance_margin)
    }
}

/// The account's totals in USD.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrossTotals {
    pub wallets: Vec<WalletFigures>,
    pub equity_usd: f64,
    /// Collateral after haircuts: what MM and IM are compared with.
    pub margin_balance_usd: f64,
    pub initial_margin_usd: f64,
    pub maintenance_margin_usd: f64,
    pub options_value_usd: f64,
    pub futures_session_upl_usd: f64,
    pub balance_usd: f64,
    /// Every wallet has a rate and every position a value.
    pub complete: bool,
}

impl CrossTotals {
    /// MM over the margin balance; an empty account is at 0 %, and a margin
    /// balance that is not positive leaves the ratio undefined.
    pub fn mm_ratio(&self) -> Option<f64> {
        ratio(self.maintenance_margin_usd, self.margin_balance_usd)
    }

    pub fn im_ratio(&self) -> Option<f64> {
        ratio(self.initial_margin_usd, self.margin_balance_usd)
    }

    pub fn headroom_usd(&self) -> f64 {
        self.margin_balance_usd - self.maintenance_margin_usd
    }
}

/// A requirement over a balance, by the account rule (docs/design.md).
pub fn ratio(requirement: f64, balance: f64) -> Option<f64> {
    match (balance > 0.0, balance == 0.0 && requirement == 0.0) {
        (true, _) => Some(requirement / balance),
        (false, true) => Some(0.0),
        (false, false) => None,
    }
}

/// Value every wallet after a market move — `price_move` of each base coin
/// ("BTC"), `vol_move` of every implied vol — and add up in USD.
pub fn value_cross(
    wallets: &mut [Wallet],
    instruments: &Instruments,
    market: &MarketState,
    now_ms: i64,
    price_move: &dyn Fn(&str) -> f64,
    vol_move: f64,
) -> CrossTotals {
    let mut t = CrossTotals {
        complete: true,
        ..CrossTotals::default()
    };
    for w in wallets.iter_mut() {
        let shock = |inst: &Instrument| Shock {
            price: 1.0 + price_move(&inst.base),
            vol: 1.0 + vol_move,
        };
        let book = value_book(w.account, instruments, market, &mut w.model, now_ms, &shock);
        let risk = account_risk(w.account, &w.model, &book.sums, &book.notes, now_ms);
        let ccy = &w.account.currency;
        let coin_move = if is_stable(ccy) { 0.0 } else { price_move(ccy) };
        let f = WalletFigures {
            currency: ccy.clone(),
            balance: risk.balance,
            equity: risk.equity,
            options_value: risk.options_value,
            futures_session_upl: risk.futures_session_upl,
            margin_balance: risk.margin_balance,
            initial_margin: risk.margin.initial_margin,
            maintenance_margin: risk.margin.maintenance_margin,
            usd_rate: w.usd_rate.map(|r| r * (1.0 + coin_move)),
            haircut: w.haircut,
            complete: risk.complete,
        };
        add(&mut t, &f);
        t.wallets.push(f);
    }
    t
}

fn add(t: &mut CrossTotals, f: &WalletFigures) {
    t.complete &= f.complete && f.usd_rate.is_some();
    let Some(rate) = f.usd_rate else { return };
    t.equity_usd += f.equity * rate;
    t.margin_balance_usd += f.margin_balance * rate * (1.0 - f.haircut);
    t.initial_margin_usd += f.initial_margin * rate;
    t.maintenance_margin_usd += f.maintenance_margin * rate;
    t.options_value_usd += f.options_value * rate;
    t.futures_session_upl_usd += f.futures_session_upl * rate;
    t.balance_usd += f.balance * rate;
}

/// The coins whose moves change the account: the underlyings of its
/// positions and the currencies of wallets holding a non-stable balance.
pub fn moved_coins(wallets: &[Wallet], instruments: &Instruments) -> Vec<String> {
    let mut coins: Vec<String> = Vec::new();
    for w in wallets {
        let a = w.account;
        let bases = (a.positions.iter()).filter_map(|p| instruments.get(&p.instrument));
        let held = bases.map(|i| i.base.clone());
        let own = (!is_stable(&a.currency) && a.balance != 0.0).then(|| a.currency.clone());
        for c in held.chain(own) {
            if !coins.contains(&c) {
                coins.push(c);
            }
        }
    }
    coins.sort();
    coins
}

/// Where the account's total MM reaches its total collateral: every coin
/// moving together, and (with several coins) each coin alone, the others
/// held. The collateral is revalued at every point.
pub fn cross_liquidation(
    wallets: &mut [Wallet],
    instruments: &Instruments,
    market: &MarketState,
    now_ms: i64,
) -> Liquidation {
    let Some(first) = wallets.first() else {
        return Liquidation::default();
    };
    let limits = first.model.config.liquidation_search();
    let coins = moved_coins(wallets, instruments);
    let mut search = |only: Option<&str>| {
        let mut shortfall = |m: f64| {
            let mv = |coin: &str| match only {
                Some(c) if c != coin => 0.0,
                _ => m,
            };
            let t = value_cross(wallets, instruments, market, now_ms, &mv, 0.0);
            t.maintenance_margin_usd - t.margin_balance_usd
        };
        let down = find_side(&mut shortfall, -limits.down, limits.steps);
        let up = find_side(&mut shortfall, limits.up, limits.steps);
        (down, up)
    };
    let price = |coin: &str, m: Option<f64>| {
        let index = market.index(&usd_index(coin));
        m.zip(index).map(|(m, p)| p * (1.0 + m))
    };
    let (down, up) = search(None);
    let single = match &coins[..] {
        [one] => Some(one.as_str()),
        _ => None,
    };
    let by_index = match coins.len() {
        0 | 1 => Vec::new(),
        _ => (coins.iter())
            .map(|coin| {
                let (down, up) = search(Some(coin));
                IndexLiquidation {
                    index_name: usd_index(coin),
                    down_move: down,
                    down_price: price(coin, down),
                    up_move: up,
                    up_price: price(coin, up),
                }
            })
            .collect(),
    };
    Liquidation {
        down_move: down,
        down_price: single.and_then(|c| price(c, down)),
        up_move: up,
        up_price: single.and_then(|c| price(c, up)),
        by_index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_follow_the_account_rules() {
        let t = |mm: f64, mb: f64| CrossTotals {
            maintenance_margin_usd: mm,
            margin_balance_usd: mb,
            ..CrossTotals::default()
        };
        assert_eq!(t(50.0, 200.0).mm_ratio(), Some(0.25));
        assert_eq!(t(0.0, 0.0).mm_ratio(), Some(0.0));
        assert_eq!(t(10.0, -5.0).mm_ratio(), None);
        assert_eq!(t(10.0, 0.0).mm_ratio(), None);
    }

    #[test]
    fn coins_map_to_their_usd_index() {
        assert_eq!(usd_index("BTC"), "btc_usd");
        assert!(is_stable("USDC") && !is_stable("BTC"));
    }
}

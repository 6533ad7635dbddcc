//! The demo exchange's books: every account's positions, cash and session
//! P&L, valued with margintop's own engine as the market moves and trades
//! happen. The daily cycle and the liquidation engine are in `cycle.rs`;
//! the protocol side (`server.rs`) only reads what is here.

use super::desk::{demo_desk, DemoAccount};
use super::history::History;
use super::market::{Rng, SimMarket};
use super::server::DemoOptions;
use crate::engine::resync::settlement_before;
use crate::engine::{AccountId, Desk};
use crate::margin::config::load_models;
use crate::model::valuation::futures_ref_term;
use crate::model::{Account, Instrument};
use std::collections::HashMap;

pub(super) const DAY_MS: i64 = 86_400_000;

/// A position change the exchange announces on user.changes.
#[derive(Clone, Debug)]
pub(super) struct Change {
    pub account: i64,
    pub instrument: String,
    /// The position's size after the change (0: closed or delivered).
    pub size: f64,
    /// The trade that made it; none for a delivery at expiry.
    pub fill: Option<Fill>,
}

/// A trade at the mark.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fill {
    /// The exchange's trade number.
    pub id: u64,
    /// Signed: positive bought.
    pub amount: f64,
    pub price: f64,
    /// In the account's currency.
    pub fee: f64,
    /// Made by the liquidation engine.
    pub liquidation: bool,
    pub timestamp: i64,
}

/// Everything the exchange knows.
pub struct DemoState {
    pub market: SimMarket,
    pub accounts: Vec<DemoAccount>,
    /// The exchange's own valuation of every account.
    pub(super) desk: Desk,
    pub(super) desk_ids: Vec<AccountId>,
    rng: Rng,
    since_trade: f64,
    since_drift: f64,
    /// No simulated trades or drift while set (the market still moves).
    pub trading_paused: bool,
    /// Nothing moves while set: not the market, not the clock (tests stop
    /// the exchange to compare figures exactly).
    pub paused: bool,
    /// Each future's session reference: its mark at the last daily
    /// settlement (at the demo's start for the first session).
    pub(super) settlement_prices: HashMap<String, f64>,
    /// Real seconds since the liquidation engine's last round.
    pub(super) since_round: f64,
    /// Trades made so far (the last trade's number).
    trades: u64,
    /// Candles of the indices, their volatility indices and the futures'
    /// marks, for the chart methods.
    pub(super) history: History,
}

impl DemoState {
    pub fn new(seed: u64, now_ms: i64) -> DemoState {
        let market = SimMarket::new(seed, now_ms);
        let accounts = demo_desk(&market);
        let models = load_models(None).expect("built-in models parse");
        let mut desk = Desk::new(models, now_ms);
        for inst in &market.instruments {
            desk.add_instrument(inst.clone());
        }
        let mut state = DemoState {
            market,
            accounts: Vec::new(),
            desk,
            desk_ids: Vec::new(),
            rng: Rng::new(seed ^ 0xDE5C),
            since_trade: 0.0,
            since_drift: 0.0,
            trading_paused: false,
            paused: false,
            settlement_prices: HashMap::new(),
            since_round: 0.0,
            trades: 0,
            history: History::default(),
        };
        state.refresh_quotes();
        state.record_history();
        state.mark_settlement_prices();
        for a in &accounts {
            let model = crate::exchange::deribit::margin_models::model_for(Some(&a.margin_model));
            let mut acct = Account::new(&a.username, &a.currency, model);
            for (name, size) in &a.positions {
                acct.set_position(name, *size, state.settlement_prices.get(name).copied());
            }
            let id = state.desk.add_account(acct).expect("built-in model");
            state.desk_ids.push(id);
        }
        state.accounts = accounts;
        for i in 0..state.accounts.len() {
            state.fund(i);
        }
        state
    }

    /// Size account `i`'s cash so that its book stands at its target
    /// mm_ratio: the margin balance is the cash plus what the book adds to
    /// it (session P&L, and option value under portfolio margin). Another
    /// wallet backs a cross book: the book's own holds nothing but what the
    /// book adds, the other the USD value of the rest.
    pub(super) fn fund(&mut self, i: usize) {
        let a = &mut self.accounts[i];
        (a.balance, a.session_rpl) = (0.0, 0.0);
        self.book_cash(i);
        let risk = self.desk.risk(self.desk_ids[i]);
        let (mm, book_part) = (risk.margin.maintenance_margin, risk.margin_balance);
        let a = &self.accounts[i];
        let balance = if mm > 0.0 {
            mm / a.target_mm_ratio - book_part
        } else {
            5.0
        };
        let rate = self.usd_rate(&a.currency);
        let a = &mut self.accounts[i];
        match &mut a.collateral {
            Some((_, other)) => *other = balance * rate,
            None => a.balance = balance,
        }
        self.book_cash(i);
    }

    /// Push the simulated market's quotes into the exchange's own desk.
    pub(super) fn refresh_quotes(&mut self) {
        for u in &self.market.underlyings {
            self.desk
                .apply_index(&u.index_name, u.index, self.market.now_ms);
        }
        self.desk.set_clock(self.market.now_ms);
        for inst in &self.market.instruments {
            if let Some(q) = self.market.quote(inst) {
                self.desk.apply_quote(&inst.name, q);
            }
        }
    }

    /// Candles: each index, its volatility index, each future's mark.
    fn record_history(&mut self) {
        let now = self.market.now_ms;
        for u in &self.market.underlyings {
            self.history.observe(&u.base, now, u.index);
            if let Some(v) = self.market.dvol(&u.base) {
                self.history.observe(&format!("{} DVOL", u.base), now, v);
            }
        }
        for inst in self.market.instruments.iter().filter(|i| !i.is_option()) {
            if let Some(q) = self.market.quote(inst) {
                self.history.observe(&inst.name, now, q.mark_price);
            }
        }
    }

    /// Every listed future's session reference becomes its mark now (and
    /// the expired ones are forgotten).
    pub(super) fn mark_settlement_prices(&mut self) {
        self.settlement_prices.clear();
        for inst in self.market.instruments.iter().filter(|i| !i.is_option()) {
            if let Some(q) = self.market.quote(inst) {
                self.settlement_prices
                    .insert(inst.name.clone(), q.mark_price);
            }
        }
    }

    pub(super) fn account(&self, id: i64) -> Option<(usize, &DemoAccount)> {
        self.accounts.iter().enumerate().find(|(_, a)| a.id == id)
    }

    /// Advance the market `dt` simulated seconds; returns the position
    /// changes. The clock stops at each 08:00 UTC on the way, so that what
    /// settles and expires there does so at that moment's prices.
    pub(super) fn advance(&mut self, dt: f64, opts: &DemoOptions) -> Vec<Change> {
        let mut changes = Vec::new();
        if self.paused {
            return changes;
        }
        let mut left_ms = (dt * 1000.0) as i64;
        while left_ms > 0 {
            let next = settlement_before(self.market.now_ms) + DAY_MS;
            let step = left_ms.min(next - self.market.now_ms);
            self.market.step(step);
            left_ms -= step;
            self.accrue_funding(step);
            self.refresh_quotes();
            self.record_history();
            if self.market.now_ms == next {
                changes.extend(self.settle_day());
            }
        }
        // The liquidation engine keeps wall-clock time, whatever the speed.
        changes.extend(self.liquidation_round(dt / opts.time_scale.max(1e-9)));
        if !self.trading_paused {
            changes.extend(self.simulated_trades(dt, opts));
        }
        changes
    }

    /// Now and then a trade on a random book, and risk added to the
    /// drifting ones.
    fn simulated_trades(&mut self, dt: f64, opts: &DemoOptions) -> Vec<Change> {
        let mut changes = Vec::new();
        self.since_trade += dt;
        self.since_drift += dt;
        if self.since_trade >= opts.trade_every_s {
            self.since_trade = 0.0;
            let i = (self.rng.next_u64() % self.accounts.len() as u64) as usize;
            let held = self.accounts[i].positions.first().cloned();
            if let Some((name, size)) = held.filter(|_| !self.in_liquidation(i)) {
                let factor = if self.rng.uniform() < 0.5 { 0.9 } else { 1.1 };
                changes.extend(self.trade(i, &name, size * factor, false));
            }
        }
        if self.since_drift >= opts.drift_every_s {
            self.since_drift = 0.0;
            for i in 0..self.accounts.len() {
                // An account in liquidation cannot trade (A.2).
                if !self.accounts[i].drifts || self.in_liquidation(i) {
                    continue;
                }
                // A drifting book sells 15 % more of its first position.
                if let Some((name, size)) = self.accounts[i].positions.first().cloned() {
                    changes.extend(self.trade(i, &name, size * 1.15, false));
                }
            }
        }
        changes
    }

    /// Account `i` trades `name` at its mark to hold `size`. An option's
    /// premium moves cash; a future's trade away from the session reference
    /// is booked in the session's realised P&L, so that `size × (mark −
    /// reference)` plus it is what the account made. A liquidation also
    /// pays its fee. None when the instrument has no quote.
    pub(super) fn trade(
        &mut self,
        i: usize,
        name: &str,
        size: f64,
        liquidation: bool,
    ) -> Option<Change> {
        let inst = self.desk.instrument(name)?.clone();
        let q = self.market.quote(&inst)?;
        let mark = q.mark_price;
        let held = (self.accounts[i].positions.iter())
            .find(|(n, _)| n == name)
            .map_or(0.0, |p| p.1);
        let amount = size - held;
        let fee = if liquidation {
            liquidation_fee(&inst, amount, mark, q.index_price.unwrap_or(mark))
        } else {
            0.0
        };
        let reference =
            (!inst.is_option()).then(|| self.settlement_prices.get(name).copied().unwrap_or(mark));
        let a = &mut self.accounts[i];
        match reference {
            None => a.balance -= amount * mark,
            Some(r) => {
                a.session_rpl -=
                    amount * (futures_ref_term(&inst, mark) - futures_ref_term(&inst, r))
            }
        }
        a.balance -= fee;
        set_held(&mut a.positions, name, size);
        self.desk
            .set_position(self.desk_ids[i], name, size, reference);
        self.book_cash(i);
        self.trades += 1;
        let fill = Fill {
            id: self.trades,
            amount,
            price: mark,
            fee,
            liquidation,
            timestamp: self.market.now_ms,
        };
        Some(Change {
            account: self.accounts[i].id,
            instrument: name.to_string(),
            size,
            fill: Some(fill),
        })
    }

    /// Tell the exchange's desk account `i`'s cash.
    pub(super) fn book_cash(&mut self, i: usize) {
        let a = &self.accounts[i];
        self.desk
            .set_balance(self.desk_ids[i], a.balance, a.session_rpl);
    }

    /// Start a crash on every underlying.
    pub fn crash(&mut self) {
        for base in ["BTC", "ETH"] {
            self.market.crash(base);
        }
    }

    /// Win back the last crash on every underlying.
    pub fn recover(&mut self) {
        for base in ["BTC", "ETH"] {
            self.market.recover(base);
        }
    }

    /// The exchange's maintenance margin of account `id` (for tests).
    pub fn maintenance_margin(&self, id: i64) -> Option<f64> {
        let (i, _) = self.account(id)?;
        Some(self.desk.risk(self.desk_ids[i]).margin.maintenance_margin)
    }

    /// The exchange's equity of account `id` in its book's currency (for tests).
    pub fn equity(&self, id: i64) -> Option<f64> {
        let (i, _) = self.account(id)?;
        Some(self.desk.risk(self.desk_ids[i]).equity)
    }

    /// USD per unit of a currency on the simulated market (stable coins 1).
    pub(super) fn usd_rate(&self, currency: &str) -> f64 {
        self.market.underlying(currency).map_or(1.0, |u| u.index)
    }

    /// Whether the liquidation engine has account `i`: its maintenance
    /// margin has reached its margin balance.
    pub(super) fn in_liquidation(&self, i: usize) -> bool {
        let (mm, balance) = self.margin_and_balance(i);
        mm > 0.0 && mm >= balance
    }

    /// The exchange's maintenance margin and margin balance of account `i`
    /// in its book's currency; a cross account's balance counts the wallet
    /// that backs it.
    pub(super) fn margin_and_balance(&self, i: usize) -> (f64, f64) {
        let a = &self.accounts[i];
        let r = self.desk.risk(self.desk_ids[i]);
        let backing = a.collateral.as_ref().map_or(0.0, |(_, b)| *b);
        let backing = backing / self.usd_rate(&a.currency);
        (r.margin.maintenance_margin, r.margin_balance + backing)
    }
}

/// Replace, add or (at 0) remove a position in a demo book.
fn set_held(positions: &mut Vec<(String, f64)>, name: &str, size: f64) {
    match positions.iter_mut().find(|(n, _)| n == name) {
        Some(p) => p.1 = size,
        None => positions.push((name.to_string(), size)),
    }
    positions.retain(|(_, s)| *s != 0.0);
}

/// Deribit's liquidation fee: 0.75 % of the notional for BTC, 0.9 % for
/// ETH (MARGIN_METHODOLOGY.md A.2); an option's fee is capped at 12.5 %
/// of its price, as Deribit caps option fees. In the instrument's
/// settlement currency.
fn liquidation_fee(inst: &Instrument, amount: f64, mark: f64, index: f64) -> f64 {
    use crate::model::Settlement::{Inverse, Linear};
    let rate = if inst.base == "ETH" { 0.009 } else { 0.0075 };
    let amount = amount.abs();
    match (inst.is_option(), inst.settlement) {
        (true, Inverse) => (rate * amount).min(0.125 * amount * mark),
        (true, Linear) => (rate * amount * index).min(0.125 * amount * mark),
        (false, Inverse) => rate * amount / mark,
        (false, Linear) => rate * amount * mark,
    }
}

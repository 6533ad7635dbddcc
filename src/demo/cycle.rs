//! The demo exchange's daily cycle and liquidation engine, as Deribit
//! runs them (MARGIN_METHODOLOGY.md A.2; docs on settlement):
//!
//! - funding accrues on perpetual positions all session, into the
//!   session's realised P&L;
//! - at 08:00 UTC every future's session P&L and the realised P&L are
//!   booked into the balance and the session reference becomes the mark;
//!   what expires is delivered at the index (Deribit takes a 30-minute
//!   average; the demo, the index at 08:00), leaves the book, and the
//!   desk rolls it into the same kind of position further out; the day's
//!   new expiries are listed;
//! - an account whose maintenance margin reaches its margin balance is
//!   reduced a step at a time, about once a second, paying a fee, until
//!   it is back under.

use super::desk::{demo_desk, future, option};
#[cfg(test)]
use super::state::DAY_MS;
use super::state::{Change, DemoState};
use crate::model::valuation::futures_ref_term;
use crate::model::{Instrument, Kind, Settlement};
use crate::pricing::OptionType;

/// The share of each position a liquidation round closes: small, so that
/// a book well past its margin stays past it for a few rounds (Deribit
/// liquidates "gradually"; its step is not published).
const LIQUIDATION_STEP: f64 = 0.05;
/// Where expiring positions roll: options about a month out, futures
/// about a quarter.
const ROLL_OPTION_DAYS: f64 = 30.0;
const ROLL_FUTURE_DAYS: f64 = 90.0;
const FUNDING_PERIOD_MS: f64 = 8.0 * 3_600_000.0;

impl DemoState {
    /// Funding over `step_ms` on every perpetual position, into the
    /// session's realised P&L: a long pays the rate on its value in coin.
    pub(super) fn accrue_funding(&mut self, step_ms: i64) {
        for i in 0..self.accounts.len() {
            let mut paid = 0.0;
            for (name, size) in &self.accounts[i].positions {
                let Some(inst) = self.desk.instrument(name) else {
                    continue;
                };
                let Some(u) = (inst.kind == Kind::Perpetual)
                    .then(|| self.market.underlying(&inst.base))
                    .flatten()
                else {
                    continue;
                };
                let value = match inst.settlement {
                    Settlement::Inverse => size / u.index,
                    Settlement::Linear => size * u.index,
                };
                paid +=
                    value * self.market.funding_8h(&inst.base) * step_ms as f64 / FUNDING_PERIOD_MS;
            }
            if paid != 0.0 {
                self.accounts[i].session_rpl -= paid;
                self.book_cash(i);
            }
        }
    }

    /// 08:00 UTC: settle every book, deliver what expires, list the new
    /// expiries and roll. Returns the position changes.
    pub(super) fn settle_day(&mut self) -> Vec<Change> {
        let now = self.market.now_ms;
        let mut delivered: Vec<(usize, String, f64)> = Vec::new();
        for i in 0..self.accounts.len() {
            let mut cash = std::mem::take(&mut self.accounts[i].session_rpl);
            for (name, size) in &self.accounts[i].positions {
                let Some(inst) = self.desk.instrument(name) else {
                    continue;
                };
                let expires = inst.expiry_ms().is_some_and(|e| e <= now);
                cash += size * self.settlement_value(inst, expires);
                if expires {
                    delivered.push((i, name.clone(), *size));
                }
            }
            self.accounts[i].balance += cash;
        }
        let mut changes = Vec::new();
        for (i, name, _) in &delivered {
            changes.push(self.deliver(*i, name));
        }
        for inst in self
            .market
            .instruments
            .iter()
            .filter(|i| i.expiry_ms().is_some_and(|e| e <= now))
        {
            self.history.forget(&inst.name);
        }
        self.desk.retire_expired();
        for inst in self.market.relist() {
            self.desk.add_instrument(inst);
        }
        self.refresh_quotes();
        self.mark_settlement_prices();
        for i in 0..self.accounts.len() {
            self.reset_references(i);
            self.book_cash(i);
        }
        for (i, name, size) in delivered {
            changes.extend(self.roll(i, &name, size));
        }
        changes.extend(self.reopen_closed_out());
        changes
    }

    /// Books closed out by the liquidation engine open again at the
    /// settlement, drawn afresh on the day's listing and funded to their
    /// target ratio (their owners come back with new money), so that the
    /// demo desk lives through days of crashes.
    fn reopen_closed_out(&mut self) -> Vec<Change> {
        let empty: Vec<usize> = (0..self.accounts.len())
            .filter(|&i| self.accounts[i].positions.is_empty())
            .collect();
        if empty.is_empty() {
            return Vec::new();
        }
        let fresh = demo_desk(&self.market);
        let mut changes = Vec::new();
        for i in empty {
            let name = &self.accounts[i].username;
            let Some(book) = fresh.iter().find(|a| &a.username == name) else {
                continue;
            };
            for (instrument, size) in &book.positions {
                let reference = self.settlement_prices.get(instrument).copied();
                self.desk
                    .set_position(self.desk_ids[i], instrument, *size, reference);
                changes.push(Change {
                    account: self.accounts[i].id,
                    instrument: instrument.clone(),
                    size: *size,
                    fill: None,
                });
            }
            self.accounts[i].positions = book.positions.clone();
            self.fund(i);
        }
        changes
    }

    /// What one unit of `inst` books at the settlement: a future its
    /// session P&L to the mark (to the delivery price when it expires), an
    /// expiring option its payoff at the delivery price; a live option
    /// nothing.
    fn settlement_value(&self, inst: &Instrument, expires: bool) -> f64 {
        let Some(u) = self.market.underlying(&inst.base) else {
            return 0.0;
        };
        let delivery = u.index;
        match inst.kind {
            Kind::Option {
                option_type,
                strike,
                ..
            } if expires => {
                let intrinsic = match option_type {
                    OptionType::Call => (delivery - strike).max(0.0),
                    OptionType::Put => (strike - delivery).max(0.0),
                };
                match inst.settlement {
                    Settlement::Inverse => intrinsic / delivery,
                    Settlement::Linear => intrinsic,
                }
            }
            Kind::Option { .. } => 0.0,
            _ => {
                let mark = self.market.quote(inst).map_or(delivery, |q| q.mark_price);
                let price = if expires { delivery } else { mark };
                let reference = self.settlement_prices.get(&inst.name).copied();
                let reference = reference.unwrap_or(price);
                futures_ref_term(inst, price) - futures_ref_term(inst, reference)
            }
        }
    }

    /// A delivered position leaves the book: no trade, no fee.
    fn deliver(&mut self, i: usize, name: &str) -> Change {
        let a = &mut self.accounts[i];
        a.positions.retain(|(n, _)| n != name);
        self.desk.set_position(self.desk_ids[i], name, 0.0, None);
        Change {
            account: self.accounts[i].id,
            instrument: name.to_string(),
            size: 0.0,
            fill: None,
        }
    }

    /// Account `i`'s futures measure their session P&L from the new
    /// settlement prices.
    fn reset_references(&mut self, i: usize) {
        for (name, size) in self.accounts[i].positions.clone() {
            if let Some(&price) = self.settlement_prices.get(&name) {
                self.desk
                    .set_position(self.desk_ids[i], &name, size, Some(price));
            }
        }
    }

    /// The desk rolls a delivered position into the same kind further out:
    /// an option at the same moneyness about a month out, a future about a
    /// quarter out (Deribit rolls nothing; the demo does so that its books
    /// live through a week of expiries).
    fn roll(&mut self, i: usize, name: &str, size: f64) -> Option<Change> {
        let inst = Instrument::parse(name).ok()?;
        let index = self.market.underlying(&inst.base)?.index;
        let target = match inst.kind {
            Kind::Option {
                option_type,
                strike,
                ..
            } => option(
                &self.market,
                &inst.base,
                ROLL_OPTION_DAYS,
                strike / index,
                option_type,
            )?,
            _ => future(&self.market, &inst.base, ROLL_FUTURE_DAYS)?,
        };
        let held = (self.accounts[i].positions.iter())
            .find(|(n, _)| *n == target)
            .map_or(0.0, |p| p.1);
        self.trade(i, &target, held + size, false)
    }

    /// One round of the liquidation engine, run about once a second of
    /// real time (`real_dt` seconds since the last call): each account
    /// whose maintenance margin has reached its margin balance closes a
    /// step of every position, or all of them when nothing is left of its
    /// margin balance.
    pub(super) fn liquidation_round(&mut self, real_dt: f64) -> Vec<Change> {
        self.since_round += real_dt;
        if self.since_round < 1.0 {
            return Vec::new();
        }
        self.since_round = 0.0;
        let mut changes = Vec::new();
        for i in 0..self.accounts.len() {
            if !self.in_liquidation(i) {
                continue;
            }
            let (_, balance) = self.margin_and_balance(i);
            for (name, size) in self.accounts[i].positions.clone() {
                let next = match self.desk.instrument(&name) {
                    Some(inst) if balance > 0.0 => reduced(inst, size),
                    _ => 0.0,
                };
                changes.extend(self.trade(i, &name, next, true));
            }
            self.cover_bankruptcy(i);
        }
        changes
    }

    /// A closed-out account left owing: the exchange's insurance fund
    /// takes the loss and the account starts again from nothing.
    fn cover_bankruptcy(&mut self, i: usize) {
        if !self.accounts[i].positions.is_empty() || self.margin_and_balance(i).1 >= 0.0 {
            return;
        }
        let a = &mut self.accounts[i];
        a.balance = 0.0;
        a.session_rpl = 0.0;
        if let Some((_, backing)) = &mut a.collateral {
            *backing = 0.0;
        }
        self.book_cash(i);
    }
}

/// A position less one liquidation step, in whole trading units (a
/// tenth of an option, one contract of a future) toward zero; what is
/// left under one unit is closed.
fn reduced(inst: &Instrument, size: f64) -> f64 {
    let unit = if inst.is_option() {
        0.1
    } else {
        inst.contract_size.max(1.0)
    };
    // Whole units toward zero; the tolerance keeps 9.5 / 0.1 at 95 units.
    let units = ((size * (1.0 - LIQUIDATION_STEP)).abs() / unit + 1e-9).floor();
    units * unit * size.signum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::instrument::days_from_civil;

    /// 2026-12-04 (a Friday: daily, weekly and monthly expiries) 08:00 UTC.
    fn expiry() -> i64 {
        days_from_civil(2026, 12, 4) * DAY_MS + 8 * 3_600_000
    }

    /// The demo exchange ten minutes before the expiry, brought to 08:00
    /// exactly without settling.
    fn at_expiry() -> DemoState {
        let mut st = DemoState::new(7, expiry() - 600_000);
        st.market.step(600_000);
        st.refresh_quotes();
        assert_eq!(st.market.now_ms, expiry());
        st
    }

    fn index_of(st: &DemoState, username: &str) -> usize {
        (st.accounts.iter())
            .position(|a| a.username == username)
            .unwrap()
    }

    fn equity(st: &DemoState, i: usize) -> f64 {
        st.desk.risk(st.desk_ids[i]).equity
    }

    #[test]
    fn the_settlement_keeps_equity_delivers_what_expires_and_rolls_it() {
        let mut st = at_expiry();
        let now = st.market.now_ms;
        let before: Vec<f64> = (0..st.accounts.len()).map(|i| equity(&st, i)).collect();
        let expiring: Vec<(i64, String)> = (st.accounts.iter())
            .flat_map(|a| a.positions.iter().map(move |(n, _)| (a.id, n.clone())))
            .filter(|(_, n)| Instrument::parse(n).unwrap().expiry_ms() == Some(now))
            .collect();
        assert!(expiring.len() >= 5, "{expiring:?}");
        let changes = st.settle_day();
        // Delivery at the index is the expiring marks' value (Black-76 at
        // T = 0), rolls trade at the mark: nobody's equity moves.
        for (i, e) in before.iter().enumerate() {
            let after = equity(&st, i);
            assert!(
                (after - e).abs() <= 1e-9 * e.abs().max(1.0),
                "{}: {e} -> {after}",
                st.accounts[i].username
            );
            let r = st.desk.risk(st.desk_ids[i]);
            assert!(r.futures_session_upl.abs() < 1e-12, "references reset");
            assert_eq!(st.accounts[i].session_rpl, 0.0);
        }
        for (id, name) in &expiring {
            let delivered = changes.iter().any(|c| {
                c.account == *id && c.instrument == *name && c.size == 0.0 && c.fill.is_none()
            });
            assert!(delivered, "{name} delivered to {id}");
            let (_, a) = st.account(*id).unwrap();
            assert!(a.positions.iter().all(|(n, _)| n != name));
        }
        let rolls = changes.iter().filter(|c| c.fill.is_some()).count();
        assert!(rolls >= expiring.len() / 2, "{rolls} rolls");
        // The listing: nothing expired (that is listed as expired), and the
        // day three days out is new.
        assert!(st
            .market
            .instruments
            .iter()
            .all(|i| i.expiry_ms().is_none_or(|e| e > now)));
        for (_, name) in &expiring {
            assert!(st.market.expired.iter().any(|i| &i.name == name), "{name}");
        }
        let new_day = now + 3 * DAY_MS;
        assert!(st
            .market
            .instruments
            .iter()
            .any(|i| i.expiry_ms() == Some(new_day)));
    }

    #[test]
    fn a_delivered_call_pays_its_intrinsic_value_in_coin() {
        let st = at_expiry();
        let index = st.market.underlying("BTC").unwrap().index;
        let strike = (index / 1000.0).floor() * 1000.0 - 2000.0;
        let call = Instrument::parse(&format!("BTC-4DEC26-{strike}-C")).unwrap();
        let put = Instrument::parse(&format!("BTC-4DEC26-{strike}-P")).unwrap();
        let paid = st.settlement_value(&call, true);
        assert!((paid - (index - strike) / index).abs() < 1e-15);
        assert_eq!(st.settlement_value(&put, true), 0.0);
        assert_eq!(
            st.settlement_value(&call, false),
            0.0,
            "a live option books nothing"
        );
    }

    #[test]
    fn a_long_perpetual_pays_funding_above_the_dead_band() {
        let mut st = at_expiry();
        let i = index_of(&st, "covered-call");
        let (name, size) = st.accounts[i]
            .positions
            .iter()
            .find(|(n, _)| n == "BTC-PERPETUAL")
            .cloned()
            .unwrap();
        st.market
            .underlyings
            .iter_mut()
            .for_each(|u| u.perp_premium = 0.002);
        assert!(
            (st.market.funding_8h("BTC") - 0.0015).abs() < 1e-15,
            "0.2 % less the 0.05 % band"
        );
        let (rpl, index) = (
            st.accounts[i].session_rpl,
            st.market.underlying("BTC").unwrap().index,
        );
        st.accrue_funding(8 * 3_600_000);
        let paid = rpl - st.accounts[i].session_rpl;
        assert!(
            (paid - size / index * 0.0015).abs() < 1e-12,
            "{name}: paid {paid}"
        );
        let r = st.desk.risk(st.desk_ids[i]);
        assert_eq!(
            r.futures_session_rpl, st.accounts[i].session_rpl,
            "the desk books it"
        );
        st.market
            .underlyings
            .iter_mut()
            .for_each(|u| u.perp_premium = 0.0004);
        assert_eq!(
            st.market.funding_8h("BTC"),
            0.0,
            "inside the band nothing is paid"
        );
    }

    #[test]
    fn an_account_past_its_margin_is_reduced_a_step_a_second_with_a_fee() {
        let mut st = at_expiry();
        let i = index_of(&st, "short-strangle");
        let (mm, balance) = st.margin_and_balance(i);
        st.accounts[i].balance -= balance - 0.95 * mm;
        st.book_cash(i);
        assert!(st.in_liquidation(i));
        assert!(st.liquidation_round(0.5).is_empty(), "not a second yet");
        let sizes: Vec<(String, f64)> = st.accounts[i].positions.clone();
        let cash = st.accounts[i].balance;
        let changes = st.liquidation_round(0.5);
        assert_eq!(changes.len(), sizes.len());
        let mut fees = 0.0;
        for (c, (name, size)) in changes.iter().zip(&sizes) {
            let f = c.fill.unwrap();
            assert!(f.liquidation && c.instrument == *name);
            assert!(
                (c.size - size * 0.95).abs() < 0.1 + 1e-9,
                "{size} -> {}",
                c.size
            );
            // 0.75 % of the coin notional, at most 12.5 % of the premium.
            let want = (0.0075 * f.amount.abs()).min(0.125 * f.amount.abs() * f.price);
            assert!((f.fee - want).abs() < 1e-15);
            fees += f.fee + f.amount * f.price;
        }
        assert!(
            (cash - fees - st.accounts[i].balance).abs() < 1e-9,
            "premiums and fees paid from cash"
        );
        let mut rounds = 1;
        while st.in_liquidation(i) && rounds < 30 {
            st.liquidation_round(1.0);
            rounds += 1;
        }
        assert!(!st.in_liquidation(i), "back under after {rounds} rounds");
        assert!(
            !st.accounts[i].positions.is_empty(),
            "reduced, not closed out"
        );
    }

    #[test]
    fn a_step_closes_a_twentieth_in_whole_units_and_the_last_unit_entirely() {
        let option = Instrument::parse("BTC-27MAR26-80000-C").unwrap();
        let perp = Instrument::parse("BTC-PERPETUAL").unwrap();
        assert!((reduced(&option, -10.0) - -9.5).abs() < 1e-12);
        assert!((reduced(&option, 0.15) - 0.1).abs() < 1e-12);
        assert_eq!(reduced(&option, 0.1), 0.0);
        assert_eq!(reduced(&perp, 1_000.0), 950.0);
        assert_eq!(reduced(&perp, -10.0), 0.0);
    }
}

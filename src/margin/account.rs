//! Full valuation of one account: money identities, Greeks, margin.
//!
//! This is the reference path: it recomputes everything from positions and
//! market state. The engine's incremental path must agree with it.

use super::book::{contribution, BookSums, Contribution, PreparedModel};
use super::config::MarginBalanceRule;
use super::notes::{complete, Note, Omission};
use super::requirement::{requirement, Breakdown};
use crate::model::valuation::{resolve, Shock};
use crate::model::{Account, Instrument, MarketState};
use std::collections::HashMap;

/// The instruments known to the core, by name.
pub type Instruments = HashMap<String, Instrument>;

/// A position as valued.
#[derive(Clone, Debug, PartialEq)]
pub struct PositionRisk {
    pub instrument: String,
    pub size: f64,
    pub mark_price: f64,
    pub index_price: f64,
    pub expiry_ms: Option<i64>,
    pub contribution: Contribution,
}

/// Sums of every position of an account, with what could not be valued.
#[derive(Clone, Debug, Default)]
pub struct ValuedBook {
    pub sums: BookSums,
    pub positions: Vec<PositionRisk>,
    pub notes: Vec<Note>,
}

/// Value every position of `account` at `now_ms`, each instrument after the
/// market move `shock` gives for it (`|_| Shock::NONE` = as quoted).
pub fn value_book(
    account: &Account,
    instruments: &Instruments,
    market: &MarketState,
    model: &mut PreparedModel,
    now_ms: i64,
    shock: &dyn Fn(&Instrument) -> Shock,
) -> ValuedBook {
    let mut book = ValuedBook::default();
    for pos in &account.positions {
        let Some(inst) = instruments.get(&pos.instrument) else {
            (book.notes).push(Note::left_out(&pos.instrument, Omission::UnknownInstrument));
            continue;
        };
        if !pos.size.is_finite() {
            (book.notes).push(Note::left_out(&pos.instrument, Omission::SizeNotANumber));
            continue;
        }
        let inst_shock = shock(inst);
        let resolved = match resolve(inst, market, now_ms, inst_shock) {
            Ok(r) => r,
            Err(e) => {
                let why = Omission::Unpriced(e.to_string());
                book.notes.push(Note::left_out(&pos.instrument, why));
                continue;
            }
        };
        if resolved.expired && inst_shock == Shock::NONE {
            book.notes.push(Note::past_expiry(inst));
        }
        let c = contribution(inst, &resolved, pos.size, pos.session_ref_price, model);
        book.sums.apply(&c, 1.0);
        book.positions.push(PositionRisk {
            instrument: inst.name.clone(),
            size: pos.size,
            mark_price: resolved.mark,
            index_price: resolved.index,
            expiry_ms: inst.expiry_ms(),
            contribution: c,
        });
    }
    book
}

/// An account's money, margin and Greeks.
#[derive(Clone, Debug, Default)]
pub struct AccountRisk {
    pub balance: f64,
    pub futures_session_upl: f64,
    pub futures_session_rpl: f64,
    pub options_value: f64,
    pub equity: f64,
    pub margin_balance: f64,
    pub margin: Breakdown,
    /// None when the margin balance is not positive (the ratio is undefined).
    pub mm_ratio: Option<f64>,
    pub im_ratio: Option<f64>,
    pub headroom: f64,
    /// Headroom in USD (None for want of an index price).
    pub headroom_usd: Option<f64>,
    /// Why a number is missing or approximate (positions left out, expiry).
    pub notes: Vec<Note>,
    /// False when a position could not be valued: the margin then leaves it out.
    pub complete: bool,
}

/// Money and margin of an account from valued positions (docs/design.md).
pub fn account_risk(
    account: &Account,
    model: &PreparedModel,
    sums: &BookSums,
    notes: &[Note],
    now_ms: i64,
) -> AccountRisk {
    let margin = requirement(model, sums, &account.add_ons, now_ms);
    let equity = account.balance
        + sums.futures_session_upl
        + account.futures_session_rpl
        + sums.options_value;
    let margin_balance = match model.config.margin_balance_rule() {
        MarginBalanceRule::Equity => equity,
        MarginBalanceRule::EquityMinusOptionsValue => equity - sums.options_value,
    };
    // An empty wallet (nothing held, nothing required) is at 0 %, not undefined.
    let ratio = |m: f64| match (margin_balance > 0.0, margin_balance == 0.0 && m == 0.0) {
        (true, _) => Some(m / margin_balance),
        (false, true) => Some(0.0),
        (false, false) => None,
    };
    let headroom = margin_balance - margin.maintenance_margin;
    let usd_per_unit = sums
        .per_index
        .iter()
        .find(|s| s.positions > 0)
        .map(|s| s.usd_per_unit);
    AccountRisk {
        balance: account.balance,
        futures_session_upl: sums.futures_session_upl,
        futures_session_rpl: account.futures_session_rpl,
        options_value: sums.options_value,
        equity,
        margin_balance,
        mm_ratio: ratio(margin.maintenance_margin),
        im_ratio: ratio(margin.initial_margin),
        headroom,
        headroom_usd: usd_per_unit.map(|u| headroom * u),
        margin,
        complete: complete(notes),
        notes: notes.to_vec(),
    }
}

/// Value an account in full at `now_ms`: its risk and its valued positions.
pub fn value_account(
    account: &Account,
    instruments: &Instruments,
    market: &MarketState,
    model: &mut PreparedModel,
    now_ms: i64,
) -> (AccountRisk, ValuedBook) {
    let book = value_book(account, instruments, market, model, now_ms, &|_| {
        Shock::NONE
    });
    (
        account_risk(account, model, &book.sums, &book.notes, now_ms),
        book,
    )
}

//! Full valuation of one account: money identities, Greeks, margin.
//!
//! This is the reference path: it recomputes everything from positions and
//! market state. The engine's incremental path must agree with it.

use super::book::{
    fill_contribution, unit_vector_and_value, BookSums, Contribution, Place, PreparedModel,
};
use super::config::MarginBalanceRule;
use super::notes::{complete, Note, Omission};
use super::requirement::{requirement, Breakdown};
use crate::model::valuation::{
    unit_value_at, unit_value_for_margin, Base, Resolved, Shock, UnitValue,
};
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
    let book = PreparedBook::new(account, instruments, market, now_ms, false);
    book.value(model, shock, true)
}

/// Instruments priced at one shock (inputs, unit value, unit scenario
/// vector), shared by every book valued at that shock under one model and
/// currency: a desk-wide search prices each instrument once per step.
/// Instruments are numbered (`PreparedBook::number`) so that a lookup is
/// an index, not a hash of the name.
#[derive(Default)]
pub struct SharedPrices {
    slots: Vec<Option<Priced>>,
    filled: Vec<usize>,
    /// Scenario vectors of cleared prices, reused by the next step's (a
    /// search prices thousands of vectors: allocating each cost more than
    /// a tenth of it).
    spare: Vec<Vec<f64>>,
}

type Priced = (Resolved, UnitValue, Option<Vec<f64>>);

impl SharedPrices {
    /// Room for instruments numbered below `count`.
    pub fn new(count: usize) -> SharedPrices {
        SharedPrices {
            slots: vec![None; count],
            filled: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// Forget every price (the next step's shock is another).
    pub fn clear(&mut self) {
        for k in self.filled.drain(..) {
            if let Some((_, _, Some(vector))) = self.slots[k].take() {
                self.spare.push(vector);
            }
        }
    }
}

/// An account's positions with their instruments found and their quotes
/// read, once, for valuations under many shocks (a liquidation search):
/// what no shock changes is not redone for each.
pub struct PreparedBook<'a> {
    entries: Vec<Entry<'a>>,
    /// The indices of the priced entries, each once.
    indices: Vec<&'a str>,
}

enum Entry<'a> {
    Priced {
        inst: &'a Instrument,
        size: f64,
        session_ref_price: Option<f64>,
        base: Base,
        /// The instrument's number in a `SharedPrices` (None: not numbered).
        number: Option<usize>,
    },
    /// Left out whatever the shock: the note says why.
    LeftOut(Note),
}

impl<'a> PreparedBook<'a> {
    /// `many`: also compute ahead what every shocked option value needs.
    pub fn new(
        account: &'a Account,
        instruments: &'a Instruments,
        market: &MarketState,
        now_ms: i64,
        many: bool,
    ) -> PreparedBook<'a> {
        let entries = (account.positions.iter())
            .map(|pos| {
                let Some(inst) = instruments.get(&pos.instrument) else {
                    return Entry::LeftOut(Note::left_out(
                        &pos.instrument,
                        Omission::UnknownInstrument,
                    ));
                };
                if !pos.size.is_finite() {
                    return Entry::LeftOut(Note::left_out(
                        &pos.instrument,
                        Omission::SizeNotANumber,
                    ));
                }
                match Base::of(inst, market, now_ms) {
                    Ok(base) => Entry::Priced {
                        inst,
                        size: pos.size,
                        session_ref_price: pos.session_ref_price,
                        base: if many { base.for_many(inst) } else { base },
                        number: None,
                    },
                    Err(e) => Entry::LeftOut(Note::left_out(
                        &pos.instrument,
                        Omission::Unpriced(e.to_string()),
                    )),
                }
            })
            .collect::<Vec<_>>();
        let mut indices: Vec<&str> = Vec::new();
        for e in &entries {
            if let Entry::Priced { inst, .. } = e {
                if !indices.contains(&inst.index_name.as_str()) {
                    indices.push(&inst.index_name);
                }
            }
        }
        PreparedBook { entries, indices }
    }

    /// Number the book's instruments in `numbers` (by name, adding those it
    /// lacks), for `value_shared`.
    pub fn number(&mut self, numbers: &mut HashMap<String, usize>) {
        for e in &mut self.entries {
            if let Entry::Priced { inst, number, .. } = e {
                let next = numbers.len();
                *number = Some(*numbers.entry(inst.name.clone()).or_insert(next));
            }
        }
    }

    /// Prices may come from another book (a `SharedPrices`): this book's
    /// model must still build the grids its margin is read from.
    fn build_grids(&self, model: &mut PreparedModel) {
        for index in &self.indices {
            model.grid(index);
        }
    }

    /// The book after `shock`; `positions`: also list each position's risk
    /// (a search needs only the sums).
    pub fn value(
        &self,
        model: &mut PreparedModel,
        shock: &dyn Fn(&Instrument) -> Shock,
        positions: bool,
    ) -> ValuedBook {
        self.value_shared(model, shock, positions, None)
    }

    /// `value`, taking each instrument's shocked price from `shared` (and
    /// adding those it lacks): every book valued with the same `shared`
    /// must be under the same model and currency, at the same shock.
    pub fn value_shared(
        &self,
        model: &mut PreparedModel,
        shock: &dyn Fn(&Instrument) -> Shock,
        positions: bool,
        mut shared: Option<&mut SharedPrices>,
    ) -> ValuedBook {
        let mut book = ValuedBook::default();
        let mut own = None;
        // One buffer for every position: a search values books thousands
        // of times, and a fresh contribution allocates twice.
        let mut c = Contribution::default();
        if shared.is_some() {
            self.build_grids(model);
        }
        for e in &self.entries {
            let (inst, size, session_ref_price, base, number) = match e {
                Entry::LeftOut(note) => {
                    book.notes.push(note.clone());
                    continue;
                }
                Entry::Priced {
                    inst,
                    size,
                    session_ref_price,
                    base,
                    number,
                } => (*inst, *size, *session_ref_price, base, *number),
            };
            let inst_shock = shock(inst);
            let (resolved, unit, vector) = priced(
                inst,
                base,
                inst_shock,
                model,
                shared.as_deref_mut(),
                number,
                &mut own,
                Detail::Full,
            );
            if resolved.expired && inst_shock == Shock::NONE {
                book.notes.push(Note::past_expiry(inst));
            }
            let vector = vector.as_deref();
            fill_contribution(
                &mut c,
                inst,
                resolved,
                unit,
                size,
                session_ref_price,
                model,
                vector,
            );
            book.sums.apply(&c, 1.0);
            if positions {
                book.positions.push(PositionRisk {
                    instrument: inst.name.clone(),
                    size,
                    mark_price: resolved.mark,
                    index_price: resolved.index,
                    expiry_ms: inst.expiry_ms(),
                    contribution: c.clone(),
                });
            }
        }
        book
    }
}

/// How much of an instrument's unit value to compute.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    Full,
    /// What the margin reads: value and (net) delta (`unit_value_for_margin`).
    ForMargin,
}

/// `inst` priced at `shock`: taken from `shared` when it holds it (else
/// priced and put there), or priced into `own` without a `shared` (its
/// scenario vector's allocation reused). The mark takes the model's value
/// the grid computed for the scenarios.
#[allow(clippy::too_many_arguments)]
fn priced<'s>(
    inst: &Instrument,
    base: &Base,
    shock: Shock,
    model: &mut PreparedModel,
    shared: Option<&'s mut SharedPrices>,
    number: Option<usize>,
    own: &'s mut Option<Priced>,
    detail: Detail,
) -> &'s Priced {
    let mut price = |buffer: Vec<f64>| {
        let (mut vector, mut usd) = (None, None);
        let r = base.shocked_via(inst, shock, |r| {
            (vector, usd) = unit_vector_and_value(inst, r, model, buffer);
            usd
        });
        let unit = match detail {
            Detail::Full => unit_value_at(inst, &r, usd),
            Detail::ForMargin => unit_value_for_margin(inst, &r, usd),
        };
        (r, unit, vector)
    };
    match (shared, number) {
        (Some(s), Some(k)) if k < s.slots.len() => {
            let slot = &mut s.slots[k];
            if slot.is_none() {
                s.filled.push(k);
            }
            let spare = &mut s.spare;
            &*slot.get_or_insert_with(|| price(spare.pop().unwrap_or_default()))
        }
        _ => {
            let buffer = own.take().and_then(|(_, _, v)| v).unwrap_or_default();
            &*own.insert(price(buffer))
        }
    }
}

/// An account's book valued under many price shocks for its margin alone
/// (the liquidation search): the sums are kept between valuations and each
/// position's place in them is found once. The margin is bit for bit the
/// one `PreparedBook::value` gives (`BookSums::add_margin_terms`).
pub struct MarginBook<'a> {
    book: PreparedBook<'a>,
    sums: BookSums,
    places: Vec<Option<Place>>,
}

impl<'a> MarginBook<'a> {
    pub fn new(book: PreparedBook<'a>) -> MarginBook<'a> {
        MarginBook {
            places: vec![None; book.entries.len()],
            book,
            sums: BookSums::default(),
        }
    }

    /// See `PreparedBook::number`.
    pub fn number(&mut self, numbers: &mut HashMap<String, usize>) {
        self.book.number(numbers);
    }

    /// Maintenance margin less margin balance after `shock` (≥ 0: liquidation).
    pub fn shortfall(
        &mut self,
        account: &Account,
        model: &mut PreparedModel,
        shock: &dyn Fn(&Instrument) -> Shock,
        mut shared: Option<&mut SharedPrices>,
        now_ms: i64,
    ) -> f64 {
        if shared.is_some() {
            self.book.build_grids(model);
        }
        self.sums.reset();
        let mut own = None;
        for (e, place) in self.book.entries.iter().zip(&mut self.places) {
            let Entry::Priced {
                inst,
                size,
                session_ref_price,
                base,
                number,
            } = e
            else {
                continue;
            };
            let (r, unit, vector) = priced(
                inst,
                base,
                shock(inst),
                model,
                shared.as_deref_mut(),
                *number,
                &mut own,
                Detail::ForMargin,
            );
            let terms = (*inst, r, unit, vector.as_deref());
            (self.sums).add_margin_terms(terms, *size, *session_ref_price, model, place);
        }
        shortfall(account, model, &self.sums, now_ms)
    }
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
    let (equity, margin_balance) = equity_and_margin_balance(account, model, sums);
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

/// Equity and what of it counts as margin balance under the model.
fn equity_and_margin_balance(
    account: &Account,
    model: &PreparedModel,
    sums: &BookSums,
) -> (f64, f64) {
    let equity = account.balance
        + sums.futures_session_upl
        + account.futures_session_rpl
        + sums.options_value;
    let margin_balance = match model.config.margin_balance_rule() {
        MarginBalanceRule::Equity => equity,
        MarginBalanceRule::EquityMinusOptionsValue => equity - sums.options_value,
    };
    (equity, margin_balance)
}

/// Maintenance margin less margin balance, as `account_risk` has them,
/// without the rest (a search asks for it thousands of times).
fn shortfall(account: &Account, model: &PreparedModel, sums: &BookSums, now_ms: i64) -> f64 {
    let margin = requirement(model, sums, &account.add_ons, now_ms);
    margin.maintenance_margin - equity_and_margin_balance(account, model, sums).1
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

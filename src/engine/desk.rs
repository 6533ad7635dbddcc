//! The incremental risk state of many accounts (docs/design.md).
//!
//! Each instrument is priced once per tick and its per-unit scenario vector
//! is shared by every account that holds it; each holder then swaps the old
//! contribution of that position for the new one in its sums, which costs
//! O(scenarios) per holder. An index tick reprices the instruments on that
//! index once. Position and balance changes recompute only their account.
//!
//! The pricing clock is the exchange's time carried in the data, advanced
//! in steps of `clock_step_ms`: when it moves, every instrument is repriced
//! (time to expiry changed for all of them), so a replay of the same
//! messages computes exactly the same numbers as the live run.

use crate::margin::account::{account_risk, AccountRisk, Instruments};
use crate::margin::book::{
    fill_contribution, unit_vector, unit_vector_and_value, BookSums, Contribution, IndexSums,
    PreparedModel,
};
use crate::margin::config::ModelConfig;
use crate::margin::grid::Table;
use crate::margin::inputs::{AccountInputs, Models};
use crate::margin::notes::{Note, Omission};
use crate::margin::requirement::WorstScenario;
use crate::model::market::NameMap;
use crate::model::valuation::{unit_value_at, Base, Resolved, Shock, UnitValue};
use crate::model::{Account, Collateral, Instrument, MarketState, Quote};
use crate::risk::revalue::Book;
use crate::risk::{DeskInputs, Holder};
use std::collections::{BTreeMap, HashMap};

pub type AccountId = usize;

/// One position as valued now, for screens (Greeks in Deribit's units, for
/// the whole position; None while the instrument has no price).
#[derive(Clone, Debug, PartialEq)]
pub struct Leg {
    pub instrument: String,
    pub size: f64,
    pub mark: Option<f64>,
    /// Net-transaction delta in coin (Deribit's delta_total convention).
    pub delta: Option<f64>,
    pub gamma: Option<f64>,
    pub vega: Option<f64>,
    pub theta: Option<f64>,
    /// The position's P&L in the scenario that sets the risk-matrix worst
    /// case (None under standard margin, or on another index).
    pub worst_pnl: Option<f64>,
}

/// A risk matrix's standard table: P&L (account currency) by price move
/// (rows) and vol move (columns), before the model's aggregation.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub index_name: String,
    pub price_moves: Vec<f64>,
    pub vol_moves: Vec<&'static str>,
    pub pnl: Vec<Vec<Option<f64>>>,
    /// The cell with the largest loss.
    pub worst: Option<(usize, usize)>,
    /// The extended table (moves beyond the standard range), in order.
    pub extended: Vec<ExtendedCell>,
    /// The model's worst scenario after aggregation is in the extended
    /// table, at this position of `extended`.
    pub worst_extended: Option<usize>,
}

/// One extended-table scenario: its P&L as weighted, and after the
/// dampener and offsets that the model applies before taking the worst.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtendedCell {
    pub price_move: f64,
    pub vol_move: &'static str,
    pub pnl: f64,
    pub aggregated: f64,
}
pub type InstrumentId = usize;

/// The (row, column) of a table's most negative P&L (None: no numbers).
pub fn largest_loss(pnl: &[Vec<Option<f64>>]) -> Option<(usize, usize)> {
    let cells = pnl.iter().enumerate().flat_map(|(i, row)| {
        row.iter()
            .enumerate()
            .filter_map(move |(j, v)| v.map(|v| ((i, j), v)))
    });
    cells.min_by(|a, b| a.1.total_cmp(&b.1)).map(|(at, _)| at)
}

/// Re-add every contribution from scratch after this many incremental
/// updates of an account, so that rounding never accumulates.
const RESUM_EVERY: u32 = 4096;

/// A position that holds an instrument. Position indices stay valid because
/// any change to an account's positions re-registers all of its holdings.
struct Holding {
    account: AccountId,
    position: usize,
}

struct InstrumentSlot {
    inst: Instrument,
    /// An option's model value at its quote, and what it was computed
    /// from: an index tick moves the option from its quote, and the value
    /// at the quote is the same until the quote or the clock changes.
    at_quote: Option<([u64; 3], f64)>,
    /// Resolved inputs and per-unit value, shared by every holder.
    priced: Option<(Resolved, UnitValue)>,
    error: Option<String>,
    holders: Vec<Holding>,
    /// Expired and held by nobody: the slot waits to be reused.
    retired: bool,
}

impl InstrumentSlot {
    fn new(inst: Instrument) -> InstrumentSlot {
        InstrumentSlot {
            inst,
            at_quote: None,
            priced: None,
            error: None,
            holders: Vec::new(),
            retired: false,
        }
    }

    /// `base` with the model's value at its quote, kept from the last
    /// reprice when the quote's inputs are the same (else computed, kept).
    fn with_at_quote(&mut self, base: Base) -> Base {
        let Some(key) = base.at_quote_key() else {
            return base;
        };
        if let Some((k, v)) = self.at_quote {
            if k == key {
                return base.with_model_at_quote(v);
            }
        }
        let base = base.for_many(&self.inst);
        self.at_quote = base.model_at_quote().map(|v| (key, v));
        base
    }
}

struct DeskAccount {
    account: Account,
    /// Index of the account's (model, currency) in `Desk::prepared`: accounts
    /// with equal keys share the prepared model and unit scenario vectors.
    model_key: usize,
    /// Parallel to `account.positions`.
    contributions: Vec<Option<Contribution>>,
    sums: BookSums,
    /// Where a repriced contribution is built before it replaces the old one.
    scratch: Contribution,
    /// Positions left out when the account was last rebuilt (unknown instruments).
    notes: Vec<Note>,
    updates: u32,
    /// Changed since the last `take_dirty`.
    dirty: bool,
}

/// All accounts, instruments and market state of one monitor.
pub struct Desk {
    models: Models,
    slots: Vec<InstrumentSlot>,
    by_name: NameMap<InstrumentId>,
    by_index: HashMap<String, Vec<InstrumentId>>,
    accounts: Vec<DeskAccount>,
    /// One prepared model (grids built) per (model name, currency).
    prepared: Vec<PreparedModel>,
    pub market: MarketState,
    now_ms: i64,
    clock_step_ms: i64,
    /// Price changes are queued (`pending`) instead of repriced at once,
    /// until `settle` (a replay that reports only at its end).
    deferred: bool,
    /// Instruments whose price changed while deferred, once each.
    pending: Vec<InstrumentId>,
    is_pending: Vec<bool>,
    /// Retired slots, for the next instruments added.
    free: Vec<InstrumentId>,
}

impl Desk {
    pub fn new(models: BTreeMap<String, ModelConfig>, now_ms: i64) -> Desk {
        Desk {
            models: Models::new(models),
            slots: Vec::new(),
            by_name: NameMap::default(),
            by_index: HashMap::new(),
            accounts: Vec::new(),
            prepared: Vec::new(),
            market: MarketState::default(),
            now_ms,
            clock_step_ms: 1000,
            deferred: false,
            pending: Vec::new(),
            is_pending: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Defer repricing (`on`), or reprice what is queued and stop deferring.
    /// A replay whose report values every account from its inputs at the
    /// end needs no revaluation per message: it defers, and settles once.
    pub fn defer_pricing(&mut self, on: bool) {
        self.deferred = on;
        if !on {
            self.settle();
        }
    }

    /// Reprice every instrument whose price changed while deferred.
    pub fn settle(&mut self) {
        for id in std::mem::take(&mut self.pending) {
            self.is_pending[id] = false;
            self.reprice(id);
        }
    }

    /// Reprice an instrument now, or queue it while deferred.
    fn price_changed(&mut self, id: InstrumentId) {
        if !self.deferred {
            return self.reprice(id);
        }
        if !std::mem::replace(&mut self.is_pending[id], true) {
            self.pending.push(id);
        }
    }

    pub fn set_clock_step(&mut self, ms: i64) {
        self.clock_step_ms = ms.max(1);
    }

    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    pub fn instrument(&self, name: &str) -> Option<&Instrument> {
        self.by_name.get(name).map(|&i| &self.slots[i].inst)
    }

    /// All instruments by name (for the full-recompute reference path).
    pub fn instruments(&self) -> Instruments {
        self.slots
            .iter()
            .map(|s| (s.inst.name.clone(), s.inst.clone()))
            .collect()
    }

    /// Every account as VaR sees it, keyed like the report's entries:
    /// (label, currency), or (label, "USD") for all wallets of a cross
    /// account; with the instruments they hold and their market.
    pub fn var_inputs(&self) -> DeskInputs {
        let mut by_key: BTreeMap<(String, String), Holder> = BTreeMap::new();
        let mut instruments = Instruments::new();
        let mut market = MarketState {
            indices: self.market.indices.clone(),
            ..MarketState::default()
        };
        for id in 0..self.account_count() {
            let a = self.account(id);
            let equity = self.risk(id).equity;
            let currency = match a.collateral {
                Collateral::Cross => "USD".to_string(),
                Collateral::Segregated => a.currency.clone(),
            };
            for p in &a.positions {
                if let Some(inst) = self.instrument(&p.instrument) {
                    instruments.insert(p.instrument.clone(), inst.clone());
                }
                if let Some(q) = self.market.quotes.get(&p.instrument) {
                    market.quotes.insert(p.instrument.clone(), *q);
                }
            }
            let book = Book {
                currency: a.currency.clone(),
                positions: (a.positions.iter())
                    .map(|p| (p.instrument.clone(), p.size))
                    .collect(),
                equity,
            };
            let key = (a.label.clone(), currency.clone());
            (by_key.entry(key))
                .or_insert_with(|| Holder {
                    label: a.label.clone(),
                    currency,
                    books: Vec::new(),
                })
                .books
                .push(book);
        }
        DeskInputs {
            holders: by_key.into_values().collect(),
            instruments,
            market,
            now_ms: self.now_ms,
        }
    }

    pub fn add_instrument(&mut self, inst: Instrument) -> InstrumentId {
        if let Some(&id) = self.by_name.get(&inst.name) {
            self.slots[id].inst = inst;
            self.slots[id].at_quote = None;
            self.reprice(id);
            return id;
        }
        let id = self.free.pop().unwrap_or(self.slots.len());
        self.by_name.insert(inst.name.clone(), id);
        self.by_index
            .entry(inst.index_name.clone())
            .or_default()
            .push(id);
        if id < self.slots.len() {
            self.slots[id] = InstrumentSlot::new(inst);
        } else {
            self.slots.push(InstrumentSlot::new(inst));
            self.is_pending.push(false);
        }
        self.reprice(id);
        id
    }

    /// Retire every instrument past expiry that no account holds: its name
    /// and quote are forgotten and its slot is reused by the next
    /// instrument added. A monitor running for weeks sees hundreds of new
    /// listings a day; without this its memory would grow by them.
    /// Returns how many were retired.
    pub fn retire_expired(&mut self) -> usize {
        let now = self.now_ms;
        let mut retired = 0;
        for id in 0..self.slots.len() {
            let slot = &self.slots[id];
            let expired = slot.inst.expiry_ms().is_some_and(|e| e <= now);
            if slot.retired || !expired || !slot.holders.is_empty() {
                continue;
            }
            let (name, index) = (slot.inst.name.clone(), slot.inst.index_name.clone());
            self.by_name.remove(&name);
            if let Some(list) = self.by_index.get_mut(&index) {
                list.retain(|&i| i != id);
            }
            self.market.quotes.remove(&name);
            let slot = &mut self.slots[id];
            (slot.priced, slot.at_quote, slot.error) = (None, None, None);
            slot.retired = true;
            self.free.push(id);
            retired += 1;
        }
        retired
    }

    /// Add an account; its model must be one of the desk's models.
    pub fn add_account(&mut self, account: Account) -> Result<AccountId, String> {
        let config = self.models.get(&account.model).cloned().ok_or_else(|| {
            format!(
                "account {}: unknown margin model {:?}",
                account.label, account.model
            )
        })?;
        let id = self.accounts.len();
        let model_key = self.model_key(config, &account.currency);
        self.accounts.push(DeskAccount {
            account,
            model_key,
            contributions: Vec::new(),
            sums: BookSums::default(),
            scratch: Contribution::default(),
            notes: Vec::new(),
            updates: 0,
            dirty: true,
        });
        self.rebuild_account(id);
        Ok(id)
    }

    /// Switch an account to another of the desk's models.
    pub fn set_model(&mut self, id: AccountId, model: &str) -> Result<(), String> {
        let config = self
            .models
            .get(model)
            .cloned()
            .ok_or_else(|| format!("unknown margin model {model:?}"))?;
        let currency = self.accounts[id].account.currency.clone();
        let model_key = self.model_key(config, &currency);
        let acct = &mut self.accounts[id];
        acct.account.model = model.to_string();
        acct.model_key = model_key;
        self.rebuild_account(id);
        Ok(())
    }

    fn model_key(&mut self, config: ModelConfig, currency: &str) -> usize {
        let prepared = PreparedModel::new(config, currency);
        let same = |p: &PreparedModel| {
            p.config.name() == prepared.config.name() && p.currency == prepared.currency
        };
        match self.prepared.iter().position(same) {
            Some(i) => i,
            None => {
                self.prepared.push(prepared);
                self.prepared.len() - 1
            }
        }
    }

    pub fn models(&self) -> &BTreeMap<String, ModelConfig> {
        &self.models
    }

    /// A copy of what valuing account `id` needs, with the instruments
    /// named in `extra` too (known ones only): see `AccountInputs`.
    pub fn inputs(&self, id: AccountId, extra: &[String]) -> AccountInputs {
        let account = self.accounts[id].account.clone();
        let names = account.positions.iter().map(|p| &p.instrument).chain(extra);
        let mut instruments = Instruments::new();
        let mut market = MarketState {
            indices: self.market.indices.clone(),
            ..MarketState::default()
        };
        for name in names {
            let Some(inst) = self.instrument(name) else {
                continue;
            };
            instruments.insert(name.clone(), inst.clone());
            if let Some(q) = self.market.quotes.get(name) {
                market.quotes.insert(name.clone(), *q);
            }
        }
        AccountInputs {
            account,
            instruments,
            market,
            models: self.models.clone(),
            now_ms: self.now_ms,
        }
    }

    /// Every known instrument's name, sorted (what-if pickers).
    pub fn instrument_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        names.sort();
        names
    }

    pub fn account(&self, id: AccountId) -> &Account {
        &self.accounts[id].account
    }

    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    pub fn find_account(&self, label: &str, currency: &str) -> Option<AccountId> {
        self.accounts.iter().position(|a| {
            a.account.label == label && a.account.currency.eq_ignore_ascii_case(currency)
        })
    }

    /// Move the pricing clock to `ts` if it is a step or more ahead.
    pub fn observe_time(&mut self, ts: i64) {
        if ts >= self.now_ms + self.clock_step_ms {
            self.set_clock(ts);
        }
    }

    /// Set the pricing clock and reprice everything.
    pub fn set_clock(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        for id in 0..self.slots.len() {
            if !self.slots[id].retired {
                self.price_changed(id);
            }
        }
    }

    /// An index tick: reprice the instruments on that index once.
    pub fn apply_index(&mut self, index_name: &str, price: f64, ts: i64) {
        if !(price.is_finite() && price > 0.0) {
            return;
        }
        self.market.set_index(index_name, price, ts);
        let before = self.now_ms;
        self.observe_time(ts);
        if self.now_ms != before {
            return; // the clock step repriced everything already
        }
        let ids = self.by_index.get(index_name).cloned().unwrap_or_default();
        for id in ids {
            self.price_changed(id);
        }
    }

    /// A mark tick on one instrument.
    pub fn apply_quote(&mut self, name: &str, quote: Quote) {
        self.market.set_quote(name, quote);
        let before = self.now_ms;
        self.observe_time(quote.timestamp);
        if self.now_ms != before {
            return;
        }
        if let Some(&id) = self.by_name.get(name) {
            self.price_changed(id);
        }
    }

    /// True once the pricing clock has reached the instrument's expiry.
    pub fn is_expired(&self, name: &str) -> bool {
        self.instrument(name)
            .and_then(Instrument::expiry_ms)
            .is_some_and(|e| e <= self.now_ms)
    }

    /// Whether each of an account's positions is past expiry, in position
    /// order; from the kept contributions, so without a name lookup when
    /// the position is priced (this runs for every book rebuilt).
    pub fn expired_positions(&self, id: AccountId) -> impl Iterator<Item = bool> + '_ {
        let a = &self.accounts[id];
        (a.account.positions.iter())
            .zip(&a.contributions)
            .map(|(p, c)| match c {
                Some(c) => c.expiry_ms.is_some_and(|e| e <= self.now_ms),
                None => self.is_expired(&p.instrument),
            })
    }

    /// The daily settlement moved a future's session reference: each holder
    /// measures its session P&L from `price` from now on, as the exchange
    /// does once it has booked the previous session's P&L into the balance.
    /// Tickers repeat the price all day: nothing happens unless it changed.
    pub fn apply_settlement(&mut self, name: &str, price: f64) {
        let Some(&id) = self.by_name.get(name) else {
            return;
        };
        if self.slots[id].inst.is_option() || !(price.is_finite() && price > 0.0) {
            return;
        }
        let mut changed = false;
        for h in &self.slots[id].holders {
            let pos = &mut self.accounts[h.account].account.positions[h.position];
            if pos.session_ref_price != Some(price) {
                pos.session_ref_price = Some(price);
                changed = true;
            }
        }
        if changed {
            self.price_changed(id);
        }
    }

    /// Mark the accounts holding an instrument, or anything on an index,
    /// as changed (what is known about it changed, not its price).
    pub fn touch_holders(&mut self, instrument_or_index: &str) {
        let mut slots: Vec<InstrumentId> = self
            .by_name
            .get(instrument_or_index)
            .copied()
            .into_iter()
            .collect();
        slots.extend(self.by_index.get(instrument_or_index).into_iter().flatten());
        for id in slots {
            for h in &self.slots[id].holders {
                self.accounts[h.account].dirty = true;
            }
        }
    }

    /// Replace a position's size (0 removes it).
    pub fn set_position(
        &mut self,
        id: AccountId,
        instrument: &str,
        size: f64,
        session_ref_price: Option<f64>,
    ) {
        self.accounts[id]
            .account
            .set_position(instrument, size, session_ref_price);
        self.rebuild_account(id);
    }

    /// Replace all positions of an account (a fresh snapshot from the exchange).
    pub fn replace_positions(&mut self, id: AccountId, positions: Vec<crate::model::Position>) {
        self.accounts[id].account.positions = positions;
        self.rebuild_account(id);
    }

    /// Accounts whose risk may have changed since the last call (what is
    /// queued is repriced first).
    pub fn take_dirty(&mut self) -> Vec<AccountId> {
        self.settle();
        let mut out = Vec::new();
        for (id, a) in self.accounts.iter_mut().enumerate() {
            if std::mem::take(&mut a.dirty) {
                out.push(id);
            }
        }
        out
    }

    pub fn set_balance(&mut self, id: AccountId, balance: f64, futures_session_rpl: f64) {
        let a = &mut self.accounts[id].account;
        a.balance = balance;
        a.futures_session_rpl = futures_session_rpl;
        self.accounts[id].dirty = true;
    }

    pub fn account_mut(&mut self, id: AccountId) -> &mut Account {
        self.accounts[id].dirty = true;
        &mut self.accounts[id].account
    }

    /// Each position of an account as valued now (None for unpriced ones),
    /// with its P&L in `worst` (the account's worst risk-matrix scenario).
    pub fn legs(&self, id: AccountId, worst: Option<&WorstScenario>) -> Vec<Leg> {
        let a = &self.accounts[id];
        a.account
            .positions
            .iter()
            .zip(&a.contributions)
            .map(|(p, c)| {
                let mark = self
                    .by_name
                    .get(&p.instrument)
                    .and_then(|&i| self.slots[i].priced.as_ref())
                    .map(|(r, _)| r.mark);
                let c = c.as_ref();
                Leg {
                    instrument: p.instrument.clone(),
                    size: p.size,
                    mark,
                    delta: c.map(|c| c.net_delta),
                    gamma: c.map(|c| c.gamma),
                    vega: c.map(|c| c.vega),
                    theta: c.map(|c| c.theta),
                    worst_pnl: c.zip(worst).and_then(|(c, w)| {
                        (c.index_name == w.index_name)
                            .then(|| c.vector.get(w.index).copied())
                            .flatten()
                    }),
                }
            })
            .collect()
    }

    /// The account's risk matrix on each index it holds positions on, main
    /// index first (none under standard margin or without positions).
    pub fn matrices(&self, id: AccountId) -> Vec<Matrix> {
        let a = &self.accounts[id];
        (a.sums.per_index.iter())
            .filter(|s| s.positions > 0)
            .filter_map(|s| self.index_matrix(a, s))
            .collect()
    }

    /// The standard table of the account's risk matrix on its main index
    /// (None under standard margin or without positions).
    pub fn matrix(&self, id: AccountId) -> Option<Matrix> {
        self.matrices(id).into_iter().next()
    }

    fn index_matrix(&self, a: &DeskAccount, s: &IndexSums) -> Option<Matrix> {
        let grid = self.prepared[a.model_key].built_grid(&s.index_name)?;
        let (price_moves, vol_moves, pnl) = grid.standard_table(&s.vector);
        let worst = largest_loss(&pnl);
        let mut aggregated = s.vector.clone();
        grid.aggregate(&mut aggregated, s.usd_per_unit);
        let (_, worst_at) = grid.worst(&aggregated);
        let mut extended = Vec::new();
        let mut worst_extended = None;
        for (k, sc) in grid.scenarios.iter().enumerate() {
            if sc.table != Table::Extended {
                continue;
            }
            if k == worst_at {
                worst_extended = Some(extended.len());
            }
            extended.push(ExtendedCell {
                price_move: sc.price_move,
                vol_move: sc.vol.label(),
                pnl: s.vector.get(k).copied().unwrap_or(f64::NAN),
                aggregated: aggregated.get(k).copied().unwrap_or(f64::NAN),
            });
        }
        Some(Matrix {
            index_name: s.index_name.clone(),
            price_moves,
            vol_moves,
            pnl,
            worst,
            extended,
            worst_extended,
        })
    }

    /// An account's kept sums (Greeks, options value, per-index vectors).
    pub fn sums(&self, id: AccountId) -> &BookSums {
        &self.accounts[id].sums
    }

    /// Risk of an account from its incrementally kept sums.
    pub fn risk(&self, id: AccountId) -> AccountRisk {
        let a = &self.accounts[id];
        let mut notes = a.notes.clone();
        let expired = self.expired_positions(id);
        for (c, expired) in a
            .account
            .positions
            .iter()
            .zip(&a.contributions)
            .zip(expired)
        {
            if expired {
                if let Some(inst) = self.instrument(&c.0.instrument) {
                    notes.push(Note::past_expiry(inst));
                }
            }
            if c.1.is_none() {
                if let Some(&iid) = self.by_name.get(&c.0.instrument) {
                    if let Some(e) = &self.slots[iid].error {
                        let why = Omission::Unpriced(e.to_string());
                        notes.push(Note::left_out(&c.0.instrument, why));
                    }
                }
            }
        }
        account_risk(
            &a.account,
            &self.prepared[a.model_key],
            &a.sums,
            &notes,
            self.now_ms,
        )
    }

    /// Price one instrument and update its holders.
    fn reprice(&mut self, id: InstrumentId) {
        let slot = &mut self.slots[id];
        if slot.retired {
            return;
        }
        // One unit scenario vector per model key among the holders. The
        // first holder's is priced with the mark, which takes the model's
        // value its grid computed.
        let mut vectors: Vec<(usize, Option<Vec<f64>>)> = Vec::new();
        match Base::of(&slot.inst, &self.market, self.now_ms).map(|b| slot.with_at_quote(b)) {
            Ok(base) => {
                let first_key = (slot.holders.first()).map(|h| self.accounts[h.account].model_key);
                let mut usd = None;
                let r = base.shocked_via(&slot.inst, Shock::NONE, |r| {
                    let key = first_key?;
                    let model = &mut self.prepared[key];
                    let (vector, value) = unit_vector_and_value(&slot.inst, r, model, Vec::new());
                    vectors.push((key, vector));
                    usd = value;
                    value
                });
                slot.priced = Some((r, unit_value_at(&slot.inst, &r, usd)));
                slot.error = None;
            }
            Err(e) => {
                slot.priced = None;
                slot.error = Some(e);
            }
        }
        let slot = &self.slots[id];
        for h in &slot.holders {
            let acct = &mut self.accounts[h.account];
            let model = &mut self.prepared[acct.model_key];
            let Some((r, unit)) = &slot.priced else {
                Self::swap_position(acct, model, h.position, None);
                continue;
            };
            let cached = vectors.iter().position(|(k, _)| *k == acct.model_key);
            let v = match cached {
                Some(v) => v,
                None => {
                    let vector = unit_vector(&slot.inst, r, model);
                    vectors.push((acct.model_key, vector));
                    vectors.len() - 1
                }
            };
            let priced = Some((&slot.inst, r, unit, vectors[v].1.as_deref()));
            Self::swap_position(acct, model, h.position, priced);
        }
    }

    /// Replace one position's contribution in its account's sums, reusing
    /// the old contribution's buffers; `None` drops it (no valid price).
    fn swap_position(
        acct: &mut DeskAccount,
        model: &PreparedModel,
        p: usize,
        priced: Option<(&Instrument, &Resolved, &UnitValue, Option<&[f64]>)>,
    ) {
        let slot = &mut acct.contributions[p];
        match (priced, slot.as_mut()) {
            (Some((inst, r, unit, vector)), old) => {
                let pos = &acct.account.positions[p];
                let new = &mut acct.scratch;
                fill_contribution(
                    new,
                    inst,
                    r,
                    unit,
                    pos.size,
                    pos.session_ref_price,
                    model,
                    vector,
                );
                match old {
                    Some(old) => {
                        acct.sums.replace(old, new);
                        std::mem::swap(old, new);
                    }
                    None => {
                        acct.sums.apply(new, 1.0);
                        *slot = Some(std::mem::take(new));
                    }
                }
            }
            (None, Some(old)) => {
                acct.sums.apply(old, -1.0);
                *slot = None;
            }
            (None, None) => {}
        }
        acct.updates += 1;
        acct.dirty = true;
        if acct.updates >= RESUM_EVERY {
            Self::resum(acct);
        }
    }

    fn resum(acct: &mut DeskAccount) {
        acct.sums = BookSums::default();
        for c in acct.contributions.iter().flatten() {
            acct.sums.apply(c, 1.0);
        }
        acct.updates = 0;
        acct.dirty = true;
    }

    /// Recompute an account from its positions, and register its holdings.
    fn rebuild_account(&mut self, id: AccountId) {
        for slot in &mut self.slots {
            slot.holders.retain(|h| h.account != id);
        }
        let acct = &mut self.accounts[id];
        let model = &mut self.prepared[acct.model_key];
        acct.contributions = vec![None; acct.account.positions.len()];
        acct.notes.clear();
        for (p, pos) in acct.account.positions.iter().enumerate() {
            let Some(&iid) = self.by_name.get(&pos.instrument) else {
                (acct.notes).push(Note::left_out(&pos.instrument, Omission::UnknownInstrument));
                continue;
            };
            let slot = &mut self.slots[iid];
            slot.holders.push(Holding {
                account: id,
                position: p,
            });
            if let Some((r, unit)) = &slot.priced {
                let vector = unit_vector(&slot.inst, r, model);
                let mut c = Contribution::default();
                fill_contribution(
                    &mut c,
                    &slot.inst,
                    r,
                    unit,
                    pos.size,
                    pos.session_ref_price,
                    model,
                    vector.as_deref(),
                );
                acct.contributions[p] = Some(c);
            }
        }
        Self::resum(acct);
    }

    /// Called when instruments arrive after positions that name them.
    pub fn rebuild_all(&mut self) {
        for id in 0..self.accounts.len() {
            self.rebuild_account(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::margin::config::load_models;

    fn quote(mark: f64, t: i64) -> Quote {
        Quote {
            mark_price: mark,
            mark_iv: None,
            underlying_price: None,
            index_price: Some(mark),
            timestamp: t,
        }
    }

    #[test]
    fn expired_instruments_nobody_holds_are_retired_and_their_slots_reused() {
        // 2022-09-30 08:00 UTC: BTC-30SEP22 expires.
        let expiry = 1_664_524_800_000;
        let mut desk = Desk::new(load_models(None).unwrap(), expiry - 60_000);
        let held = desk.add_instrument(Instrument::parse("BTC-30SEP22").unwrap());
        let free = desk.add_instrument(Instrument::parse("ETH-30SEP22").unwrap());
        let live = desk.add_instrument(Instrument::parse("BTC-PERPETUAL").unwrap());
        desk.apply_quote("ETH-30SEP22", quote(1_300.0, expiry - 60_000));
        let mut acct = Account::new("a", "BTC", "deribit_sm");
        acct.set_position("BTC-30SEP22", 1_000.0, None);
        let id = desk.add_account(acct).unwrap();
        assert_eq!(desk.retire_expired(), 0, "nothing has expired yet");
        desk.set_clock(expiry);
        assert_eq!(desk.retire_expired(), 1);
        assert!(desk.instrument("ETH-30SEP22").is_none());
        assert!(!desk.market.quotes.contains_key("ETH-30SEP22"));
        assert!(
            desk.instrument("BTC-30SEP22").is_some(),
            "held: kept until it leaves"
        );
        assert!(desk.instrument("BTC-PERPETUAL").is_some());
        assert_eq!(desk.retire_expired(), 0, "retired once");
        // The next listing takes the free slot, and is found by its name.
        let next = desk.add_instrument(Instrument::parse("ETH-28OCT22").unwrap());
        assert_eq!(next, free);
        assert_eq!(desk.instrument("ETH-28OCT22").unwrap().name, "ETH-28OCT22");
        // Once the position leaves, the held future goes too.
        desk.set_position(id, "BTC-30SEP22", 0.0, None);
        assert_eq!(desk.retire_expired(), 1);
        assert!(desk.instrument("BTC-30SEP22").is_none());
        let again = desk.add_instrument(Instrument::parse("BTC-25NOV22").unwrap());
        assert!(again == held && again != live, "its slot is reused");
    }
}

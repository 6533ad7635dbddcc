//! What each position adds to its account, and the sums an account keeps.
//!
//! Every quantity an account needs (option value, futures session P&L,
//! Greeks, the scenario vector, the standard-margin terms, the roll-shock
//! terms) is a sum over positions. A position's `Contribution` is computed
//! from its instrument's resolved state alone; `BookSums` adds and removes
//! contributions, so a tick on one instrument updates each holder in
//! O(scenarios) without touching its other positions.

use super::config::{
    CurrencyParams, ModelConfig, OptionRates, RiskMatrixModel, RollShockRule, StandardModel,
};
use super::grid::Grid;
use crate::model::instrument::{Instrument, Kind, Settlement};
use crate::model::valuation::{futures_ref_term, unit_value, Resolved, UnitValue};

/// A margin model ready to use for one account currency: its grids per index.
#[derive(Clone, Debug)]
pub struct PreparedModel {
    pub config: ModelConfig,
    pub currency: String,
    grids: Vec<(String, Grid)>,
}

impl PreparedModel {
    pub fn new(config: ModelConfig, currency: &str) -> PreparedModel {
        PreparedModel {
            config,
            currency: currency.to_ascii_uppercase(),
            grids: Vec::new(),
        }
    }

    /// The grid of `index_name`, built on first use. `None` for standard margin
    /// or when the model has no parameters for that index.
    pub fn grid(&mut self, index_name: &str) -> Option<&mut Grid> {
        let ModelConfig::RiskMatrix(model) = &self.config else {
            return None;
        };
        if let Some(pos) = self.grids.iter().position(|(name, _)| name == index_name) {
            return Some(&mut self.grids[pos].1);
        }
        let pair = model.pair(index_name)?;
        let currency = model.currency(&self.currency)?;
        self.grids
            .push((index_name.to_string(), Grid::build(model, pair, currency)));
        self.grids.last_mut().map(|(_, g)| g)
    }

    pub fn built_grid(&self, index_name: &str) -> Option<&Grid> {
        self.grids
            .iter()
            .find(|(n, _)| n == index_name)
            .map(|(_, g)| g)
    }

    pub fn risk_matrix(&self) -> Option<&RiskMatrixModel> {
        match &self.config {
            ModelConfig::RiskMatrix(m) => Some(m),
            ModelConfig::Standard(_) => None,
        }
    }

    fn currency_params(&self) -> Option<&CurrencyParams> {
        self.risk_matrix().and_then(|m| m.currency(&self.currency))
    }
}

/// Everything one position adds to its account.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contribution {
    pub index_name: String,
    /// Expiry of the instrument (None for perpetuals): roll shock groups by it.
    pub expiry_ms: Option<i64>,
    /// USD per unit of the settlement currency (index for coin, 1 for USDC).
    pub usd_per_unit: f64,
    /// One coin in the settlement currency (1 for coin, index for USDC).
    pub coin_in_settlement: f64,
    pub index_price: f64,
    pub unit: UnitValue,
    pub size: f64,
    pub options_value: f64,
    pub futures_session_upl: f64,
    pub delta: f64,
    pub net_delta: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
    pub sm_initial: f64,
    pub sm_maintenance: f64,
    pub roll_per_position: f64,
    pub short_option_contracts: f64,
    /// Weighted scenario P&L (empty under standard margin).
    pub vector: Vec<f64>,
}

/// Write a position's contribution into `c`, reusing its buffers, from its
/// instrument's already computed unit value and unit scenario vector (both
/// shared by every holder). `ref_price` is the futures session reference
/// price (None: measure from the current mark, i.e. zero P&L).
#[allow(clippy::too_many_arguments)]
pub fn fill_contribution(
    c: &mut Contribution,
    inst: &Instrument,
    r: &Resolved,
    unit: &UnitValue,
    size: f64,
    ref_price: Option<f64>,
    model: &PreparedModel,
    unit_vec: Option<&[f64]>,
) {
    c.futures_session_upl = futures_session_upl(inst, r, unit, size, ref_price);
    if c.index_name != inst.index_name {
        c.index_name.clone_from(&inst.index_name);
    }
    c.expiry_ms = inst.expiry_ms();
    c.usd_per_unit = match inst.settlement {
        Settlement::Inverse => r.index,
        Settlement::Linear => 1.0,
    };
    c.coin_in_settlement = coin_to_settlement(inst, r);
    c.index_price = r.index;
    c.unit = *unit;
    c.size = size;
    c.options_value = size * unit.option_value;
    c.delta = size * unit.delta;
    c.net_delta = size * unit.net_delta;
    c.gamma = size * unit.gamma;
    c.vega = size * unit.vega;
    c.theta = size * unit.theta;
    c.short_option_contracts = if inst.is_option() && size < 0.0 {
        -size
    } else {
        0.0
    };
    (c.sm_initial, c.sm_maintenance) = match &model.config {
        ModelConfig::Standard(sm) => standard_margin(sm, inst, r, size),
        ModelConfig::RiskMatrix(_) => (0.0, 0.0),
    };
    c.roll_per_position = roll_per_position(inst, r, unit, size, model);
    c.vector.clear();
    if let Some(unit_vec) = unit_vec {
        c.vector.extend(unit_vec.iter().map(|v| v * size));
    }
}

/// A futures position's session P&L from `ref_price` (None, or not a
/// price: from the mark, i.e. zero); 0 for an option.
fn futures_session_upl(
    inst: &Instrument,
    r: &Resolved,
    unit: &UnitValue,
    size: f64,
    ref_price: Option<f64>,
) -> f64 {
    if inst.is_option() {
        return 0.0;
    }
    let reference = ref_price
        .filter(|p| p.is_finite() && *p > 0.0)
        .unwrap_or(r.mark);
    size * (unit.futures_mark_term - futures_ref_term(inst, reference))
}

/// A future's roll shock where the model charges it per position (else 0).
fn roll_per_position(
    inst: &Instrument,
    r: &Resolved,
    unit: &UnitValue,
    size: f64,
    model: &PreparedModel,
) -> f64 {
    match &model.config {
        ModelConfig::RiskMatrix(rm)
            if !inst.is_option() && matches!(rm.roll_shock, RollShockRule::PerPosition) =>
        {
            model.currency_params().map_or(0.0, |params| {
                let rate = params
                    .min_annualised_move
                    .max(params.annualised_move_risk * r.t);
                (size * unit.delta).abs() * rate * coin_to_settlement(inst, r)
            })
        }
        _ => 0.0,
    }
}

/// One unit's scenario vector under the model (None under standard margin).
pub fn unit_vector(inst: &Instrument, r: &Resolved, model: &mut PreparedModel) -> Option<Vec<f64>> {
    unit_vector_and_value(inst, r, model, Vec::new()).0
}

/// `unit_vector`, written into `buffer` (its allocation reused), and an
/// option's USD value at `r` that the grid priced on the way (None
/// without a grid, or for a future).
pub fn unit_vector_and_value(
    inst: &Instrument,
    r: &Resolved,
    model: &mut PreparedModel,
    mut buffer: Vec<f64>,
) -> (Option<Vec<f64>>, Option<f64>) {
    let Some(grid) = model.grid(&inst.index_name) else {
        return (None, None);
    };
    buffer.clear();
    buffer.resize(grid.len(), 0.0);
    let usd = grid.unit_vector(inst, r, &mut buffer);
    (Some(buffer), usd)
}

/// Compute a position's contribution, pricing its scenario vector.
pub fn contribution(
    inst: &Instrument,
    r: &Resolved,
    size: f64,
    ref_price: Option<f64>,
    model: &mut PreparedModel,
) -> Contribution {
    let unit_vec = unit_vector(inst, r, model);
    let mut c = Contribution::default();
    let unit = unit_value(inst, r);
    fill_contribution(
        &mut c,
        inst,
        r,
        &unit,
        size,
        ref_price,
        model,
        unit_vec.as_deref(),
    );
    c
}

/// Amounts in coin become settlement-currency amounts (USDC: × index).
fn coin_to_settlement(inst: &Instrument, r: &Resolved) -> f64 {
    match inst.settlement {
        Settlement::Inverse => 1.0,
        Settlement::Linear => r.index,
    }
}

/// Standard margin (IM, MM) of one position, in the settlement currency.
pub fn standard_margin(
    sm: &StandardModel,
    inst: &Instrument,
    r: &Resolved,
    size: f64,
) -> (f64, f64) {
    match inst.kind {
        Kind::Option {
            option_type,
            strike,
            ..
        } => {
            if size >= 0.0 {
                return (0.0, 0.0);
            }
            // Rates are per coin; a linear option's mark in USD is taken per coin.
            let to_settle = coin_to_settlement(inst, r);
            let mark_coin = match inst.settlement {
                Settlement::Inverse => r.mark,
                Settlement::Linear => r.mark / r.index,
            };
            let (im, mm) = short_option_rates(&sm.options, option_type, strike, r.index, mark_coin);
            (-size * im * to_settle, -size * mm * to_settle)
        }
        _ => {
            let size_coin = match inst.settlement {
                Settlement::Inverse => size / r.mark,
                Settlement::Linear => size,
            }
            .abs();
            let rates = sm
                .futures
                .get(&inst.base)
                .or_else(|| sm.futures.get("default"));
            let Some(rates) = rates else {
                return (0.0, 0.0);
            };
            let growth = size_coin * rates.increase_per_coin;
            let to_settle = coin_to_settlement(inst, r);
            (
                size_coin * (rates.im_base + growth) * to_settle,
                size_coin * (rates.mm_base + growth) * to_settle,
            )
        }
    }
}

/// Per-contract (IM, MM) of a short option in coin (MARGIN_METHODOLOGY §B.1).
pub fn short_option_rates(
    rates: &OptionRates,
    opt: crate::pricing::OptionType,
    strike: f64,
    index: f64,
    mark: f64,
) -> (f64, f64) {
    use crate::pricing::OptionType;
    let otm = match opt {
        OptionType::Call => (strike - index).max(0.0),
        OptionType::Put => (index - strike).max(0.0),
    };
    let base = (rates.im_base - otm / index).max(rates.im_floor);
    match opt {
        OptionType::Call => (base + mark, rates.mm + mark),
        OptionType::Put => {
            let mm = rates.mm.max(rates.mm * mark) + mark;
            ((base + mark).max(mm), mm)
        }
    }
}

/// Sums of contributions on one index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexSums {
    pub index_name: String,
    pub usd_per_unit: f64,
    pub coin_in_settlement: f64,
    pub index_price: f64,
    pub net_delta: f64,
    /// Greeks of the positions on this index alone (units as `BookSums`).
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
    pub short_option_contracts: f64,
    pub positions: usize,
    /// Net delta per expiry (None = perpetual), for the roll shock.
    pub net_delta_by_expiry: Vec<(Option<i64>, f64)>,
    pub vector: Vec<f64>,
}

/// Where a position goes in a `BookSums`: its index's entry and, there,
/// its expiry's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    index: usize,
    expiry: usize,
}

/// An account's sums over all positions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BookSums {
    pub options_value: f64,
    pub futures_session_upl: f64,
    pub delta: f64,
    pub net_delta: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
    pub sm_initial: f64,
    pub sm_maintenance: f64,
    pub roll_per_position: f64,
    pub per_index: Vec<IndexSums>,
}

impl BookSums {
    /// Add (`sign` = 1) or remove (`sign` = −1) a contribution.
    /// Swap `old` for `new` (the same position, repriced) in one pass.
    pub fn replace(&mut self, old: &Contribution, new: &Contribution) {
        let same_slot = old.index_name == new.index_name
            && old.expiry_ms == new.expiry_ms
            && old.vector.len() == new.vector.len();
        let idx = self
            .per_index
            .iter()
            .position(|s| s.index_name == new.index_name);
        let (true, Some(idx)) = (same_slot, idx) else {
            self.apply(old, -1.0);
            self.apply(new, 1.0);
            return;
        };
        self.options_value += new.options_value - old.options_value;
        self.futures_session_upl += new.futures_session_upl - old.futures_session_upl;
        self.delta += new.delta - old.delta;
        self.net_delta += new.net_delta - old.net_delta;
        self.gamma += new.gamma - old.gamma;
        self.vega += new.vega - old.vega;
        self.theta += new.theta - old.theta;
        self.sm_initial += new.sm_initial - old.sm_initial;
        self.sm_maintenance += new.sm_maintenance - old.sm_maintenance;
        self.roll_per_position += new.roll_per_position - old.roll_per_position;
        let s = &mut self.per_index[idx];
        s.usd_per_unit = new.usd_per_unit;
        s.coin_in_settlement = new.coin_in_settlement;
        s.index_price = new.index_price;
        s.net_delta += new.net_delta - old.net_delta;
        s.gamma += new.gamma - old.gamma;
        s.vega += new.vega - old.vega;
        s.theta += new.theta - old.theta;
        s.short_option_contracts += new.short_option_contracts - old.short_option_contracts;
        if let Some((_, v)) = s
            .net_delta_by_expiry
            .iter_mut()
            .find(|(e, _)| *e == new.expiry_ms)
        {
            *v += new.net_delta - old.net_delta;
        }
        if s.vector.len() < new.vector.len() {
            s.vector.resize(new.vector.len(), 0.0);
        }
        for ((acc, n), o) in s.vector.iter_mut().zip(&new.vector).zip(&old.vector) {
            *acc += n - o;
        }
    }

    /// Zero every sum, keeping the indices and expiries seen and their
    /// buffers (and so every `Place` found).
    pub fn reset(&mut self) {
        let per_index = std::mem::take(&mut self.per_index);
        *self = BookSums {
            per_index,
            ..BookSums::default()
        };
        for s in &mut self.per_index {
            s.net_delta = 0.0;
            s.gamma = 0.0;
            s.vega = 0.0;
            s.theta = 0.0;
            s.short_option_contracts = 0.0;
            s.positions = 0;
            s.net_delta_by_expiry.iter_mut().for_each(|(_, v)| *v = 0.0);
            s.vector.iter_mut().for_each(|v| *v = 0.0);
        }
    }

    /// Add what the margin reads of a position (its instrument priced at
    /// `r` with `unit` and `unit_vec`), with the operations, in the order,
    /// that `fill_contribution` then `apply` use: the margin is bit for bit
    /// the same. Greeks but the net delta are left out. `place` is where
    /// the position goes in these sums, found on first use.
    pub fn add_margin_terms(
        &mut self,
        (inst, r, unit, unit_vec): (&Instrument, &Resolved, &UnitValue, Option<&[f64]>),
        size: f64,
        ref_price: Option<f64>,
        model: &PreparedModel,
        place: &mut Option<Place>,
    ) {
        let net_delta = size * unit.net_delta;
        self.options_value += size * unit.option_value;
        self.futures_session_upl += futures_session_upl(inst, r, unit, size, ref_price);
        self.net_delta += net_delta;
        if let ModelConfig::Standard(sm) = &model.config {
            let (initial, maintenance) = standard_margin(sm, inst, r, size);
            self.sm_initial += initial;
            self.sm_maintenance += maintenance;
        }
        self.roll_per_position += roll_per_position(inst, r, unit, size, model);
        let at = *place.get_or_insert_with(|| self.place(&inst.index_name, inst.expiry_ms()));
        let s = &mut self.per_index[at.index];
        s.usd_per_unit = match inst.settlement {
            Settlement::Inverse => r.index,
            Settlement::Linear => 1.0,
        };
        s.coin_in_settlement = coin_to_settlement(inst, r);
        s.index_price = r.index;
        s.positions += 1;
        s.net_delta += net_delta;
        if inst.is_option() && size < 0.0 {
            s.short_option_contracts += -size;
        }
        s.net_delta_by_expiry[at.expiry].1 += net_delta;
        if let Some(unit_vec) = unit_vec {
            if s.vector.len() < unit_vec.len() {
                s.vector.resize(unit_vec.len(), 0.0);
            }
            for (acc, v) in s.vector.iter_mut().zip(unit_vec) {
                *acc += v * size;
            }
        }
    }

    /// Where a position on `index_name` expiring at `expiry` goes: its
    /// index's sums and its expiry's entry there, added if new.
    fn place(&mut self, index_name: &str, expiry: Option<i64>) -> Place {
        let index = match (self.per_index.iter()).position(|s| s.index_name == index_name) {
            Some(i) => i,
            None => {
                self.per_index.push(IndexSums {
                    index_name: index_name.to_string(),
                    ..IndexSums::default()
                });
                self.per_index.len() - 1
            }
        };
        let by_expiry = &mut self.per_index[index].net_delta_by_expiry;
        let expiry = match by_expiry.iter().position(|(e, _)| *e == expiry) {
            Some(i) => i,
            None => {
                by_expiry.push((expiry, 0.0));
                by_expiry.len() - 1
            }
        };
        Place { index, expiry }
    }

    pub fn apply(&mut self, c: &Contribution, sign: f64) {
        self.options_value += sign * c.options_value;
        self.futures_session_upl += sign * c.futures_session_upl;
        self.delta += sign * c.delta;
        self.net_delta += sign * c.net_delta;
        self.gamma += sign * c.gamma;
        self.vega += sign * c.vega;
        self.theta += sign * c.theta;
        self.sm_initial += sign * c.sm_initial;
        self.sm_maintenance += sign * c.sm_maintenance;
        self.roll_per_position += sign * c.roll_per_position;
        let at = self.place(&c.index_name, c.expiry_ms);
        let s = &mut self.per_index[at.index];
        if sign > 0.0 {
            s.usd_per_unit = c.usd_per_unit;
            s.coin_in_settlement = c.coin_in_settlement;
            s.index_price = c.index_price;
            s.positions += 1;
        } else {
            s.positions = s.positions.saturating_sub(1);
        }
        s.net_delta += sign * c.net_delta;
        s.gamma += sign * c.gamma;
        s.vega += sign * c.vega;
        s.theta += sign * c.theta;
        s.short_option_contracts += sign * c.short_option_contracts;
        s.net_delta_by_expiry[at.expiry].1 += sign * c.net_delta;
        if s.vector.len() < c.vector.len() {
            s.vector.resize(c.vector.len(), 0.0);
        }
        for (acc, v) in s.vector.iter_mut().zip(&c.vector) {
            *acc += sign * v;
        }
    }
}

//! The scenario grid and the one kernel that revalues an instrument on it.
//!
//! A grid is a list of (price move, vol move, weight, dampener) built from a
//! model's data. The kernel fills, for one unit of an instrument, the
//! weighted P&L in each scenario; a book's vector is the size-weighted sum
//! of its instruments' vectors, which is what makes ticks incremental.

use super::config::{
    CurrencyParams, GridLayout, PairParams, RiskMatrixModel, VolMove, VolShockRule,
};
use crate::model::valuation::{scenario_pnl, Resolved};
use crate::model::{Instrument, Kind, Settlement};
use crate::pricing::black76::price_with_total_vol;
use crate::pricing::lanes::{self, Inputs, Moves};
use crate::pricing::OptionType;

/// Scenarios an option is revalued on in one vectorized pass (every
/// model's grid has fewer; a longer one takes the scalar path).
const LANES_MAX: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Standard,
    Extended,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scenario {
    pub price_move: f64,
    pub vol: VolMove,
    /// Fraction of the scenario's P&L that counts.
    pub weight: f64,
    /// USD that this scenario's aggregated loss (or gain) is moved toward zero by.
    pub dampener_usd: f64,
    pub table: Table,
    /// ln(1 + price_move), kept so option repricing needs no logarithm.
    pub ln_growth: f64,
}

impl Scenario {
    pub fn new(
        price_move: f64,
        vol: VolMove,
        weight: f64,
        dampener_usd: f64,
        table: Table,
    ) -> Scenario {
        Scenario {
            price_move,
            vol,
            weight,
            dampener_usd,
            table,
            ln_growth: price_move.ln_1p(),
        }
    }
}

/// How a scenario's vol move changes an option's volatility.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VolShock {
    time_scaled: Option<f64>,
    up: f64,
    down: f64,
    min_up: f64,
    short_power: f64,
    long_power: f64,
}

impl VolShock {
    fn new(rule: &VolShockRule, pair: &PairParams) -> VolShock {
        VolShock {
            time_scaled: match rule {
                VolShockRule::TimeScaled { pivot_days } => Some(*pivot_days),
                VolShockRule::Absolute => None,
            },
            up: pair.volatility_range_up,
            down: pair.volatility_range_down,
            min_up: pair.min_volatility_for_shock_up,
            short_power: pair.short_term_vega_power,
            long_power: pair.long_term_vega_power,
        }
    }

    /// The three shocked volatilities (up, same, down) for time to expiry `t` years.
    pub fn shocked(&self, sigma: f64, t: f64) -> [f64; 3] {
        self.shocked_at(sigma, self.scale(t))
    }

    /// How much of the vol range applies at `t` years: (pivot/DTE)^p under
    /// time scaling, None for absolute shocks. It depends on the expiry
    /// only, so a grid keeps the last ones (`ScaleMemo`).
    fn scale(&self, t: f64) -> Option<f64> {
        let pivot = self.time_scaled?;
        // A minute's floor keeps (pivot/DTE)^p finite at expiry.
        let dte = (t * 365.0).max(1.0 / 1440.0);
        let power = if dte < pivot {
            self.short_power
        } else {
            self.long_power
        };
        Some((pivot / dte).powf(power))
    }

    fn shocked_at(&self, sigma: f64, scale: Option<f64>) -> [f64; 3] {
        match scale {
            Some(scale) => [
                (sigma * (1.0 + self.up * scale)).max(self.min_up),
                sigma,
                (sigma * (1.0 - self.down * scale)).max(0.0),
            ],
            None => [sigma + self.up, sigma, (sigma - self.down).max(0.0)],
        }
    }
}

/// The vol shock's scale for the last times to expiry a grid priced: an
/// index tick reprices the instruments of one expiry after another, a
/// search a book's few expiries over and over, and the power is the same
/// for all of them. Keyed on the exact time, so a figure never changes.
/// Not part of a grid's identity.
#[derive(Clone, Debug, Default)]
struct ScaleMemo {
    kept: Vec<(u64, Option<f64>)>,
    /// Where the next new time goes once `kept` is full.
    next: usize,
}

/// Times to expiry a `ScaleMemo` keeps (a chain lists about a dozen expiries).
const SCALES_KEPT: usize = 16;

impl PartialEq for ScaleMemo {
    fn eq(&self, _: &ScaleMemo) -> bool {
        true
    }
}

impl ScaleMemo {
    fn get(&mut self, shock: &VolShock, t: f64) -> Option<f64> {
        let bits = t.to_bits();
        if let Some((_, scale)) = self.kept.iter().find(|(b, _)| *b == bits) {
            return *scale;
        }
        let scale = shock.scale(t);
        if self.kept.len() < SCALES_KEPT {
            self.kept.push((bits, scale));
        } else {
            self.kept[self.next] = (bits, scale);
            self.next = (self.next + 1) % SCALES_KEPT;
        }
        scale
    }
}

fn vol_slot(v: VolMove) -> usize {
    match v {
        VolMove::Up => 0,
        VolMove::Same => 1,
        VolMove::Down => 2,
    }
}

/// A model's scenarios for one (index, settlement currency).
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub scenarios: Vec<Scenario>,
    pub vol_shock: VolShock,
    /// Fraction of a positive aggregated entry kept as offset.
    pub pnl_offset: f64,
    /// Cap on an offsetting gain in USD (0 = none).
    pub max_offsetable_pnl_usd: f64,
    /// Each scenario's forward growth 1 + price move, its reciprocal and
    /// its log, in the layout the vectorized Black-76 reads, then the
    /// unmoved state's (1, 1, 0): the base value comes from the same
    /// kernel, so an unmoved scenario's P&L is exactly zero.
    grown: Vec<f64>,
    inv_grown: Vec<f64>,
    ln_growth: Vec<f64>,
    memo: ScaleMemo,
}

impl Grid {
    pub fn build(model: &RiskMatrixModel, pair: &PairParams, currency: &CurrencyParams) -> Grid {
        let r = pair.price_range;
        let mut scenarios = Vec::new();
        match &model.grid {
            GridLayout::Deribit {
                buckets,
                vol_scenarios,
                extended_moves,
                extended_vol,
            } => {
                let n = *buckets as i64;
                for b in -n..=n {
                    let price_move = r * b as f64 / n as f64;
                    for &vol in vol_scenarios {
                        scenarios.push(Scenario::new(price_move, vol, 1.0, 0.0, Table::Standard));
                    }
                }
                for &m in extended_moves {
                    let s = m.signum();
                    let edge = 1.0 + s * r;
                    scenarios.push(Scenario::new(
                        m,
                        *extended_vol,
                        pair.extended_table_factor * (r / m.abs()) * (1.0 + m) / edge,
                        ((m.abs() / r).max(1.0) - 1.0) * currency.extended_dampener / edge,
                        Table::Extended,
                    ));
                }
            }
            GridLayout::Span16 {
                extreme_multiple,
                extreme_weight,
            } => {
                for step in [0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0] {
                    for vol in [VolMove::Up, VolMove::Down] {
                        let price_move = r * step / 3.0;
                        scenarios.push(Scenario::new(price_move, vol, 1.0, 0.0, Table::Standard));
                    }
                }
                for s in [1.0, -1.0] {
                    scenarios.push(Scenario::new(
                        s * extreme_multiple * r,
                        VolMove::Same,
                        *extreme_weight,
                        0.0,
                        Table::Extended,
                    ));
                }
            }
        }
        Grid {
            grown: (scenarios.iter().map(|s| 1.0 + s.price_move))
                .chain([1.0])
                .collect(),
            inv_grown: (scenarios.iter().map(|s| 1.0 / (1.0 + s.price_move)))
                .chain([1.0])
                .collect(),
            ln_growth: (scenarios.iter().map(|s| s.ln_growth))
                .chain([0.0])
                .collect(),
            scenarios,
            vol_shock: VolShock::new(&model.vol_shock, pair),
            pnl_offset: currency.pnl_offset,
            max_offsetable_pnl_usd: currency.max_offsetable_pnl,
            memo: ScaleMemo::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.scenarios.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scenarios.is_empty()
    }

    /// Weighted P&L of one unit of `inst` in every scenario, into `out`;
    /// returns an option's USD value at `r` (its forward and volatility:
    /// the scenarios are measured from it), None for a future. `r.mark`
    /// is not read.
    pub fn unit_vector(&mut self, inst: &Instrument, r: &Resolved, out: &mut [f64]) -> Option<f64> {
        let scale = self.memo.get(&self.vol_shock, r.t);
        let sigmas = self.vol_shock.shocked_at(r.sigma, scale);
        if let Kind::Option {
            option_type,
            strike,
            ..
        } = inst.kind
        {
            return Some(self.option_vector(inst, option_type, strike, r, sigmas, out));
        }
        for (slot, sc) in out.iter_mut().zip(&self.scenarios) {
            let sigma = sigmas[vol_slot(sc.vol)];
            *slot = sc.weight * scenario_pnl(inst, r, sc.price_move, sigma);
        }
        None
    }

    /// The option case of `unit_vector`, same numbers as `scenario_pnl` but
    /// with ln(F/K), √T and the base value computed once per instrument;
    /// returns the base value in USD.
    fn option_vector(
        &self,
        inst: &Instrument,
        opt: OptionType,
        k: f64,
        r: &Resolved,
        sigmas: [f64; 3],
        out: &mut [f64],
    ) -> f64 {
        let f0 = r.forward;
        let sqrt_t = r.t.sqrt();
        let ln_fk = (f0 / k).ln();
        let native = |value: f64, f: f64| match inst.settlement {
            Settlement::Inverse => value / f,
            Settlement::Linear => value,
        };
        let n = self.scenarios.len();
        let inputs = Inputs {
            option_type: opt,
            strike: k,
            forward: f0,
            ln_fk,
            total_vol: r.sigma * sqrt_t,
        };
        // The vectorized kernel needs a positive volatility in every scenario.
        let positive = inputs.total_vol > 0.0 && sigmas.iter().all(|s| *s > 0.0);
        if positive && inputs.total_vol.is_finite() && n < LANES_MAX {
            // The scenarios, then the unmoved state (vol multiplier 1).
            let mut vol = [1.0; LANES_MAX];
            let mut inv_vol = [1.0; LANES_MAX];
            // Three vol moves, so three ratios: no division per scenario.
            let ratio = sigmas.map(|s| s / r.sigma);
            let inverse = sigmas.map(|s| r.sigma / s);
            for (i, sc) in self.scenarios.iter().enumerate() {
                vol[i] = ratio[vol_slot(sc.vol)];
                inv_vol[i] = inverse[vol_slot(sc.vol)];
            }
            let moves = Moves {
                log: &self.ln_growth,
                grown: &self.grown,
                inv_grown: &self.inv_grown,
                vol: &vol[..=n],
                inv_vol: &inv_vol[..=n],
            };
            let mut v1 = [0.0; LANES_MAX];
            lanes::values(&inputs, &moves, &mut v1[..=n]);
            let v0 = native(v1[n], f0);
            for (i, (slot, sc)) in out.iter_mut().zip(&self.scenarios).enumerate() {
                let v1 = match inst.settlement {
                    Settlement::Inverse => v1[i] * self.inv_grown[i] / f0,
                    Settlement::Linear => v1[i],
                };
                *slot = sc.weight * (v1 - v0);
            }
            return v1[n];
        }
        let usd = price_with_total_vol(opt, f0, k, ln_fk, r.sigma * sqrt_t);
        let v0 = native(usd, f0);
        for (slot, sc) in out.iter_mut().zip(&self.scenarios) {
            let f1 = f0 * (1.0 + sc.price_move);
            let sd = sigmas[vol_slot(sc.vol)] * sqrt_t;
            let v1 = price_with_total_vol(opt, f1, k, ln_fk + sc.ln_growth, sd);
            *slot = sc.weight * (native(v1, f1) - v0);
        }
        usd
    }

    /// The standard table of a scenario vector as rows by price move
    /// (ascending) and columns by vol move: (price moves, vol moves, P&L).
    /// Cells the grid does not have (SPAN's unchanged-vol points) are None.
    #[allow(clippy::type_complexity)]
    pub fn standard_table(
        &self,
        vector: &[f64],
    ) -> (Vec<f64>, Vec<&'static str>, Vec<Vec<Option<f64>>>) {
        let standard = || {
            self.scenarios
                .iter()
                .zip(vector)
                .filter(|(sc, _)| sc.table == Table::Standard)
        };
        let mut price_moves: Vec<f64> = Vec::new();
        let mut vol_moves: Vec<&'static str> = Vec::new();
        for (sc, _) in standard() {
            if !price_moves.contains(&sc.price_move) {
                price_moves.push(sc.price_move);
            }
            if !vol_moves.contains(&sc.vol.label()) {
                vol_moves.push(sc.vol.label());
            }
        }
        price_moves.sort_by(f64::total_cmp);
        let mut pnl = vec![vec![None; vol_moves.len()]; price_moves.len()];
        for (sc, v) in standard() {
            let i = price_moves.iter().position(|p| *p == sc.price_move);
            let j = vol_moves.iter().position(|l| *l == sc.vol.label());
            if let (Some(i), Some(j)) = (i, j) {
                pnl[i][j] = v.is_finite().then_some(*v);
            }
        }
        (price_moves, vol_moves, pnl)
    }

    /// Apply the model's aggregation to a book's summed vector in place:
    /// dampen, then offset gains. `usd_per_unit` converts the settlement
    /// currency to USD (the index for coin, 1 for USDC).
    pub fn aggregate(&self, vector: &mut [f64], usd_per_unit: f64) {
        for (v, sc) in vector.iter_mut().zip(&self.scenarios) {
            *v = self.aggregated(*v, sc, usd_per_unit);
        }
    }

    /// One entry of `aggregate`.
    #[inline]
    fn aggregated(&self, mut v: f64, sc: &Scenario, usd_per_unit: f64) -> f64 {
        if sc.dampener_usd > 0.0 {
            let damp = sc.dampener_usd / usd_per_unit;
            v = v.signum() * (v.abs() - damp).max(0.0);
        }
        if v > 0.0 {
            v *= self.pnl_offset;
            if self.max_offsetable_pnl_usd > 0.0 {
                v = v.min(self.max_offsetable_pnl_usd / usd_per_unit);
            }
        }
        v
    }

    /// `worst` of the `aggregate` of `vector`, without a copy of it (a
    /// search asks for it thousands of times).
    pub fn worst_aggregated(&self, vector: &[f64], usd_per_unit: f64) -> (f64, usize) {
        let entries = (vector.iter().zip(&self.scenarios))
            .map(|(v, sc)| self.aggregated(*v, sc, usd_per_unit));
        self.worst_of(entries)
    }

    /// Worst aggregated entry: (loss ≥ 0, its index). Ties go to the
    /// unchanged-vol scenario, as Deribit reports them.
    pub fn worst(&self, aggregated: &[f64]) -> (f64, usize) {
        self.worst_of(aggregated.iter().copied())
    }

    fn worst_of(&self, aggregated: impl Iterator<Item = f64>) -> (f64, usize) {
        let mut best = (0.0_f64, 0_usize);
        let mut found = false;
        for (i, (v, sc)) in aggregated.zip(&self.scenarios).enumerate() {
            let tie = found && v == best.0 && sc.vol == VolMove::Same;
            if !found || v < best.0 || tie {
                best = (v, i);
                found = true;
            }
        }
        ((-best.0).max(0.0), best.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::margin::config::{load_models, ModelConfig};

    fn pm_grid() -> Grid {
        let models = load_models(None).unwrap();
        let ModelConfig::RiskMatrix(pm) = &models["deribit_pm"] else {
            panic!("deribit_pm is a risk matrix");
        };
        Grid::build(pm, pm.pair("btc_usd").unwrap(), pm.currency("BTC").unwrap())
    }

    /// More expiries than the memo keeps, visited over and over: each
    /// scale is the one computed afresh, bit for bit.
    #[test]
    fn the_scale_memo_gives_the_computed_scale() {
        let mut grid = pm_grid();
        let times: Vec<f64> = (1..=2 * SCALES_KEPT + 3)
            .map(|d| d as f64 / 365.0)
            .collect();
        for round in 0..3 {
            for &t in times.iter().chain(times.iter().rev()) {
                let want = grid.vol_shock.scale(t).unwrap().to_bits();
                let got = grid.memo.get(&grid.vol_shock, t).unwrap().to_bits();
                assert_eq!(got, want, "round {round}, t = {t}");
            }
        }
        assert!(grid.memo.kept.len() <= SCALES_KEPT);
    }

    /// The worst of the aggregated vector without copying it is the worst
    /// of `aggregate`, bit for bit: dampened entries, offset gains, ties.
    #[test]
    fn the_worst_without_a_copy_is_the_worst_of_the_aggregate() {
        let grid = pm_grid();
        let n = grid.len();
        let vectors = [
            (0..n).map(|i| (i as f64 - 17.0) * 0.37).collect::<Vec<_>>(),
            (0..n).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect(),
            vec![-2.5; n],
            (0..n)
                .map(|i| if i % 3 == 1 { -4.0 } else { 4.0 })
                .collect(),
        ];
        for v in vectors {
            for usd_per_unit in [1.0, 2_000.0, 60_000.0] {
                let mut copy = v.clone();
                grid.aggregate(&mut copy, usd_per_unit);
                let (loss, at) = grid.worst(&copy);
                let (loss2, at2) = grid.worst_aggregated(&v, usd_per_unit);
                assert_eq!((loss.to_bits(), at), (loss2.to_bits(), at2));
            }
        }
    }
}

//! What one unit of an instrument is worth at a market state, and how it
//! moves when the underlying and the volatility are shocked.
//!
//! "One unit" is one unit of position size: one USD of an inverse future,
//! one coin of an option or a linear future. Amounts are in the
//! instrument's settlement currency (coin for inverse, USDC for linear).

use super::instrument::{Instrument, Kind, Settlement};
use super::market::{positive_finite, MarketState};
use crate::pricing::{self, implied_vol_coin, lanes, OptionType};

/// Everything needed to price an instrument now, after any shock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resolved {
    /// Option forward, or future mark, in USD, after the shock.
    pub forward: f64,
    /// Mark IV as a fraction (options; 0 for futures).
    pub sigma: f64,
    /// Years to expiry, never negative (0 = expired or perpetual).
    pub t: f64,
    /// Current mark in quote units: coin for inverse options, else USD.
    pub mark: f64,
    /// Index price now, USD.
    pub index: f64,
    /// True at or past expiry (an option is then valued at intrinsic).
    pub expired: bool,
}

/// Why an instrument could not be valued.
pub type ValuationError = String;

/// A what-if move of the market: prices and implied vols multiplied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shock {
    /// Multiplies the index and everything priced on it (1.1 = +10 %).
    pub price: f64,
    /// Multiplies every option's implied vol (1.5 = vols +50 %).
    pub vol: f64,
}

impl Shock {
    pub const NONE: Shock = Shock {
        price: 1.0,
        vol: 1.0,
    };

    pub fn price_move(m: f64) -> Shock {
        Shock {
            price: 1.0 + m,
            vol: 1.0,
        }
    }
}

/// Resolve an instrument's inputs, after the market is moved by `shock`.
pub fn resolve(
    inst: &Instrument,
    market: &MarketState,
    now_ms: i64,
    shock: Shock,
) -> Result<Resolved, ValuationError> {
    Ok(Base::of(inst, market, now_ms)?.shocked(inst, shock))
}

/// What `resolve` needs that no shock changes: the quote's figures read,
/// checked and moved with the index since the quote, once. A search that
/// revalues a book under many shocks resolves each position from this.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Base {
    /// The mark as quoted (quote units), and the index now.
    quote_mark: f64,
    index_now: f64,
    /// The index now over the index at the quote (1 without one).
    drift: f64,
    /// Years to expiry, as computed (negative past expiry; None: perpetual).
    t_raw: Option<f64>,
    option: Option<OptionBase>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct OptionBase {
    option_type: OptionType,
    strike: f64,
    quote_forward: f64,
    sigma: f64,
    /// The model's value at the quote's forward and volatility, when
    /// computed ahead (`Base::for_many`).
    model_at_quote: Option<f64>,
}

impl Base {
    pub fn of(
        inst: &Instrument,
        market: &MarketState,
        now_ms: i64,
    ) -> Result<Base, ValuationError> {
        let quote = market
            .quotes
            .get(&inst.name)
            .ok_or_else(|| format!("no mark for {}", inst.name))?;
        let quote_mark = finite_non_negative(quote.mark_price)
            .ok_or_else(|| format!("bad mark price for {}", inst.name))?;
        let quote_index = quote.index_price.and_then(positive_finite);
        let index_now = market
            .index(&inst.index_name)
            .and_then(positive_finite)
            .or(quote_index)
            .ok_or_else(|| format!("no index price {} for {}", inst.index_name, inst.name))?;
        // The index has moved since the quote: move the instrument with it.
        let drift = quote_index.map_or(1.0, |q| index_now / q);
        match inst.kind {
            Kind::Option {
                option_type,
                strike,
                expiry_ms,
            } => {
                let quote_forward = quote
                    .underlying_price
                    .and_then(positive_finite)
                    .unwrap_or(index_now / drift);
                let t_raw = pricing::years_between(now_ms, expiry_ms);
                let t = t_raw.max(0.0);
                let sigma = option_sigma(
                    inst,
                    option_type,
                    strike,
                    quote_forward,
                    t,
                    quote_mark,
                    quote.mark_iv,
                )?;
                Ok(Base {
                    quote_mark,
                    index_now,
                    drift,
                    t_raw: Some(t_raw),
                    option: Some(OptionBase {
                        option_type,
                        strike,
                        quote_forward,
                        sigma,
                        model_at_quote: None,
                    }),
                })
            }
            Kind::Future { .. } | Kind::Perpetual => {
                let mark = positive_finite(quote_mark)
                    .ok_or_else(|| format!("future {} has a zero mark", inst.name))?;
                Ok(Base {
                    quote_mark: mark,
                    index_now,
                    drift,
                    t_raw: inst.expiry_ms().map(|e| pricing::years_between(now_ms, e)),
                    option: None,
                })
            }
        }
    }

    /// The same, with what every shocked value needs computed once.
    pub fn for_many(mut self, inst: &Instrument) -> Base {
        let t = self.t_raw.unwrap_or(0.0).max(0.0);
        if let Some(o) = self.option.as_mut() {
            let v = native_option_value(inst, o.option_type, o.quote_forward, o.strike, t, o.sigma);
            o.model_at_quote = Some(v);
        }
        self
    }

    /// What the model's value at the quote depends on (forward, volatility
    /// and time at the quote, as bits); None for a future. Equal keys give
    /// equal `for_many` values, so a caller may keep one across reprices.
    pub fn at_quote_key(&self) -> Option<[u64; 3]> {
        let o = self.option.as_ref()?;
        Some([o.quote_forward, o.sigma, self.t_raw.unwrap_or(0.0)].map(f64::to_bits))
    }

    /// The model's value at the quote, when computed ahead (`for_many`).
    pub fn model_at_quote(&self) -> Option<f64> {
        self.option.as_ref()?.model_at_quote
    }

    /// This base with the model's value at the quote given (`v` must be
    /// what `for_many` computed for a base of the same `at_quote_key`).
    pub fn with_model_at_quote(mut self, v: f64) -> Base {
        if let Some(o) = self.option.as_mut() {
            o.model_at_quote = Some(v);
        }
        self
    }

    /// The instrument's inputs after `shock` (`inst` is the one `of` read).
    pub fn shocked(&self, inst: &Instrument, shock: Shock) -> Resolved {
        self.shocked_via(inst, shock, |_| None)
    }

    /// `shocked`, where `model_usd` may give an option's model value (USD)
    /// at the shocked forward and volatility, for the mark, instead of a
    /// pricing here: a risk grid prices that state anyway. It is called
    /// once, with the shocked inputs but the quote's mark moved with the
    /// index (the mark is what it helps find).
    pub fn shocked_via(
        &self,
        inst: &Instrument,
        shock: Shock,
        model_usd: impl FnOnce(&Resolved) -> Option<f64>,
    ) -> Resolved {
        let shift = shock.price;
        let (drift, index) = (self.drift, self.index_now * shift);
        let Some(o) = &self.option else {
            let t_raw = self.t_raw;
            let r = Resolved {
                forward: self.quote_mark * drift * shift,
                sigma: 0.0,
                t: t_raw.map_or(0.0, |t| t.max(0.0)),
                mark: self.quote_mark * drift * shift,
                index,
                expired: t_raw.is_some_and(|t| t <= 0.0),
            };
            model_usd(&r);
            return r;
        };
        let t_raw = self.t_raw.unwrap_or(0.0);
        let t = t_raw.max(0.0);
        let forward = o.quote_forward * drift * shift;
        let shocked_sigma = o.sigma * shock.vol;
        let mut r = Resolved {
            forward,
            sigma: shocked_sigma,
            t,
            mark: self.quote_mark,
            index,
            expired: t_raw <= 0.0,
        };
        let given = model_usd(&r);
        // Keep the exchange's mark and add the model's change since the
        // quote, so an unmoved market shows exactly the exchange's mark.
        if forward != o.quote_forward || shocked_sigma != o.sigma {
            let value = |f, sigma| native_option_value(inst, o.option_type, f, o.strike, t, sigma);
            let model_now = match (given, inst.settlement) {
                (Some(usd), Settlement::Inverse) => usd / forward,
                (Some(usd), Settlement::Linear) => usd,
                (None, _) => value(forward, shocked_sigma),
            };
            let at_quote = (o.model_at_quote).unwrap_or_else(|| value(o.quote_forward, o.sigma));
            r.mark = (self.quote_mark + model_now - at_quote).max(0.0);
        }
        r
    }
}

fn finite_non_negative(v: f64) -> Option<f64> {
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// The option's volatility: the exchange's mark IV, else implied from its mark.
fn option_sigma(
    inst: &Instrument,
    option_type: OptionType,
    strike: f64,
    forward: f64,
    t: f64,
    mark: f64,
    mark_iv: Option<f64>,
) -> Result<f64, ValuationError> {
    match mark_iv {
        Some(iv) if iv.is_finite() && iv > 0.0 => Ok(iv),
        Some(iv) if !(iv.is_finite() && iv >= 0.0) => {
            Err(format!("mark IV {iv} of {} is not valid", inst.name))
        }
        _ if t <= 0.0 => Ok(0.0),
        _ => {
            let coin_mark = match inst.settlement {
                Settlement::Inverse => mark,
                Settlement::Linear => mark / forward,
            };
            implied_vol_coin(option_type, forward, strike, t, coin_mark)
                .map_err(|e| format!("{} has no mark IV and its mark gives none: {e}", inst.name))
        }
    }
}

/// Option value in quote units (coin for inverse, USD for linear).
#[inline]
fn native_option_value(
    inst: &Instrument,
    opt: OptionType,
    f: f64,
    k: f64,
    t: f64,
    sigma: f64,
) -> f64 {
    let usd = pricing::price(opt, f, k, t, sigma);
    match inst.settlement {
        Settlement::Inverse => usd / f,
        Settlement::Linear => usd,
    }
}

/// Value and sensitivities of one unit of position size.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UnitValue {
    /// Option value counted in `options_value` (0 for futures).
    pub option_value: f64,
    /// The mark-dependent part of the futures session P&L: a position's
    /// session P&L is `size × (futures_mark_term − ref_term(ref price))`.
    pub futures_mark_term: f64,
    /// Delta in coin (Deribit's published delta; futures: size in coin).
    pub delta: f64,
    /// Net-transaction delta in coin (Deribit's `delta_total` convention).
    pub net_delta: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
}

/// Value and Greeks of one unit of the instrument at the resolved state.
pub fn unit_value(inst: &Instrument, r: &Resolved) -> UnitValue {
    unit_value_at(inst, r, None)
}

/// `unit_value`, with an option's model value at `r` in USD given when a
/// grid priced it (the net delta then takes it, as
/// `unit_value_for_margin` does, so that the two agree bit for bit).
pub fn unit_value_at(inst: &Instrument, r: &Resolved, usd: Option<f64>) -> UnitValue {
    match (inst.kind, inst.settlement) {
        (
            Kind::Option {
                option_type,
                strike,
                ..
            },
            settlement,
        ) => {
            let g = pricing::greeks(option_type, r.forward, strike, r.t, r.sigma);
            let net_delta = net_delta(settlement, g.delta, r.forward, || usd.unwrap_or(g.price));
            UnitValue {
                option_value: r.mark,
                futures_mark_term: 0.0,
                delta: g.delta,
                net_delta,
                gamma: g.gamma,
                vega: g.vega,
                theta: g.theta,
            }
        }
        (_, Settlement::Inverse) => UnitValue {
            futures_mark_term: -1.0 / r.mark,
            delta: 1.0 / r.mark,
            net_delta: 1.0 / r.mark,
            ..UnitValue::default()
        },
        (_, Settlement::Linear) => UnitValue {
            futures_mark_term: r.mark,
            delta: 1.0,
            net_delta: 1.0,
            ..UnitValue::default()
        },
    }
}

/// `unit_value` without gamma, vega and theta, which a margin search does
/// not read: an option's value (`usd`, when a grid priced it at `r`) and
/// its delta are all its net delta needs.
pub fn unit_value_for_margin(inst: &Instrument, r: &Resolved, usd: Option<f64>) -> UnitValue {
    let Kind::Option {
        option_type,
        strike,
        ..
    } = inst.kind
    else {
        return unit_value(inst, r);
    };
    let (f, t, sigma) = (r.forward, r.t, r.sigma);
    let delta = pricing::delta(option_type, f, strike, t, sigma);
    let net_delta = net_delta(inst.settlement, delta, f, || {
        usd.unwrap_or_else(|| pricing::price(option_type, f, strike, t, sigma))
    });
    UnitValue {
        option_value: r.mark,
        delta,
        net_delta,
        ..UnitValue::default()
    }
}

/// An option's net-transaction delta: an inverse option's coin value
/// moves against its delta by value / forward (`usd`, asked for only then).
fn net_delta(settlement: Settlement, delta: f64, forward: f64, usd: impl FnOnce() -> f64) -> f64 {
    match settlement {
        Settlement::Inverse => delta - usd() / forward,
        Settlement::Linear => delta,
    }
}

/// The reference-price term of the futures session P&L (see `UnitValue`).
pub fn futures_ref_term(inst: &Instrument, ref_price: f64) -> f64 {
    match inst.settlement {
        Settlement::Inverse => -1.0 / ref_price,
        Settlement::Linear => ref_price,
    }
}

/// One unit's P&L in many scenarios from one resolved state: what does
/// not change between scenarios (the value at that state, ln(F/K), √T) is
/// computed once, since VaR reprices every instrument thousands of times.
/// The same P&L as `scenario_pnl` for a price move of e^r − 1.
#[derive(Clone, Copy, Debug)]
pub struct Repricer {
    kind: Kind,
    settlement: Settlement,
    forward: f64,
    /// ln(F/K), √T and σ of an option.
    ln_fk: f64,
    sqrt_t: f64,
    sigma: f64,
    /// The option's value at the resolved state, in quote units.
    base: f64,
}

impl Repricer {
    pub fn new(inst: &Instrument, r: &Resolved) -> Repricer {
        let (ln_fk, base) = match inst.kind {
            Kind::Option {
                option_type,
                strike,
                ..
            } => {
                let v0 = pricing::price(option_type, r.forward, strike, r.t, r.sigma);
                let base = match inst.settlement {
                    Settlement::Inverse => v0 / r.forward,
                    Settlement::Linear => v0,
                };
                ((r.forward / strike).ln(), base)
            }
            _ => (0.0, 0.0),
        };
        Repricer {
            kind: inst.kind,
            settlement: inst.settlement,
            forward: r.forward,
            ln_fk,
            sqrt_t: r.t.sqrt(),
            sigma: r.sigma,
            base,
        }
    }

    /// `pnl_grown` in many scenarios at once, the option's volatility
    /// being σ·`moves.vol[i]` (each ≥ 0.01), into `out`. Options with time
    /// and volatility left go through the vectorized Black-76.
    pub fn pnl_many(&self, moves: &lanes::Moves, out: &mut [f64]) {
        match self.lanes() {
            Some(option) => {
                lanes::values(&option, moves, out);
                self.pnl_from_values(moves, out);
            }
            None => {
                let scenarios = (moves.log.iter().zip(moves.grown)).zip(moves.vol);
                for (o, ((lr, g), m)) in out.iter_mut().zip(scenarios) {
                    *o = self.pnl_grown(*lr, *g, self.sigma * m);
                }
            }
        }
    }

    /// The inputs of the vectorized Black-76: an option with time and
    /// volatility left. Options whose inputs are equal but for the type
    /// can be priced together (`lanes::call_and_put_values`).
    pub fn lanes(&self) -> Option<lanes::Inputs> {
        match self.kind {
            Kind::Option {
                option_type,
                strike,
                ..
            } if self.sqrt_t > 0.0 && self.sigma > 0.0 => Some(lanes::Inputs {
                option_type,
                strike,
                forward: self.forward,
                ln_fk: self.ln_fk,
                total_vol: self.sigma * self.sqrt_t,
            }),
            _ => None,
        }
    }

    /// The P&L in quote units from the option's USD values after `moves`
    /// (from `lanes`), in place.
    pub fn pnl_from_values(&self, moves: &lanes::Moves, values: &mut [f64]) {
        match self.settlement {
            Settlement::Inverse => {
                let inv_forward = 1.0 / self.forward;
                for (v, ig) in values.iter_mut().zip(moves.inv_grown) {
                    *v = *v * (inv_forward * ig) - self.base;
                }
            }
            Settlement::Linear => values.iter_mut().for_each(|v| *v -= self.base),
        }
    }

    /// The P&L after the underlying's log return `log_move`, the option's
    /// volatility then being `sigma`.
    #[inline]
    pub fn pnl(&self, log_move: f64, sigma: f64) -> f64 {
        self.pnl_grown(log_move, log_move.exp(), sigma)
    }

    /// `pnl` with `grown` = e^log_move given (shared by every instrument
    /// on the same index in a scenario).
    #[inline]
    pub fn pnl_grown(&self, log_move: f64, grown: f64, sigma: f64) -> f64 {
        let f1 = self.forward * grown;
        match self.kind {
            Kind::Option {
                option_type,
                strike,
                ..
            } => {
                let v1 = match self.sqrt_t > 0.0 {
                    true => pricing::price_with_total_vol(
                        option_type,
                        f1,
                        strike,
                        self.ln_fk + log_move,
                        sigma * self.sqrt_t,
                    ),
                    false => pricing::price(option_type, f1, strike, 0.0, sigma),
                };
                match self.settlement {
                    Settlement::Inverse => v1 / f1 - self.base,
                    Settlement::Linear => v1 - self.base,
                }
            }
            _ => match self.settlement {
                Settlement::Inverse => (grown - 1.0) / (grown * self.forward),
                Settlement::Linear => self.forward * (grown - 1.0),
            },
        }
    }
}

/// P&L of one unit when the underlying moves by `price_move` (a fraction)
/// and the option's volatility becomes `shocked_sigma`, measured from the
/// resolved state (which may itself be shocked, for liquidation distance).
#[inline]
pub fn scenario_pnl(inst: &Instrument, r: &Resolved, price_move: f64, shocked_sigma: f64) -> f64 {
    match inst.kind {
        Kind::Option {
            option_type,
            strike,
            ..
        } => {
            let f0 = r.forward;
            let f1 = f0 * (1.0 + price_move);
            let v0 = pricing::price(option_type, f0, strike, r.t, r.sigma);
            let v1 = pricing::price(option_type, f1, strike, r.t, shocked_sigma);
            match inst.settlement {
                Settlement::Inverse => v1 / f1 - v0 / f0,
                Settlement::Linear => v1 - v0,
            }
        }
        // Inverse: size Q = N/F coin, P&L = N·(1/F − 1/(F(1+m))) = Q·m/(1+m).
        _ => match inst.settlement {
            Settlement::Inverse => price_move / ((1.0 + price_move) * r.forward),
            Settlement::Linear => r.forward * price_move,
        },
    }
}

#[cfg(test)]
mod repricer_tests {
    use super::*;

    /// A resolved option state the tests reprice from.
    const STATE: Resolved = Resolved {
        forward: 30_220.5,
        sigma: 0.677,
        t: 0.33,
        mark: 0.01,
        index: 30_000.0,
        expired: false,
    };

    #[test]
    fn the_repricer_gives_scenario_pnl() {
        let names = [
            "BTC-30SEP22-60000-C",
            "BTC-30SEP22-20000-P",
            "BTC_USDC-30SEP22-30000-C",
            "BTC-PERPETUAL",
            "BTC_USDC-PERPETUAL",
        ];
        for name in names {
            let inst = Instrument::parse(name).unwrap();
            let r = STATE;
            let rep = Repricer::new(&inst, &r);
            for (lr, s) in [(-0.3f64, 0.9), (0.0, 0.677), (0.12, 0.5), (-0.05, 0.00677)] {
                let got = rep.pnl(lr, s);
                let want = scenario_pnl(&inst, &r, lr.exp() - 1.0, s);
                let close = (got - want).abs() <= 1e-12 * want.abs() + 1e-15;
                assert!(close, "{name} {lr} {s}: {got} vs {want}");
            }
            assert_eq!(rep.pnl(0.0, r.sigma), 0.0, "{name}: no move, no P&L");
        }
    }

    #[test]
    fn many_scenarios_at_once_give_the_one_at_a_time_pnl() {
        let r = STATE;
        let log: Vec<f64> = (0..97).map(|i| -0.5 + 0.01 * i as f64).collect();
        let grown: Vec<f64> = log.iter().map(|x| x.exp()).collect();
        let mult: Vec<f64> = (0..97).map(|i| 0.5 + 0.02 * (i % 50) as f64).collect();
        let inv_grown: Vec<f64> = grown.iter().map(|g| 1.0 / g).collect();
        let inv_mult: Vec<f64> = mult.iter().map(|m| 1.0 / m).collect();
        let expired = Resolved { t: 0.0, ..r };
        let names = [
            "BTC-30SEP22-25000-P",
            "BTC_USDC-30SEP22-30000-C",
            "BTC-PERPETUAL",
        ];
        for (name, r) in (names.iter().map(|n| (n, r))).chain([(&names[0], expired)]) {
            let rep = Repricer::new(&Instrument::parse(name).unwrap(), &r);
            let mut out = vec![f64::NAN; log.len()];
            let moves = lanes::Moves {
                log: &log,
                grown: &grown,
                inv_grown: &inv_grown,
                vol: &mult,
                inv_vol: &inv_mult,
            };
            rep.pnl_many(&moves, &mut out);
            for i in 0..log.len() {
                let want = rep.pnl_grown(log[i], grown[i], r.sigma * mult[i]);
                // Both are differences of values up to F (linear, USD)
                // or 1 coin (inverse): rounding is relative to those.
                let scale = if name.contains("USDC") {
                    r.forward
                } else {
                    1.0
                };
                let close = (out[i] - want).abs() <= 1e-14 * scale;
                assert!(close, "{name} #{i}: {} vs {want}", out[i]);
            }
        }
    }
}

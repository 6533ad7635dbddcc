//! The boundary where exchange numbers enter the core. Every price, index,
//! implied volatility, size and timestamp is checked for finiteness and
//! plausibility before it may change the desk; a value that fails is
//! rejected with the field and the reason, never clamped or guessed.

/// Bounds on what the exchange may plausibly send.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// An index, a future's mark or an option's forward may differ from
    /// the reference (the last accepted index) by at most this factor.
    pub max_jump: f64,
    /// Implied volatility, as a fraction.
    pub iv_min: f64,
    pub iv_max: f64,
    /// The exchange's clock may run ahead of the local clock's progress by
    /// at most this much (a message dated years ahead must not expire
    /// every option).
    pub max_clock_jump_ms: i64,
    /// How fast the exchange's clock may run: its milliseconds per local
    /// millisecond (1 for a real exchange; the demo's `--speed`).
    pub clock_rate: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_jump: 3.0,
            iv_min: 0.01,
            iv_max: 5.0,
            max_clock_jump_ms: 3_600_000,
            clock_rate: 1.0,
        }
    }
}

/// Prices, indices and sizes beyond these are not numbers an exchange sends.
const SMALLEST_PRICE: f64 = 1e-8;
const LARGEST: f64 = 1e12;

/// A price or index: finite, positive and of a plausible size.
pub fn price(field: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() && (SMALLEST_PRICE..=LARGEST).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{field} {v:e} is not a plausible price"))
    }
}

/// An option's mark: finite, not negative, of a plausible size (0 is a
/// real mark for a worthless option).
pub fn mark(field: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() && (0.0..=LARGEST).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{field} {v:e} is not a plausible price"))
    }
}

/// `v` within `limits.max_jump` of `reference` (when there is one).
pub fn near(field: &str, v: f64, reference: Option<f64>, limits: &Limits) -> Result<f64, String> {
    let v = price(field, v)?;
    match reference.filter(|r| r.is_finite() && *r > 0.0) {
        Some(r) if v > r * limits.max_jump || v < r / limits.max_jump => Err(format!(
            "{field} {v} is more than {}× away from {r}",
            limits.max_jump
        )),
        _ => Ok(v),
    }
}

/// An implied volatility as a fraction. `percent` says how the field is
/// sent (tickers: percent; markprice.options: fraction); a value that fits
/// only the other unit is named as the confusion it probably is.
pub fn iv(field: &str, sent: f64, percent: bool, limits: &Limits) -> Result<f64, String> {
    let scale = if percent { 100.0 } else { 1.0 };
    let v = sent / scale;
    let range = limits.iv_min..=limits.iv_max;
    if v.is_finite() && range.contains(&v) {
        return Ok(v);
    }
    let (lo, hi) = (limits.iv_min * scale, limits.iv_max * scale);
    let other = if percent { v * 100.0 } else { v / 100.0 };
    let hint = match range.contains(&other) {
        true if percent => " (it looks like a fraction where a percent is expected)",
        true => " (it looks like a percent where a fraction is expected)",
        false => "",
    };
    Err(format!("{field} {sent:e} is outside {lo}–{hi}{hint}"))
}

/// A position size: finite and of a plausible size.
pub fn size(field: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() && v.abs() <= LARGEST {
        Ok(v)
    } else {
        Err(format!("{field} {v:e} is not a plausible size"))
    }
}

/// The exchange's clock as far as it has been believed: its newest time
/// and the local time when it got there.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClockGuard {
    anchor: Option<(i64, i64)>,
}

impl ClockGuard {
    /// Whether exchange time `ts`, received at local time `t`, may be
    /// believed: it may run ahead of the newest believed time by as much as
    /// the local clock has moved since (times `limits.clock_rate`), plus
    /// `limits.max_clock_jump_ms`.
    pub fn admit(&mut self, ts: i64, t: i64, limits: &Limits) -> Result<(), String> {
        let Some((at, local)) = self.anchor else {
            self.anchor = Some((ts, t));
            return Ok(());
        };
        let elapsed = t.saturating_sub(local).max(0) as f64 * limits.clock_rate.max(1.0);
        let allowed = at
            .saturating_add(elapsed as i64)
            .saturating_add(limits.max_clock_jump_ms);
        if ts > allowed {
            return Err(format!(
                "timestamp {ts} is {} s ahead of the exchange's clock",
                ts.saturating_sub(at) / 1000
            ));
        }
        if ts > at {
            self.anchor = Some((ts, t));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_must_be_finite_positive_and_plausible() {
        assert!(price("index", 30_000.0).is_ok());
        for bad in [
            f64::NAN,
            f64::INFINITY,
            0.0,
            -1.0,
            5e-324,
            1.797e308,
            1e-308,
        ] {
            assert!(price("index", bad).is_err(), "{bad}");
        }
        assert!(mark("mark", 0.0).is_ok());
        assert!(mark("mark", -0.1).is_err());
    }

    #[test]
    fn jumps_beyond_the_factor_are_refused() {
        let l = Limits::default();
        assert!(near("index", 31_000.0, Some(30_000.0), &l).is_ok());
        assert!(near("index", 95_000.0, Some(30_000.0), &l).is_err());
        assert!(near("index", 9_000.0, Some(30_000.0), &l).is_err());
        assert!(near("index", 9_000.0, None, &l).is_ok());
    }

    #[test]
    fn implied_vols_in_range_and_unit_mixups_named() {
        let l = Limits::default();
        assert_eq!(iv("mark_iv", 67.7, true, &l), Ok(0.677));
        assert_eq!(iv("iv", 0.677, false, &l), Ok(0.677));
        let e = iv("iv", 67.7, false, &l).unwrap_err();
        assert!(e.contains("looks like a percent"), "{e}");
        let e = iv("mark_iv", 0.677, true, &l).unwrap_err();
        assert!(e.contains("looks like a fraction"), "{e}");
        for bad in [6770.0, 1e308, 1e-300, f64::NAN] {
            assert!(iv("mark_iv", bad, true, &l).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_clock_runs_ahead_only_as_far_as_time_has_passed() {
        let mut c = ClockGuard::default();
        let hour = 3_600_000;
        let l = Limits::default();
        assert!(c.admit(1_000_000, 50, &l).is_ok(), "the first time sets it");
        assert!(c.admit(1_000_000 + hour, 60, &l).is_ok());
        // A message dated a year ahead, a second later by the local clock.
        assert!(c.admit(1_000_000 + 365 * 24 * hour, 1_060, &l).is_err());
        // Days later by the local clock, days later by the exchange's: fine.
        assert!(c.admit(1_000_000 + 72 * hour, 60 + 72 * hour, &l).is_ok());
        // Older times never move it, and are not refused.
        assert!(c.admit(0, 60 + 72 * hour, &l).is_ok());
        assert!(c.admit(i64::MAX, i64::MIN, &l).is_err());
    }

    #[test]
    fn an_accelerated_clock_may_run_as_fast_as_its_rate() {
        let hour = 3_600_000;
        let fast = Limits {
            clock_rate: 3_600.0,
            ..Limits::default()
        };
        // Five local seconds: five exchange hours at 3600×, plus the hour's jump.
        let mut c = ClockGuard::default();
        assert!(c.admit(0, 0, &fast).is_ok());
        assert!(c.admit(6 * hour, 5_000, &fast).is_ok());
        assert!(c.admit(12 * hour + 1, 10_000, &fast).is_err());
        let mut c = ClockGuard::default();
        assert!(c.admit(0, 0, &Limits::default()).is_ok());
        assert!(c.admit(6 * hour, 5_000, &Limits::default()).is_err());
    }
}

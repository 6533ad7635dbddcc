//! One word for an account's state, decided here only: the screens, the
//! alerts, `watch`, `check` and the report all ask `verdict`.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Ok,
    Warning,
    Critical,
    /// Maintenance margin at or above the margin balance.
    Liquidation,
    /// Inputs too old or disconnected: no number is current.
    Stale,
    /// The margin could not be computed (see the warnings).
    Unknown,
    /// The exchange refused to describe the account (its message says why).
    Error,
}

/// mm_ratio levels at which an account turns warning or critical.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub warn_mm_ratio: f64,
    pub critical_mm_ratio: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            warn_mm_ratio: 0.5,
            critical_mm_ratio: 0.8,
        }
    }
}

impl Health {
    /// Classify. `mm_ratio` is None when the margin balance is not positive.
    pub fn of(
        stale: bool,
        maintenance_margin: Option<f64>,
        mm_ratio: Option<f64>,
        t: &Thresholds,
    ) -> Health {
        let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
        match (maintenance_margin, mm_ratio) {
            _ if stale => Health::Stale,
            // A number that is not a number never reads as healthy.
            _ if !finite(maintenance_margin) || !finite(mm_ratio) => Health::Unknown,
            (None, _) => Health::Unknown,
            (Some(mm), None) if mm > 0.0 => Health::Liquidation,
            (Some(_), None) => Health::Unknown,
            (_, Some(r)) if r >= 1.0 => Health::Liquidation,
            (_, Some(r)) if r >= t.critical_mm_ratio => Health::Critical,
            (_, Some(r)) if r >= t.warn_mm_ratio => Health::Warning,
            _ => Health::Ok,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Health::Ok => "OK",
            Health::Warning => "WARNING",
            Health::Critical => "CRITICAL",
            Health::Liquidation => "LIQUIDATION",
            Health::Stale => "STALE",
            Health::Unknown => "UNKNOWN",
            Health::Error => "ERROR",
        }
    }

    /// `margintop check`'s exit status: 0 healthy, 1 warning, 2 critical,
    /// liquidation, stale or unknown, 3 refused by the exchange.
    pub fn exit_code(self) -> u8 {
        match self {
            Health::Ok => 0,
            Health::Warning => 1,
            Health::Error => 3,
            _ => 2,
        }
    }
}

/// What an account's health is judged on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Standing {
    /// The exchange refused to describe the account.
    pub refused: bool,
    pub stale: bool,
    /// The maintenance margin and mm_ratio judged (a cross account's
    /// totals, local or the exchange's); None: not known.
    pub judged: Option<(f64, Option<f64>)>,
}

/// An account's health: a refusal is an error whatever else; otherwise the
/// judged figures against the thresholds (stale or unknown without them).
pub fn verdict(s: Standing, t: &Thresholds) -> Health {
    if s.refused {
        return Health::Error;
    }
    match s.judged {
        Some((mm, ratio)) => Health::of(s.stale, Some(mm), ratio, t),
        None => Health::of(s.stale, None, None, t),
    }
}

/// "14:03:07" (UTC) from epoch milliseconds.
pub fn time_of_day_utc(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        let t = Thresholds::default();
        assert_eq!(Health::of(false, Some(1.0), Some(0.1), &t), Health::Ok);
        assert_eq!(Health::of(false, Some(1.0), Some(0.5), &t), Health::Warning);
        assert_eq!(
            Health::of(false, Some(1.0), Some(0.85), &t),
            Health::Critical
        );
        assert_eq!(
            Health::of(false, Some(1.0), Some(1.0), &t),
            Health::Liquidation
        );
        assert_eq!(Health::of(false, Some(1.0), None, &t), Health::Liquidation);
        assert_eq!(Health::of(false, None, None, &t), Health::Unknown);
        assert_eq!(Health::of(true, Some(1.0), Some(0.1), &t), Health::Stale);
        for nan in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(Health::of(false, Some(1.0), Some(nan), &t), Health::Unknown);
            assert_eq!(Health::of(false, Some(nan), Some(0.1), &t), Health::Unknown);
        }
        let standing = |refused, stale, judged| Standing {
            refused,
            stale,
            judged,
        };
        let judged = Some((1.0, Some(0.85)));
        assert_eq!(
            verdict(standing(false, false, judged), &t),
            Health::Critical
        );
        assert_eq!(verdict(standing(true, false, judged), &t), Health::Error);
        assert_eq!(verdict(standing(false, true, judged), &t), Health::Stale);
        assert_eq!(verdict(standing(false, true, None), &t), Health::Stale);
        assert_eq!(verdict(standing(false, false, None), &t), Health::Unknown);
        assert_eq!(Health::Stale.exit_code(), 2);
        assert_eq!(Health::Error.exit_code(), 3);
        assert_eq!(time_of_day_utc(1_664_524_800_000 + 3_723_000), "09:02:03");
    }
}

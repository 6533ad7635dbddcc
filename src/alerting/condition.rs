//! A rule's condition: one metric compared with one number, as the user
//! writes it (`mm_ratio >= 0.9`).

use std::fmt;

/// What a rule can watch. Each reads one number per account (or per link,
/// for `link_down_s`); an account without it (no VaR yet, no exchange MM)
/// neither raises nor clears.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Maintenance margin / margin balance (a fraction: 0.9 = 90 %).
    MmRatio,
    /// Initial margin / margin balance.
    ImRatio,
    /// Margin balance minus maintenance margin, USD.
    HeadroomUsd,
    /// The nearer liquidation move, in percent of the index.
    LiqDistancePct,
    /// The nearer liquidation move, in daily standard deviations.
    LiqDistanceSigma,
    /// 99 % VaR / margin balance.
    Var99Ratio,
    /// The worst stress scenario's P&L, USD (a loss is negative).
    WorstStressUsd,
    /// Seconds since the account's newest data.
    DataAgeS,
    /// 1 while the account's numbers are stale, else 0.
    Stale,
    /// Seconds a link has been down (links only).
    LinkDownS,
    /// Local MM against the exchange's, percent of the exchange's.
    MmGapPct,
}

impl Metric {
    pub const ALL: [Metric; 11] = [
        Metric::MmRatio,
        Metric::ImRatio,
        Metric::HeadroomUsd,
        Metric::LiqDistancePct,
        Metric::LiqDistanceSigma,
        Metric::Var99Ratio,
        Metric::WorstStressUsd,
        Metric::DataAgeS,
        Metric::Stale,
        Metric::LinkDownS,
        Metric::MmGapPct,
    ];

    /// The name a condition uses.
    pub fn name(self) -> &'static str {
        match self {
            Metric::MmRatio => "mm_ratio",
            Metric::ImRatio => "im_ratio",
            Metric::HeadroomUsd => "headroom_usd",
            Metric::LiqDistancePct => "liq_distance_pct",
            Metric::LiqDistanceSigma => "liq_distance_sigma",
            Metric::Var99Ratio => "var_99_ratio",
            Metric::WorstStressUsd => "worst_stress_usd",
            Metric::DataAgeS => "data_age_s",
            Metric::Stale => "stale",
            Metric::LinkDownS => "link_down_s",
            Metric::MmGapPct => "mm_gap_pct",
        }
    }

    fn parse(name: &str) -> Result<Metric, String> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
                format!("unknown metric `{name}` (known: {})", known.join(", "))
            })
    }

    /// Whether it needs the desk's VaR (its history and window): `check`
    /// computes VaR only when a rule or a limit asks for it.
    pub fn needs_var(self) -> bool {
        matches!(self, Metric::Var99Ratio | Metric::LiqDistanceSigma)
    }

    /// The thresholds that make sense, and what to say when one does not:
    /// a percent typed where a fraction belongs, a negative age.
    fn range(self) -> (f64, f64, &'static str) {
        match self {
            Metric::MmRatio | Metric::ImRatio | Metric::Var99Ratio => {
                (0.0, 10.0, "a ratio: 0.9 means 90 %")
            }
            Metric::LiqDistancePct => (0.0, 1000.0, "a percent of the index"),
            Metric::LiqDistanceSigma => (0.0, 1000.0, "daily standard deviations"),
            Metric::DataAgeS | Metric::LinkDownS => {
                (0.0, 7.0 * 86_400.0, "seconds, at most a week")
            }
            Metric::Stale => (0.0, 1.0, "0 or 1"),
            Metric::MmGapPct => (0.0, 10_000.0, "a percent of the exchange's MM"),
            Metric::HeadroomUsd | Metric::WorstStressUsd => (-1e15, 1e15, "USD"),
        }
    }
}

/// How a value is compared with the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Ge,
    Gt,
    Le,
    Lt,
}

impl Cmp {
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Ge => ">=",
            Cmp::Gt => ">",
            Cmp::Le => "<=",
            Cmp::Lt => "<",
        }
    }

    fn upward(self) -> bool {
        matches!(self, Cmp::Ge | Cmp::Gt)
    }
}

/// `metric cmp threshold`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Condition {
    pub metric: Metric,
    pub cmp: Cmp,
    pub threshold: f64,
}

impl Condition {
    /// Read `mm_ratio >= 0.9` (spaces optional around the comparison).
    pub fn parse(text: &str) -> Result<Condition, String> {
        let text = text.trim();
        let at = text
            .find(['<', '>'])
            .ok_or_else(|| format!("`{text}`: expected `metric >= number` (or >, <=, <)"))?;
        let (name, rest) = text.split_at(at);
        let (cmp, number) = match rest.as_bytes().get(1) {
            Some(b'=') if rest.starts_with('>') => (Cmp::Ge, &rest[2..]),
            Some(b'=') => (Cmp::Le, &rest[2..]),
            _ if rest.starts_with('>') => (Cmp::Gt, &rest[1..]),
            _ => (Cmp::Lt, &rest[1..]),
        };
        let metric = Metric::parse(name.trim())?;
        let threshold: f64 = number
            .trim()
            .parse()
            .map_err(|_| format!("`{text}`: `{}` is not a number", number.trim()))?;
        let (low, high, unit) = metric.range();
        if !(threshold.is_finite() && (low..=high).contains(&threshold)) {
            return Err(format!(
                "`{text}`: {} takes a threshold from {low} to {high} ({unit})",
                metric.name()
            ));
        }
        Ok(Condition {
            metric,
            cmp,
            threshold,
        })
    }

    /// Whether `value` meets the condition; a NaN meets none.
    pub fn holds(&self, value: f64) -> bool {
        match self.cmp {
            Cmp::Ge => value >= self.threshold,
            Cmp::Gt => value > self.threshold,
            Cmp::Le => value <= self.threshold,
            Cmp::Lt => value < self.threshold,
        }
    }

    /// The condition's negation: the clearing condition a rule without one gets.
    pub fn negation(&self) -> Condition {
        let cmp = match self.cmp {
            Cmp::Ge => Cmp::Lt,
            Cmp::Gt => Cmp::Le,
            Cmp::Le => Cmp::Gt,
            Cmp::Lt => Cmp::Ge,
        };
        Condition { cmp, ..*self }
    }

    /// Why `clear` cannot clear this condition, if it cannot: another
    /// metric, the same side, or a value where both hold (the alert would
    /// raise and clear on the same number).
    pub fn check_clear(&self, clear: &Condition) -> Result<(), String> {
        if clear.metric != self.metric {
            return Err(format!(
                "clear watches {} but the condition watches {}",
                clear.metric.name(),
                self.metric.name()
            ));
        }
        if clear.cmp.upward() == self.cmp.upward() {
            return Err(format!(
                "clear `{clear}` is on the same side as the condition `{self}`"
            ));
        }
        // The bounds meet at one value, or cross: some value meets both.
        let (x, y) = (self.threshold, clear.threshold);
        let both_closed =
            matches!(self.cmp, Cmp::Ge | Cmp::Le) && matches!(clear.cmp, Cmp::Ge | Cmp::Le);
        let overlap = match self.cmp.upward() {
            true => y > x || (y == x && both_closed),
            false => y < x || (y == x && both_closed),
        };
        match overlap {
            true => Err(format!(
                "clear `{clear}` and the condition `{self}` both hold at some values"
            )),
            false => Ok(()),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.metric.name(),
            self.cmp.symbol(),
            self.threshold
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> Condition {
        Condition::parse(text).unwrap()
    }

    #[test]
    fn conditions_read_as_written() {
        let got = c("mm_ratio >= 0.9");
        assert_eq!(
            (got.metric, got.cmp, got.threshold),
            (Metric::MmRatio, Cmp::Ge, 0.9)
        );
        assert_eq!(c("headroom_usd<-5000").cmp, Cmp::Lt);
        assert_eq!(c("headroom_usd<-5000").threshold, -5000.0);
        assert_eq!(c(" data_age_s > 30 ").cmp, Cmp::Gt);
        assert_eq!(c("liq_distance_pct<=12.5").cmp, Cmp::Le);
        assert_eq!(c("mm_ratio >= 0.9").to_string(), "mm_ratio >= 0.9");
    }

    #[test]
    fn bad_conditions_say_what_is_wrong() {
        let err = |t: &str| Condition::parse(t).unwrap_err();
        assert!(err("mm_ratio = 0.9").contains("expected"));
        assert!(err("mmratio >= 0.9").contains("unknown metric `mmratio`"));
        assert!(err("mm_ratio >= ninety").contains("not a number"));
        assert!(err("mm_ratio >= 90").contains("0.9 means 90 %"));
        assert!(err("data_age_s > -1").contains("seconds"));
        assert!(err("mm_ratio >= NaN").contains("threshold"));
    }

    #[test]
    fn holds_and_never_on_nan() {
        let ge = c("mm_ratio >= 0.9");
        assert!(ge.holds(0.9) && ge.holds(1.5) && !ge.holds(0.89));
        assert!(!ge.holds(f64::NAN) && !ge.negation().holds(f64::NAN));
        assert!(c("headroom_usd < 0").holds(-1.0));
        assert!(!c("headroom_usd < 0").holds(0.0));
        assert_eq!(ge.negation(), c("mm_ratio < 0.9"));
    }

    #[test]
    fn clear_must_be_on_the_other_side_without_overlap() {
        let raise = c("mm_ratio >= 0.9");
        assert!(raise.check_clear(&c("mm_ratio < 0.85")).is_ok());
        assert!(raise.check_clear(&c("mm_ratio < 0.9")).is_ok());
        assert!(raise.check_clear(&raise.negation()).is_ok());
        assert!(raise.check_clear(&c("mm_ratio <= 0.9")).is_err());
        assert!(raise.check_clear(&c("mm_ratio < 0.95")).is_err());
        assert!(raise.check_clear(&c("mm_ratio > 0.5")).is_err());
        assert!(raise.check_clear(&c("im_ratio < 0.5")).is_err());
        let low = c("headroom_usd < 1000");
        assert!(low.check_clear(&c("headroom_usd >= 2000")).is_ok());
        assert!(low.check_clear(&c("headroom_usd >= 1000")).is_ok());
        assert!(low.check_clear(&c("headroom_usd > 500")).is_err());
        assert!(c("headroom_usd <= 1000")
            .check_clear(&c("headroom_usd >= 1000"))
            .is_err());
    }
}

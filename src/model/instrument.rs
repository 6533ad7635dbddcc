//! Deribit instruments: names, kinds, settlement and expiry.
//!
//! Names carry almost everything the risk core needs:
//! `BTC-27DEC24-60000-C` (inverse option), `BTC-4FEB26-76000-P` (one-digit
//! day), `XRP_USDC-30MAY25-0d625-C` (linear, `d` is the decimal point),
//! `BTC-27DEC24` (inverse future), `BTC-PERPETUAL`, `BTC_USDC-PERPETUAL`.
//! An exchange's instrument record, when present, overrides the defaults
//! (contract size, settlement currency, expiry).

use crate::pricing::OptionType;
use serde::Deserialize;
use std::fmt;

/// Deribit expires and settles at 08:00 UTC.
pub const EXPIRY_HOUR_UTC: i64 = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Settlement {
    /// Coin-settled: futures sized in USD, options priced in coin.
    Inverse,
    /// Settled in the quote stablecoin (USDC): sizes in coin, prices in USD.
    Linear,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Option {
        option_type: OptionType,
        strike: f64,
        expiry_ms: i64,
    },
    Future {
        expiry_ms: i64,
    },
    Perpetual,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Instrument {
    pub name: String,
    /// Underlying coin, upper case ("BTC").
    pub base: String,
    /// Currency in which P&L and margin are counted ("BTC", "USDC").
    pub settlement_currency: String,
    /// Price index the instrument follows ("btc_usd", "xrp_usdc").
    pub index_name: String,
    pub settlement: Settlement,
    pub kind: Kind,
    pub contract_size: f64,
}

/// The fields of an exchange instrument record that refine a parsed name.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct InstrumentSpec {
    pub instrument_name: String,
    #[serde(default)]
    pub contract_size: Option<f64>,
    #[serde(default)]
    pub settlement_currency: Option<String>,
    #[serde(default)]
    pub price_index: Option<String>,
    #[serde(default)]
    pub expiration_timestamp: Option<i64>,
    #[serde(default)]
    pub kind: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InstrumentError {
    pub name: String,
    pub reason: String,
}

impl fmt::Display for InstrumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "instrument {:?}: {}", self.name, self.reason)
    }
}

impl std::error::Error for InstrumentError {}

fn bad(name: &str, reason: impl Into<String>) -> InstrumentError {
    InstrumentError {
        name: name.to_string(),
        reason: reason.into(),
    }
}

impl Instrument {
    /// Parse a Deribit instrument name.
    pub fn parse(name: &str) -> Result<Instrument, InstrumentError> {
        let parts: Vec<&str> = name.split('-').collect();
        let pair = parts[0];
        if pair.is_empty() {
            return Err(bad(name, "empty name"));
        }
        let (base, settle_ccy, settlement) = match pair.split_once('_') {
            Some((b, q)) if !b.is_empty() && !q.is_empty() => (b, q, Settlement::Linear),
            Some(_) => return Err(bad(name, "currency pair must look like BTC_USDC")),
            None => (pair, pair, Settlement::Inverse),
        };
        if !base.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad(name, format!("bad currency {base:?}")));
        }
        let index_name = match settlement {
            Settlement::Inverse => format!("{}_usd", base.to_ascii_lowercase()),
            Settlement::Linear => pair.to_ascii_lowercase(),
        };
        let kind = match parts.as_slice() {
            [_] => {
                return Err(bad(
                    name,
                    "spot pairs are not derivatives; expected e.g. BTC-PERPETUAL",
                ))
            }
            [_, "PERPETUAL"] => Kind::Perpetual,
            [_, date] => Kind::Future {
                expiry_ms: parse_expiry(name, date)?,
            },
            [_, kind, ..] if parts.len() >= 3 && kind.chars().all(|c| c.is_ascii_alphabetic()) => {
                return Err(bad(
                    name,
                    format!("combo instruments ({kind}) are not supported"),
                ))
            }
            [_, date, strike, cp] => {
                let option_type = match *cp {
                    "C" => OptionType::Call,
                    "P" => OptionType::Put,
                    other => return Err(bad(name, format!("option type {other:?} is not C or P"))),
                };
                Kind::Option {
                    option_type,
                    strike: parse_strike(name, strike)?,
                    expiry_ms: parse_expiry(name, date)?,
                }
            }
            _ => {
                return Err(bad(
                    name,
                    "expected COIN-PERPETUAL, COIN-DDMMMYY or COIN-DDMMMYY-STRIKE-C/P",
                ))
            }
        };
        let contract_size = default_contract_size(base, settlement, &kind);
        Ok(Instrument {
            name: name.to_string(),
            base: base.to_string(),
            settlement_currency: settle_ccy.to_string(),
            index_name,
            settlement,
            kind,
            contract_size,
        })
    }

    /// Parse the name of an exchange record and apply what the record says.
    pub fn from_spec(spec: &InstrumentSpec) -> Result<Instrument, InstrumentError> {
        let mut inst = Instrument::parse(&spec.instrument_name)?;
        if let Some(size) = spec.contract_size {
            if !(size.is_finite() && size > 0.0) {
                return Err(bad(
                    &inst.name,
                    format!("contract_size {size} must be positive"),
                ));
            }
            inst.contract_size = size;
        }
        if let Some(ccy) = &spec.settlement_currency {
            inst.settlement_currency = ccy.to_ascii_uppercase();
        }
        if let Some(index) = &spec.price_index {
            inst.index_name = index.clone();
        }
        if let Some(ts) = spec.expiration_timestamp {
            match &mut inst.kind {
                Kind::Option { expiry_ms, .. } | Kind::Future { expiry_ms } => *expiry_ms = ts,
                Kind::Perpetual => {}
            }
        }
        Ok(inst)
    }

    pub fn expiry_ms(&self) -> Option<i64> {
        match self.kind {
            Kind::Option { expiry_ms, .. } | Kind::Future { expiry_ms } => Some(expiry_ms),
            Kind::Perpetual => None,
        }
    }

    pub fn is_option(&self) -> bool {
        matches!(self.kind, Kind::Option { .. })
    }

    /// Name of the expiry ("27DEC24"), or "PERPETUAL".
    pub fn expiry_label(&self) -> &str {
        self.name.split('-').nth(1).unwrap_or("")
    }
}

fn default_contract_size(base: &str, settlement: Settlement, kind: &Kind) -> f64 {
    match (settlement, kind) {
        (Settlement::Inverse, Kind::Future { .. } | Kind::Perpetual) if base == "BTC" => 10.0,
        _ => 1.0,
    }
}

fn parse_strike(name: &str, text: &str) -> Result<f64, InstrumentError> {
    let strike: f64 = text
        .replace('d', ".")
        .parse()
        .map_err(|_| bad(name, format!("strike {text:?} is not a number")))?;
    if strike.is_finite() && strike > 0.0 {
        Ok(strike)
    } else {
        Err(bad(name, format!("strike {text:?} must be positive")))
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// `27DEC24` or `4FEB26` → 08:00 UTC of that day, in epoch milliseconds.
fn parse_expiry(name: &str, text: &str) -> Result<i64, InstrumentError> {
    let err = || {
        bad(
            name,
            format!("expiry {text:?} is not DDMMMYY (e.g. 27DEC24)"),
        )
    };
    if !text.is_ascii() {
        return Err(err());
    }
    let digits = text.chars().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=2).contains(&digits) || text.len() != digits + 5 {
        return Err(err());
    }
    let day: u32 = text[..digits].parse().map_err(|_| err())?;
    let month = MONTHS
        .iter()
        .position(|m| *m == &text[digits..digits + 3])
        .ok_or_else(err)? as u32
        + 1;
    let year: i64 = 2000 + text[digits + 3..].parse::<i64>().map_err(|_| err())?;
    if day == 0 || day > days_in_month(year, month) {
        return Err(bad(name, format!("expiry {text:?} is not a calendar day")));
    }
    let days = days_from_civil(year, month, day);
    Ok((days * 24 + EXPIRY_HOUR_UTC) * 3_600_000)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number since 1970-01-01 (the inverse of
/// `days_from_civil`).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_inverts_days_from_civil() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn civil_days_match_known_epochs() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        // 2000-03-01 is day 11017; 2024-12-27 is day 20084.
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 12, 27), 20_084);
    }

    #[test]
    fn expiry_is_eight_utc() {
        // The exchange's own record for BTC-13JAN23-16000-P says 1673596800000.
        let i = Instrument::parse("BTC-13JAN23-16000-P").unwrap();
        assert_eq!(i.expiry_ms(), Some(1_673_596_800_000));
        // BTC-29SEP23 future: 1695974400000 in public/get_instruments.
        let f = Instrument::parse("BTC-29SEP23").unwrap();
        assert_eq!(f.expiry_ms(), Some(1_695_974_400_000));
    }
}

//! The demo desk: accounts with distinct, realistic books on the simulated
//! market, and the trades that change them now and then.

use super::market::SimMarket;
use crate::model::{Instrument, Kind};
use crate::pricing::{years_between, OptionType};

/// One demo (sub)account.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoAccount {
    pub id: i64,
    pub username: String,
    pub currency: String,
    /// Deribit's name of the margin model ("segregated_pm", "segregated_sm").
    pub margin_model: String,
    pub balance: f64,
    /// The session's realised P&L (futures traded away from the session
    /// reference, funding), booked into the balance at the settlement.
    pub session_rpl: f64,
    /// Maintenance-margin ratio the balance is sized for at start.
    pub target_mm_ratio: f64,
    pub positions: Vec<(String, f64)>,
    /// Adds risk every so often, drifting toward liquidation.
    pub drifts: bool,
    /// Cross-collateral accounts (`cross_*` models): the currency of the
    /// wallet that backs the book, when it is not the book's own. Its
    /// balance is sized so that the account starts at its target ratio.
    pub collateral: Option<(String, f64)>,
}

/// The listed option nearest to `days` to expiry and strike `moneyness` × forward.
pub(super) fn option(
    m: &SimMarket,
    base: &str,
    days: f64,
    moneyness: f64,
    cp: OptionType,
) -> Option<String> {
    let u = m.underlying(base)?;
    m.instruments
        .iter()
        .filter(|i| i.base == base)
        .filter_map(|i| match i.kind {
            Kind::Option {
                option_type,
                strike,
                expiry_ms,
            } if option_type == cp => {
                let d = years_between(m.now_ms, expiry_ms) * 365.0;
                let score =
                    (d - days).abs() / days.max(1.0) + 4.0 * (strike / u.index - moneyness).abs();
                Some((score, i))
            }
            _ => None,
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, i)| i.name.clone())
}

/// The listed dated future nearest to `days` to expiry.
pub(super) fn future(m: &SimMarket, base: &str, days: f64) -> Option<String> {
    m.instruments
        .iter()
        .filter(|i| i.base == base && matches!(i.kind, Kind::Future { .. }))
        .min_by(|a, b| {
            let d = |i: &Instrument| {
                (years_between(m.now_ms, i.expiry_ms().unwrap_or(0)) * 365.0 - days).abs()
            };
            d(a).total_cmp(&d(b))
        })
        .map(|i| i.name.clone())
}

const C: OptionType = OptionType::Call;
const P: OptionType = OptionType::Put;

/// Fourteen accounts, from a single covered call to a 200-position desk;
/// balances are set later from each book's margin and its target ratio.
pub fn demo_desk(m: &SimMarket) -> Vec<DemoAccount> {
    let perp = |b: &str| format!("{b}-PERPETUAL");
    let o = |b: &str, d: f64, k: f64, cp| option(m, b, d, k, cp).unwrap_or_else(|| perp(b));
    let f = |b: &str, d: f64| future(m, b, d).unwrap_or_else(|| perp(b));
    // (username, currency, margin model, target mm_ratio, drifts, positions)
    type BookSpec<'a> = (&'a str, &'a str, &'a str, f64, bool, Vec<(String, f64)>);
    let books: Vec<BookSpec> = vec![
        (
            "short-strangle",
            "BTC",
            "segregated_pm",
            0.35,
            false,
            vec![
                (o("BTC", 30.0, 1.10, C), -25.0),
                (o("BTC", 30.0, 0.90, P), -25.0),
            ],
        ),
        (
            "covered-call",
            "BTC",
            "segregated_pm",
            0.20,
            false,
            vec![(perp("BTC"), 1_000_000.0), (o("BTC", 30.0, 1.10, C), -12.0)],
        ),
        (
            "eth-calendar",
            "ETH",
            "segregated_pm",
            0.30,
            false,
            vec![
                (o("ETH", 7.0, 1.0, C), -100.0),
                (o("ETH", 90.0, 1.0, C), 100.0),
            ],
        ),
        (
            "hedged-short-vol",
            "BTC",
            "segregated_pm",
            0.55,
            false,
            vec![
                (o("BTC", 30.0, 1.0, C), -40.0),
                (o("BTC", 30.0, 1.0, P), -40.0),
            ],
        ),
        (
            "long-wings",
            "BTC",
            "segregated_sm",
            0.05,
            false,
            vec![
                (o("BTC", 60.0, 0.70, P), 20.0),
                (o("BTC", 60.0, 1.30, C), 20.0),
            ],
        ),
        (
            "basis-trade",
            "BTC",
            "segregated_sm",
            0.25,
            false,
            vec![(f("BTC", 90.0), 2_000_000.0), (perp("BTC"), -2_000_000.0)],
        ),
        (
            "eth-short-puts",
            "ETH",
            "segregated_sm",
            0.45,
            false,
            vec![(o("ETH", 14.0, 0.90, P), -150.0)],
        ),
        (
            "risk-reversal",
            "BTC",
            "segregated_pm",
            0.40,
            false,
            vec![
                (o("BTC", 30.0, 0.90, P), 30.0),
                (o("BTC", 30.0, 1.10, C), -30.0),
            ],
        ),
        (
            "eth-long-straddle",
            "ETH",
            "segregated_pm",
            0.10,
            false,
            vec![
                (o("ETH", 30.0, 1.0, C), 80.0),
                (o("ETH", 30.0, 1.0, P), 80.0),
            ],
        ),
        (
            "futures-spread",
            "BTC",
            "segregated_pm",
            0.15,
            false,
            vec![
                (f("BTC", 30.0), 1_500_000.0),
                (f("BTC", 90.0), -1_500_000.0),
            ],
        ),
        (
            "btc-desk",
            "BTC",
            "segregated_pm",
            0.45,
            false,
            big_book(m, "BTC", 220),
        ),
        (
            "eth-desk",
            "ETH",
            "segregated_pm",
            0.35,
            false,
            big_book(m, "ETH", 60),
        ),
        (
            "near-liq-pm",
            "BTC",
            "segregated_pm",
            0.85,
            true,
            vec![
                (o("BTC", 7.0, 1.05, C), -60.0),
                (o("BTC", 7.0, 0.95, P), -60.0),
            ],
        ),
        (
            "near-liq-sm",
            "BTC",
            "segregated_sm",
            0.75,
            true,
            vec![(perp("BTC"), 3_000_000.0)],
        ),
        // Cross collateral: USDC backing a BTC options book ...
        (
            "cross-usdc-options",
            "BTC",
            "cross_pm",
            0.40,
            false,
            vec![
                (o("BTC", 30.0, 0.90, P), -30.0),
                (o("BTC", 30.0, 1.10, C), -20.0),
                (o("BTC", 60.0, 1.20, C), 10.0),
            ],
        ),
        // ... and BTC backing short BTC puts: the collateral falls with
        // the puts (the wrong-way case).
        (
            "cross-btc-short-puts",
            "BTC",
            "cross_pm",
            0.45,
            false,
            vec![
                (o("BTC", 30.0, 0.90, P), -40.0),
                (o("BTC", 60.0, 0.80, P), -30.0),
            ],
        ),
    ];
    books
        .into_iter()
        .enumerate()
        .map(
            |(i, (name, ccy, model, target, drifts, positions))| DemoAccount {
                id: 100 + i as i64,
                username: name.to_string(),
                currency: ccy.to_string(),
                margin_model: model.to_string(),
                balance: 0.0,
                session_rpl: 0.0,
                target_mm_ratio: target,
                positions: merge(positions),
                drifts,
                collateral: (name == "cross-usdc-options").then(|| ("USDC".to_string(), 0.0)),
            },
        )
        .collect()
}

/// A desk book: `n` positions spread over the chain, short options near the
/// money hedged by long wings and futures.
fn big_book(m: &SimMarket, base: &str, n: usize) -> Vec<(String, f64)> {
    let listed: Vec<&Instrument> = m
        .instruments
        .iter()
        .filter(|i| i.base == base && i.is_option())
        .collect();
    let stride = coprime_stride(listed.len());
    let mut out = Vec::new();
    for k in 0..n.min(listed.len()) {
        let inst = listed[(k * stride + 3) % listed.len()];
        let Kind::Option { strike, .. } = inst.kind else {
            continue;
        };
        let near = (strike / m.underlying(base).map_or(1.0, |u| u.index) - 1.0).abs() < 0.1;
        let size = if near {
            -5.0 - (k % 5) as f64
        } else {
            2.0 + (k % 3) as f64
        };
        out.push((inst.name.clone(), size));
    }
    out.push((format!("{base}-PERPETUAL"), 250_000.0));
    out
}

/// The step through a chain of `len` instruments: 7 (which spreads the book
/// over expiries and strikes), or the next number sharing no factor with
/// `len`, so that `len` steps visit `len` distinct instruments. With 7 alone,
/// a chain of 7·k listings (which the calendar produces on some days) would
/// give a book of k instruments.
fn coprime_stride(len: usize) -> usize {
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    (7..).find(|s| gcd(*s, len.max(1)) == 1).unwrap_or(1)
}

/// One position per instrument (sizes of repeats added).
fn merge(list: Vec<(String, f64)>) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for (name, size) in list {
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, s)) => *s += size,
            None => out.push((name, size)),
        }
    }
    out.retain(|(_, s)| *s != 0.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The desk books keep their size on every day of the calendar, whatever
    /// the number of listed options that day (a chain of 7·k listings once
    /// folded the 220-position book into 110).
    #[test]
    fn the_desk_books_have_their_size_on_every_day() {
        let start = 1_767_225_600_000_i64; // 2026-01-01 00:00 UTC
        for day in 0..730 {
            let now = start + day * 86_400_000 + 9 * 3_600_000;
            let m = SimMarket::new(7, now);
            for (base, n) in [("BTC", 220), ("ETH", 60)] {
                let listed = m
                    .instruments
                    .iter()
                    .filter(|i| i.base == base && i.is_option())
                    .count();
                let book = merge(big_book(&m, base, n));
                assert_eq!(
                    book.len(),
                    n.min(listed) + 1,
                    "{base} on day {day}: {listed} options listed"
                );
            }
        }
    }

    #[test]
    fn the_stride_shares_no_factor_with_the_chain() {
        assert_eq!(coprime_stride(100), 7);
        assert_eq!(coprime_stride(770), 9);
        assert_eq!(coprime_stride(7 * 8 * 9 * 5), 11);
    }
}

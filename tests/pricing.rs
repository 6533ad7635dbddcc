//! Black-76 and implied volatility against independent values: a textbook
//! example, 40-digit reference values, put–call parity, finite differences,
//! and Deribit's own marks, deltas and vegas on real option chains.

// Reference values are quoted with every digit mpmath printed.
#![allow(clippy::excessive_precision)]

mod common;

use common::*;
use margintop::pricing::{
    greeks, implied_vol, implied_vol_coin, price, years_between, IvError, OptionType,
};
use OptionType::{Call, Put};

/// Reference values computed with mpmath at 40 significant digits from the
/// Black-76 formulas (r = 0): [price, delta, gamma, vega, theta, rho] in
/// Deribit's units (vega per vol point, theta per calendar day, rho per 1 %).
const REFERENCE: [(OptionType, f64, f64, f64, f64, [f64; 6]); 8] = [
    (
        Call,
        100.0,
        100.0,
        1.0,
        0.2,
        [
            7.9655674554057967,
            0.53982783727702898,
            0.019847627373850587,
            0.39695254747701177,
            -0.010875412259644159,
            0.46017216272297102,
        ],
    ),
    (
        Put,
        100.0,
        100.0,
        1.0,
        0.2,
        [
            7.9655674554057967,
            -0.46017216272297102,
            0.019847627373850587,
            0.39695254747701177,
            -0.010875412259644159,
            -0.53982783727702898,
        ],
    ),
    (
        Call,
        19.0,
        19.0,
        0.75,
        0.28,
        [
            1.8335356165829806,
            0.54825093727849949,
            0.085955908992369978,
            0.065163174607115687,
            -0.0033325459159803459,
            0.064374241437813823,
        ],
    ),
    (
        Put,
        19.0,
        19.0,
        0.75,
        0.28,
        [
            1.8335356165829806,
            -0.45174906272150051,
            0.085955908992369978,
            0.065163174607115687,
            -0.0033325459159803459,
            -0.078125758562186177,
        ],
    ),
    (
        Call,
        30220.5,
        60000.0,
        0.32,
        0.677,
        [
            234.93562743835402,
            0.054874356802646713,
            9.5943978293501373e-6,
            18.982773263146935,
            -5.5014287239514022,
            4.5548635914112992,
        ],
    ),
    (
        Put,
        65000.0,
        40000.0,
        0.05,
        0.9,
        [
            26.769667433981369,
            -0.0059832480533348839,
            1.2965967411346555e-6,
            2.465154554082264,
            -6.0784632840384589,
            -0.20784039545037442,
        ],
    ),
    (
        Call,
        2000.0,
        3000.0,
        2.0,
        1.5,
        [
            1299.4732889691353,
            0.80771918362764999,
            6.4431106528195897e-5,
            7.7317327833835077,
            -0.79435610788186723,
            6.3193015657232941,
        ],
    ),
    (
        Put,
        1.0,
        0.625,
        0.01,
        3.0,
        [
            0.0059113302552030969,
            -0.043018941154075473,
            0.30469051619730665,
            9.1407154859191996e-5,
            -0.0037564584188709039,
            -4.8930271409278571e-6,
        ],
    ),
];

#[test]
fn reference_values_to_1e9() {
    for (opt, f, k, t, s, want) in REFERENCE {
        let g = greeks(opt, f, k, t, s);
        let got = [g.price, g.delta, g.gamma, g.vega, g.theta, g.rho];
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!(
                rel_err(*a, b) < 1e-9,
                "{opt:?} F={f} K={k} field {i}: {a} vs {b}"
            );
        }
        assert!(rel_err(price(opt, f, k, t, s), want[0]) < 1e-9);
    }
}

#[test]
fn haug_textbook_black76_example() {
    // Haug, The Complete Guide to Option Pricing Formulas (2nd ed.), Black-76:
    // F = 19, K = 19, T = 0.75, r = 10 %, σ = 28 % → call = put = 1.7011.
    let discount = (-0.10_f64 * 0.75).exp();
    for opt in [Call, Put] {
        let v = discount * price(opt, 19.0, 19.0, 0.75, 0.28);
        assert!((v - 1.7011).abs() < 5e-5, "{v}");
    }
}

fn grid() -> Vec<(f64, f64, f64, f64)> {
    let mut out = Vec::new();
    for &k in &[0.3, 0.6, 0.9, 1.0, 1.1, 1.5, 3.0] {
        for &t in &[1.0 / 365.0, 7.0 / 365.0, 0.25, 1.0, 3.0] {
            for &s in &[0.05, 0.3, 0.8, 1.5, 3.0] {
                out.push((60_000.0, 60_000.0 * k, t, s));
            }
        }
    }
    out
}

#[test]
fn put_call_parity_on_a_wide_grid() {
    for (f, k, t, s) in grid() {
        let c = greeks(Call, f, k, t, s);
        let p = greeks(Put, f, k, t, s);
        assert!(
            (c.price - p.price - (f - k)).abs() < 1e-10 * f,
            "F={f} K={k} T={t} σ={s}"
        );
        assert!((c.delta - p.delta - 1.0).abs() < 1e-12);
        assert!(rel_err(c.gamma, p.gamma) < 1e-12 && rel_err(c.vega, p.vega) < 1e-12);
    }
}

/// The delta alone (what a margin search reads) is the delta of `greeks`,
/// bit for bit, expiry and zero volatility included.
#[test]
fn the_delta_alone_is_the_delta_of_greeks() {
    let edges = [
        (30_000.0, 30_000.0, 0.0, 0.6),
        (31_000.0, 30_000.0, 0.1, 0.0),
    ];
    let cases = grid().into_iter().chain(edges);
    for (f, k, t, s) in cases {
        for opt in [Call, Put] {
            let alone = margintop::pricing::delta(opt, f, k, t, s);
            assert_eq!(alone.to_bits(), greeks(opt, f, k, t, s).delta.to_bits());
        }
    }
}

#[test]
fn greeks_match_finite_differences() {
    for (f, k, t, s) in grid() {
        for opt in [Call, Put] {
            let g = greeks(opt, f, k, t, s);
            let h = f * 1e-4;
            let v = |f: f64, t: f64, s: f64| price(opt, f, k, t, s);
            let delta = (v(f + h, t, s) - v(f - h, t, s)) / (2.0 * h);
            let gamma = (v(f + h, t, s) - 2.0 * g.price + v(f - h, t, s)) / (h * h);
            let hs = 1e-5;
            let vega = (v(f, t, s + hs) - v(f, t, s - hs)) / (2.0 * hs) / 100.0;
            let ht = t * 1e-3;
            let theta = -(v(f, t + ht, s) - v(f, t - ht, s)) / (2.0 * ht) / 365.0;
            let tol = |x: f64, scale: f64| 1e-5 * x.abs().max(scale);
            assert!(
                (g.delta - delta).abs() < tol(delta, 1e-3),
                "delta {opt:?} {f} {k} {t} {s}: {} vs {delta}",
                g.delta
            );
            assert!(
                (g.gamma - gamma).abs() < 1e-3 * gamma.abs().max(1e-9),
                "gamma {opt:?} {k} {t} {s}: {} vs {gamma}",
                g.gamma
            );
            assert!(
                (g.vega - vega).abs() < tol(vega, 1e-3 * f / 100.0),
                "vega {opt:?} {k} {t} {s}: {} vs {vega}",
                g.vega
            );
            assert!(
                (g.theta - theta).abs() < 1e-4 * theta.abs() + 1e-6,
                "theta {opt:?} {k} {t} {s}: {} vs {theta}",
                g.theta
            );
        }
    }
}

#[test]
fn expired_and_zero_vol_are_intrinsic_and_finite() {
    for t in [0.0, -0.01, 1e-300] {
        for s in [0.0, 0.5] {
            for (opt, k) in [
                (Call, 50.0),
                (Put, 50.0),
                (Call, 150.0),
                (Put, 150.0),
                (Call, 100.0),
            ] {
                let g = greeks(opt, 100.0, k, t, s);
                for x in [g.price, g.delta, g.gamma, g.vega, g.theta, g.rho] {
                    assert!(x.is_finite(), "{opt:?} K={k} T={t} σ={s}: {g:?}");
                }
                if t <= 0.0 || s == 0.0 {
                    let intrinsic = match opt {
                        Call => (100.0 - k).max(0.0),
                        Put => (k - 100.0).max(0.0),
                    };
                    assert_eq!(g.price, intrinsic);
                }
            }
        }
    }
}

#[test]
fn implied_vol_round_trips_from_one_percent_to_five_hundred() {
    let minute = 1.0 / (365.0 * 1440.0);
    let mut solved = 0;
    for &t in &[minute, 60.0 * minute, 1.0 / 365.0, 0.1, 1.0, 3.0] {
        for &s in &[0.01, 0.05, 0.2, 0.6, 1.0, 2.0, 3.5, 5.0] {
            for &k in &[0.5, 0.8, 0.95, 1.0, 1.05, 1.25, 2.0] {
                for opt in [Call, Put] {
                    let (f, k) = (50_000.0, 50_000.0 * k);
                    let v = price(opt, f, k, t, s);
                    // Out-of-the-money value left after taking intrinsic away by parity.
                    let time_value = v - match opt {
                        Call => (f - k).max(0.0),
                        Put => (k - f).max(0.0),
                    };
                    if time_value < 1e-9 * f {
                        continue; // no volatility information left in a double
                    }
                    let iv = implied_vol(opt, f, k, t, v)
                        .unwrap_or_else(|e| panic!("{opt:?} K={k} T={t} σ={s}: {e}"));
                    let tol = if time_value > 1e-6 * f { 1e-9 } else { 1e-6 };
                    assert!(rel_err(iv, s) < tol, "{opt:?} K={k} T={t} σ={s}: got {iv}");
                    solved += 1;
                }
            }
        }
    }
    assert!(solved > 350, "{solved}");
}

#[test]
fn implied_vol_refuses_prices_outside_no_arbitrage_bounds() {
    let (f, k, t) = (100.0, 90.0, 0.5);
    // Below intrinsic or at the upper bound (F for a call, K for a put).
    for (opt, p) in [(Call, 9.0), (Call, 100.0), (Put, 0.0), (Put, 95.0)] {
        let got = implied_vol(opt, f, k, t, p);
        assert!(
            matches!(got, Err(IvError::OutOfBounds { .. })),
            "{opt:?} {p}: {got:?}"
        );
    }
    assert_eq!(implied_vol(Call, f, k, 0.0, 12.0), Err(IvError::Expired));
    assert!(matches!(
        implied_vol(Call, f64::NAN, k, t, 12.0),
        Err(IvError::InvalidInput(_))
    ));
    assert!(matches!(
        implied_vol(Call, f, k, t, f64::NAN),
        Err(IvError::InvalidInput(_))
    ));
    assert!(matches!(
        implied_vol(Call, f, -1.0, t, 12.0),
        Err(IvError::InvalidInput(_))
    ));
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[test]
fn real_chains_mark_delta_and_vega() {
    for file in [
        "deribit_options_snapshot_20260101T091835Z.csv",
        "deribit_options_snapshot_20260601T084252Z.csv",
    ] {
        let rows = chain(file);
        for ccy in ["BTC", "ETH"] {
            let rows: Vec<&ChainRow> = rows.iter().filter(|r| r.currency == ccy).collect();
            assert!(rows.len() > 500, "{file} {ccy}: {}", rows.len());
            let mut mark_err = Vec::new();
            let mut delta_err = Vec::new();
            let mut vega_err = Vec::new();
            for r in &rows {
                let g = greeks(r.opt, r.forward, r.strike, r.t, r.iv);
                mark_err.push((g.price / r.forward - r.mark).abs());
                if r.delta.is_finite() && r.delta.abs() > 0.01 {
                    delta_err.push(((g.delta - r.delta) / r.delta).abs());
                }
                if r.vega.is_finite() && r.vega > 0.01 {
                    vega_err.push(((g.vega - r.vega) / r.vega).abs());
                }
            }
            let (m, d, v) = (median(mark_err), median(delta_err), median(vega_err));
            println!("{file} {ccy}: {} rows, median |mark error| {m:.2e} coin, median rel. error delta {d:.2e}, vega {v:.2e}", rows.len());
            assert!(m <= 5e-5, "{file} {ccy}: median mark error {m}");
            // Tickers were fetched over minutes after the snapshot time: Greeks agree to a few percent.
            assert!(d < 0.02 && v < 0.03, "{file} {ccy}: delta {d}, vega {v}");
        }
    }
}

#[test]
fn real_chain_implied_vol_recovers_mark_iv() {
    // Invert Deribit's own marks: the IV must come back near the mark IV
    // (marks are rounded, so compare where the option has real vega).
    let rows = chain("deribit_options_snapshot_20260601T084252Z.csv");
    let mut errs = Vec::new();
    for r in &rows {
        let g = greeks(r.opt, r.forward, r.strike, r.t, r.iv);
        if g.vega / r.forward < 1e-5 {
            continue;
        }
        let model_coin = g.price / r.forward;
        let iv = implied_vol_coin(r.opt, r.forward, r.strike, r.t, model_coin).unwrap();
        assert!(rel_err(iv, r.iv) < 1e-9, "{iv} vs {}", r.iv);
        if let Ok(iv) = implied_vol_coin(r.opt, r.forward, r.strike, r.t, r.mark) {
            errs.push((iv - r.iv).abs());
        }
    }
    assert!(errs.len() > 1000);
    assert!(median(errs) < 0.01);
}

#[test]
fn deribit_option_tickers_greeks() {
    // Verbatim tickers: Black-76 on underlying_price at mark_iv, T to 08:00 UTC.
    let lines = std::fs::read_to_string(fixture(
        "data/deribit_ws_tardis_node_fixtures_2019_2024.jsonl",
    ))
    .unwrap();
    let ticker = read_json("deribit/ticker_option_100ms.json");
    let mut tickers = vec![ticker["params"]["data"].clone()];
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let d = &v["params"]["data"];
        if d["greeks"].is_object()
            && d["state"] == "open"
            && margintop::model::Instrument::parse(d["instrument_name"].as_str().unwrap())
                .is_ok_and(|i| {
                    i.is_option() && i.settlement == margintop::model::Settlement::Inverse
                })
        {
            tickers.push(d.clone());
        }
    }
    assert!(tickers.len() >= 3);
    for d in tickers {
        let name = d["instrument_name"].as_str().unwrap();
        let inst = margintop::model::Instrument::parse(name).unwrap();
        let margintop::model::Kind::Option {
            option_type,
            strike,
            expiry_ms,
        } = inst.kind
        else {
            panic!()
        };
        let t = years_between(d["timestamp"].as_i64().unwrap(), expiry_ms);
        let f = d["underlying_price"].as_f64().unwrap();
        let g = greeks(
            option_type,
            f,
            strike,
            t,
            d["mark_iv"].as_f64().unwrap() / 100.0,
        );
        let pub_g = &d["greeks"];
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs().max(1e-4);
        assert!(
            close(g.delta, pub_g["delta"].as_f64().unwrap(), 2e-3),
            "{name} delta {}",
            g.delta
        );
        assert!(
            close(g.vega, pub_g["vega"].as_f64().unwrap(), 2e-3),
            "{name} vega {}",
            g.vega
        );
        assert!(
            (g.price / f - d["mark_price"].as_f64().unwrap()).abs() < 2e-4,
            "{name} mark"
        );
    }
}

//! The demo market: its smile calibrated to a real chain, its paths
//! realistic and reproducible, its crash mode, its marks Black-76.

mod common;

use common::chain;
use margintop::demo::smile::{self, Smile};

const SNAPSHOT: &str = "deribit_options_snapshot_20260601T084252Z.csv";

fn observations(ccy: &str) -> Vec<smile::Observation> {
    chain(SNAPSHOT)
        .into_iter()
        .filter(|r| r.currency == ccy)
        .map(|r| (r.strike, r.forward, r.t, r.iv))
        .collect()
}

#[test]
fn shipped_smiles_are_the_fit_to_the_real_chain() {
    for (ccy, shipped) in [("BTC", smile::BTC), ("ETH", smile::ETH)] {
        let obs = observations(ccy);
        let fitted = smile::fit(&obs).unwrap();
        println!("{ccy}: {:?}", fitted.0);
        for (a, b) in fitted.0.iter().zip(shipped.0) {
            assert!(
                (a - b).abs() < 1e-9,
                "{ccy}: refit {:?} vs shipped {:?}",
                fitted.0,
                shipped.0
            );
        }
        // How well the surface follows the chain: median |error| in vol points.
        let mut errs: Vec<f64> = obs
            .iter()
            .filter(|(k, f, t, _)| *t >= 2.0 / 365.0 && ((k / f).ln() / t.sqrt()).abs() <= 1.5)
            .map(|&(k, f, t, iv)| (shipped.vol(k, f, t) - iv).abs() * 100.0)
            .collect();
        errs.sort_by(f64::total_cmp);
        let median = errs[errs.len() / 2];
        println!(
            "{ccy}: {} rows, median |IV error| {median:.2} vol points",
            errs.len()
        );
        assert!(median < 3.0, "{ccy}: {median}");
    }
}

#[test]
fn too_few_rows_give_no_fit() {
    assert_eq!(smile::fit(&[(1.0, 1.0, 0.5, 0.5)]), None);
    let _ = Smile([0.0; 4]);
}

use margintop::demo::market::{expiries, SimMarket};
use margintop::model::instrument::civil;
use margintop::model::instrument::days_from_civil;
use margintop::model::Kind;
use margintop::pricing::{implied_vol_coin, years_between};

/// 2026-06-01 08:42:52 UTC, the real snapshot's time.
const SNAPSHOT_MS: i64 = 1_780_303_372_000;

#[test]
fn expiry_calendar_is_deribits() {
    let ours: Vec<String> = expiries(SNAPSHOT_MS).into_iter().map(|(_, l)| l).collect();
    let mut real: Vec<String> = chain(SNAPSHOT)
        .iter()
        .map(|r| r.expiry_label.clone())
        .collect();
    real.sort();
    real.dedup();
    let mut sorted = ours.clone();
    sorted.sort();
    assert_eq!(sorted, real, "our calendar {ours:?}");
}

#[test]
fn civil_dates_round_trip() {
    for day in (-800_000..800_000).step_by(997) {
        let (y, m, d) = civil(day);
        assert_eq!(days_from_civil(y, m, d), day);
    }
}

fn realized_annual_vol(path: &[f64], step_s: f64) -> f64 {
    let r: Vec<f64> = path.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
    let mean = r.iter().sum::<f64>() / r.len() as f64;
    let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (r.len() - 1) as f64;
    (var * 365.0 * 86_400.0 / step_s).sqrt()
}

#[test]
fn a_simulated_week_moves_like_btc_and_eth() {
    let mut m = SimMarket::new(7, SNAPSHOT_MS);
    let mut btc = Vec::new();
    let mut eth = Vec::new();
    for _ in 0..(7 * 24 * 60) {
        m.step(60_000);
        btc.push(m.underlying("BTC").unwrap().index);
        eth.push(m.underlying("ETH").unwrap().index);
    }
    let (vb, ve) = (
        realized_annual_vol(&btc, 60.0),
        realized_annual_vol(&eth, 60.0),
    );
    println!("realized annual vol over a simulated week: BTC {vb:.3}, ETH {ve:.3}");
    assert!((0.40..0.70).contains(&vb), "{vb}");
    assert!((0.50..0.85).contains(&ve), "{ve}");
}

#[test]
fn the_same_seed_gives_the_same_market() {
    let run = |seed| {
        let mut m = SimMarket::new(seed, SNAPSHOT_MS);
        (0..500).for_each(|_| m.step(1_000));
        m.underlying("BTC").unwrap().index
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

#[test]
fn a_crash_falls_15_to_40_percent_within_minutes_and_vols_rise() {
    for seed in 0..8 {
        let mut m = SimMarket::new(seed, SNAPSHOT_MS);
        let start = m.underlying("BTC").unwrap().index;
        let atm = m
            .instruments
            .iter()
            .find(|i| matches!(i.kind, Kind::Option { .. }) && i.base == "BTC")
            .unwrap()
            .clone();
        let iv_before = m.quote(&atm).unwrap().mark_iv.unwrap();
        m.crash("BTC");
        let mut seconds = 0;
        while m.crashing("BTC") && seconds < 600 {
            m.step(1_000);
            seconds += 1;
        }
        let fall = 1.0 - m.underlying("BTC").unwrap().index / start;
        let iv_after = m.quote(&atm).unwrap().mark_iv.unwrap();
        assert!(
            (120..=300).contains(&seconds),
            "seed {seed}: took {seconds} s"
        );
        assert!((0.13..0.42).contains(&fall), "seed {seed}: fell {fall}");
        assert!(
            iv_after > 1.3 * iv_before,
            "seed {seed}: iv {iv_before} -> {iv_after}"
        );
    }
}

#[test]
fn marks_are_black76_at_the_quoted_iv_and_forward() {
    let m = SimMarket::new(1, SNAPSHOT_MS);
    assert!(m.instruments.len() > 500, "{}", m.instruments.len());
    let mut options = 0;
    for inst in &m.instruments {
        let q = m.quote(inst).unwrap();
        assert!(q.mark_price.is_finite() && q.mark_price >= 0.0);
        if let Kind::Option {
            option_type,
            strike,
            expiry_ms,
        } = inst.kind
        {
            let t = years_between(SNAPSHOT_MS, expiry_ms);
            let (f, iv) = (q.underlying_price.unwrap(), q.mark_iv.unwrap());
            if let Ok(back) = implied_vol_coin(option_type, f, strike, t, q.mark_price) {
                assert!((back - iv).abs() < 1e-7, "{}: {back} vs {iv}", inst.name);
                options += 1;
            }
        }
    }
    assert!(options > 400, "{options}");
}

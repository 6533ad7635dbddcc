//! The historical stress scenarios match the daily closes they cite.

mod common;

use common::fixture;
use margintop::margin::stress::{parse_scenarios, BUILTIN_SCENARIOS};
use std::collections::HashMap;

/// date → close from a CSV with the date at the start of `date_col`.
fn closes(file: &str, date_col: &str, close_col: &str) -> HashMap<String, f64> {
    let text = std::fs::read_to_string(fixture(&format!("data/{file}"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (d, c) = (
        header.iter().position(|h| *h == date_col).unwrap(),
        header.iter().position(|h| *h == close_col).unwrap(),
    );
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .map(|r| (r[d][..10].to_string(), r[c].parse().unwrap()))
        .collect()
}

fn previous_day(date: &str) -> String {
    let p: Vec<u32> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let days = margintop::model::instrument::days_from_civil(p[0] as i64, p[1], p[2]) - 1;
    // Back to a civil date by scanning the day's month (small range).
    for (y, m) in [
        (p[0], p[1]),
        if p[1] == 1 {
            (p[0] - 1, 12)
        } else {
            (p[0], p[1] - 1)
        },
    ] {
        for day in 1..=31 {
            if margintop::model::instrument::days_from_civil(y as i64, m, day) == days {
                return format!("{y:04}-{m:02}-{day:02}");
            }
        }
    }
    unreachable!()
}

#[test]
fn historical_moves_recompute_from_the_data() {
    let coinbase = closes(
        "btc_usd_daily_coinbase_bitstamp_2011_2025.csv",
        "timestamp",
        "close",
    );
    let binance_btc = closes("binance_btcusdt_1d_2017_2026.csv", "timestamp", "close");
    let binance_eth = closes("binance_ethusdt_1d_2017_2026.csv", "timestamp", "close");
    let dvol = closes("deribit_dvol_btc_daily_2021_2026.csv", "date", "dvol_close");
    let move_on = |series: &HashMap<String, f64>, day: &str| {
        Some(series.get(day)? / series.get(&previous_day(day))? - 1.0)
    };
    let scenarios = parse_scenarios(BUILTIN_SCENARIOS, "built-in").unwrap();
    let mut checked = 0;
    for s in scenarios
        .iter()
        .filter(|s| s.name.as_bytes()[0].is_ascii_digit())
    {
        let day = &s.name[..10];
        let btc = move_on(&coinbase, day)
            .or_else(|| move_on(&binance_btc, day))
            .unwrap();
        let eth = move_on(&binance_eth, day).unwrap();
        assert!((s.moves["BTC"] - btc).abs() < 1e-4, "{}: BTC {btc}", s.name);
        assert!((s.moves["ETH"] - eth).abs() < 1e-4, "{}: ETH {eth}", s.name);
        assert!((s.price_move - btc).abs() < 1e-4);
        if let Some(v) = move_on(&dvol, day) {
            assert!((s.vol_move - v).abs() < 1e-4, "{}: vol {v}", s.name);
        }
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn bad_scenario_files_are_refused_with_a_reason() {
    let err =
        parse_scenarios("[[scenario]]\nname = \"x\"\nprice_move = -1.5\n", "f.toml").unwrap_err();
    assert!(err.contains("above -100"), "{err}");
    let err = parse_scenarios("[[scenario]]\nname = \"x\"\n", "f.toml").unwrap_err();
    assert!(err.contains("price_move"), "{err}");
}

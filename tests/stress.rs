//! Stress scenarios: full revaluation against per-position closed forms,
//! and the margin the account would have in the scenario.

mod common;

use common::*;
use margintop::margin::stress::{stress_result, StressScenario};
use margintop::margin::PreparedModel;
use margintop::model::{Account, MarketState};
use margintop::pricing::{price, years_between, OptionType};

const NOW: i64 = 1_654_161_840_000;
const EXPIRY: i64 = 1_664_524_800_000; // 30SEP22 08:00 UTC

#[test]
fn stress_pnl_is_the_sum_of_closed_forms() {
    let mut market = MarketState::default();
    market.set_index("btc_usd", 30_000.0, NOW);
    future_quote(&mut market, "BTC-PERPETUAL", 30_050.0, 30_000.0, NOW);
    option_quote(
        &mut market,
        "BTC-30SEP22-40000-C",
        0.02,
        0.7,
        30_200.0,
        30_000.0,
        NOW,
    );
    let insts = instruments(&["BTC-PERPETUAL", "BTC-30SEP22-40000-C"]);
    let mut acct = Account::new("s", "BTC", "deribit_pm");
    acct.balance = 5.0;
    acct.set_position("BTC-PERPETUAL", 90_000.0, Some(29_000.0));
    acct.set_position("BTC-30SEP22-40000-C", -25.0, None);
    let t = years_between(NOW, EXPIRY);
    for (m, v) in [(-0.3, 0.5), (0.2, -0.2), (0.0, 1.0), (-0.05, 0.0)] {
        let s = StressScenario::custom(m, v);
        let mut model = PreparedModel::new(builtin("deribit_pm"), "BTC");
        let r = stress_result(&acct, &insts, &market, &mut model, NOW, &s);
        // Inverse perpetual: N·(1/F − 1/(F(1+m))) coin.
        let fut = 90_000.0 * (1.0 / 30_050.0 - 1.0 / (30_050.0 * (1.0 + m)));
        // Short call: coin value change at the shocked forward and vol.
        let (f0, f1) = (30_200.0, 30_200.0 * (1.0 + m));
        let call = |f: f64, s: f64| price(OptionType::Call, f, 40_000.0, t, s) / f;
        let opt = -25.0 * (call(f1, 0.7 * (1.0 + v)) - call(f0, 0.7));
        assert!(
            (r.pnl - (fut + opt)).abs() < 1e-10,
            "{m} {v}: {} vs {}",
            r.pnl,
            fut + opt
        );
        let ratio = r.mm_ratio.unwrap();
        assert!((ratio - r.maintenance_margin / r.margin_balance).abs() < 1e-12);
    }
    // A crash with vols up leaves a short call book with less margin to spare
    // than a rally with vols down does.
    let mut model = PreparedModel::new(builtin("deribit_pm"), "BTC");
    let up = stress_result(
        &acct,
        &insts,
        &market,
        &mut model,
        NOW,
        &StressScenario::custom(0.3, 0.5),
    );
    let calm = stress_result(
        &acct,
        &insts,
        &market,
        &mut model,
        NOW,
        &StressScenario::custom(0.0, -0.3),
    );
    assert!(up.mm_ratio.unwrap() > calm.mm_ratio.unwrap());
}

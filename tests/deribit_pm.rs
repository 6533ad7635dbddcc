//! Deribit portfolio margin against the exchange's own `private/pme/simulate`
//! replies (MARGIN_METHODOLOGY.md §C.6): the official BTC docs example and a
//! production ETH capture, every vector entry and every margin figure.

mod common;

use common::*;
use margintop::margin::account::value_account;
use margintop::margin::config::{ModelConfig, RollShockRule};
use margintop::margin::PreparedModel;
use margintop::model::{Account, MarketState};
use serde_json::Value;

/// The shipped deribit_pm model with the reply's own model_params pasted in.
fn model_from_reply(reply: &Value, roll: RollShockRule) -> ModelConfig {
    let mut config = builtin("deribit_pm");
    let ModelConfig::RiskMatrix(rm) = &mut config else {
        panic!("risk matrix")
    };
    let params = &reply["result"]["model_params"];
    rm.pairs = serde_json::from_value(params["currency_pair"].clone()).unwrap();
    rm.currencies = serde_json::from_value(params["currency"].clone()).unwrap();
    rm.mm_factor = params["general"]["mm_factor"].as_f64().unwrap();
    rm.roll_shock = roll;
    config
}

struct Case {
    reply: Value,
    currency: &'static str,
    index_name: &'static str,
    key: &'static str,
}

fn run(
    case: &Case,
    roll: RollShockRule,
) -> (
    margintop::margin::AccountRisk,
    margintop::margin::account::ValuedBook,
    Value,
) {
    let result = &case.reply["result"];
    let now = result["model_params"]["general"]["timestamp"]
        .as_i64()
        .unwrap();
    let index = result["index_price"][case.index_name].as_f64().unwrap();
    let mut market = MarketState::default();
    market.set_index(case.index_name, index, now);
    let mut account = Account::new("pme", case.currency, "deribit_pm");
    let positions = result["portfolio"]["position"].as_object().unwrap();
    let names: Vec<&str> = positions.keys().map(String::as_str).collect();
    let insts = instruments(&names);
    for (name, q) in positions {
        let mark = result["ticker"][name]["mark_price"].as_f64().unwrap();
        future_quote(&mut market, name, mark, index, now);
        // pme/simulate sizes futures in coin; Deribit positions are in USD.
        account.set_position(name, q.as_f64().unwrap() * mark, None);
    }
    let mut model = PreparedModel::new(model_from_reply(&case.reply, roll), case.currency);
    let (risk, book) = value_account(&account, &insts, &market, &mut model, now);
    assert!(risk.notes.is_empty(), "{:?}", risk.notes);
    (risk, book, result.clone())
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Deribit reports margins rounded near 1e-10 coin; compare to 1e-9 coin.
fn assert_close(what: &str, got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}");
}

fn check(case: Case) {
    for roll in [RollShockRule::PerExpiryNetDelta, RollShockRule::PerPosition] {
        let (risk, book, result) = run(&case, roll);
        // Per-instrument vectors: standard then extended, before aggregation.
        for p in &book.positions {
            let want = &result["initial_risk_vectors"][&p.instrument];
            let expected: Vec<f64> = floats(&want["standard"])
                .into_iter()
                .chain(floats(&want["extended"]))
                .collect();
            assert_eq!(p.contribution.vector.len(), expected.len());
            for (i, (g, w)) in p.contribution.vector.iter().zip(&expected).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-9 * w.abs() + 1e-15,
                    "{} entry {i}: {g} vs {w}",
                    p.instrument
                );
            }
        }
        // Aggregated vector after dampener and pnl_offset.
        let sums = &book.sums.per_index[0];
        let mut aggregated = sums.vector.clone();
        let mut model = PreparedModel::new(
            model_from_reply(&case.reply, RollShockRule::None),
            case.currency,
        );
        model
            .grid(case.index_name)
            .unwrap()
            .aggregate(&mut aggregated, sums.usd_per_unit);
        let want = &result["aggregated_risk_vectors"][case.key];
        let expected: Vec<f64> = floats(&want["standard"])
            .into_iter()
            .chain(floats(&want["extended"]))
            .collect();
        for (i, (g, w)) in aggregated.iter().zip(&expected).enumerate() {
            assert!(
                (g - w).abs() <= 1e-9 * w.abs() + 1e-15,
                "aggregated entry {i}: {g} vs {w}"
            );
        }
        let margins = &result["margins"][case.currency.to_ascii_lowercase()];
        let details = &margins["initial_margin_details"];
        let rmd = &details["risk_matrix_margin_details"];
        let m = &risk.margin;
        assert_close(
            "worst_case",
            m.worst_case,
            rmd["worst_case"].as_f64().unwrap(),
            1e-9,
        );
        let worst = m.worst_scenario.as_ref().unwrap();
        assert_eq!(
            worst.index as u64,
            rmd["worst_case_bucket"]["index"].as_u64().unwrap()
        );
        assert_eq!(
            worst.table,
            rmd["worst_case_bucket"]["source"].as_str().unwrap()
        );
        assert_close(
            "roll_shock",
            m.roll_shock,
            rmd["roll_shock"].as_f64().unwrap(),
            1e-9,
        );
        assert_eq!(m.delta_shock, rmd["delta_shock"].as_f64().unwrap());
        assert_close(
            "risk_matrix_margin",
            m.risk_matrix_margin,
            details["risk_matrix_margin"].as_f64().unwrap(),
            1e-9,
        );
        assert_close(
            "maintenance_margin",
            m.maintenance_margin,
            margins["maintenance_margin"].as_f64().unwrap(),
            1e-9,
        );
        // IM adds the order and MMP margins the reply lists; Deribit rounds IM to 1e-9.
        let add_ons = details["mmp_margin"].as_f64().unwrap()
            + details["open_orders_margin"].as_f64().unwrap()
            + details["spot_margin"].as_f64().unwrap();
        let im = m.initial_margin + add_ons;
        assert!(
            (im - margins["initial_margin"].as_f64().unwrap()).abs() <= 1e-9,
            "IM {im}"
        );
    }
}

#[test]
fn official_btc_pme_simulate_example() {
    check(Case {
        reply: read_json("deribit/private_pme_simulate_response.json"),
        currency: "BTC",
        index_name: "btc_usd",
        key: "btc_btc",
    });
}

#[test]
fn production_eth_pme_simulate_capture() {
    check(Case {
        reply: read_json("deribit/private_pme_simulate_eth_perpetual_2026_response.json"),
        currency: "ETH",
        index_name: "eth_usd",
        key: "eth_eth",
    });
}

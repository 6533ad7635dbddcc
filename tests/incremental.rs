//! The engine's incremental revaluation equals a full recompute after any
//! sequence of index ticks, mark ticks, position changes and clock steps.

use margintop::engine::Desk;
use margintop::margin::account::value_account;
use margintop::margin::config::load_models;
use margintop::margin::PreparedModel;
use margintop::model::{Account, Instrument, Quote};
use proptest::prelude::*;

const T0: i64 = 1_767_259_115_000; // 2026-01-01 09:18:35 UTC
const NAMES: [&str; 8] = [
    "BTC-PERPETUAL",
    "BTC-27MAR26",
    "BTC-30JAN26-90000-C",
    "BTC-30JAN26-80000-P",
    "BTC-27MAR26-100000-C",
    "BTC-27MAR26-70000-P",
    "ETH-PERPETUAL",
    "ETH-27MAR26-3000-C",
];

#[derive(Clone, Debug)]
enum Op {
    Index {
        eth: bool,
        factor: f64,
    },
    Mark {
        inst: usize,
        factor: f64,
        iv: f64,
    },
    Position {
        account: usize,
        inst: usize,
        size: f64,
    },
    Clock {
        ms: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), 0.8..1.25f64).prop_map(|(eth, factor)| Op::Index { eth, factor }),
        (0..NAMES.len(), 0.9..1.1f64, 0.2..1.5f64).prop_map(|(inst, factor, iv)| Op::Mark {
            inst,
            factor,
            iv
        }),
        (0..5usize, 0..NAMES.len(), -20.0..20.0f64).prop_map(|(account, inst, size)| {
            Op::Position {
                account,
                inst,
                size,
            }
        }),
        (0..5_000_000i64).prop_map(|ms| Op::Clock { ms }),
    ]
}

fn base_price(name: &str) -> f64 {
    if name.starts_with("ETH") {
        3000.0
    } else {
        88_000.0
    }
}

fn quote(name: &str, index: f64, factor: f64, iv: f64, ts: i64) -> Quote {
    let inst = Instrument::parse(name).unwrap();
    let forward = index * factor;
    if inst.is_option() {
        // The mark value is only used as the exchange's number; any positive value will do.
        Quote {
            mark_price: 0.05,
            mark_iv: Some(iv),
            underlying_price: Some(forward),
            index_price: Some(index),
            timestamp: ts,
        }
    } else {
        Quote {
            mark_price: forward,
            mark_iv: None,
            underlying_price: None,
            index_price: Some(index),
            timestamp: ts,
        }
    }
}

fn desk() -> Desk {
    let mut desk = Desk::new(load_models(None).unwrap(), T0);
    desk.apply_index("btc_usd", 88_000.0, T0);
    desk.apply_index("eth_usd", 3000.0, T0);
    for n in NAMES {
        desk.apply_quote(n, quote(n, base_price(n), 1.002, 0.5, T0));
        desk.add_instrument(Instrument::parse(n).unwrap());
    }
    // "e" shares its (model, currency) with "a": they share prepared grids.
    for (label, ccy, model) in [
        ("a", "BTC", "deribit_pm"),
        ("e", "BTC", "deribit_pm"),
        ("b", "BTC", "deribit_sm"),
        ("c", "ETH", "deribit_pm"),
        ("d", "BTC", "span16"),
    ] {
        let mut acct = Account::new(label, ccy, model);
        acct.balance = 10.0;
        desk.add_account(acct).unwrap();
    }
    desk
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-11
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_full_recompute(ops in prop::collection::vec(op(), 1..60)) {
        let mut desk = desk();
        let mut ts = T0;
        let mut index = [88_000.0, 3000.0];
        for op in ops {
            ts += 100;
            match op {
                Op::Index { eth, factor } => {
                    let i = eth as usize;
                    index[i] *= factor;
                    desk.apply_index(if eth { "eth_usd" } else { "btc_usd" }, index[i], ts);
                }
                Op::Mark { inst, factor, iv } => {
                    let n = NAMES[inst];
                    let idx = if n.starts_with("ETH") { index[1] } else { index[0] };
                    desk.apply_quote(n, quote(n, idx, factor, iv, ts));
                }
                Op::Position { account, inst, size } => {
                    let n = NAMES[inst];
                    // Futures are sized in USD; scale so that books stay comparable.
                    let size = if Instrument::parse(n).unwrap().is_option() { size } else { size * 1000.0 };
                    let ccy = desk.account(account).currency.clone();
                    if n.starts_with(&ccy) {
                        desk.set_position(account, n, size, Some(base_price(n)));
                    }
                }
                Op::Clock { ms } => {
                    ts += ms;
                    desk.observe_time(ts);
                }
            }
        }
        let instruments = desk.instruments();
        for id in 0..desk.account_count() {
            let acct = desk.account(id).clone();
            let inc = desk.risk(id);
            let mut model = PreparedModel::new(load_models(None).unwrap().remove(&acct.model).unwrap(), &acct.currency);
            let (full, _) = value_account(&acct, &instruments, &desk.market, &mut model, desk.now_ms());
            for (what, a, b) in [
                ("IM", inc.margin.initial_margin, full.margin.initial_margin),
                ("MM", inc.margin.maintenance_margin, full.margin.maintenance_margin),
                ("equity", inc.equity, full.equity),
                ("margin balance", inc.margin_balance, full.margin_balance),
                ("options value", inc.options_value, full.options_value),
                ("roll", inc.margin.roll_shock, full.margin.roll_shock),
            ] {
                prop_assert!(close(a, b), "{} {}: incremental {} vs full {}", acct.label, what, a, b);
            }
        }
    }
}

#[test]
fn fast_option_vector_equals_generic_scenario_pnl() {
    use margintop::model::valuation::{resolve, scenario_pnl, Shock};
    let desk = desk();
    for model_name in ["deribit_pm", "span16"] {
        let mut model = PreparedModel::new(
            load_models(None).unwrap().remove(model_name).unwrap(),
            "BTC",
        );
        for n in NAMES.iter().filter(|n| n.starts_with("BTC")) {
            let inst = Instrument::parse(n).unwrap();
            let r = resolve(&inst, &desk.market, T0 + 3_600_000, Shock::NONE).unwrap();
            let mut grid = model.grid(&inst.index_name).unwrap().clone();
            let mut fast = vec![0.0; grid.len()];
            grid.unit_vector(&inst, &r, &mut fast);
            let sigmas = grid.vol_shock.shocked(r.sigma, r.t);
            for (sc, got) in grid.scenarios.iter().zip(&fast) {
                let slot = match sc.vol {
                    margintop::margin::config::VolMove::Up => 0,
                    margintop::margin::config::VolMove::Same => 1,
                    margintop::margin::config::VolMove::Down => 2,
                };
                let want = sc.weight * scenario_pnl(&inst, &r, sc.price_move, sigmas[slot]);
                assert!(close(*got, want), "{n} {sc:?}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn accounts_sharing_a_model_are_valued_when_quotes_come_after_positions() {
    // Positions first (as from a snapshot), quotes later (as from the stream):
    // the second account on the same (model, currency) reuses the first one's
    // unit vectors, and must still get its own margin.
    let mut desk = Desk::new(load_models(None).unwrap(), T0);
    for n in NAMES {
        desk.add_instrument(Instrument::parse(n).unwrap());
    }
    for label in ["first", "second"] {
        let mut acct = Account::new(label, "BTC", "deribit_pm");
        acct.balance = 10.0;
        acct.set_position("BTC-30JAN26-90000-C", -5.0, None);
        desk.add_account(acct).unwrap();
    }
    desk.apply_index("btc_usd", 88_000.0, T0);
    let n = "BTC-30JAN26-90000-C";
    desk.apply_quote(n, quote(n, 88_000.0, 1.0, 0.5, T0));
    let instruments = desk.instruments();
    for id in 0..2 {
        let acct = desk.account(id).clone();
        let mut model = PreparedModel::new(
            load_models(None).unwrap().remove("deribit_pm").unwrap(),
            "BTC",
        );
        let (full, _) = value_account(&acct, &instruments, &desk.market, &mut model, desk.now_ms());
        let inc = desk.risk(id).margin.maintenance_margin;
        assert!(full.margin.maintenance_margin > 0.0);
        assert!(
            close(inc, full.margin.maintenance_margin),
            "{}: {inc} vs {}",
            acct.label,
            full.margin.maintenance_margin
        );
    }
}

/// A replay that defers repricing to its end (`Desk::defer_pricing`) ends
/// where one that reprices on every message does: the speed fixture's desk
/// recording fed both ways gives every account the same equity, margin and
/// Greeks.
#[test]
fn deferred_repricing_ends_where_eager_repricing_does() {
    use margintop::engine::Ingest;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/speed/desk_12x20.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let fed = |defer: bool| {
        let mut ingest = Ingest::new(Desk::new(load_models(None).unwrap(), 0), None);
        ingest.desk.defer_pricing(defer);
        for line in text.lines() {
            ingest.line(line);
        }
        ingest.desk.defer_pricing(false);
        ingest
    };
    let (eager, deferred) = (fed(false), fed(true));
    assert_eq!(eager.desk.account_count(), 12);
    for id in 0..eager.desk.account_count() {
        let (a, b) = (eager.desk.risk(id), deferred.desk.risk(id));
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(1e-6);
        let pairs = [
            (a.equity, b.equity),
            (a.margin.initial_margin, b.margin.initial_margin),
            (a.margin.maintenance_margin, b.margin.maintenance_margin),
            (eager.desk.sums(id).gamma, deferred.desk.sums(id).gamma),
            (eager.desk.sums(id).vega, deferred.desk.sums(id).vega),
        ];
        for (x, y) in pairs {
            assert!(close(x, y), "account {id}: {x} vs {y}");
        }
        assert!(a.margin.maintenance_margin > 0.0);
    }
}

//! Liquidation distance against closed forms (single inverse futures) and a
//! brute-force dense scan (option books).

mod common;

use common::*;
use margintop::margin::account::{account_risk, value_book, MarginBook, PreparedBook};
use margintop::margin::liquidation::liquidation_distance;
use margintop::margin::PreparedModel;
use margintop::model::valuation::Shock;
use margintop::model::{Account, MarketState};

const NOW: i64 = 1_654_161_840_000;

fn setup(
    model: &str,
    positions: &[(&str, f64)],
    balance: f64,
) -> (Account, MarketState, PreparedModel) {
    let mut market = MarketState::default();
    market.set_index("btc_usd", 30_000.0, NOW);
    future_quote(&mut market, "BTC-PERPETUAL", 30_000.0, 30_000.0, NOW);
    option_quote(
        &mut market,
        "BTC-30SEP22-40000-C",
        0.01,
        0.7,
        30_200.0,
        30_000.0,
        NOW,
    );
    option_quote(
        &mut market,
        "BTC-30SEP22-22000-P",
        0.01,
        0.8,
        30_200.0,
        30_000.0,
        NOW,
    );
    let mut acct = Account::new("t", "BTC", model);
    acct.balance = balance;
    for (n, s) in positions {
        acct.set_position(n, *s, Some(30_000.0));
    }
    let prepared = PreparedModel::new(builtin(model), "BTC");
    (acct, market, prepared)
}

fn insts() -> margintop::margin::account::Instruments {
    instruments(&[
        "BTC-PERPETUAL",
        "BTC-30SEP22-40000-C",
        "BTC-30SEP22-22000-P",
    ])
}

#[test]
fn long_inverse_future_under_standard_margin() {
    let (n, b, r) = (300_000.0, 1.0, 30_000.0);
    let (acct, market, mut model) = setup("deribit_sm", &[("BTC-PERPETUAL", n)], b);
    let liq = liquidation_distance(&acct, &insts(), &market, &mut model, NOW, Some(r));
    // MB = B + N/ref − N·x, MM = N·x·(a + N·x·k) with x = 1/P: a quadratic in x.
    let (a, k) = (0.01, 0.00005);
    let qa = k * n * n;
    let qb = (a + 1.0) * n;
    let qc = -(b + n / r);
    let x = (-qb + (qb * qb - 4.0 * qa * qc).sqrt()) / (2.0 * qa);
    let want = 1.0 / x;
    let got = liq.down_price.unwrap();
    assert!(rel_err(got, want) < 1e-6, "{got} vs {want}");
    assert_eq!(
        liq.up_move, None,
        "a long future is never liquidated by a rise"
    );
}

#[test]
fn short_inverse_future_under_portfolio_margin() {
    let (n, b, r) = (-300_000.0, 1.5, 30_000.0);
    let (acct, market, mut model) = setup("deribit_pm", &[("BTC-PERPETUAL", n)], b);
    let liq = liquidation_distance(&acct, &insts(), &market, &mut model, NOW, Some(r));
    // Short Q = N·x coin: worst loss at +16 % is |Q|·0.16/1.16, roll |Q|·0.01,
    // MM = 0.8·|N|·x·c; MB = B + N/ref − N·x. Linear in x.
    let c = 0.8 * (0.16 / 1.16 + 0.01);
    let x = (b + n / r) / (n.abs() * c + n);
    let want = 1.0 / x;
    assert!(
        rel_err(liq.up_price.unwrap(), want) < 1e-6,
        "{:?} vs {want}",
        liq.up_price
    );
    assert_eq!(liq.down_move, None);
}

#[test]
fn option_books_match_a_dense_scan() {
    type Book<'a> = (&'a str, &'a [(&'a str, f64)], f64);
    let books: [Book; 3] = [
        (
            "deribit_pm",
            &[
                ("BTC-30SEP22-40000-C", -50.0),
                ("BTC-30SEP22-22000-P", -50.0),
            ],
            6.0,
        ),
        (
            "deribit_sm",
            &[("BTC-30SEP22-40000-C", -40.0), ("BTC-PERPETUAL", 200_000.0)],
            5.0,
        ),
        (
            "span16",
            &[
                ("BTC-30SEP22-22000-P", -80.0),
                ("BTC-PERPETUAL", -300_000.0),
            ],
            6.0,
        ),
    ];
    for (model_name, positions, balance) in books {
        let (acct, market, mut model) = setup(model_name, positions, balance);
        let liq = liquidation_distance(&acct, &insts(), &market, &mut model, NOW, Some(30_000.0));
        let mut shortfall = |m: f64| {
            let shock = Shock::price_move(m);
            let book = value_book(&acct, &insts(), &market, &mut model, NOW, &|_| shock);
            let risk = account_risk(&acct, &model, &book.sums, &book.notes, NOW);
            risk.margin.maintenance_margin - risk.margin_balance
        };
        for (limit, got) in [(-0.95, liq.down_move), (4.0, liq.up_move)] {
            let steps = 5_000;
            let dense = (0..=steps)
                .map(|i| limit * i as f64 / steps as f64)
                .find(|m| shortfall(*m) >= 0.0);
            match (dense, got) {
                (Some(d), Some(g)) => assert!(
                    (d - g).abs() <= limit.abs() / steps as f64 + 1e-6,
                    "{model_name}: {g} vs scan {d}"
                ),
                (None, None) => {}
                other => panic!("{model_name}: root finder and scan disagree: {other:?}"),
            }
        }
        assert!(
            liq.down_move.is_some() || liq.up_move.is_some(),
            "{model_name}: short options should liquidate somewhere"
        );
    }
}

/// Instruments of the random books: the perpetual and calls and puts
/// around the money on two expiries.
const RANDOM_POOL: [&str; 7] = [
    "BTC-PERPETUAL",
    "BTC-30SEP22-40000-C",
    "BTC-30SEP22-22000-P",
    "BTC-30SEP22-30000-C",
    "BTC-30DEC22-30000-P",
    "BTC-30DEC22-50000-C",
    "BTC-30DEC22-18000-P",
];

fn random_market() -> MarketState {
    let (_, mut market, _) = setup("deribit_pm", &[], 1.0);
    for (name, iv, forward) in [
        ("BTC-30SEP22-30000-C", 0.65, 30_200.0),
        ("BTC-30DEC22-30000-P", 0.72, 30_600.0),
        ("BTC-30DEC22-50000-C", 0.8, 30_600.0),
        ("BTC-30DEC22-18000-P", 0.9, 30_600.0),
    ] {
        option_quote(&mut market, name, 0.05, iv, forward, 30_000.0, NOW);
    }
    market
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

    /// Random books under all three models: the desk-wide search (accounts
    /// stepping together, sharing prices) finds exactly what each
    /// account's own search finds, and that is within one step of the
    /// first crossing of a dense scan.
    #[test]
    fn the_desk_search_finds_the_first_crossing_of_a_dense_scan(
        books in proptest::collection::vec(
            (0usize..3, proptest::collection::vec((0usize..7, -30.0f64..30.0), 1..5), 1.0f64..30.0),
            3..6,
        )
    ) {
        use margintop::margin::inputs::AccountInputs;
        use margintop::margin::liquidation::joint_distances;
        let market = random_market();
        let models = std::sync::Arc::new(margintop::margin::config::load_models(None).unwrap());
        let instruments = instruments(&RANDOM_POOL);
        let names = ["deribit_pm", "deribit_sm", "span16"];
        let inputs: Vec<AccountInputs> = books
            .iter()
            .map(|(m, positions, balance)| {
                let mut acct = Account::new("r", "BTC", names[*m]);
                acct.balance = *balance;
                for (i, size) in positions {
                    // The perpetual in USD, options in BTC.
                    let size = if *i == 0 { size * 5_000.0 } else { *size };
                    acct.set_position(RANDOM_POOL[*i], size, Some(30_000.0));
                }
                AccountInputs {
                    account: acct,
                    instruments: instruments.clone(),
                    market: market.clone(),
                    models: models.clone(),
                    now_ms: NOW,
                }
            })
            .collect();
        let refs: Vec<&AccountInputs> = inputs.iter().collect();
        let joint = joint_distances(&refs);
        for (i, joint) in inputs.iter().zip(joint) {
            let acct = &i.account;
            let mut model = PreparedModel::new(builtin(&acct.model), "BTC");
            let own = liquidation_distance(acct, &instruments, &market, &mut model, NOW, Some(30_000.0));
            proptest::prop_assert_eq!(joint, Some((own.down_move, own.up_move)));
            let mut shortfall = |m: f64| {
                let shock = Shock::price_move(m);
                let book = value_book(acct, &instruments, &market, &mut model, NOW, &|_| shock);
                let risk = account_risk(acct, &model, &book.sums, &book.notes, NOW);
                risk.margin.maintenance_margin - risk.margin_balance
            };
            // The search's lean sums give the full valuation's margin, bit for bit.
            let prepared = PreparedBook::new(acct, &instruments, &market, NOW, true);
            let mut lean = MarginBook::new(prepared);
            let mut lean_model = PreparedModel::new(builtin(&acct.model), "BTC");
            for m in [-0.6, -0.1, 0.0, 0.3, 2.5] {
                let shock = Shock::price_move(m);
                let got = lean.shortfall(acct, &mut lean_model, &|_| shock, None, NOW);
                proptest::prop_assert_eq!(got.to_bits(), shortfall(m).to_bits(), "{} at {}", acct.model, m);
            }
            let limits = builtin(&acct.model).liquidation_search();
            for (limit, got) in [(-limits.down, own.down_move), (limits.up, own.up_move)] {
                let steps = 2_000;
                let dense = (0..=steps)
                    .map(|k| limit * k as f64 / steps as f64)
                    .find(|m| shortfall(*m) >= 0.0);
                let step = limit.abs() / steps as f64;
                match (dense, got) {
                    (Some(d), Some(g)) => proptest::prop_assert!(
                        (d - g).abs() <= step + 1e-6,
                        "{}: {} vs scan {}", acct.model, g, d
                    ),
                    (None, None) => {}
                    other => proptest::prop_assert!(false, "{}: {:?}", acct.model, other),
                }
            }
        }
    }
}

/// The search (and the engine) take an option's mark from the value its
/// risk grid computed for the unmoved scenario; the scalar Black-76 gives
/// the same mark and net delta to rounding, across moves, types and
/// settlements, and the same bits when the market has not moved.
#[test]
fn a_mark_from_the_grid_is_the_scalar_mark() {
    use margintop::margin::book::unit_vector_and_value;
    use margintop::model::valuation::{unit_value, unit_value_at, Base};
    let mut market = random_market();
    option_quote(
        &mut market,
        "BTC_USDC-30DEC22-28000-P",
        1500.0,
        0.7,
        30_600.0,
        30_000.0,
        NOW,
    );
    let names = &RANDOM_POOL[3..];
    let instruments = instruments(&[names, &["BTC_USDC-30DEC22-28000-P"]].concat());
    let mut model = PreparedModel::new(builtin("deribit_pm"), "BTC");
    for inst in instruments.values() {
        let base = Base::of(inst, &market, NOW).unwrap().for_many(inst);
        for m in [-0.9, -0.3, 0.0, 0.25, 3.0] {
            let shock = Shock::price_move(m);
            let scalar = base.shocked(inst, shock);
            let mut usd = None;
            let via = base.shocked_via(inst, shock, |r| {
                usd = unit_vector_and_value(inst, r, &mut model, Vec::new()).1;
                usd
            });
            assert!(usd.is_some(), "{}: the grid priced it", inst.name);
            let scale = scalar.forward.max(1.0);
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-13 * scale;
            assert!(
                close(via.mark, scalar.mark),
                "{} at {m}: {} vs {}",
                inst.name,
                via.mark,
                scalar.mark
            );
            if m == 0.0 {
                assert_eq!(
                    via.mark.to_bits(),
                    scalar.mark.to_bits(),
                    "{}: the quote's mark",
                    inst.name
                );
            }
            let (a, b) = (unit_value_at(inst, &via, usd), unit_value(inst, &scalar));
            assert!(
                close(a.net_delta, b.net_delta),
                "{} at {m}: net delta",
                inst.name
            );
        }
    }
}

//! Risk core benchmarks: Black-76 with all Greeks, and a desk of 100
//! accounts × 50 positions over a full BTC+ETH chain under deribit_pm
//! (a full index tick, and a single-instrument mark tick).

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use margintop::engine::Desk;
use margintop::margin::config::load_models;
use margintop::model::{Account, Instrument};
use margintop::pricing::lanes::{values, Inputs, Moves};
use margintop::pricing::{greeks, OptionType};
use margintop::risk::backtest::walk;
use margintop::risk::history::History;
use margintop::risk::{Market, Settings};
use margintop::synthetic::{books, chain, quote, NOW};

fn black76(c: &mut Criterion) {
    let inputs: Vec<(OptionType, f64, f64, f64, f64)> = (0..256)
        .map(|i| {
            let opt = if i % 2 == 0 {
                OptionType::Call
            } else {
                OptionType::Put
            };
            (
                opt,
                88_000.0,
                40_000.0 + 500.0 * i as f64,
                0.01 + 0.004 * i as f64,
                0.3 + 0.002 * i as f64,
            )
        })
        .collect();
    c.bench_function("black76_price_and_greeks_x256", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for &(o, f, k, t, s) in &inputs {
                let g = greeks(o, black_box(f), k, t, s);
                acc += g.price + g.delta + g.gamma + g.vega + g.theta + g.rho;
            }
            acc
        })
    });
}

/// One option repriced in 10,000 scenarios at once (the VaR kernel):
/// time per evaluation = time / 10,000.
fn black76_lanes(c: &mut Criterion) {
    let n = 10_000;
    let log: Vec<f64> = (0..n).map(|i| 0.2 * ((i as f64) * 0.7).sin()).collect();
    let grown: Vec<f64> = log.iter().map(|x| x.exp()).collect();
    let vol: Vec<f64> = (0..n)
        .map(|i| 1.0 + 0.3 * ((i as f64) * 1.3).cos())
        .collect();
    let inverse = |v: &[f64]| v.iter().map(|x| 1.0 / x).collect::<Vec<f64>>();
    let (inv_grown, inv_vol) = (inverse(&grown), inverse(&vol));
    let moves = Moves {
        log: &log,
        grown: &grown,
        inv_grown: &inv_grown,
        vol: &vol,
        inv_vol: &inv_vol,
    };
    let option = Inputs {
        option_type: OptionType::Put,
        strike: 80_000.0,
        forward: 88_000.0,
        ln_fk: (88_000.0f64 / 80_000.0).ln(),
        total_vol: 0.55 * 0.1f64.sqrt(),
    };
    let mut out = vec![0.0; n];
    c.bench_function("black76_lanes_x10000", |b| {
        b.iter(|| values(black_box(&option), &moves, &mut out))
    });
}

fn desk() -> Desk {
    let mut desk = Desk::new(load_models(None).unwrap(), NOW);
    desk.set_clock_step(i64::MAX / 4); // ticks in the bench do not step the clock
    let chains =
        [("BTC", 88_000.0, "btc_usd"), ("ETH", 3_000.0, "eth_usd")].map(|(base, spot, index)| {
            desk.apply_index(index, spot, NOW);
            let names = chain(base, spot);
            for name in &names {
                let inst = Instrument::parse(name).unwrap();
                desk.apply_quote(name, quote(&inst, spot, NOW));
                desk.add_instrument(inst);
            }
            names
        });
    for (label, ccy, held) in books(100, 50, &chains[0], &chains[1]) {
        let mut acct = Account::new(&label, &ccy, "deribit_pm");
        acct.balance = 100.0;
        for (name, size) in held {
            acct.set_position(&name, size, None);
        }
        desk.add_account(acct).unwrap();
    }
    desk
}

fn desk_ticks(c: &mut Criterion) {
    let mut desk = desk();
    let chain_size = desk.instruments().len();
    println!(
        "desk: {chain_size} instruments, {} accounts x 50 positions",
        desk.account_count()
    );
    let mut price = 88_000.0;
    c.bench_function("desk_index_tick_btc", |b| {
        b.iter(|| {
            price *= 1.0001;
            desk.apply_index("btc_usd", price, NOW + 1);
        })
    });
    let mut eth = 3_000.0;
    c.bench_function("desk_index_tick_eth", |b| {
        b.iter(|| {
            eth *= 1.0001;
            desk.apply_index("eth_usd", eth, NOW + 1);
        })
    });
    c.bench_function("desk_index_tick_btc_and_eth", |b| {
        b.iter(|| {
            price *= 1.0001;
            desk.apply_index("btc_usd", price, NOW + 1);
            eth *= 1.0001;
            desk.apply_index("eth_usd", eth, NOW + 1);
        })
    });
    // The most widely held instrument, for a per-holder figure.
    let held = desk
        .instruments()
        .keys()
        .cloned()
        .max_by_key(|n| holders(&desk, n))
        .unwrap();
    let n_holders = holders(&desk, &held);
    println!("single-instrument tick on {held}: {n_holders} holding accounts");
    let inst = desk.instrument(&held).unwrap().clone();
    let spot = if held.starts_with("BTC") {
        88_000.0
    } else {
        3_000.0
    };
    let mut q = quote(&inst, spot, NOW);
    c.bench_function("desk_single_instrument_tick", |b| {
        b.iter_batched(
            || {
                q.mark_iv = q.mark_iv.map(|v| v * 1.0001);
                q
            },
            |q| desk.apply_quote(&held, q),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("desk_account_margin_from_sums", |b| {
        b.iter(|| desk.risk(black_box(0)).margin.maintenance_margin)
    });
}

fn holders(desk: &Desk, name: &str) -> usize {
    (0..desk.account_count())
        .filter(|&a| {
            desk.account(a)
                .positions
                .iter()
                .any(|p| p.instrument == name)
        })
        .count()
}

/// VaR and ES (HS and FHS over 1,000 days, MC with 10,000 paths) of the
/// whole desk, and of one 221-position book alone, on one core.
fn var(c: &mut Criterion) {
    let desk = desk();
    let history = History::shipped();
    let settings = Settings::default();
    let inputs = desk.var_inputs();
    println!(
        "VaR: {} accounts, {} instruments held",
        inputs.holders.len(),
        inputs.instruments.len()
    );
    let mut g = c.benchmark_group("var");
    g.sample_size(10);
    g.bench_function("desk_100_accounts_hs_fhs_mc", |b| {
        b.iter(|| inputs.clone().var(&history, settings))
    });
    let mut one = inputs.clone();
    let (btc, _) =
        (one.instruments.keys().cloned()).partition::<Vec<String>, _>(|n| n.starts_with("BTC"));
    one.holders.truncate(1);
    one.holders[0].books[0].positions = btc
        .iter()
        .filter(|n| n.ends_with("-C") || n.ends_with("-P"))
        .take(221)
        .map(|n| (n.clone(), -1.0))
        .collect();
    println!(
        "one book: {} positions",
        one.holders[0].books[0].positions.len()
    );
    g.bench_function("one_book_221_positions_hs_fhs_mc", |b| {
        b.iter(|| one.clone().var(&history, settings))
    });
    // Issue 14's case: one 50-position book (the desk's first) walked over
    // T = 500 days, HS, FHS and MC (the default [var] backtest_paths) each
    // day from the W = 1000 before it.
    let mut book = inputs.clone();
    book.holders.truncate(1);
    println!(
        "backtest book: {} positions",
        book.holders[0].books[0].positions.len()
    );
    g.bench_function("backtest_one_book_50_positions_t500_w1000_hs_fhs_mc", |b| {
        b.iter(|| {
            let m = Market {
                instruments: &book.instruments,
                market: &book.market,
                now_ms: book.now_ms,
            };
            walk(
                book.holders.clone(),
                &m,
                &history,
                margintop::config::VarConfig::default().backtest().0,
                500,
                &mut |_, _| {},
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, black76, black76_lanes, desk_ticks, var);
criterion_main!(benches);

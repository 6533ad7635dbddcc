//! Risk core benchmarks: Black-76 with all Greeks, and a desk of 100
//! accounts × 50 positions over a full BTC+ETH chain under deribit_pm
//! (a full index tick, and a single-instrument mark tick).

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use margintop::engine::Desk;
use margintop::margin::config::load_models;
use margintop::model::{Account, Instrument, Quote};
use margintop::pricing::{greeks, OptionType};

const NOW: i64 = 1_767_259_115_000; // 2026-01-01 09:18:35 UTC

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

/// A chain like Deribit's: expiries from days to a year, strikes around the money.
fn chain(base: &str, spot: f64) -> Vec<String> {
    let expiries = [
        "2JAN26", "3JAN26", "9JAN26", "16JAN26", "30JAN26", "27FEB26", "27MAR26", "26JUN26",
        "25SEP26", "25DEC26",
    ];
    let mut names = vec![format!("{base}-PERPETUAL")];
    for e in expiries {
        names.push(format!("{base}-{e}"));
        for i in -21..=21 {
            let strike = (spot * (1.0 + 0.035 * i as f64) / 100.0).round() * 100.0;
            for cp in ["C", "P"] {
                names.push(format!("{base}-{e}-{strike}-{cp}"));
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

fn quote(inst: &Instrument, spot: f64) -> Quote {
    match inst.kind {
        margintop::model::Kind::Option { strike, .. } => {
            let iv = 0.45 + 0.3 * ((strike / spot).ln()).powi(2);
            Quote {
                mark_price: 0.01,
                mark_iv: Some(iv),
                underlying_price: Some(spot * 1.003),
                index_price: Some(spot),
                timestamp: NOW,
            }
        }
        _ => Quote {
            mark_price: spot * 1.002,
            mark_iv: None,
            underlying_price: None,
            index_price: Some(spot),
            timestamp: NOW,
        },
    }
}

fn desk() -> (Desk, Vec<String>) {
    let mut desk = Desk::new(load_models(None).unwrap(), NOW);
    desk.set_clock_step(i64::MAX / 4); // ticks in the bench do not step the clock
    let mut all = Vec::new();
    for (base, spot, index) in [("BTC", 88_000.0, "btc_usd"), ("ETH", 3_000.0, "eth_usd")] {
        desk.apply_index(index, spot, NOW);
        for name in chain(base, spot) {
            let inst = Instrument::parse(&name).unwrap();
            desk.apply_quote(&name, quote(&inst, spot));
            desk.add_instrument(inst);
            all.push(name);
        }
    }
    for a in 0..100 {
        let base = if a % 2 == 0 { "BTC" } else { "ETH" };
        let mut acct = Account::new(&format!("acct-{a}"), base, "deribit_pm");
        acct.balance = 100.0;
        let names: Vec<&String> = all.iter().filter(|n| n.starts_with(base)).collect();
        for p in 0..50 {
            let name = names[(a * 37 + p * 101) % names.len()];
            let size = if name.ends_with("-C") || name.ends_with("-P") {
                ((p % 7) as f64 - 3.0) * 2.5 + 0.5
            } else {
                10_000.0
            };
            acct.set_position(name, size, None);
        }
        desk.add_account(acct).unwrap();
    }
    (desk, all)
}

fn desk_ticks(c: &mut Criterion) {
    let (mut desk, _) = desk();
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
    let mut q = quote(
        &inst,
        if held.starts_with("BTC") {
            88_000.0
        } else {
            3_000.0
        },
    );
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

criterion_group!(benches, black76, desk_ticks);
criterion_main!(benches);

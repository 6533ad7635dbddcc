//! The demo exchange's daily cycle and liquidations, watched by the real
//! monitor: an accelerated clock through an 08:00 UTC expiry and
//! settlement, and a crash that gets books liquidated. Each time the
//! exchange stands still, margintop's books must be the exchange's: the
//! same positions, and local equity equal to the equity the exchange sends.

#[path = "support/demo_desk.rs"]
mod demo_desk;

use demo_desk::{books, monitor_on, start_desk, wait_until};
use margintop::demo::server::{self, DemoOptions, DemoServer};
use margintop::engine::live::{AccountSnapshot, Snapshot};
use margintop::model::instrument::days_from_civil;
use margintop::model::Instrument;
use std::collections::BTreeMap;
use std::time::Duration;

const DAY_MS: i64 = 86_400_000;
const MINUTE: i64 = 60_000;

/// 2026-12-04 08:00 UTC: a Friday, when daily, weekly and monthly options
/// expire together.
fn expiry() -> i64 {
    days_from_civil(2026, 12, 4) * DAY_MS + 8 * 3_600_000
}

/// The demo at `speed`, starting at `start_ms`, without simulated trades
/// (only the cycle and the liquidation engine change books).
fn options(speed: f64, start_ms: i64) -> DemoOptions {
    DemoOptions {
        time_scale: speed,
        start_ms: Some(start_ms),
        publish_interval: Duration::from_millis(200),
        trade_every_s: 1e12,
        drift_every_s: 1e12,
        ..DemoOptions::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// What the exchange holds for an account: its positions and its equity.
#[derive(Debug, PartialEq)]
struct Book {
    held: BTreeMap<String, f64>,
    equity: f64,
}

/// The exchange's books with positions, by the monitor's label.
fn exchange_books(demo: &DemoServer) -> BTreeMap<String, Book> {
    let s = demo.state.lock().unwrap();
    (s.accounts.iter())
        .filter(|a| !a.positions.is_empty())
        .map(|a| {
            let held = a.positions.iter().cloned().collect();
            let equity = s.equity(a.id).unwrap();
            (format!("demo/{}", a.username), Book { held, equity })
        })
        .collect()
}

/// The monitor's books: positions as it holds them and its local equity.
fn monitor_books(snap: &Snapshot) -> BTreeMap<String, Book> {
    (books(snap).into_iter())
        .map(|v| {
            let held = v
                .positions
                .iter()
                .map(|p| (p.instrument.clone(), p.size))
                .collect();
            (
                v.label.clone(),
                Book {
                    held,
                    equity: v.risk.equity,
                },
            )
        })
        .collect()
}

/// The monitor has the exchange's books as they stand: the same
/// positions; each book complete and current, and its local equity equal
/// to the exchange's, both as the exchange keeps it and as it last sent it.
fn in_step(demo: &DemoServer, snap: &Snapshot) -> bool {
    let exchange = exchange_books(demo);
    let mine = monitor_books(snap);
    let same = |(label, b): (&String, &Book)| {
        exchange
            .get(label)
            .is_some_and(|x| x.held == b.held && close(b.equity, x.equity))
    };
    let sent = |v: &&AccountSnapshot| {
        v.complete && !v.stale && v.exchange.equity.is_some_and(|e| close(v.risk.equity, e))
    };
    mine.len() == exchange.len() && mine.iter().all(same) && books(snap).iter().all(sent)
}

/// Stop the exchange's clock.
fn pause(demo: &DemoServer, on: bool) {
    demo.state.lock().unwrap().paused = on;
}

fn exchange_now(demo: &DemoServer) -> i64 {
    demo.state.lock().unwrap().market.now_ms
}

/// Wait until the monitor has the stopped exchange's books, then watch it
/// for a second more: every snapshot must still have them.
async fn settled_in_step(
    demo: &DemoServer,
    rx: &mut tokio::sync::watch::Receiver<std::sync::Arc<Snapshot>>,
    what: &str,
) -> std::sync::Arc<Snapshot> {
    let snap = wait_until(rx, Duration::from_secs(30), |s| in_step(demo, s)).await;
    assert!(
        in_step(demo, &snap),
        "{what}: the monitor's books {:#?}\nthe exchange's {:#?}",
        monitor_books(&snap),
        exchange_books(demo)
    );
    let until = tokio::time::Instant::now() + Duration::from_secs(1);
    while tokio::time::Instant::now() < until {
        let _ = tokio::time::timeout(Duration::from_millis(300), rx.changed()).await;
        let later = rx.borrow().clone();
        assert!(in_step(demo, &later), "{what}: a later snapshot differs");
    }
    snap
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_an_expiry_and_a_settlement_the_monitor_keeps_the_exchanges_books() {
    // Three simulated minutes before the expiry; a simulated minute a
    // second. The exchange stops at once (its first step is 15 simulated
    // seconds), however long the monitor takes to be ready.
    let opts = options(60.0, expiry() - 3 * MINUTE);
    let demo = server::start("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    pause(&demo, true);
    let mon = monitor_on(&demo.url(), 60.0);
    let mut rx = mon.snapshots.clone();
    let before = settled_in_step(&demo, &mut rx, "before the expiry").await;
    let at = exchange_now(&demo);
    assert!(at < expiry(), "stopped at {at}, before the expiry");
    let expiring: Vec<(String, String)> = (exchange_books(&demo).into_iter())
        .flat_map(|(label, b)| b.held.into_keys().map(move |n| (label.clone(), n)))
        .filter(|(_, n)| Instrument::parse(n).unwrap().expiry_ms() == Some(expiry()))
        .collect();
    assert!(expiring.len() >= 5, "positions expiring: {expiring:?}");
    let balances: BTreeMap<String, Option<f64>> = (books(&before).into_iter())
        .map(|v| (v.label.clone(), v.risk.balance.into()))
        .collect();
    // Run the clock past 08:00 and stop it again.
    pause(&demo, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while exchange_now(&demo) < expiry() + MINUTE && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pause(&demo, true);
    assert!(exchange_now(&demo) > expiry(), "the clock crossed 08:00");
    let after = settled_in_step(&demo, &mut rx, "after the expiry").await;
    mon.stop().await;
    demo.stop();
    let held = monitor_books(&after);
    for (label, name) in &expiring {
        let holds = held.get(label).is_some_and(|b| b.held.contains_key(name));
        assert!(!holds, "{label} still holds {name}");
    }
    // Deliveries and the futures' session P&L moved cash into balances; the
    // desk rolled what expired into positions listed further out.
    let moved: Vec<&String> = (books(&after).into_iter())
        .filter(|v| {
            balances
                .get(&v.label)
                .is_some_and(|b| *b != Some(v.risk.balance))
        })
        .map(|v| &v.label)
        .collect();
    assert!(
        moved.len() >= 5,
        "balances moved at the settlement: {moved:?}"
    );
    let rolled = (books(&after).into_iter())
        .flat_map(|v| v.positions.iter())
        .filter(|p| {
            Instrument::parse(&p.instrument).unwrap().expiry_ms() > Some(expiry() + 20 * DAY_MS)
        })
        .count();
    assert!(rolled > 0, "rolled positions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_gets_books_liquidated_step_by_step_and_the_monitor_follows() {
    let (demo, mon, mut rx, start) = start_desk(options(60.0, expiry() + 3_600_000)).await;
    let sizes = |snap: &Snapshot| -> BTreeMap<String, f64> {
        (books(snap).into_iter())
            .map(|v| {
                (
                    v.label.clone(),
                    v.positions.iter().map(|p| p.size.abs()).sum(),
                )
            })
            .collect()
    };
    let at_start = sizes(&start);
    demo.crash();
    // The monitor sees a book past mm_ratio 1; a second or so later the
    // exchange has reduced it, and it is back under.
    let over = wait_until(&mut rx, Duration::from_secs(30), |s| {
        books(s)
            .iter()
            .any(|v| v.risk.mm_ratio.is_some_and(|r| r >= 1.0))
    })
    .await;
    let liquidated: Vec<String> = (books(&over).into_iter())
        .filter(|v| v.risk.mm_ratio.is_some_and(|r| r >= 1.0))
        .map(|v| v.label.clone())
        .collect();
    assert!(
        !liquidated.is_empty(),
        "no book past mm_ratio 1 in the crash"
    );
    // Reduced and back under 1, or closed out (the crash outran it).
    let reduced = |s: &Snapshot| {
        liquidated.iter().any(|label| {
            let now = sizes(s).get(label).copied().unwrap_or(0.0);
            let book = books(s).into_iter().find(|v| &v.label == label);
            let under = book.is_none_or(|v| v.risk.mm_ratio.is_some_and(|r| r < 1.0));
            now < at_start[label] && under
        })
    };
    let back = wait_until(&mut rx, Duration::from_secs(40), reduced).await;
    assert!(
        reduced(&back),
        "{liquidated:?} not reduced: {:?}",
        sizes(&back)
    );
    pause(&demo, true);
    settled_in_step(&demo, &mut rx, "after the liquidation").await;
    mon.stop().await;
    demo.stop();
}

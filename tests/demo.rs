//! The built-in demo exchange with the real client: every demo account
//! reaches a complete snapshot, local margin equals the demo exchange's, and
//! the crash mode pushes a book past liquidation.

#[path = "support/demo_desk.rs"]
mod demo_desk;

use demo_desk::{books, creds, demo_config, start_desk, wait_until};
use margintop::demo::server::{self, DemoOptions};
use margintop::margin::config::load_models;
use margintop::monitor;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_account_is_complete_and_local_margin_equals_the_exchanges() {
    let opts = DemoOptions {
        frozen: true,
        publish_interval: Duration::from_millis(200),
        ..DemoOptions::default()
    };
    let demo = server::start("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let n = demo.state.lock().unwrap().accounts.len();
    assert!((12..=20).contains(&n), "{n} demo accounts");
    let mon = monitor::start_with(
        &demo_config(&demo.url()),
        None,
        &creds(),
        load_models(None).unwrap(),
        None,
    )
    .unwrap();
    let mut rx = mon.snapshots.clone();
    let snap = wait_until(&mut rx, Duration::from_secs(30), |s| {
        let b = books(s);
        b.len() == n
            && b.iter()
                .all(|v| v.complete && !v.stale && v.exchange.maintenance_margin.is_some())
    })
    .await;
    mon.stop().await;
    demo.stop();
    let b = books(&snap);
    assert_eq!(
        b.len(),
        n,
        "views: {:?}",
        snap.accounts
            .iter()
            .map(|v| (&v.label, v.complete))
            .collect::<Vec<_>>()
    );
    let mut positions = 0;
    for v in b {
        let local = v.risk.margin.maintenance_margin;
        let exchange = v.exchange.maintenance_margin.unwrap();
        assert!(
            (local - exchange).abs() <= 1e-9 * exchange.abs().max(1e-9),
            "{}: local {local} vs demo exchange {exchange}; {:?} {:?}",
            v.label,
            v.positions,
            v.risk
        );
        positions = positions.max(v.positions.len());
    }
    assert!(positions >= 200, "a large desk book: {positions}");
    // The cross-collateral books: local totals in USD equal the demo
    // exchange's total_*_usd, and the USDC wallet backs the options book.
    let mut cross = 0;
    for v in books(&snap).into_iter().filter(|v| v.cross.is_some()) {
        let (c, ex) = (v.cross.as_ref().unwrap(), v.exchange.totals_usd.unwrap());
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        assert!(
            close(c.maintenance_margin_usd, ex.maintenance_margin),
            "{}",
            v.label
        );
        assert!(
            close(c.margin_balance_usd, ex.margin_balance),
            "{}",
            v.label
        );
        assert!(close(c.equity_usd, ex.equity), "{}", v.label);
        assert!(c.complete && c.wallets.len() >= 2, "{}: {c:?}", v.label);
        cross += 1;
    }
    assert_eq!(cross, 2, "two cross-collateral demo accounts");
    // Where the model's worst case is in the extended table, the matrix
    // screen marks that entry, and its aggregated loss is the worst case.
    let mut extended_worst = 0;
    for v in books(&snap) {
        let (Some(m), Some(w)) = (&v.matrix, &v.risk.margin.worst_scenario) else {
            continue;
        };
        if w.table != "extended" || v.risk.margin.worst_case <= 0.0 {
            continue;
        }
        let k = m.worst_extended.expect("the extended worst is marked");
        assert_eq!(m.extended[k].price_move, w.price_move);
        let loss = -m.extended[k].aggregated;
        assert!(
            (loss - v.risk.margin.worst_case).abs() < 1e-12,
            "{}",
            v.label
        );
        extended_worst += 1;
    }
    assert!(
        extended_worst >= 1,
        "a book whose worst case is in the extended table"
    );
    // Every health state shows up at start: ok, warning and critical books.
    let ratios: Vec<f64> = books(&snap)
        .iter()
        .filter_map(|v| v.risk.mm_ratio)
        .collect();
    assert!(
        ratios.iter().any(|r| *r < 0.5)
            && ratios.iter().any(|r| (0.5..0.8).contains(r))
            && ratios.iter().any(|r| (0.8..1.0).contains(r)),
        "{ratios:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crash_mode_pushes_a_book_past_liquidation() {
    // One real second is a simulated minute: the crash plays out in seconds.
    // No drift and no trades here: only the crash may push a book over.
    let opts = DemoOptions {
        time_scale: 60.0,
        publish_interval: Duration::from_millis(200),
        drift_every_s: 1e12,
        trade_every_s: 1e12,
        ..DemoOptions::default()
    };
    let (demo, mon, mut rx, before) = start_desk(opts).await;
    // Books healthy before the crash (under 60 %, so not the near-liquidation
    // books that drift over on their own): the crash must push one of them over.
    let healthy: Vec<String> = books(&before)
        .iter()
        .filter(|v| v.risk.mm_ratio.is_some_and(|r| r < 0.6))
        .map(|v| v.label.clone())
        .collect();
    assert!(healthy.len() >= 8, "{healthy:?}");
    demo.crash();
    let over = |v: &margintop::engine::live::AccountSnapshot| {
        healthy.contains(&v.label) && v.risk.mm_ratio.is_none_or(|r| r >= 1.0)
    };
    let snap = wait_until(&mut rx, Duration::from_secs(30), |s| {
        books(s).into_iter().any(over)
    })
    .await;
    mon.stop().await;
    demo.stop();
    let crossed: Vec<String> = books(&snap)
        .into_iter()
        .filter(|v| over(v))
        .map(|v| v.label.clone())
        .collect();
    assert!(
        !crossed.is_empty(),
        "no healthy book past mm_ratio 1.0 after the crash"
    );
    println!("past liquidation after the crash: {crossed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_record_work_against_the_demo_server() {
    let demo = server::start("127.0.0.1:0".parse().unwrap(), DemoOptions::default())
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("margintop-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let creds = dir.join("demo.toml");
    std::fs::write(&creds, "client_id = \"demo\"\nclient_secret = \"demo\"\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        // As in the other demo tests, no request pacing: a 3 s recording
        // must hold every book's tickers (16 subaccounts at Deribit's 10
        // requests a second fill it only just).
        format!("[connection]\nmax_requests_per_s = 1000\n\n[[accounts]]\nlabel = \"demo\"\nurl = \"{}\"\ncredentials_file = \"demo.toml\"\nsubaccounts = true\n", demo.url()),
    )
    .unwrap();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_margintop"))
                .args(args)
                .output()
                .unwrap()
        })
    };
    let cfg_s = cfg.display().to_string();
    let out = run(vec![
        "check".into(),
        "--config".into(),
        cfg_s.clone(),
        "--timeout-ms".into(),
        "30000".into(),
    ])
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // The demo desk has critical books from the start: exit 2, one line per book and currency.
    assert_eq!(
        out.status.code(),
        Some(2),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("demo/btc-desk BTC deribit_pm") && text.contains("CRITICAL"),
        "{text}"
    );
    let rec = dir.join("demo.jsonl");
    let out = run(vec![
        "record".into(),
        "--config".into(),
        cfg_s,
        "--duration-s".into(),
        "3".into(),
        "--out".into(),
        rec.display().to_string(),
    ])
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(vec![
        "report".into(),
        "--json".into(),
        "--replay".into(),
        rec.display().to_string(),
    ])
    .await
    .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let desk = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == "demo/btc-desk" && a["currency"] == "BTC")
        .unwrap();
    assert!(desk["positions"].as_array().unwrap().len() >= 200);
    assert!(desk["maintenance_margin"].as_f64().unwrap() > 0.0);
    demo.stop();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_trades_reach_the_monitor_through_user_changes() {
    // A trade every half simulated second, no drift.
    let opts = DemoOptions {
        trade_every_s: 0.5,
        drift_every_s: 1e12,
        publish_interval: Duration::from_millis(200),
        ..DemoOptions::default()
    };
    let (demo, mon, mut rx, _before) = start_desk(opts).await;
    let start: Vec<(String, Vec<(String, f64)>)> = demo
        .state
        .lock()
        .unwrap()
        .accounts
        .iter()
        .map(|a| (a.username.clone(), a.positions.clone()))
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    demo.state.lock().unwrap().trading_paused = true;
    // What the exchange holds now must become what the monitor shows.
    let expected: Vec<(String, Vec<(String, f64)>)> = demo
        .state
        .lock()
        .unwrap()
        .accounts
        .iter()
        .map(|a| (a.username.clone(), a.positions.clone()))
        .collect();
    assert_ne!(start, expected, "some trades happened");
    let snap = wait_until(&mut rx, Duration::from_secs(10), |s| {
        expected.iter().all(|(user, positions)| {
            books(s).iter().any(|v| {
                v.label == format!("demo/{user}")
                    && positions.iter().all(|(name, size)| {
                        v.positions
                            .iter()
                            .any(|p| p.instrument == *name && (p.size - size).abs() < 1e-9)
                    })
            })
        })
    })
    .await;
    mon.stop().await;
    demo.stop();
    for (user, positions) in &expected {
        let v = books(&snap)
            .into_iter()
            .find(|v| v.label == format!("demo/{user}"))
            .unwrap();
        for (name, size) in positions {
            let got = v
                .positions
                .iter()
                .find(|p| p.instrument == *name)
                .map(|p| p.size);
            assert_eq!(
                got.map(|g| (g - size).abs() < 1e-9),
                Some(true),
                "{user} {name}: {got:?} vs {size}"
            );
        }
    }
}

/// One account's inputs from the running engine.
async fn inputs_of(
    mon: &monitor::Monitor,
    label: &str,
    extra: &[String],
) -> Option<margintop::margin::AccountInputs> {
    let (reply, rx) = tokio::sync::oneshot::channel();
    let query = margintop::engine::live::Query::Inputs {
        label: label.into(),
        currency: "BTC".into(),
        extra: extra.to_vec(),
        reply,
    };
    mon.queries.send(query).await.ok()?;
    rx.await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_hands_out_inputs_and_subscribes_what_if_instruments() {
    use margintop::margin::analysis::Trade;
    use margintop::ui::analysis::{analyse, Request};
    let opts = DemoOptions {
        frozen: true,
        publish_interval: Duration::from_millis(200),
        ..DemoOptions::default()
    };
    let (demo, mon, _rx, snap) = start_desk(opts).await;
    // An option nobody holds: the engine has no quote for it yet.
    let (reply, names) = tokio::sync::oneshot::channel();
    let ask = margintop::engine::live::Query::Instruments { reply };
    mon.queries.send(ask).await.unwrap();
    let names = names.await.unwrap();
    let held: Vec<&str> = snap
        .accounts
        .iter()
        .flat_map(|v| v.positions.iter().map(|p| p.instrument.as_str()))
        .collect();
    let unheld = names
        .iter()
        .find(|n| n.starts_with("BTC-") && n.ends_with("-C") && !held.contains(&n.as_str()))
        .expect("an unheld BTC call")
        .clone();
    let extra = vec![unheld.clone()];
    let (pm_label, sm_label) = ("demo/covered-call", "demo/long-wings");
    let first = inputs_of(&mon, sm_label, &extra).await.unwrap();
    assert!(
        !first.market.quotes.contains_key(&unheld),
        "not subscribed before"
    );
    let mut inputs = first;
    for _ in 0..50 {
        if inputs.market.quotes.contains_key(&unheld) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        inputs = inputs_of(&mon, sm_label, &extra).await.unwrap();
    }
    assert!(
        inputs.market.quotes.contains_key(&unheld),
        "the engine subscribed it"
    );
    let pm_inputs = inputs_of(&mon, pm_label, &[]).await.unwrap();
    assert!(inputs_of(&mon, "demo/nobody", &extra).await.is_none());
    mon.stop().await;
    demo.stop();
    // The inputs are the engine's book: the full recompute gives its margin.
    let view = books(&snap)
        .into_iter()
        .find(|v| v.label == pm_label)
        .unwrap();
    assert_eq!(pm_inputs.account.positions, view.positions);
    let request = |label: &str, trades: Vec<Trade>| Request {
        key: margintop::model::AccountKey::new(label, "BTC"),
        compare: true,
        trades,
        custom: Vec::new(),
    };
    let a = analyse(&pm_inputs, Vec::new(), &request(pm_label, Vec::new()), &[]);
    let (mm, engine_mm) = (
        a.revalued.figures().maintenance_margin.unwrap(),
        view.risk.margin.maintenance_margin,
    );
    assert!(
        (mm - engine_mm).abs() <= 1e-6 * engine_mm,
        "{mm} vs {engine_mm}"
    );
    let own = a.models.iter().find(|m| m.model == view.model).unwrap();
    assert!((own.maintenance_margin - mm).abs() < 1e-12);
    // Selling 10 of the new call on a standard-margin book: Deribit's short
    // call maintenance margin is 0.075 + mark per contract, and the premium
    // received raises the margin balance by 10 × mark.
    assert_eq!(inputs.account.model, "deribit_sm");
    let sell = vec![Trade {
        instrument: unheld.clone(),
        size: -10.0,
    }];
    let a = analyse(&inputs, Vec::new(), &request(sm_label, sell), &[]);
    let w = a.whatif.unwrap();
    assert!(w.missing.is_empty());
    let mark = w
        .after
        .positions()
        .into_iter()
        .find(|p| p.instrument == unheld)
        .unwrap()
        .mark_price;
    let (before, after) = (a.revalued.figures(), w.after.figures());
    let d_mm = after.maintenance_margin.unwrap() - before.maintenance_margin.unwrap();
    assert!(
        (d_mm - 10.0 * (0.075 + mark)).abs() < 1e-9,
        "{d_mm} vs 10 × (0.075 + {mark})"
    );
    let d_mb = after.margin_balance.unwrap() - before.margin_balance.unwrap();
    assert!((d_mb - 10.0 * mark).abs() < 1e-9, "{d_mb} vs 10 × {mark}");
}

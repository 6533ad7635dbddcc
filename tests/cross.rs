//! Cross-collateral accounts (docs/report.md): one entry per exchange
//! account, judged on its totals in USD; collateral revalued with the market.
//!
//! Independent values: the verbatim `get_account_summaries` fixture (its
//! per-currency figures are its USD totals converted at one rate per
//! currency), USD arithmetic done here by hand, and dense scans of the
//! shortfall for liquidation distances.

mod common;

use common::{fixture, instruments, option_quote};
use margintop::engine::{Desk, Ingest};
use margintop::margin::account::{account_risk, value_book, Instruments};
use margintop::margin::analysis::Trade;
use margintop::margin::book::PreparedModel;
use margintop::margin::config::load_models;
use margintop::margin::cross::{cross_liquidation, value_cross, wallets};
use margintop::margin::inputs::CrossInputs;
use margintop::model::valuation::Shock;
use margintop::model::{Account, Collateral, MarketState, Position};
use margintop::report::{build_report, Freshness, Health, Report, ReportOptions, Thresholds};
use serde_json::{json, Value};
use std::sync::Arc;

/// 2022-09-01 08:00 UTC.
const NOW: i64 = 1_662_019_200_000;
const PUT: &str = "BTC-30DEC22-18000-P";
const BTC: f64 = 20_000.0;

// ---------------------------------------------------------------- fixture

/// Half a unit of the last decimal that serde_json prints for `x`: the
/// rounding the exchange's figure may carry.
fn half_unit(x: f64) -> f64 {
    let text = format!("{x}");
    let decimals = text.split('.').nth(1).map_or(0, str::len) as i32;
    0.5 * 10f64.powi(-decimals)
}

fn replay(lines: &[Value]) -> Report {
    let models = load_models(None).unwrap();
    let mut ingest = Ingest::new(Desk::new(models, 0), None);
    for l in lines {
        ingest.line(&l.to_string());
    }
    let as_of = ingest.stats.last_t.unwrap();
    let fresh = |id| {
        Some(Freshness {
            error: ingest.error(id),
            unknown: ingest.unknown_reason(id),
            ..Freshness::from_update(ingest.inputs_t(id), as_of, 60_000)
        })
    };
    let opts = ReportOptions {
        scenarios: &[],
        thresholds: Thresholds::default(),
    };
    build_report(&ingest.desk, &fresh, as_of, &opts)
}

#[test]
fn the_summaries_fixture_is_one_account_with_the_exchanges_totals() {
    let text = std::fs::read_to_string(fixture(
        "deribit/private_get_account_summaries_cross_pm.json",
    ));
    let reply: Value = serde_json::from_str(&text.unwrap()).unwrap();
    let request = json!({"jsonrpc": "2.0", "id": 2515,
        "method": "private/get_account_summaries", "params": {"extended": true}});
    let mut lines = vec![
        json!({"t": 1_778_048_572_500_i64, "dir": "out", "acct": "desk", "msg": request}),
        json!({"t": 1_778_048_572_540_i64, "dir": "in", "acct": "desk", "msg": reply}),
    ];
    // Each wallet holds no position (without the answers it is not known).
    for (id, ccy) in ["BTC", "USDT", "ETH"].iter().enumerate() {
        let id = 3000 + id as i64;
        let ask = json!({"jsonrpc": "2.0", "id": id, "method": "private/get_positions",
            "params": {"currency": ccy}});
        let none = json!({"jsonrpc": "2.0", "id": id, "result": []});
        lines.push(json!({"t": 1_778_048_572_600_i64, "dir": "out", "acct": "desk", "msg": ask}));
        lines.push(json!({"t": 1_778_048_572_650_i64, "dir": "in", "acct": "desk", "msg": none}));
    }
    let report = replay(&lines);
    assert_eq!(report.accounts.len(), 1, "one entry for four wallets");
    let a = &report.accounts[0];
    assert_eq!((a.collateral, a.currency.as_str()), ("cross", "USD"));
    let summaries = reply["result"]["summaries"].as_array().unwrap();
    let total = |k: &str| summaries[0][k].as_f64().unwrap();
    assert_eq!(
        a.exchange.margin_balance_usd,
        Some(total("total_margin_balance_usd"))
    );
    assert_eq!(
        a.exchange.maintenance_margin_usd,
        Some(total("total_maintenance_margin_usd"))
    );
    assert_eq!(
        a.exchange.initial_margin_usd,
        Some(total("total_initial_margin_usd"))
    );
    assert_eq!(a.exchange.equity_usd, Some(total("total_equity_usd")));
    // SOL holds nothing: an empty wallet adds nothing and is left out.
    let listed: Vec<&str> = a.currencies.iter().map(|c| c.currency.as_str()).collect();
    assert_eq!(listed, ["BTC", "USDT", "ETH"]);
    for s in summaries {
        let f = |k: &str| s[k].as_f64().unwrap();
        let ccy = s["currency"].as_str().unwrap();
        let part = a.currencies.iter().find(|c| c.currency == ccy);
        // No index in the recording: the rate is the one the summary implies.
        let rate = match part {
            Some(p) => {
                assert_eq!(p.rate_source, Some("exchange"), "{ccy}");
                assert_eq!(p.exchange.margin_balance, Some(f("margin_balance")));
                assert_eq!(p.balance, f("balance"));
                p.index_price.unwrap()
            }
            None => {
                assert_eq!((f("balance"), f("equity")), (0.0, 0.0), "{ccy}");
                total("total_margin_balance_usd") / f("margin_balance")
            }
        };
        assert!((f("margin_balance") * rate - total("total_margin_balance_usd")).abs() < 1e-9);
        // IM and MM are the same totals at the same rate, to the digits printed.
        for (k, t) in [
            ("initial_margin", "total_initial_margin_usd"),
            ("maintenance_margin", "total_maintenance_margin_usd"),
        ] {
            let off = (f(k) * rate - total(t)).abs();
            assert!(off <= half_unit(f(k)) * rate, "{ccy} {k}: {off}");
        }
        // Deribit's identity, exact on every currency.
        let free = f("margin_balance") - f("initial_margin");
        assert!((f("available_funds") - free).abs() < 1e-9, "{ccy}");
    }
    // Local collateral of a book without positions: each balance at its rate.
    let by_hand: f64 = (summaries.iter())
        .map(|s| {
            let rate = total("total_margin_balance_usd") / s["margin_balance"].as_f64().unwrap();
            s["balance"].as_f64().unwrap() * rate
        })
        .sum();
    assert!((a.margin_balance.unwrap() - by_hand).abs() < 1e-9);
}

#[test]
fn the_portfolio_fixture_marks_the_account_cross_with_its_totals() {
    let text = std::fs::read_to_string(fixture("deribit/user_portfolio_any_cross_sm_usdt.json"));
    let msg: Value = serde_json::from_str(&text.unwrap()).unwrap();
    let lines = [json!({"t": 1_700_000_000_000_i64, "dir": "in", "acct": "desk", "msg": msg})];
    let report = replay(&lines);
    let a = &report.accounts[0];
    assert_eq!(
        (a.collateral, a.margin_model.as_str()),
        ("cross", "deribit_sm")
    );
    let data = &msg["params"]["data"];
    let f = |k: &str| data[k].as_f64().unwrap();
    assert_eq!(
        a.exchange.margin_balance_usd,
        Some(f("total_margin_balance_usd"))
    );
    let part = &a.currencies[0];
    let rate = part.index_price.unwrap();
    assert!((f("margin_balance") * rate - f("total_margin_balance_usd")).abs() < 1e-9);
    let off = (f("initial_margin") * rate - f("total_initial_margin_usd")).abs();
    assert!(off <= half_unit(f("initial_margin")) * rate, "{off}");
}

// ------------------------------------------------------- a book by hand

fn wallet(currency: &str, balance: f64, positions: &[(&str, f64)]) -> Account {
    let mut a = Account::new("x", currency, "deribit_pm");
    a.collateral = Collateral::Cross;
    a.balance = balance;
    for (name, size) in positions {
        a.positions.push(Position {
            instrument: name.to_string(),
            size: *size,
            session_ref_price: None,
        });
    }
    a
}

/// A cross account: a BTC wallet (with `puts` short puts) and a USDC wallet.
fn cross(btc: f64, usdc: f64, puts: f64) -> CrossInputs {
    let insts: Instruments = instruments(&[PUT]);
    let mut market = MarketState::default();
    market.set_index("btc_usd", BTC, NOW);
    option_quote(&mut market, PUT, 0.04, 0.75, BTC, BTC, NOW);
    let positions: Vec<(&str, f64)> = match puts {
        0.0 => vec![],
        n => vec![(PUT, -n)],
    };
    CrossInputs {
        wallets: vec![wallet("BTC", btc, &positions), wallet("USDC", usdc, &[])],
        instruments: insts,
        market,
        models: Arc::new(load_models(None).unwrap()),
        now_ms: NOW,
    }
}

/// Each wallet's risk after BTC moves by `m`, computed here wallet by
/// wallet, with its USD rate: the BTC wallet at the moved index, USDC at par.
fn wallets_by_hand(i: &CrossInputs, m: f64) -> Vec<(margintop::margin::AccountRisk, f64)> {
    (i.wallets.iter())
        .map(|a| {
            let mut model = PreparedModel::new(i.models[&a.model].clone(), &a.currency);
            let shock = |_: &margintop::model::Instrument| Shock::price_move(m);
            let book = value_book(a, &i.instruments, &i.market, &mut model, NOW, &shock);
            let r = account_risk(a, &model, &book.sums, &book.notes, NOW);
            let rate = match a.currency.as_str() {
                "BTC" => BTC * (1.0 + m),
                _ => 1.0,
            };
            (r, rate)
        })
        .collect()
}

/// Total MM minus total collateral in USD after BTC moves by `m`.
fn shortfall_by_hand(i: &CrossInputs, m: f64) -> f64 {
    (wallets_by_hand(i, m).iter())
        .map(|(r, rate)| (r.margin.maintenance_margin - r.margin_balance) * rate)
        .sum()
}

fn dense_scan(i: &CrossInputs, limit: f64, steps: usize) -> Option<f64> {
    (1..=steps)
        .map(|k| limit * k as f64 / steps as f64)
        .find(|&m| shortfall_by_hand(i, m) >= 0.0)
}

/// A desk holding the cross account of `i`.
fn desk_of(i: &CrossInputs) -> Desk {
    let models = load_models(None).unwrap();
    let mut desk = Desk::new(models, 0);
    desk.add_instrument(i.instruments[PUT].clone());
    desk.apply_index("btc_usd", BTC, NOW);
    desk.apply_quote(PUT, i.market.quotes[PUT]);
    for w in &i.wallets {
        let id = desk.add_account(w.clone()).unwrap();
        desk.replace_positions(id, w.positions.clone());
    }
    desk
}

fn report_of(i: &CrossInputs) -> margintop::report::AccountReport {
    let desk = desk_of(i);
    let scenarios = vec![margintop::margin::stress::StressScenario::custom(-0.2, 0.0)];
    let opts = ReportOptions {
        scenarios: &scenarios,
        thresholds: Thresholds::default(),
    };
    let report = build_report(&desk, &|_| Some(Freshness::CURRENT), NOW, &opts);
    assert_eq!(report.accounts.len(), 1);
    report.accounts.into_iter().next().unwrap()
}

#[test]
fn a_currency_in_debt_is_judged_on_the_totals() {
    // 10 short puts; 2 BTC and 30,000 USDC of collateral.
    let healthy = report_of(&cross(2.0, 30_000.0, 10.0));
    let t = value_cross(
        &mut wallets(&cross(2.0, 30_000.0, 10.0)),
        &instruments(&[PUT]),
        &cross(2.0, 30_000.0, 10.0).market,
        NOW,
        &|_| 0.0,
        0.0,
    );
    assert!(
        matches!(healthy.health, Health::Ok | Health::Warning),
        "{:?}",
        healthy.health
    );
    assert!((healthy.mm_ratio.unwrap() - t.mm_ratio().unwrap()).abs() < 1e-12);
    // The same book with the USDC wallet 30,000 in debt: the BTC wallet alone
    // would look fine, the account is past its maintenance margin.
    let debt = report_of(&cross(2.0, -30_000.0, 10.0));
    assert_eq!(debt.health, Health::Liquidation, "{:?}", debt.mm_ratio);
    let btc_alone = cross(2.0, 0.0, 10.0);
    let mut w = wallets(&btc_alone);
    let alone = value_cross(
        &mut w[..1],
        &btc_alone.instruments,
        &btc_alone.market,
        NOW,
        &|_| 0.0,
        0.0,
    );
    assert!(
        alone.mm_ratio().unwrap() < 1.0,
        "the BTC wallet alone is not liquidating"
    );
    // Moving 10,000 USD of collateral from USDC to BTC changes nothing.
    let split = report_of(&cross(2.5, 20_000.0, 10.0));
    assert!((split.margin_balance.unwrap() - healthy.margin_balance.unwrap()).abs() < 1e-6);
    assert!((split.maintenance_margin.unwrap() - healthy.maintenance_margin.unwrap()).abs() < 1e-6);
    assert_eq!(split.health, healthy.health);
}

#[test]
fn a_btc_balance_loses_its_share_of_a_fall() {
    let only_btc = report_of(&cross(3.0, 0.0, 0.0));
    let collateral = only_btc.margin_balance.unwrap();
    assert!((collateral - 3.0 * BTC).abs() < 1e-9);
    let s = &only_btc.stress[0];
    assert!(
        (s.pnl.unwrap() + 0.2 * collateral).abs() < 1e-9,
        "{:?}",
        s.pnl
    );
    assert!((s.margin_balance.unwrap() - 0.8 * collateral).abs() < 1e-9);
    // USDC keeps its value in the same fall.
    let only_usdc = report_of(&cross(0.0, 60_000.0, 0.0));
    assert!(only_usdc.stress[0].pnl.unwrap().abs() < 1e-9);
}

#[test]
fn short_puts_backed_by_btc_breach_before_the_same_backed_by_usdc() {
    // Equal USD collateral now: 3 BTC, or 60,000 USDC.
    let by_btc = cross(3.0, 0.0, 12.0);
    let by_usdc = cross(0.0, 60_000.0, 12.0);
    let down = |i: &CrossInputs| {
        let mut w = wallets(i);
        cross_liquidation(&mut w, &i.instruments, &i.market, NOW).down_move
    };
    let (btc, usdc) = (down(&by_btc).unwrap(), down(&by_usdc).unwrap());
    assert!(btc > usdc, "BTC-backed breaches first: {btc} vs {usdc}");
    let limit = load_models(None).unwrap()["deribit_pm"]
        .liquidation_search()
        .down;
    for (i, got) in [(&by_btc, btc), (&by_usdc, usdc)] {
        let scan = dense_scan(i, -limit, 4000).unwrap();
        assert!(
            (got - scan).abs() <= limit / 4000.0 + 1e-6,
            "{got} vs {scan}"
        );
        assert!(shortfall_by_hand(i, got) >= 0.0 && shortfall_by_hand(i, got + 1e-4) < 0.0);
    }
    let report = report_of(&by_btc);
    assert!((report.liquidation.down_price.unwrap() - BTC * (1.0 + btc)).abs() < 1e-6);
}

/// The account screens' revaluation of the BTC wallet's account, with
/// `trades` as a what-if and a 20 % fall as the one scenario.
fn screens_analysis(i: &CrossInputs, trades: Vec<Trade>) -> margintop::ui::analysis::Analysis {
    let desk = desk_of(i);
    let ids = ["BTC", "USDC"].map(|c| desk.find_account("x", c).unwrap());
    let wallets = ids.iter().map(|&id| desk.inputs(id, &[])).collect();
    let req = margintop::ui::analysis::Request {
        key: margintop::model::AccountKey::new("x", "BTC"),
        compare: false,
        trades,
        custom: Vec::new(),
    };
    let scenarios = [margintop::margin::stress::StressScenario::custom(-0.2, 0.0)];
    margintop::ui::analysis::analyse(&desk.inputs(ids[0], &[]), wallets, &req, &scenarios)
}

#[test]
fn the_screens_show_a_cross_accounts_stress_and_what_if_in_usd() {
    // 3 BTC of collateral alone: a 20 % fall costs 0.2 × 3 × BTC dollars,
    // on the stress screen as in the report (not that times the BTC price).
    let a = screens_analysis(&cross(3.0, 0.0, 0.0), Vec::new());
    assert!(a.revalued.in_usd());
    let pnl = a.revalued.stress()[0].pnl.unwrap();
    assert!((pnl + 0.2 * 3.0 * BTC).abs() < 1e-9, "{pnl}");
    // Buying back 2 of 12 short puts at their mark: the account's USD
    // equity does not move, its USD requirement falls; before and after
    // are both the account's totals (the wallet alone was compared before).
    let buy_back = vec![Trade {
        instrument: PUT.into(),
        size: 2.0,
    }];
    let book = cross(0.0, 60_000.0, 12.0);
    let a = screens_analysis(&book, buy_back);
    let after = a.whatif.as_ref().unwrap().after.figures();
    let before = a.revalued.figures();
    let by_hand = equity_usd_by_hand(&book, 0.0);
    assert!((before.equity.unwrap() - by_hand).abs() < 1e-6);
    assert!((after.equity.unwrap() - by_hand).abs() < 1e-6, "{after:?}");
    let (mm0, mm1) = (before.maintenance_margin, after.maintenance_margin);
    assert!(mm1.unwrap() < mm0.unwrap(), "{mm0:?} → {mm1:?}");
    // In USD: 12 short puts on 60,000 USDC need thousands of dollars.
    assert!(mm1.unwrap() > 100.0, "{mm1:?}");
}

// ------------------------------------------------- the engine's desk rows

/// The shipped sample with `pm-vol-seller` (4 BTC, short calls, hedged) in
/// cross mode beside a USDC wallet holding `usdc`; the other accounts out.
fn sample_cross(usdc: f64) -> Vec<margintop::exchange::recording::RecordLine> {
    sample_cross_with(usdc, true, None)
}

/// The same, with or without the USDC positions answer, and with the
/// exchange's totals (MM, margin balance in USD) in every summary.
fn sample_cross_with(
    usdc: f64,
    usdc_positions: bool,
    totals: Option<(f64, f64)>,
) -> Vec<margintop::exchange::recording::RecordLine> {
    let path = format!(
        "{}/config/samples/deribit_2022-06-02.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut lines: Vec<Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &Value| matches!(l["acct"].as_str(), Some("market" | "pm-vol-seller")))
        .collect();
    let mut usdc_summary = Value::Null;
    for l in lines.iter_mut() {
        let r = &mut l["msg"]["result"];
        if r.get("margin_model").is_some() {
            r["margin_model"] = json!("cross_pm");
            r["cross_collateral_enabled"] = json!(true);
            if let Some((mm, mb)) = totals {
                r["total_maintenance_margin_usd"] = json!(mm);
                r["total_margin_balance_usd"] = json!(mb);
                r["total_initial_margin_usd"] = json!(mm * 1.25);
                r["total_equity_usd"] = json!(mb);
            }
            usdc_summary = r.clone();
        }
    }
    usdc_summary["currency"] = json!("USDC");
    usdc_summary["balance"] = json!(usdc);
    let t = 1_654_161_841_700_i64;
    let acct = "pm-vol-seller";
    let mut answers = vec![(91, "private/get_account_summary", usdc_summary)];
    if usdc_positions {
        answers.push((90, "private/get_positions", json!([])));
    }
    for (id, method, result) in answers {
        let ask =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {"currency": "USDC"}});
        lines.push(json!({"t": t, "dir": "out", "acct": acct, "msg": ask}));
        let answer = json!({"jsonrpc": "2.0", "id": id, "result": result});
        lines.push(json!({"t": t + 10, "dir": "in", "acct": acct, "msg": answer}));
    }
    lines
        .iter()
        .map(|l| margintop::exchange::recording::RecordLine::parse(&l.to_string()).unwrap())
        .collect()
}

/// The desk rows of the cross account after the engine took in `lines`.
fn rows(lines: Vec<margintop::exchange::recording::RecordLine>) -> Vec<(String, Health)> {
    let snap = engine_snapshot(lines);
    let t = Thresholds::default();
    (snap.accounts.iter())
        .filter(|v| v.label == "pm-vol-seller")
        .map(|v| (v.currency.clone(), v.health(&t)))
        .collect()
}

/// The engine's snapshot after it took in `lines`, at the last line's time.
fn engine_snapshot(
    lines: Vec<margintop::exchange::recording::RecordLine>,
) -> margintop::engine::live::Snapshot {
    use margintop::engine::live::{Engine, EngineSettings};
    use margintop::exchange::feed::Feed;
    let ingest = Ingest::new(Desk::new(load_models(None).unwrap(), 0), None);
    let settings = EngineSettings {
        recording_clock: true,
        stale_after_ms: 600_000,
        ..EngineSettings::default()
    };
    let recorder: Option<margintop::exchange::recording::Recorder<std::io::Sink>> = None;
    let mut engine = Engine::new(ingest, settings, Default::default(), recorder);
    let last = lines.iter().map(|l| l.t).max().unwrap();
    for l in lines {
        engine.apply(Feed::Line(l));
    }
    engine.snapshot(last)
}

/// A cross account's maintenance margin is tracked on its USD totals,
/// against the exchange's `total_maintenance_margin_usd`, and every wallet
/// row carries the account's tracking.
#[test]
fn a_cross_accounts_mm_is_tracked_on_its_usd_totals() {
    let local_mm_usd = |snap: &margintop::engine::live::Snapshot| {
        let v = (snap.accounts.iter())
            .find(|v| v.label == "pm-vol-seller")
            .unwrap();
        v.cross.as_ref().unwrap().maintenance_margin_usd
    };
    let local = local_mm_usd(&engine_snapshot(sample_cross(500_000.0)));
    assert!(local > 0.0);
    // The exchange asks 25 % more: a gap of −20 % of its figure.
    let lines = sample_cross_with(500_000.0, true, Some((local * 1.25, 1e6)));
    let snap = engine_snapshot(lines);
    assert_eq!(local_mm_usd(&snap), local);
    let wallets: Vec<_> = (snap.accounts.iter())
        .filter(|v| v.label == "pm-vol-seller")
        .collect();
    assert_eq!(wallets.len(), 2);
    for v in wallets {
        let t = v.mm_tracking.expect("tracked");
        assert_eq!(t.reports, 1, "{}: {t:?}", v.currency);
        assert!((t.last + 0.2).abs() < 1e-12, "{}: {t:?}", v.currency);
    }
}

#[test]
fn every_wallet_row_carries_the_accounts_verdict() {
    // Alone, the BTC wallet is at about 70 % (the sample's WARNING).
    let rich = rows(sample_cross(500_000.0));
    assert_eq!(rich.len(), 2, "{rich:?}");
    assert!(rich.iter().all(|(_, h)| *h == Health::Ok), "{rich:?}");
    // 150,000 USDC of debt (about 5 BTC): the account is past its MM, and so
    // reads every one of its rows, the BTC one included.
    let debt = rows(sample_cross(-150_000.0));
    assert!(
        debt.iter().all(|(_, h)| *h == Health::Liquidation),
        "{debt:?}"
    );
}

/// The account's USD equity after BTC moves by `m`.
fn equity_usd_by_hand(i: &CrossInputs, m: f64) -> f64 {
    (wallets_by_hand(i, m).iter())
        .map(|(r, rate)| r.equity * rate)
        .sum()
}

#[test]
fn each_coins_fall_is_priced_on_the_whole_account() {
    for book in [
        cross(3.0, 0.0, 0.0),
        cross(0.0, 60_000.0, 12.0),
        cross(3.0, 0.0, 12.0),
    ] {
        let report = report_of(&book);
        let btc = report
            .currencies
            .iter()
            .find(|c| c.currency == "BTC")
            .unwrap();
        let usdc = report
            .currencies
            .iter()
            .find(|c| c.currency == "USDC")
            .unwrap();
        let by_hand = equity_usd_by_hand(&book, -0.1) - equity_usd_by_hand(&book, 0.0);
        let got = btc.pnl_usd_coin_down_10pct.unwrap();
        assert!((got - by_hand).abs() < 1e-6, "{got} vs {by_hand}");
        assert_eq!(
            usdc.pnl_usd_coin_down_10pct, None,
            "a stable coin does not move"
        );
    }
    // A balance alone: exactly a tenth of its value.
    let only_btc = report_of(&cross(3.0, 0.0, 0.0));
    let btc = &only_btc.currencies[0];
    assert!((btc.pnl_usd_coin_down_10pct.unwrap() + 0.1 * 3.0 * BTC).abs() < 1e-9);
}

#[test]
fn the_config_can_force_cross_collateral() {
    // The sample's segregated account, declared cross in the configuration.
    let path = format!(
        "{}/config/samples/deribit_2022-06-02.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let models = load_models(None).unwrap();
    let mut ingest = Ingest::new(Desk::new(models, 0), None);
    ingest
        .label_collateral
        .insert("pm-vol-seller".into(), Collateral::Cross);
    for l in text.lines() {
        ingest.line(l);
    }
    let id = ingest.desk.find_account("pm-vol-seller", "BTC").unwrap();
    assert_eq!(ingest.desk.account(id).collateral, Collateral::Cross);
    let other = ingest.desk.find_account("pm-covered-call", "BTC").unwrap();
    assert_eq!(
        ingest.desk.account(other).collateral,
        Collateral::Segregated
    );
    let err = margintop::config::Config::parse(
        "[[accounts]]\nlabel = \"a\"\ncollateral = \"shared\"\n",
        "t",
    )
    .unwrap_err();
    assert!(err.contains("auto, cross or segregated"), "{err}");
}

#[test]
fn with_a_wallet_unknown_the_desk_row_stands_on_the_exchanges_totals() {
    // No positions answer for USDC: the local totals are not complete.
    let ok = rows(sample_cross_with(
        500_000.0,
        false,
        Some((10_000.0, 100_000.0)),
    ));
    assert!(ok.iter().all(|(_, h)| *h == Health::Ok), "{ok:?}");
    let breach = rows(sample_cross_with(
        500_000.0,
        false,
        Some((120_000.0, 100_000.0)),
    ));
    assert!(
        breach.iter().all(|(_, h)| *h == Health::Liquidation),
        "{breach:?}"
    );
    // Neither local nor exchange totals: unknown, never a verdict.
    let none = rows(sample_cross_with(500_000.0, false, None));
    assert!(none.iter().all(|(_, h)| *h == Health::Unknown), "{none:?}");
}

#[test]
fn check_judges_a_cross_account_once_on_its_totals() {
    let path = std::env::temp_dir().join(format!("margintop-cross-{}.jsonl", std::process::id()));
    for (usdc, code, verdict) in [(500_000.0, 0, " OK "), (-150_000.0, 2, " LIQUIDATION ")] {
        let text: String = sample_cross(usdc)
            .iter()
            .map(|l| l.to_json() + "\n")
            .collect();
        std::fs::write(&path, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_margintop"))
            .args(["check", "--replay"])
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "one line for the account: {stdout}");
        assert!(
            lines[0].starts_with("pm-vol-seller USD deribit_pm"),
            "{stdout}"
        );
        assert!(lines[0].contains(verdict), "{stdout}");
        assert_eq!(out.status.code(), Some(code), "{stdout}");
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn all_currencies_summaries_add_wallets_only_to_cross_accounts() {
    let text = std::fs::read_to_string(fixture(
        "deribit/private_get_account_summaries_response.json",
    ));
    let reply: Value = serde_json::from_str(&text.unwrap()).unwrap();
    let ask = json!({"jsonrpc": "2.0", "id": reply["id"], "method": "private/get_account_summaries",
        "params": {"extended": true}});
    // A segregated account watched in BTC only: its ETH wallet stays out.
    let btc_only = json!({"jsonrpc": "2.0", "id": 7, "method": "private/get_positions",
        "params": {"currency": "BTC"}});
    let lines = [
        json!({"t": 1_000, "dir": "out", "acct": "desk", "msg": btc_only}),
        json!({"t": 1_010, "dir": "in", "acct": "desk", "msg": {"jsonrpc": "2.0", "id": 7, "result": []}}),
        json!({"t": 1_020, "dir": "out", "acct": "desk", "msg": ask}),
        json!({"t": 1_030, "dir": "in", "acct": "desk", "msg": reply}),
    ];
    let report = replay(&lines);
    let wallets: Vec<&str> = report
        .accounts
        .iter()
        .map(|a| a.currency.as_str())
        .collect();
    assert_eq!(wallets, ["BTC"], "segregated: only the watched currency");
    let btc = &report.accounts[0];
    let summaries = reply["result"]["summaries"].as_array().unwrap();
    assert_eq!(btc.balance, summaries[0]["balance"].as_f64());
    assert_eq!(btc.collateral, "segregated");
}

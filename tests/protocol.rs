//! Every verbatim Deribit fixture parses, classifies and normalizes.

mod common;

use common::fixture;
use margintop::exchange::deribit::protocol::{classify, Incoming};
use margintop::exchange::deribit::{normalize, Event};
use serde_json::Value;

/// The method of the request a response fixture answers, from its name.
fn method_for(name: &str) -> Option<&'static str> {
    [
        ("public_get_instruments", "public/get_instruments"),
        ("public_get_instrument_", "public/get_instrument"),
        ("public_ticker", "public/ticker"),
        ("private_get_positions", "private/get_positions"),
        (
            "private_get_account_summary_",
            "private/get_account_summary",
        ),
        (
            "private_get_account_summaries",
            "private/get_account_summaries",
        ),
        ("private_get_subaccounts", "private/get_subaccounts"),
        ("public_auth", "public/auth"),
        ("public_subscribe", "public/subscribe"),
        ("private_subscribe", "private/subscribe"),
    ]
    .iter()
    .find(|(prefix, _)| name.starts_with(prefix))
    .map(|(_, m)| *m)
}

#[test]
fn every_fixture_parses_and_normalizes_without_error() {
    let dir = fixture("deribit");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 60, "{}", files.len());
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let msg: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let _ = classify(&msg);
        if name.contains("ccxt") {
            continue; // ccxt's stringified numbers are not the wire format (SOURCES.md)
        }
        normalize(&msg, method_for(&name)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
}

fn events(file: &str, method: Option<&str>) -> Vec<Event> {
    let msg: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("deribit/{file}"))).unwrap(),
    )
    .unwrap();
    normalize(&msg, method).unwrap()
}

#[test]
fn what_the_monitor_reads_from_each_message() {
    match &events("ticker_option_100ms.json", None)[..] {
        [Event::Quote { instrument, quote }] => {
            assert_eq!(instrument, "BTC-30SEP22-60000-C");
            assert_eq!(quote.mark_iv, Some(0.677), "percent becomes a fraction");
            assert_eq!(quote.underlying_price, Some(30220.5));
            assert_eq!(quote.timestamp, 1654161839367);
        }
        other => panic!("{other:?}"),
    }
    // A future's ticker carries the price its session P&L is measured from.
    match &events("ticker_future_100ms.json", None)[..] {
        [Event::Settlement { instrument, price }, Event::Quote { quote, .. }] => {
            assert_eq!((instrument.as_str(), *price), ("BTC-30SEP22", 30225.47));
            assert_eq!(quote.mark_price, 30218.9);
        }
        other => panic!("{other:?}"),
    }
    // An error answer to a private request about one currency is said, not dropped.
    match &events(
        "error_invalid_params_-32602.json",
        Some("private/get_positions"),
    )[..]
    {
        [Event::Refused { code, message, .. }] => {
            assert_eq!(*code, -32602);
            assert_eq!(message, "Invalid params: invalid format (nonce)");
        }
        other => panic!("{other:?}"),
    }
    assert!(events("error_invalid_params_-32602.json", Some("public/ticker")).is_empty());
    assert!(
        matches!(&events("deribit_price_index_btc_usd.json", None)[..], [Event::Index { price, .. }] if *price == 3937.89)
    );
    let marks = events("markprice_options_btc_usd.json", None);
    assert!(
        marks.len() == 5
            && marks
                .iter()
                .all(|e| matches!(e, Event::MarkIv { iv, .. } if *iv == 0.9))
    );
    match &events("user_portfolio_btc.json", None)[..] {
        [Event::Balance(b)] => {
            assert_eq!(
                (b.balance, b.margin_model.as_deref()),
                (302.60065765, Some("segregated_sm"))
            );
            assert_eq!(b.maintenance_margin, Some(0.8854841));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&events("user_changes_future_btc_raw.json", None)[..],
        [Event::PositionChanges { positions }] if positions[0].size == 185160.0)
    );
    assert!(
        matches!(&events("private_get_positions_response.json", Some("private/get_positions"))[..],
        [Event::Positions { positions, .. }] if positions[0].instrument == "BTC-PERPETUAL" && positions[0].session_ref_price == Some(7476.65))
    );
    assert!(
        matches!(&events("public_get_instruments_future_response.json", Some("public/get_instruments"))[..],
        [Event::Instruments(list)] if list.len() == 2)
    );
    match &events(
        "private_get_account_summary_response.json",
        Some("private/get_account_summary"),
    )[..]
    {
        [Event::Balance(b)] => assert_eq!(b.initial_margin, Some(1.24669592)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_and_heartbeats_classify() {
    let read = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(fixture(&format!("deribit/{f}"))).unwrap())
            .unwrap()
    };
    assert!(matches!(
        classify(&read("heartbeat_test_request.json")),
        Incoming::TestRequest
    ));
    assert!(matches!(
        classify(&read("heartbeat_heartbeat.json")),
        Incoming::Other
    ));
    assert!(
        matches!(classify(&read("error_too_many_requests_10028.json")), Incoming::Response { id: 42, result: Err(e) } if e.code == 10028)
    );
    assert!(
        matches!(classify(&read("error_invalid_credentials_13004.json")), Incoming::OrphanError(e) if e.code == 13004)
    );
    assert!(
        matches!(classify(&read("error_request_entity_too_large_-32600.json")), Incoming::OrphanError(e) if e.code == -32600)
    );
    assert!(matches!(
        classify(&read("public_subscribe_response.json")),
        Incoming::Response { result: Ok(_), .. }
    ));
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    for text in [
        r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.X.100ms","data":{"mark_price":1}}}"#,
        r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"deribit_price_index.btc_usd","data":{"price":"x"}}}"#,
        r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"markprice.options.btc_usd","data":{}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"not":"a list"}}"#,
    ] {
        let v: Value = serde_json::from_str(text).unwrap();
        assert!(
            normalize(&v, Some("private/get_positions")).is_err(),
            "{text}"
        );
    }
}

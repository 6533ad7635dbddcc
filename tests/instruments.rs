//! Instrument names and records.

mod common;

use common::*;
use margintop::model::{Instrument, InstrumentSpec, Kind, Settlement};
use margintop::pricing::OptionType;

#[test]
fn names_of_every_kind() {
    let o = Instrument::parse("BTC-27DEC24-60000-C").unwrap();
    assert_eq!(
        (
            o.base.as_str(),
            o.settlement_currency.as_str(),
            o.index_name.as_str()
        ),
        ("BTC", "BTC", "btc_usd")
    );
    assert_eq!(o.settlement, Settlement::Inverse);
    assert!(
        matches!(o.kind, Kind::Option { option_type: OptionType::Call, strike, .. } if strike == 60000.0)
    );
    assert_eq!(o.contract_size, 1.0);

    let p = Instrument::parse("BTC-4FEB26-76000-P").unwrap();
    // 2026-02-04 08:00 UTC.
    assert_eq!(p.expiry_ms(), Some(1_770_192_000_000));

    let x = Instrument::parse("XRP_USDC-30MAY25-0d625-C").unwrap();
    assert_eq!(x.settlement, Settlement::Linear);
    assert_eq!(
        (x.settlement_currency.as_str(), x.index_name.as_str()),
        ("USDC", "xrp_usdc")
    );
    assert!(matches!(x.kind, Kind::Option { strike, .. } if strike == 0.625));

    let f = Instrument::parse("ETH-27DEC24").unwrap();
    assert!(matches!(f.kind, Kind::Future { .. }));
    assert_eq!(f.contract_size, 1.0);
    let perp = Instrument::parse("BTC-PERPETUAL").unwrap();
    assert_eq!((perp.kind, perp.contract_size), (Kind::Perpetual, 10.0));
    let lin = Instrument::parse("BTC_USDC-PERPETUAL").unwrap();
    assert_eq!(
        (lin.settlement, lin.kind),
        (Settlement::Linear, Kind::Perpetual)
    );
}

#[test]
fn bad_names_say_what_is_wrong() {
    for (name, says) in [
        ("", "empty"),
        ("BTC", "spot"),
        ("BTC-32DEC24", "calendar day"),
        ("BTC-29FEB25", "calendar day"),
        ("BTC-27DEX24", "DDMMMYY"),
        ("BTC-27DEC24-abc-C", "not a number"),
        ("BTC-27DEC24-0-C", "positive"),
        ("BTC-27DEC24-60000-X", "not C or P"),
        ("BTC-STRD-30SEP22-20000", "combo"),
        ("BTC-27DEC24-1-2-3-4", "expected"),
        ("_USDC-PERPETUAL", "pair"),
    ] {
        let err = Instrument::parse(name).unwrap_err();
        assert!(err.to_string().contains(says), "{name}: {err}");
    }
    assert!(
        Instrument::parse("BTC-29FEB24").is_ok(),
        "2024 is a leap year"
    );
}

#[test]
fn records_from_get_instruments_override_defaults() {
    let reply = read_json("deribit/public_get_instruments_future_response.json");
    for entry in reply["result"].as_array().unwrap() {
        let spec: InstrumentSpec = serde_json::from_value(entry.clone()).unwrap();
        let inst = Instrument::from_spec(&spec).unwrap();
        assert_eq!(inst.contract_size, entry["contract_size"].as_f64().unwrap());
        if let Some(e) = inst.expiry_ms() {
            assert_eq!(e, entry["expiration_timestamp"].as_i64().unwrap());
        }
    }
    let reply = read_json("deribit/public_get_instrument_option_response.json");
    let spec: InstrumentSpec = serde_json::from_value(reply["result"].clone()).unwrap();
    let inst = Instrument::from_spec(&spec).unwrap();
    assert_eq!(inst.expiry_ms(), Some(1_673_596_800_000));
    assert_eq!(inst.index_name, "btc_usd");
}

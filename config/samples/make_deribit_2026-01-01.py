#!/usr/bin/env python3
"""Write deribit_2026-01-01.jsonl (see README.md here) from the repository's
own files: the real option chain snapshot of 2026-01-01 09:18:35 UTC in
tests/fixtures/data and Deribit's verbatim message shapes in
tests/fixtures/deribit. The books and balances are made up.

Run from the repository root: python3 config/samples/make_deribit_2026-01-01.py
"""
import csv
import json
from datetime import datetime

FIX = "tests/fixtures/deribit/"
CHAIN = "tests/fixtures/data/deribit_options_snapshot_20260101T091835Z.csv"
OUT = "config/samples/deribit_2026-01-01.jsonl"
# The snapshot's time, and BTC-PERPETUAL's mark then (the one-minute candle
# nearest the snapshot, in ../shared/data/deribit/options_chain/
# perpetual_futures_prices.csv).
T0 = 1_767_259_115_000
PERPETUAL_MARK = 87831.5

# Made-up books: (label, margin model, balance BTC, [(instrument, size)]).
# Option sizes in BTC, the perpetual's in USD; negative = short.
ACCOUNTS = [
    ("pm-vol-seller", "segregated_pm", 6.0, [
        ("BTC-30JAN26-100000-C", -25.0),
        ("BTC-30JAN26-75000-P", -25.0),
        ("BTC-27MAR26-120000-C", 10.0),
        ("BTC-27MAR26-65000-P", 10.0),
    ]),
    ("pm-calendar", "segregated_pm", 3.0, [
        ("BTC-27MAR26-88000-C", 20.0),
        ("BTC-27MAR26-88000-P", 20.0),
        ("BTC-30JAN26-88000-C", -20.0),
        ("BTC-30JAN26-88000-P", -20.0),
    ]),
    ("sm-covered-call", "segregated_sm", 3.0, [
        ("BTC-PERPETUAL", 500_000.0),
        ("BTC-27FEB26-100000-C", -5.0),
    ]),
]


def load(name):
    with open(FIX + name) as f:
        return json.load(f)


def ms(iso):
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def chain():
    with open(CHAIN) as f:
        return {r["instrument_name"]: r for r in csv.DictReader(f)}


class Recording:
    def __init__(self):
        self.lines = []
        self.next_id = 1

    def line(self, t, direction, acct, msg):
        self.lines.append({"t": t, "dir": direction, "acct": acct, "msg": msg})

    def ask(self, t, acct, method, params, result):
        i = self.next_id
        self.next_id += 1
        self.line(t, "out", acct, {"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        self.line(t + 40, "in", acct, {"jsonrpc": "2.0", "id": i, "result": result})

    def notify(self, t, acct, channel, data):
        msg = {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}}
        self.line(t, "in", acct, msg)


def option_instrument(row, template):
    i = dict(template)
    name = row["instrument_name"]
    i.update(
        instrument_name=name,
        strike=float(row["strike"]),
        option_type=row["option_type"],
        expiration_timestamp=ms(row["expiry_datetime"]),
        settlement_period="month",
        creation_timestamp=T0 - 90 * 86_400_000,
    )
    i.pop("instrument_id", None)
    return i


def option_ticker(row, template, t):
    d = json.loads(json.dumps(template))
    d.update(
        instrument_name=row["instrument_name"],
        timestamp=t,
        mark_price=float(row["mark_price"]),
        mark_iv=round(float(row["implied_volatility"]) * 100, 4),
        underlying_price=float(row["futures_price"]),
        underlying_index=row["futures_instrument_name"],
        index_price=float(row["index_price"]),
        estimated_delivery_price=float(row["index_price"]),
    )
    # The snapshot has no quotes or Greeks of these: none are made up.
    for k in ["greeks", "best_bid_price", "best_ask_price", "best_bid_amount",
              "best_ask_amount", "bid_iv", "ask_iv", "last_price", "stats",
              "settlement_price", "open_interest", "min_price", "max_price"]:
        d.pop(k, None)
    return d


def main():
    rows = chain()
    held = sorted({n for _, _, _, book in ACCOUNTS for n, _ in book})
    options = [n for n in held if n.count("-") == 3]
    index = float(rows[options[0]]["index_price"])
    rec = Recording()
    # Instruments, as the market connection asks for them.
    futures = [i for i in load("public_get_instruments_future_response.json")["result"]
               if i["instrument_name"] == "BTC-PERPETUAL"]
    rec.ask(T0, "market", "public/get_instruments", {"currency": "BTC", "kind": "future"}, futures)
    template = load("public_get_instrument_option_response.json")["result"]
    rec.ask(T0 + 100, "market", "public/get_instruments", {"currency": "BTC", "kind": "option"},
            [option_instrument(rows[n], template) for n in options])
    # One ticker per held instrument and the index, all from the snapshot.
    t = T0 + 200
    perpetual = load("ticker_perpetual_100ms_2025.json")["params"]["data"]
    perpetual.update(timestamp=T0, index_price=index, mark_price=PERPETUAL_MARK,
                     estimated_delivery_price=index)
    for k in ["best_ask_price", "best_bid_price", "best_ask_amount", "best_bid_amount",
              "last_price", "settlement_price", "min_price", "max_price", "stats"]:
        perpetual.pop(k, None)
    rec.notify(t, "market", "ticker.BTC-PERPETUAL.100ms", perpetual)
    option = load("ticker_option_100ms.json")["params"]["data"]
    for n in options:
        t += 20
        rec.notify(t, "market", f"ticker.{n}.100ms", option_ticker(rows[n], option, T0))
    t += 20
    index_data = {"index_name": "btc_usd", "price": index, "timestamp": T0}
    rec.notify(t, "market", "deribit_price_index.btc_usd", index_data)
    # Each account's positions and summary (margin and P&L fields left out:
    # the exchange's figures for made-up books are not known).
    position = load("private_get_positions_response.json")["result"][0]
    summary = load("private_get_account_summary_response.json")["result"]
    for k in ["available_funds", "available_withdrawal_funds", "delta_total", "delta_total_map",
              "equity", "estimated_liquidation_ratio", "estimated_liquidation_ratio_map",
              "futures_pl", "futures_session_upl", "initial_margin", "maintenance_margin",
              "margin_balance", "options_pl", "options_session_upl", "options_value",
              "projected_initial_margin", "projected_maintenance_margin", "session_upl",
              "total_pl"]:
        summary.pop(k, None)
    t = T0 + 1_000
    for label, model, balance, book in ACCOUNTS:
        positions = []
        for name, size in book:
            p = dict(position)
            future = name == "BTC-PERPETUAL"
            price = PERPETUAL_MARK if future else float(rows[name]["mark_price"])
            p.update(instrument_name=name, size=size, kind="future" if future else "option",
                     direction="buy" if size > 0 else "sell", average_price=price,
                     settlement_price=price, mark_price=price, index_price=index)
            positions.append(p)
        rec.ask(t, label, "private/get_positions", {"currency": "BTC"}, positions)
        s = dict(summary)
        s.update(balance=balance, margin_model=model, currency="BTC", futures_session_rpl=0.0)
        rec.ask(t + 100, label, "private/get_account_summary",
                {"currency": "BTC", "extended": True}, s)
        t += 200
    with open(OUT, "w") as f:
        for line in rec.lines:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()

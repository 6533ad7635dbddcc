#!/usr/bin/env python3
"""The yardstick of issue 15: a vectorized numpy replay of a desk recording.

Reads a recording written by `margintop bench --write-desk` line by line with
`json`, keeps every account's positions, every ticker and every index price,
and computes each account's Deribit portfolio margin (IM and MM) with numpy:
the 27-scenario risk matrix and the extended table, the time-scaled vol
shock, dampeners and gain offsets, the roll shock per expiry and the delta
shock, with the parameters of config/models/deribit_pm.toml. No stress, no
liquidation distance: margintop computes both on top of this.

By default the desk is margined again after every index tick, as a monitor
would (`--once`: only at the end of the file). `--check report.json` compares
the final IM/MM with `margintop report --replay FILE --json`.

    pip install numpy scipy
    margintop bench --write-desk desk.jsonl
    python3 benches/numpy_desk.py desk.jsonl
    margintop report --replay desk.jsonl --json > report.json
    python3 benches/numpy_desk.py desk.jsonl --check report.json

Only what such a desk holds is understood: coin-settled (inverse) options and
perpetuals on btc_usd and eth_usd under deribit_pm; anything else stops the
script with an error rather than a wrong figure.
"""

import argparse
import datetime
import json
import sys
import time

import numpy as np
from scipy.special import ndtr

MS_PER_YEAR = 365.0 * 86_400_000.0
PIVOT_DAYS = 30.0
SHORT_POWER, LONG_POWER = 0.3, 0.13
BUCKETS = 4
EXTENDED_MOVES = [-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0]
MM_FACTOR = 0.8
DELTA_THRESHOLD_USD = 20_000_000.0
MAX_DELTA_SHOCK = 0.1

# deribit_pm's [pairs.*] and [currencies.*] that this desk uses.
PAIRS = {
    "btc_usd": dict(range=0.16, up=0.5, down=0.25, min_up=0.5, ext_factor=1.0),
    "eth_usd": dict(range=0.18, up=0.4, down=0.25, min_up=0.5, ext_factor=1.0),
}
CURRENCIES = {
    "btc_usd": dict(move_risk=0.075, min_move=0.01, dampener=100_000.0, offset=0.0, cap=0.0),
    "eth_usd": dict(move_risk=0.05, min_move=0.005, dampener=200_000.0, offset=0.6, cap=20_000_000.0),
}
MONTHS = {m: i + 1 for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])}


def expiry_ms(code):
    """`14AUG26` -> 08:00 UTC of that day."""
    day, month, year = int(code[:-5]), MONTHS[code[-5:-2]], 2000 + int(code[-2:])
    when = datetime.datetime(year, month, day, 8, tzinfo=datetime.timezone.utc)
    return int(when.timestamp() * 1000)


def parse_instrument(name):
    parts = name.split("-")
    if parts[0] not in ("BTC", "ETH"):
        sys.exit(f"numpy_desk: {name}: only BTC and ETH coin-settled instruments are understood")
    index = parts[0].lower() + "_usd"
    if parts[1] == "PERPETUAL":
        return dict(index=index, option=False, call=False, strike=0.0, expiry=None)
    if len(parts) != 4 or parts[3] not in ("C", "P"):
        sys.exit(f"numpy_desk: {name}: dated futures are not understood")
    return dict(index=index, option=True, call=parts[3] == "C",
                strike=float(parts[2]), expiry=expiry_ms(parts[1]))


def scenarios(pair, currency):
    """(price move, vol slot 0 up / 1 same / 2 down, weight, dampener USD)."""
    r = pair["range"]
    out = [(r * b / BUCKETS, v, 1.0, 0.0)
           for b in range(-BUCKETS, BUCKETS + 1) for v in (0, 1, 2)]
    for m in EXTENDED_MOVES:
        edge = 1.0 + np.sign(m) * r
        weight = pair["ext_factor"] * (r / abs(m)) * (1.0 + m) / edge
        damp = (max(abs(m) / r, 1.0) - 1.0) * currency["dampener"] / edge
        out.append((m, 0, weight, damp))
    return [np.array(c) for c in zip(*out)]


def black76(call, f, k, t, sigma):
    """Black-76 in USD, floored at intrinsic; intrinsic when σ√T is 0."""
    intrinsic = np.where(call, np.maximum(f - k, 0.0), np.maximum(k - f, 0.0))
    sd = sigma * np.sqrt(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = np.log(f / k) / sd + 0.5 * sd
        d2 = d1 - sd
        value = np.where(call, f * ndtr(d1) - k * ndtr(d2), k * ndtr(-d2) - f * ndtr(-d1))
    return np.where(sd > 0.0, np.maximum(value, intrinsic), intrinsic)


class Desk:
    def __init__(self):
        self.positions = {}      # account -> {instrument: size}
        self.quotes = {}         # instrument -> (mark, iv %, underlying, index)
        self.index = {}          # index name -> price
        self.layout = None

    def quoted(self):
        """Every held instrument has a ticker (the desk can be margined)."""
        held = (n for book in self.positions.values() for n in book)
        return bool(self.positions) and all(n in self.quotes for n in held)

    def build_layout(self):
        """Instruments held, one column each, and the accounts' size matrix."""
        names = sorted({n for book in self.positions.values() for n in book})
        insts = [parse_instrument(n) for n in names]
        accounts = sorted(self.positions)
        column = {n: i for i, n in enumerate(names)}
        sizes = np.zeros((len(accounts), len(names)))
        for a, acct in enumerate(accounts):
            for n, size in self.positions[acct].items():
                sizes[a, column[n]] = size
        expiries = sorted({i["expiry"] for i in insts if i["expiry"] is not None})
        self.layout = dict(
            names=names, accounts=accounts, sizes=sizes,
            index=np.array([i["index"] for i in insts]),
            option=np.array([i["option"] for i in insts]),
            call=np.array([i["call"] for i in insts]),
            strike=np.array([i["strike"] for i in insts]),
            expiry=np.array([i["expiry"] or 0 for i in insts], dtype=np.int64),
            expiries=expiries,
            expiry_col=np.array([expiries.index(i["expiry"]) + 1 if i["expiry"] else 0
                                 for i in insts]),
            grids={ix: scenarios(PAIRS[ix], CURRENCIES[ix]) for ix in PAIRS},
        )

    def margins(self, now_ms):
        """(IM, MM) of every account, in coin."""
        if self.layout is None:
            self.build_layout()
        L = self.layout
        q = np.array([self.quotes[n] for n in L["names"]])
        mark, iv, underlying, quote_index = q[:, 0], q[:, 1] / 100.0, q[:, 2], q[:, 3]
        index_now = np.array([self.index.get(ix, np.nan) for ix in L["index"]])
        index_now = np.where(np.isnan(index_now), quote_index, index_now)
        drift = index_now / quote_index
        option = L["option"]
        forward = np.where(option, underlying, mark) * drift
        t = np.maximum((L["expiry"] - now_ms) / MS_PER_YEAR, 0.0)
        t = np.where(option, t, 0.0)
        sigma = np.where(option, iv, 0.0)

        risk = np.zeros(len(L["accounts"]))
        net_delta_total = np.zeros((len(L["accounts"]), len(L["expiries"]) + 1))
        for ix, (moves, vols, weights, damp_usd) in L["grids"].items():
            cols = L["index"] == ix
            if not cols.any():
                continue
            unit, net_delta = self.unit_vectors(ix, cols, forward, t, sigma, moves, vols, weights)
            sizes = L["sizes"][:, cols]
            book = sizes @ unit
            idx_price = index_now[cols][0]
            risk += self.worst_loss(ix, book, damp_usd, idx_price)
            by_expiry = np.zeros((sizes.shape[1], len(L["expiries"]) + 1))
            by_expiry[np.arange(sizes.shape[1]), L["expiry_col"][cols]] = net_delta
            held_nd = sizes @ by_expiry
            net_delta_total += held_nd
            risk += self.delta_shock(held_nd.sum(axis=1), idx_price)
            risk += self.roll_shock(ix, held_nd, now_ms)
        return risk, MM_FACTOR * risk

    def unit_vectors(self, ix, cols, forward, t, sigma, moves, vols, weights):
        """One unit's weighted P&L in every scenario, and its net delta."""
        L_call = self.layout["call"][cols]
        option = self.layout["option"][cols]
        strike = np.where(option, self.layout["strike"][cols], 1.0)
        f, t, s = forward[cols], t[cols], sigma[cols]
        pair = PAIRS[ix]
        dte = np.maximum(t * 365.0, 1.0 / 1440.0)
        scale = (PIVOT_DAYS / dte) ** np.where(dte < PIVOT_DAYS, SHORT_POWER, LONG_POWER)
        shocked = np.stack([np.maximum(s * (1.0 + pair["up"] * scale), pair["min_up"]), s,
                            np.maximum(s * (1.0 - pair["down"] * scale), 0.0)], axis=1)
        f1 = f[:, None] * (1.0 + moves[None, :])
        v0 = black76(L_call, f, strike, t, s) / f
        v1 = black76(L_call[:, None], f1, strike[:, None], t[:, None], shocked[:, vols]) / f1
        perp = moves[None, :] / ((1.0 + moves[None, :]) * f[:, None])
        unit = weights[None, :] * np.where(option[:, None], v1 - v0[:, None], perp)
        sd = s * np.sqrt(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            d1 = np.log(f / strike) / sd + 0.5 * sd
        delta = np.where(sd > 0, ndtr(d1), np.where(f > strike, 1.0, 0.0))
        delta = np.where(L_call, delta, delta - 1.0)
        net_delta = np.where(option, delta - v0, 1.0 / f)
        return unit, net_delta

    @staticmethod
    def worst_loss(ix, book, damp_usd, index_price):
        ccy = CURRENCIES[ix]
        damp = damp_usd / index_price
        book = np.where(damp > 0, np.sign(book) * np.maximum(np.abs(book) - damp, 0.0), book)
        gains = book * ccy["offset"]
        if ccy["cap"] > 0:
            gains = np.minimum(gains, ccy["cap"] / index_price)
        book = np.where(book > 0, gains, book)
        return np.maximum(-book.min(axis=1), 0.0)

    @staticmethod
    def delta_shock(net_delta, index_price):
        usd = np.abs(net_delta * index_price)
        phase = np.minimum((usd - DELTA_THRESHOLD_USD) / DELTA_THRESHOLD_USD, 1.0)
        return np.where(usd > DELTA_THRESHOLD_USD, MAX_DELTA_SHOCK * np.abs(net_delta) * phase, 0.0)

    def roll_shock(self, ix, held_nd, now_ms):
        ccy = CURRENCIES[ix]
        years = np.maximum((np.array(self.layout["expiries"]) - now_ms) / MS_PER_YEAR, 0.0)
        rates = np.maximum(np.exp(ccy["move_risk"] * years) - 1.0, ccy["min_move"])
        rates = np.concatenate([[ccy["min_move"]], rates])
        # An account holding nothing in an expiry adds nothing for it.
        return np.abs(held_nd) @ rates


DESK = Desk()


def replay(path, every_tick):
    """Apply every line; margin the desk after each index tick if asked."""
    requests, now, recomputes, compute_s = {}, 0, 0, 0.0
    with open(path, "rb") as f:
        for line in f:
            rec = json.loads(line)
            msg, now = rec["msg"], rec.get("t", now)
            if rec["dir"] == "out":
                requests[(rec["acct"], msg.get("id"))] = msg.get("method")
            elif "result" in msg:
                method = requests.get((rec["acct"], msg.get("id")))
                if method == "private/get_positions":
                    DESK.positions[rec["acct"]] = {
                        p["instrument_name"]: p["size"] for p in msg["result"]}
                    DESK.layout = None
            elif msg.get("method") == "subscription":
                channel, data = msg["params"]["channel"], msg["params"]["data"]
                if channel.startswith("ticker."):
                    DESK.quotes[data["instrument_name"]] = (
                        data["mark_price"], data.get("mark_iv", 0.0),
                        data.get("underlying_price", 0.0), data["index_price"])
                elif channel.startswith("deribit_price_index."):
                    DESK.index[data["index_name"]] = data["price"]
                    if every_tick and DESK.quoted():
                        start = time.perf_counter()
                        DESK.margins(now)
                        compute_s += time.perf_counter() - start
                        recomputes += 1
    start = time.perf_counter()
    im, mm = DESK.margins(now)
    compute_s += time.perf_counter() - start
    return im, mm, recomputes + 1, compute_s


def check(report_path, im, mm):
    """Largest relative difference from margintop's report; exit 1 past 1e-9."""
    report = json.load(open(report_path))
    ours = {a: (i, m) for a, i, m in zip(DESK.layout["accounts"], im, mm)}
    worst = 0.0
    for acct in report["accounts"]:
        i, m = ours[acct["account"]]
        for got, want in ((i, acct["initial_margin"]), (m, acct["maintenance_margin"])):
            worst = max(worst, abs(got - want) / max(abs(want), 1e-12))
    print(f"largest relative difference from {report_path}: {worst:.2e} "
          f"({len(report['accounts'])} accounts, IM and MM)")
    return worst <= 1e-9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("recording")
    ap.add_argument("--once", action="store_true", help="margin the desk only at the end")
    ap.add_argument("--check", metavar="REPORT_JSON")
    args = ap.parse_args()
    start = time.perf_counter()
    im, mm, recomputes, compute_s = replay(args.recording, not args.once)
    total = time.perf_counter() - start
    print(f"{len(DESK.layout['accounts'])} accounts, {len(DESK.layout['names'])} instruments: "
          f"total {total:.3f} s, of which {recomputes} desk margin computations "
          f"{compute_s:.3f} s ({1000 * compute_s / recomputes:.2f} ms each)")
    if args.check and not check(args.check, im, mm):
        sys.exit(1)


if __name__ == "__main__":
    main()

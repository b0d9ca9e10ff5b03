"""Kernel throughput and latency: a figure, not a timed test.

A round trip per trade, spread over several slots: ENTER, ack, two partial
fills, EXIT leg 1 (0.5) with ack and fill, EXIT leg 2 (0.5) with ack and fill:
10 kernel messages. Messages are built before the clock starts (the adapter
builds them in real life); the timer covers ``submit``/``apply`` only.

    python bench/kernel_bench.py [--messages 100000] [--slots 8]

Last line: {"bench": "kernel", "messages_per_s": ..., "p50_us": ..., "p99_us": ...}
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import time
from decimal import Decimal as D

from pink.kernel import (
    Action,
    Instrument,
    Intent,
    Kernel,
    KernelConfig,
    OrderAccepted,
    OrderFilled,
    Side,
)
from pink.kernel.exact import kernel_context

SYMBOL = "BTC-USDT"
INSTRUMENTS = {SYMBOL: Instrument(SYMBOL, D("0.1"), D("0.001"), D("0.001"), D("5"))}


def round_trip(n: int, slot: int, t0: int) -> list[tuple[str, object, int]]:
    tid = f"t{n}"
    entry, leg0, leg1 = f"{tid}-e1", f"{tid}-x0a1", f"{tid}-x1a1"
    fee = D("0.0125")
    msgs: list[tuple[str, object]] = [
        (
            "submit",
            Intent(
                Action.ENTER,
                slot,
                tid,
                f"i{n}",
                asset=SYMBOL,
                side=Side.LONG,
                quantity=D("1.000"),
                leverage=5,
                exit_legs=(D("0.5"), D("0.5")),
            ),
        ),
        ("apply", OrderAccepted(entry, f"{n}1", 0)),
        ("apply", OrderFilled(entry, f"{n}1", f"{n}a", D("0.400"), D("50000.1"), D("0.400"), fee, "USDT", 0)),
        ("apply", OrderFilled(entry, f"{n}1", f"{n}b", D("0.600"), D("50000.3"), D("1.000"), fee, "USDT", 0)),
        ("submit", Intent(Action.EXIT, slot, tid, f"x{n}a")),
        ("apply", OrderAccepted(leg0, f"{n}2", 0)),
        ("apply", OrderFilled(leg0, f"{n}2", f"{n}c", D("0.500"), D("50010.0"), D("0.500"), fee, "USDT", 0)),
        ("submit", Intent(Action.EXIT, slot, tid, f"x{n}b")),
        ("apply", OrderAccepted(leg1, f"{n}3", 0)),
        ("apply", OrderFilled(leg1, f"{n}3", f"{n}d", D("0.500"), D("49990.0"), D("0.500"), fee, "USDT", 0)),
    ]
    return [(kind, msg, t0 + i) for i, (kind, msg) in enumerate(msgs)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--foreign-context", action="store_true",
                    help="call the kernel from another decimal context than its own (each call then sets its "
                         "own and gives the caller's back); by default the loop runs in the kernel's, as the "
                         "runtime's owner task does")
    args = ap.parse_args()
    trips = max(1, args.messages // 10)
    kernel = Kernel(KernelConfig(slots=args.slots), INSTRUMENTS)
    # interleave slots: slot s runs trades s, s+slots, ...; messages of one round per slot are interleaved
    plan: list[tuple[str, object, int]] = []
    for base in range(0, trips, args.slots):
        batch = [round_trip(n, n - base, n * 100) for n in range(base, min(base + args.slots, trips))]
        for step in range(10):
            plan.extend(b[step] for b in batch)
    lat = [0] * len(plan)
    submit, apply = kernel.submit, kernel.apply
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    with contextlib.nullcontext() if args.foreign_context else kernel_context():
        start = clock()
        for i, (kind, msg, now) in enumerate(plan):
            t = clock()
            out = submit(msg, now) if kind == "submit" else apply(msg, now)  # type: ignore[arg-type]
            lat[i] = clock() - t
            if out.status.value in ("REFUSED", "QUARANTINED"):
                raise SystemExit(f"unexpected outcome at message {i}: {out}")
        total = clock() - start
    gc.enable()
    acct = kernel.account_view()
    expected = acct.initial_capital + acct.gross_pnl - acct.fees
    assert acct.capital == expected, (acct.capital, expected)
    lat.sort()
    n = len(lat)
    result = {
        "bench": "kernel",
        "messages": n,
        "messages_per_s": round(n / (total / 1e9)),
        "p50_us": round(lat[n // 2] / 1000, 2),
        "p99_us": round(lat[int(n * 0.99)] / 1000, 2),
    }
    print(f"{trips} round trips, {n} messages, capital {acct.capital} (exact), fees {acct.fees}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

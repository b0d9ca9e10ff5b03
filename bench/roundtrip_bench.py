"""Round trips through runtime + kernel + simulator, on the simulated clock.

One round trip = a MARKET entry, then a 2-leg exit (3 orders), driven by a
policy through the real runtime loop (queue, executor, SimVenue, stream).
Prints microseconds per order two ways: all-in (wall time / orders placed)
and, like the peer, the order path only (the run minus a run of as many
cycles whose policy never orders).

    python bench/roundtrip_bench.py [--round-trips N] [--slots S] [--journal]
                                    [--peer nautilus]

With ``--peer nautilus`` the same process also times NautilusTrader's
BacktestEngine on the peer script in shared/peer (market orders, one
round trip = 2 orders, its order path only: the run minus a no-order run).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from pink.journal import JournaledKernel
from pink.kernel import Action, Kernel, KernelConfig, Side
from pink.policy.base import Decision, MarginSizer, PolicySnapshot
from pink.runtime.clock import SimClock
from pink.runtime.loop import LoopConfig, Runtime
from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.instruments import default_instruments
from pink.venues.sim.venue import SimVenue

T0 = 1_700_000_000 * 1_000_000_000
PEER = Path(__file__).resolve().parents[2] / "shared" / "peer" / "nautilus_roundtrip_bench.py"
PEER_FALLBACK = Path("/work/shared/peer/nautilus_roundtrip_bench.py")


class RoundTrips:
    """Enter at market on every idle slot, exit one leg per cycle, until N trades started."""

    def __init__(self, n: int) -> None:
        self.left = n

    def done(self, rt: Runtime) -> bool:
        return self.left <= 0 and all(s.state == "IDLE" for s in rt.slots)

    def decide(self, snap: PolicySnapshot) -> list[Decision]:
        out: list[Decision] = []
        for s in snap.slots:
            if s.state == "IDLE" and self.left > 0:
                self.left -= 1
                out.append(Decision(Action.ENTER, s.slot, asset="BTC-USDT", side=Side.LONG,
                                    quantity=Decimal("0.010"),
                                    exit_legs=(Decimal("0.5"), Decimal("0.5"))))
            elif s.state == "POSITION_OPEN":
                out.append(Decision(Action.EXIT, s.slot))
        return out


class Idle:
    """The baseline: the same cycles, no orders."""

    def decide(self, snap: PolicySnapshot) -> list[Decision]:
        return []


CAPITAL = Decimal("10000000")


async def run_pink(
    n: int, slots: int, journal: Path | None, cycles: int | None = None
) -> tuple[float, int, int, int]:
    """N round trips (or, with ``cycles``, that many idle cycles): (seconds, orders, trades, cycles)."""
    inst = default_instruments()
    venue = SimVenue(MatchingEngine(inst, start_ts=T0, seed=1, initial_balance=CAPITAL))
    cfg = KernelConfig(slots=slots, initial_capital=CAPITAL, account_id="bench")
    jk = JournaledKernel.open(journal, cfg, inst) if journal else None
    kernel: Any = jk if jk else Kernel(cfg, inst)
    views: Any = jk.kernel if jk else kernel
    policy = RoundTrips(n) if cycles is None else Idle()
    rt = Runtime(kernel, views, venue, SimClock(T0), policy, MarginSizer(),
                 instruments=inst, slots=slots,
                 config=LoopConfig(cycle_s=0.05, reconcile_interval_s=1e9),
                 quotes=venue.engine.quote)
    await venue.start(rt.sink)
    await rt.start()
    t0 = time.perf_counter()
    if isinstance(policy, RoundTrips):
        while not policy.done(rt):
            await rt.run(cycles=50)
    else:
        await rt.run(cycles=cycles)
    dt = time.perf_counter() - t0
    orders = venue.calls["place"]
    await rt.shutdown()
    if jk:
        jk.close()
    await venue.close()
    if isinstance(policy, RoundTrips) and rt.stats.trades != n:
        raise SystemExit(
            f"only {rt.stats.trades} of {n} round trips completed: the others' entries were refused "
            f"(kernel {dict(rt.stats.refusals)}, venue {rt.executor.stats['place_refused']}) or ended "
            f"unfilled (many slots at once can exhaust the simulated book's depth)"
        )
    return dt, orders, rt.stats.trades, rt.stats.cycles


def run_peer(n: int) -> float:
    path = PEER if PEER.exists() else PEER_FALLBACK
    spec = importlib.util.spec_from_file_location("nautilus_roundtrip_bench", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    base = mod.run_once(n, False, send_orders=False, verbose=False)
    dt = mod.run_once(n, False, verbose=False)
    return (dt - base) / (2 * n) * 1e6


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--round-trips", type=int, default=5000)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--journal", action="store_true", help="journal every message (SQLite)")
    ap.add_argument("--peer", choices=["nautilus"], default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "journal.sqlite" if args.journal else None
        dt, orders, trades, cycles = asyncio.run(run_pink(args.round_trips, args.slots, journal))
        base, _, _, _ = asyncio.run(run_pink(0, args.slots, None, cycles=cycles))
    all_in = dt / orders * 1e6
    us = (dt - base) / orders * 1e6
    print(f"pink: {trades} round trips, {orders} orders, {cycles} cycles in {dt:.3f}s "
          f"(journal={'on' if journal else 'off'}); the same cycles without orders {base:.3f}s")
    print(f"pink: {all_in:.1f} us/order all-in, {us:.1f} us/order order path only")
    peer_us: float | None = None
    if args.peer == "nautilus":
        try:
            peer_us = run_peer(args.round_trips)
            print(f"nautilus BacktestEngine: {peer_us:.1f} us/order (order path only)")
        except ImportError as exc:  # asked for and not there: no ratio, and say how to get one
            print(f"nautilus_trader is not installed ({exc}); install it with "
                  f".venv/bin/pip install -e \".[peer]\" (NautilusTrader 1.221)", file=sys.stderr)
            raise SystemExit(2) from None
    ratio = round(peer_us / us, 2) if peer_us else None
    print(json.dumps({"bench": "roundtrip", "us_per_order": round(us, 2), "all_in_us_per_order": round(all_in, 2),
                      "peer_us_per_order": round(peer_us, 2) if peer_us else None,
                      "ratio": ratio}))


if __name__ == "__main__":
    main()

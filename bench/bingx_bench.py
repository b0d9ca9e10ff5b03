"""The BingX adapter against the BingX simulator server on loopback: REST calls and latency.

* N round trips through a real Kernel: a MARKET entry with a 2-leg exit
  (3 orders). REST calls are counted by the server (``request_calls``),
  leverage calls separately (they happen once per symbol).
* M idle policy cycles: what the runtime does per cycle when nothing changes
  (quotes from the adapter's market-stream cache, kernel views, a tick with
  nothing due); it must make 0 REST calls.
* submit_to_wire: from ``kernel.submit`` to the order request's bytes being
  written (aiohttp TraceConfig ``on_request_headers_sent``: the order params
  travel in the query string, so the headers are the request).

Orders are paced under the client's own per-endpoint limiter (default
config: 5 order requests per second), so the figure is the code path, not
time spent waiting for BingX's order quota. The server runs in its own
process (``pink sim-bingx``), as an exchange would, so its work does not
share the client's event loop.

    python bench/bingx_bench.py [--round-trips N] [--idle-cycles M]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import aiohttp

from pink.kernel import Action, Kernel, KernelConfig, Side
from pink.kernel.messages import Effect, EnsureLeverage, Intent, PlaceOrder, QueryOrder, VenueEvent
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.leverage import LEVERAGE_PATH
from pink.venues.bingx.server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY
from pink.venues.bingx.venue import ORDER_PATH, BingxVenue

SYMBOL = "BTC-USDT"
WS_PATH = "/swap-market"


def _pct(values: list[int], q: float) -> float:
    s = sorted(values)
    return float(s[min(len(s) - 1, int(q * len(s)))]) if s else 0.0


class Bench:
    def __init__(self, venue: BingxVenue, kernel: Kernel) -> None:
        self.venue = venue
        self.kernel = kernel
        self.pending: list[Effect] = []
        self.submitted_ns = 0
        self.wire_us: list[int] = []
        self.gap_s = 1.0 / venue.config.rate_limit_per_s + 0.01
        self._last_post = 0.0

    def sink(self, event: VenueEvent) -> None:
        self.pending.extend(self.kernel.apply(event, time.time_ns()).effects)

    async def on_headers_sent(self, _s: Any, _ctx: SimpleNamespace, params: Any) -> None:
        if params.method == "POST" and params.url.path == ORDER_PATH and self.submitted_ns:
            self.wire_us.append((time.perf_counter_ns() - self.submitted_ns) // 1000)
            self.submitted_ns = 0

    async def run(self, effects: list[Effect] | tuple[Effect, ...]) -> None:
        for eff in effects:
            if isinstance(eff, EnsureLeverage):
                await self.venue.ensure_leverage(eff)
            elif isinstance(eff, PlaceOrder):
                await self.venue.place(eff)
            elif isinstance(eff, QueryOrder):
                self.sink(await self.venue.query(eff))

    async def submit(self, intent: Intent, state: str) -> None:
        wait = self._last_post + self.gap_s - time.monotonic()
        if wait > 0:  # stay under the limiter: measure the path, not the quota
            await asyncio.sleep(wait)
        self._last_post = time.monotonic()
        self.submitted_ns = time.perf_counter_ns()
        out = self.kernel.submit(intent, time.time_ns())
        if not out.effects:
            raise RuntimeError(f"{intent.action.value} refused: {out.reason.value} {out.detail}")
        await self.run(out.effects)
        while self.kernel.slot_view(0).state != state:
            effects, self.pending = self.pending, []
            await self.run(effects)
            await asyncio.sleep(0.0005)

    async def round_trip(self, n: int) -> None:
        tid = f"b{n}"
        legs = (Decimal("0.5"), Decimal("0.5"))
        await self.submit(Intent(Action.ENTER, 0, tid, f"{tid}-in", asset=SYMBOL, side=Side.LONG,
                                 quantity=Decimal("0.002"), leverage=5, exit_legs=legs),
                          "POSITION_OPEN")  # fmt: skip
        await self.submit(Intent(Action.EXIT, 0, tid, f"{tid}-x1"), "POSITION_OPEN")
        await self.submit(Intent(Action.EXIT, 0, tid, f"{tid}-x2"), "IDLE")

    async def idle_cycle(self) -> None:
        """One runtime cycle with nothing to do: quotes, views, a tick."""
        quotes = {SYMBOL: await self.venue.quote(SYMBOL)}
        _ = [self.kernel.slot_view(i) for i in range(len(self.kernel.slots))]
        _ = self.kernel.account_view(), quotes
        out = self.kernel.tick(time.time_ns())
        await self.run(out.effects)


def _rest(calls: Counter[str]) -> int:
    return sum(v for k, v in calls.items() if not k.endswith(WS_PATH))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _calls(http: aiohttp.ClientSession, base: str) -> Counter[str]:
    async with http.get(f"{base}/_sim/requests") as resp:
        return Counter((await resp.json())["calls"])


async def main(round_trips: int, idle_cycles: int) -> dict[str, Any]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "pink.cli.main", "sim-bingx", "--port", str(port),
                               "--no-rate-limits", "--hedge"], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    server.stdout.readline()  # the banner: it is serving
    try:
        cfg = BingxConfig(DEFAULT_API_KEY, DEFAULT_SECRET_KEY, base, f"ws://127.0.0.1:{port}{WS_PATH}",
                          f"ws://127.0.0.1:{port}{WS_PATH}")  # fmt: skip
        venue = BingxVenue(cfg)
        admin = aiohttp.ClientSession()
        try:
            bench = Bench(venue, Kernel(KernelConfig(slots=1), {}))
            trace = aiohttp.TraceConfig()  # before the session exists
            trace.on_request_headers_sent.append(bench.on_headers_sent)
            venue.http.trace_configs.append(trace)
            kernel = bench.kernel = Kernel(KernelConfig(slots=1), await venue.instruments())
            await venue.start(bench.sink)
            await venue.quote(SYMBOL)  # subscribe the market stream once
            before = await _calls(admin, base)
            for n in range(round_trips):
                await bench.round_trip(n)
            await asyncio.sleep(0.2)  # any late follow-up call would be counted
            rt = await _calls(admin, base)
            rt.subtract(before)
            leverage = rt[f"GET {LEVERAGE_PATH}"] + rt[f"POST {LEVERAGE_PATH}"]
            orders = rt[f"POST {ORDER_PATH}"]
            before_idle = await _calls(admin, base)
            for _ in range(idle_cycles):
                await bench.idle_cycle()
            idle = await _calls(admin, base)
            idle.subtract(before_idle)
            capital = kernel.account_view()
        finally:
            await venue.close()
            await admin.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()
    return {
        "bench": "bingx",
        "round_trips": round_trips,
        "idle_cycles": idle_cycles,
        "orders_per_round_trip": orders / round_trips,
        "leverage_calls_total": leverage,
        "rest_calls_total": _rest(rt),
        "rest_calls_per_round_trip": (_rest(rt) - leverage) / round_trips,
        "rest_calls_per_idle_cycle": _rest(idle) / idle_cycles,
        "submit_to_wire_p50_us": _pct(bench.wire_us, 0.50),
        "submit_to_wire_p99_us": _pct(bench.wire_us, 0.99),
        "submit_to_wire_samples": len(bench.wire_us),
        "capital_exact": capital.capital == capital.initial_capital + capital.gross_pnl - capital.fees
        + capital.funding,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--round-trips", type=int, default=20)
    ap.add_argument("--idle-cycles", type=int, default=1000)
    args = ap.parse_args()
    result = asyncio.run(main(args.round_trips, args.idle_cycles))
    print(f"{result['round_trips']} round trips, {result['idle_cycles']} idle cycles")
    print(json.dumps(result))

"""A slow reconcile is never started again while the last one still reads the venue."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from pink.kernel import Kernel, KernelConfig, OrderFilled, PositionReport
from pink.policy.base import MarginSizer
from pink.runtime.clock import WallClock
from pink.runtime.loop import LoopConfig, Runtime
from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.instruments import default_instruments
from pink.venues.sim.venue import SimVenue
from tests.runtime.helpers import Scripted


class SlowPositions(SimVenue):
    """A venue whose positions read takes 0.3 s (a busy exchange, a rate limit); counts overlaps."""

    reading = 0
    most = 0

    async def positions(self) -> list[PositionReport]:
        self.reading += 1
        self.most = max(self.most, self.reading)
        try:
            await asyncio.sleep(0.3)
            return await super().positions()
        finally:
            self.reading -= 1


async def test_a_slow_reconcile_is_not_started_again_while_the_last_one_runs() -> None:
    """Every interval started a reconcile whether or not the last had finished: with a venue
    slower than the interval they piled up, each adding its calls to a venue already slow, and
    the position check's 'seen by two runs in a row' met runs that were not in a row."""
    inst = default_instruments()
    venue = SlowPositions(MatchingEngine(inst, start_ts=time.time_ns()))
    kernel = Kernel(KernelConfig(slots=2, initial_capital=Decimal(10000), account_id="a"), inst)
    rt = Runtime(kernel, kernel, venue, WallClock(), Scripted(), MarginSizer(), instruments=inst, slots=2,
                 config=LoopConfig(cycle_s=0.05, reconcile_interval_s=0.05), quotes=venue.engine.quote)
    await venue.start(rt.sink)
    await rt.start()
    task = asyncio.create_task(rt.run())
    try:
        await asyncio.sleep(1.5)
        assert rt.reconciler.runs >= 3  # they still run, one after the other
        assert venue.most == 1
    finally:
        rt.request_stop()
        await rt.shutdown()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await venue.close()


class AskedFills(SimVenue):
    """The simulator, keeping the orders each fills read asked about."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.asked: list[set[str]] = []

    async def fills_since(self, ts: int, orders: object = None, **kwargs: object) -> list[OrderFilled]:
        self.asked.append(set(orders or ()))  # type: ignore[call-overload]
        return await super().fills_since(ts, orders, **kwargs)  # type: ignore[arg-type]


async def test_e1_a_reconcile_asks_about_a_bounded_number_of_gapped_orders_in_turn() -> None:
    """Every reconcile read the fills of every order holding a report's gap (up to 200), each a
    venue request or two: a venue's rate limit was hit by the reconcile itself. Each run now asks
    about at most GAPPED_READS_PER_RUN of them, the least recently asked first: all in turn."""
    from pink.kernel import Kernel, KernelConfig
    from pink.runtime.recovery import GAPPED_READS_PER_RUN, Reconciler
    from tests.kernel.harness import INSTRUMENTS, Driver
    from tests.kernel.test_venue_contradictions import _closed_by_a_report

    d = Driver(slots=1)
    d.k = Kernel(KernelConfig(slots=1, initial_capital=Decimal(10000), retired_orders=2), INSTRUMENTS)
    gapped = [_closed_by_a_report(d, trade=f"t{i}") for i in range(2 * GAPPED_READS_PER_RUN + 5)]
    assert list(d.k.orders_with_open_gaps()) == gapped
    venue = AskedFills(MatchingEngine(default_instruments(), start_ts=time.time_ns()))

    async def ask(fn: object) -> object:
        return fn()  # type: ignore[operator]

    rec = Reconciler(venue, lambda _e: None, ask, time.time_ns, 10**9)
    await rec.full(d.k, 0, 1)
    for _ in range(3):
        await rec.periodic(d.k, 0)
    assert [len(a) for a in venue.asked] == [GAPPED_READS_PER_RUN] * 4
    first, second, third, fourth = venue.asked
    assert first == set(gapped[:GAPPED_READS_PER_RUN]) and second == set(gapped[GAPPED_READS_PER_RUN:-5])
    assert third >= set(gapped[-5:]) and first | second | third == set(gapped)  # each in turn
    assert fourth.isdisjoint(gapped[-5:])  # and then again, the least recently asked first

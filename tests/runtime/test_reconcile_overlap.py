"""A slow reconcile is never started again while the last one still reads the venue."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from pink.kernel import Kernel, KernelConfig, PositionReport
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

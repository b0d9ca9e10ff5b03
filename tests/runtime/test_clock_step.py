"""The wall clock stepped back (NTP) must not stall the runtime, nor move the kernel's time back.

The scheduler kept its next cycle, next slow reconcile and last tick as wall times: a step back
of 30 s stopped cycles, the kernel's deadlines and reconciles for 30 s."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from pink.kernel import Kernel, KernelConfig
from pink.policy.base import MarginSizer
from pink.runtime.clock import SteadyClock, WallClock
from pink.runtime.loop import LoopConfig, Runtime
from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.instruments import default_instruments
from pink.venues.sim.venue import SimVenue
from tests.runtime.helpers import Scripted

STEP_NS = 30 * 10**9


class SteppedWall(WallClock):
    """Wall time that an NTP step can move."""

    offset = 0

    def now_ns(self) -> int:
        return time.time_ns() + self.offset


def test_a_steady_clock_never_goes_back_and_runs_on_through_a_step_back() -> None:
    wall, mono = SteppedWall(), [0]
    clock = SteadyClock(wall, lambda: mono[0])
    before = clock.now_ns()
    wall.offset = -STEP_NS
    mono[0] += 10**9  # one second later, on a wall clock 30 s back
    after = clock.now_ns()
    assert after >= before + 10**9
    wall.offset = STEP_NS  # a step forward is taken
    assert clock.now_ns() >= time.time_ns() + STEP_NS - 10**9


async def test_cycles_go_on_and_the_kernels_time_never_goes_back_after_the_wall_clock_steps_back() -> None:
    inst = default_instruments()
    venue = SimVenue(MatchingEngine(inst, start_ts=time.time_ns()))
    kernel = Kernel(KernelConfig(slots=2, initial_capital=Decimal(10000), account_id="a"), inst)
    wall, decision = SteppedWall(), Scripted()
    rt = Runtime(kernel, kernel, venue, wall, decision, MarginSizer(), instruments=inst, slots=2,
                 config=LoopConfig(cycle_s=0.05), quotes=venue.engine.quote)
    await venue.start(rt.sink)
    await rt.start()
    task = asyncio.create_task(rt.run())
    try:
        await asyncio.sleep(0.5)
        wall.offset = -STEP_NS
        seen = len(decision.snapshots)
        await asyncio.sleep(1.0)
        assert len(decision.snapshots) - seen >= 5  # (none at all for 30 s before)
        stamps = [s.ts for s in decision.snapshots]
        assert stamps == sorted(stamps)  # the kernel's now never went back
    finally:
        rt.request_stop()
        await rt.shutdown()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await venue.close()

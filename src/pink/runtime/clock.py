"""Clocks: wall time, and simulated time that the runtime drives.

Both give integer nanoseconds. A :class:`SimClock` never moves by itself:
the runtime's scheduler advances it to the next due time (next policy
cycle, the kernel's next deadline, the simulator's next event), so a
``--fast`` run goes as fast as the machine allows.

The runtime reads wall time through a :class:`SteadyClock`: NTP may step the wall clock
back, and the kernel's ``now`` must never go backwards, nor its deadlines, cycles and slow
reconciles stand still for the size of the step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from pink.ports import Clock

__all__ = ["SimClock", "SteadyClock", "WallClock"]


class WallClock:
    """Real time (``time.time_ns``)."""

    simulated = False

    def now_ns(self) -> int:
        return time.time_ns()

    async def sleep_until(self, ts: int) -> None:
        delay = (ts - time.time_ns()) / 1e9
        await asyncio.sleep(max(delay, 0.0))


class SimClock:
    """Simulated time: it only moves when told to (``advance``/``sleep_until``)."""

    simulated = True

    def __init__(self, start_ns: int) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance(self, ts: int) -> None:
        """Move to ``ts`` (never backwards)."""
        if ts > self._now:
            self._now = ts

    async def sleep_until(self, ts: int) -> None:
        self.advance(ts)
        await asyncio.sleep(0)


class SteadyClock:
    """Wall time (of ``wall``) that never goes backwards and never stands still.

    It reads ``max(wall, last reading + monotonic time since)``: while the wall clock runs
    normally that is the wall time; after a step back it runs on at the monotonic clock's rate,
    ahead of the wall by the step, so timestamps handed to the kernel stay in order and what is
    scheduled on them (cycles, the kernel's deadlines, slow reconciles) comes when it is due. A
    step forward is taken as it comes: what fell due meanwhile is due now."""

    simulated = False

    def __init__(self, wall: Clock, monotonic_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self._wall = wall
        self._mono = monotonic_ns
        self._last = wall.now_ns()
        self._last_mono = monotonic_ns()

    def now_ns(self) -> int:
        mono = self._mono()
        now = max(self._wall.now_ns(), self._last + (mono - self._last_mono))
        self._last, self._last_mono = now, mono
        return now

    async def sleep_until(self, ts: int) -> None:
        await asyncio.sleep(max(ts - self.now_ns(), 0) / 1e9)

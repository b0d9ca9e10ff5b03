"""Clocks: wall time, and simulated time that the runtime drives.

Both give integer nanoseconds. A :class:`SimClock` never moves by itself:
the runtime's scheduler advances it to the next due time (next policy
cycle, the kernel's next deadline, the simulator's next event), so a
``--fast`` run goes as fast as the machine allows.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["SimClock", "WallClock"]


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

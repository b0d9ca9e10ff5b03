"""The scheduler task of :class:`~pink.runtime.loop.Runtime`: it decides *when*.

When the next policy cycle, the kernel's next deadline (a tick, again every ``tick_s`` while
it stays overdue), the simulator's next due event and the slow reconciliation are due; it
queues each as an item (:mod:`pink.runtime.items`) for the owner task, and reads the control
file (a real-time run at least every half second, so that a kill is in force within that,
not a cycle later). With a :class:`~pink.runtime.clock.SimClock` it waits until everything in
flight has been handled, then jumps straight to the next due time. A simulator whose market
has ended (a replay that ran out) stops the run as the end of its cycles would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pink.kernel.messages import ControlSnapshot
from pink.ports import Clock, Venue
from pink.runtime.items import ControlItem, CycleItem, FlattenItem, Item, LoopConfig, TickItem
from pink.runtime.outputs import Outputs
from pink.runtime.ports_ext import ControlSource, FlattenMark, KernelViews, SimDriver
from pink.runtime.recovery import Reconciler
from pink.runtime.stats import RunStats

__all__ = ["Scheduling"]

log = logging.getLogger("pink.runtime.loop")  # (where a trader's log filters already look)
_NS = 1_000_000_000
_CONTROL_POLL_NS = _NS // 2  # how often a real-time run reads the control file (one stat) at least


class Scheduling:
    """The scheduler's part of the runtime (a base of :class:`~pink.runtime.loop.Runtime`,
    which sets every attribute below)."""

    cfg: LoopConfig
    clock: Clock
    stats: RunStats
    reconciler: Reconciler
    outputs: Outputs
    _v: KernelViews
    _venue: Venue
    _control: ControlSource
    _sim: bool
    _done: asyncio.Event
    _wake: asyncio.Event
    _bg: set[asyncio.Task[Any]]
    _deadline: int | None
    _cycle_limit: int | None
    _policy_on: bool
    _flatten_armed: bool
    _control_read: ControlSnapshot | None
    _flatten_mark: FlattenMark
    _next_recon: int | None
    _recon_since: int | None
    _reconciling: bool
    _put: Callable[[Item], None]
    quiesce: Callable[[], Awaitable[None]]

    async def _schedule(self) -> None:
        cycle_ns = max(int(self.cfg.cycle_s * _NS), 1)
        recon_ns = int(self.cfg.reconcile_interval_s * _NS)
        tick_ns = max(int(self.cfg.tick_s * _NS), 1)
        now = self.clock.now_ns()
        next_cycle = now + cycle_ns
        if self._next_recon is None:  # kept across run() calls: each must not restart the timer
            self._next_recon = now + recon_ns
        if self._recon_since is None:  # (not started: nothing reconciled before)
            self._recon_since = now
        n = self.stats.cycles
        last_tick = -1
        driver: SimDriver | None = self._venue if isinstance(self._venue, SimDriver) else None
        while not self._done.is_set():
            if self._sim:
                await self.quiesce()
            if self._cycle_limit is not None and self.stats.cycles >= self._cycle_limit:
                return
            if driver is not None and self._market_ended(driver):
                return
            now = self.clock.now_ns()
            deadline = self._deadline
            due = [self._next_recon]
            more = self._cycle_limit is None or n < self._cycle_limit  # counted when queued, not when handled
            if more and (self._policy_on or self._flatten_armed):
                due.append(next_cycle)
            if deadline is not None:
                due.append(deadline if deadline > last_tick else last_tick + tick_ns)
            venue_due = driver.next_due() if driver is not None else None
            if venue_due is not None:
                due.append(venue_due)
            if not self._sim:  # an operator's switch (a kill) is read within this, not a cycle later
                due.append(now + _CONTROL_POLL_NS)
            target = max(min(due), now)
            if self._sim:
                self.clock.advance(target)  # type: ignore[attr-defined]
            elif target > now:
                self._wake.clear()
                try:
                    async with asyncio.timeout((target - now) / _NS):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            now = self.clock.now_ns()
            if driver is not None:
                await driver.advance_to(now)
            if deadline is not None and deadline <= now and now > last_tick:
                last_tick = now
                self._put(TickItem())
            if more and now >= next_cycle:
                n += 1
                self._put(CycleItem(n))
                next_cycle += cycle_ns
                if next_cycle <= now:  # wall clock fell behind: skip missed cycles
                    next_cycle = now + cycle_ns
            if now >= self._next_recon:
                self._next_recon = now + recon_ns
                if not self._reconciling:  # (one still reading a slow venue: the next is due later)
                    self._reconciling = True
                    self._spawn_bg(self._slow_reconcile(now))
            ctrl = self._control.current()
            if ctrl.snapshot != self._control_read:  # (a reset file may say the version read last again)
                self._control_read = ctrl.snapshot
                self._put(ControlItem(ctrl.snapshot))
            held = self._flatten_mark
            if ctrl.flatten_seq != held.seq or ctrl.flatten_ns != held.ns:
                mark = FlattenMark.of(ctrl)
                if held.asks_again(mark):  # not a reset file counting from 0 again
                    self._flatten_mark = mark
                    self._put(FlattenItem(mark))

    @staticmethod
    def _market_ended(driver: SimDriver) -> bool:
        """A simulator whose market ended (a replay ran out: its prices would stay still for
        ever) and has nothing left to deliver: the run stops there, as at the end of its cycles."""
        ended = driver.market_ended
        if ended and driver.next_due() is None:
            log.warning("the run stops: %s", ended)
            return True
        return False

    async def _slow_reconcile(self, now: int) -> None:
        """A slow reconcile from where the last complete one (or the start-up one) began: a read
        the venue failed is read again next time over the whole window it missed."""
        since = now if self._recon_since is None else self._recon_since
        try:
            rep = await self.reconciler.periodic(self._v, since, len(self.outputs.slots))
        finally:
            self._reconciling = False
        if rep.errors:
            log.warning("reconcile: %s; read again from the same time at the next run", "; ".join(rep.errors))
        else:
            self._recon_since = now

    def _spawn_bg(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

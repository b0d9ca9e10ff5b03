"""Executes the kernel's effects against the venue: bounded, with deadlines.

A venue with I/O gets a task per call, at most ``max_in_flight`` at a time,
each with a deadline. An :class:`~pink.ports.InProcessVenue` (the simulator)
is called directly, in order, with the same outcomes: it cannot hang.

* ``EnsureLeverage`` runs before the ``PlaceOrder`` it precedes (same task);
  its failure rejects that order locally with its own code (E15, F18).
* ``place``/``cancel`` replies arrive as events through the venue's sink.
  ``UnknownOutcomeError`` (or our own deadline) on a place means nothing
  more: the kernel's deadline produces a ``QueryOrder`` (F16).
* ``QueryOrder`` -> ``venue.query`` -> the ``OrderStatusReport`` is emitted
  back into the runtime's queue, to ``kernel.apply``.

Nothing here touches the kernel: results go through ``emit`` (the queue).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from pink.errors import LeverageError, UnknownOutcomeError, VenueError
from pink.kernel.messages import (
    CancelOrder,
    CancelRejected,
    Effect,
    EnsureLeverage,
    OrderRejected,
    PlaceOrder,
    QueryOrder,
    VenueEvent,
)
from pink.ports import Clock, InProcessVenue, Venue

__all__ = ["EffectExecutor", "InFlight"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InFlight:
    """A venue call still running (reported at close when it could not finish)."""

    kind: str
    client_order_id: str
    started_ns: int


class EffectExecutor:
    """Runs effects as tasks, at most ``max_in_flight`` venue calls at a time."""

    def __init__(
        self,
        venue: Venue,
        emit: Callable[[VenueEvent], None],
        clock: Clock,
        *,
        max_in_flight: int = 8,
        call_timeout_s: float = 5.0,
    ) -> None:
        self._venue = venue
        # a venue without I/O is called directly: no task, no deadline (nothing can hang)
        self._direct: InProcessVenue | None = venue if isinstance(venue, InProcessVenue) else None
        self._emit = emit
        self._clock = clock
        self._sem = asyncio.Semaphore(max_in_flight)
        self._timeout = call_timeout_s
        self._tasks: dict[asyncio.Task[None], InFlight] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self.stats: Counter[str] = Counter()
        self.unexecuted: list[Effect] = []

    # ------------------------------------------------------------------ intake

    def submit(self, effects: Sequence[Effect]) -> None:
        """Schedule one outcome's effects, keeping EnsureLeverage before its place."""
        if self._closed:  # during close: recorded, not sent (restart reconciliation)
            self.unexecuted.extend(effects)
            return
        if self._direct is not None:
            self._run_now(self._direct, effects)
            return
        pending_leverage: list[EnsureLeverage] = []
        for effect in effects:
            if isinstance(effect, EnsureLeverage):
                pending_leverage.append(effect)
            elif isinstance(effect, PlaceOrder):
                lev = [e for e in pending_leverage if e.symbol == effect.symbol]
                pending_leverage = [e for e in pending_leverage if e.symbol != effect.symbol]
                self._spawn("place", effect.client_order_id, self._place(lev, effect))
            elif isinstance(effect, CancelOrder):
                self._spawn("cancel", effect.client_order_id, self._cancel(effect))
            else:
                self._spawn("query", effect.client_order_id, self._query(effect))
        for e in pending_leverage:  # leverage with no place after it
            self._spawn("leverage", e.symbol, self._leverage_only(e))

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def pending(self) -> list[InFlight]:
        return list(self._tasks.values())

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def close(self, timeout_s: float) -> list[InFlight]:
        """Stop intake, wait up to ``timeout_s`` for running calls; cancel and
        return the ones that did not finish (the journal knows them; restart
        reconciliation queries them)."""
        self._closed = True
        if self._tasks:
            _, still = await asyncio.wait(list(self._tasks), timeout=timeout_s)
        else:
            still = set()
        unfinished = [self._tasks[t] for t in still if t in self._tasks]
        for t in still:
            t.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)
        return unfinished

    # ------------------------------------------------------------------ tasks

    def _spawn(self, kind: str, coid: str, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks[task] = InFlight(kind, coid, self._clock.now_ns())
        self._idle.clear()
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            self.stats["crashed"] += 1
            log.error("effect task crashed", exc_info=task.exception())
        if not self._tasks:
            self._idle.set()

    async def _place(self, leverage: list[EnsureLeverage], order: PlaceOrder) -> None:
        async with self._sem:
            for lev in leverage:
                try:
                    async with asyncio.timeout(self._timeout):
                        await self._venue.ensure_leverage(lev)
                    self.stats["leverage"] += 1
                except (LeverageError, VenueError, TimeoutError) as exc:
                    self._leverage_refused(lev, order, exc)
                    return
            try:
                async with asyncio.timeout(self._timeout):
                    await self._venue.place(order)
                self.stats["place"] += 1
            except (UnknownOutcomeError, TimeoutError):
                self.stats["place_unknown"] += 1  # the kernel's deadline will query
            except VenueError as exc:
                self._place_refused(order, exc)

    async def _cancel(self, cancel: CancelOrder) -> None:
        async with self._sem:
            try:
                async with asyncio.timeout(self._timeout):
                    await self._venue.cancel(cancel)
                self.stats["cancel"] += 1
            except (UnknownOutcomeError, TimeoutError):
                self.stats["cancel_unknown"] += 1
            except VenueError as exc:
                self._cancel_refused(cancel, exc)

    async def _query(self, query: QueryOrder) -> None:
        async with self._sem:
            try:
                async with asyncio.timeout(self._timeout):
                    report = await self._venue.query(query)
            except (VenueError, TimeoutError):
                self.stats["query_failed"] += 1  # the kernel asks again at its deadline
                return
            self.stats["query"] += 1
            self._emit(report)

    async def _leverage_only(self, lev: EnsureLeverage) -> None:
        async with self._sem:
            try:
                async with asyncio.timeout(self._timeout):
                    await self._venue.ensure_leverage(lev)
                self.stats["leverage"] += 1
            except (VenueError, TimeoutError) as exc:
                self._leverage_only_failed(lev, exc)

    # ------------------------------------------------- in-process venue: plain calls

    def _run_now(self, venue: InProcessVenue, effects: Sequence[Effect]) -> None:
        """The same calls and outcomes as the tasks above, for a venue without I/O."""
        refused: set[str] = set()  # symbols whose leverage failed: their places are rejected
        for effect in effects:
            try:
                self._run_one(venue, effect, effects, refused)
            except Exception:  # as a crashed task: counted and logged, the owner goes on
                self.stats["crashed"] += 1
                log.error("effect %s crashed", type(effect).__name__, exc_info=True)

    def _run_one(self, venue: InProcessVenue, effect: Effect, effects: Sequence[Effect], refused: set[str]) -> None:
        stats = self.stats
        if type(effect) is PlaceOrder:
            if effect.symbol in refused:
                return
            try:
                venue.place_now(effect)
                stats["place"] += 1
            except UnknownOutcomeError:
                stats["place_unknown"] += 1
            except VenueError as exc:
                self._place_refused(effect, exc)
        elif type(effect) is CancelOrder:
            try:
                venue.cancel_now(effect)
                stats["cancel"] += 1
            except UnknownOutcomeError:
                stats["cancel_unknown"] += 1
            except VenueError as exc:
                self._cancel_refused(effect, exc)
        elif type(effect) is QueryOrder:
            try:
                report = venue.query_now(effect)
            except VenueError:
                stats["query_failed"] += 1
                return
            stats["query"] += 1
            self._emit(report)
        elif isinstance(effect, EnsureLeverage):
            try:
                venue.ensure_leverage_now(effect)
                stats["leverage"] += 1
            except (LeverageError, VenueError) as exc:
                place = next((e for e in effects if isinstance(e, PlaceOrder) and e.symbol == effect.symbol), None)
                if place is None:
                    self._leverage_only_failed(effect, exc)
                else:
                    refused.add(effect.symbol)
                    self._leverage_refused(effect, place, exc)

    # ------------------------------------------------------------ outcomes

    def _leverage_refused(self, lev: EnsureLeverage, order: PlaceOrder, exc: BaseException) -> None:
        # the order was never sent: reject it locally, naming the cause
        self.stats["leverage_failed"] += 1
        code, msg = _describe(exc)
        self._emit(
            OrderRejected(
                order.client_order_id,
                f"LEVERAGE_{code}",
                f"leverage {lev.leverage} on {lev.symbol} not set: {msg}",
                self._clock.now_ns(),
            )
        )

    def _leverage_only_failed(self, lev: EnsureLeverage, exc: BaseException) -> None:
        self.stats["leverage_failed"] += 1
        log.warning("leverage on %s not set: %s", lev.symbol, _describe(exc)[1])

    def _place_refused(self, order: PlaceOrder, exc: VenueError) -> None:
        self.stats["place_refused"] += 1
        self._emit(OrderRejected(order.client_order_id, exc.code, exc.message, self._clock.now_ns()))

    def _cancel_refused(self, cancel: CancelOrder, exc: VenueError) -> None:
        self.stats["cancel_refused"] += 1
        self._emit(CancelRejected(cancel.client_order_id, exc.code, exc.message, None, self._clock.now_ns()))


def _describe(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, VenueError):
        return exc.code, exc.message
    return "TIMEOUT", "no reply within the call deadline"

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
* A call the venue's close cut short (``ClosedError``: its owner closed it with
  the call in flight) is an outcome, not a crash: unknown for a place or a
  cancel (it may have gone out), failed for a query; the restart reconcile
  settles it.

Nothing here touches the kernel: results go through ``emit`` (the queue).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pink.errors import ClosedError, UnknownOutcomeError, VenueError
from pink.kernel.messages import (
    CancelOrder,
    CancelRejected,
    Effect,
    EnsureLeverage,
    OrderRejected,
    OrderStatusReport,
    PlaceOrder,
    QueryOrder,
    VenueEvent,
)
from pink.ports import Clock, InProcessVenue, Venue

__all__ = ["EffectExecutor", "InFlight"]

log = logging.getLogger(__name__)
R = TypeVar("R")
# a call that failed: refused, unknown outcome, past its deadline, or cut short by the venue's close
Failure = VenueError | TimeoutError | ClosedError


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

    async def _call(self, call: Callable[[Any], Awaitable[R]], arg: Any) -> tuple[R | None, Failure | None]:
        """One venue call under the deadline: (result, None) or (None, why it failed)."""
        try:
            async with asyncio.timeout(self._timeout):
                return await call(arg), None
        except (VenueError, TimeoutError) as exc:
            return None, exc
        except ClosedError as exc:
            return None, _closed(exc, arg)

    async def _place(self, leverage: list[EnsureLeverage], order: PlaceOrder) -> None:
        async with self._sem:
            for lev in leverage:
                if not self._leverage_done(lev, order, (await self._call(self._venue.ensure_leverage, lev))[1]):
                    return
            self._placed(order, (await self._call(self._venue.place, order))[1])

    async def _cancel(self, cancel: CancelOrder) -> None:
        async with self._sem:
            self._canceled(cancel, (await self._call(self._venue.cancel, cancel))[1])

    async def _query(self, query: QueryOrder) -> None:
        async with self._sem:
            self._queried(*await self._call(self._venue.query, query))

    async def _leverage_only(self, lev: EnsureLeverage) -> None:
        async with self._sem:
            self._leverage_done(lev, None, (await self._call(self._venue.ensure_leverage, lev))[1])

    # ------------------------------------------------- in-process venue: plain calls

    def _run_now(self, venue: InProcessVenue, effects: Sequence[Effect]) -> None:
        """The same calls and outcomes as the tasks above, for a venue without I/O."""
        unset: set[str] = set()  # symbols whose leverage failed: their places are rejected, not sent
        for effect in effects:
            try:
                if type(effect) is PlaceOrder:
                    if effect.symbol not in unset:
                        self._placed(effect, _call_now(venue.place_now, effect)[1])
                elif type(effect) is CancelOrder:
                    self._canceled(effect, _call_now(venue.cancel_now, effect)[1])
                elif type(effect) is QueryOrder:
                    self._queried(*_call_now(venue.query_now, effect))
                elif isinstance(effect, EnsureLeverage):
                    place = next((e for e in effects if isinstance(e, PlaceOrder) and e.symbol == effect.symbol), None)
                    if not self._leverage_done(effect, place, _call_now(venue.ensure_leverage_now, effect)[1]):
                        unset.add(effect.symbol)
            except Exception:  # as a crashed task: counted and logged, the owner goes on
                self.stats["crashed"] += 1
                log.error("effect %s crashed", type(effect).__name__, exc_info=True)

    # ------------------------------------------------------------ outcomes (both paths)

    def _placed(self, order: PlaceOrder, failure: Failure | None) -> None:
        if failure is None:
            self.stats["place"] += 1
        elif isinstance(failure, (UnknownOutcomeError, TimeoutError, ClosedError)):
            self.stats["place_unknown"] += 1  # the kernel's deadline will query
        else:
            self.stats["place_refused"] += 1
            self._emit(OrderRejected(order.client_order_id, failure.code, failure.message, self._clock.now_ns()))

    def _canceled(self, cancel: CancelOrder, failure: Failure | None) -> None:
        if failure is None:
            self.stats["cancel"] += 1
        elif isinstance(failure, (UnknownOutcomeError, TimeoutError, ClosedError)):
            self.stats["cancel_unknown"] += 1
        else:
            self.stats["cancel_refused"] += 1
            self._emit(CancelRejected(cancel.client_order_id, failure.code, failure.message, None,
                                      self._clock.now_ns()))

    def _queried(self, report: OrderStatusReport | None, failure: Failure | None) -> None:
        if report is None or failure is not None:
            self.stats["query_failed"] += 1  # the kernel asks again at its deadline
            return
        self.stats["query"] += 1
        self._emit(report)

    def _leverage_done(self, lev: EnsureLeverage, order: PlaceOrder | None, failure: Failure | None) -> bool:
        """True when the leverage is set; else the order it precedes is rejected locally
        with the leverage error's code (it was never sent)."""
        if failure is None:
            self.stats["leverage"] += 1
            return True
        self.stats["leverage_failed"] += 1
        code, msg = _describe(failure)
        if order is None:
            log.warning("leverage on %s not set: %s", lev.symbol, msg)
        else:
            self._emit(OrderRejected(order.client_order_id, f"LEVERAGE_{code}",
                                     f"leverage {lev.leverage} on {lev.symbol} not set: {msg}", self._clock.now_ns()))
        return False


def _call_now(call: Callable[[Any], R], arg: Any) -> tuple[R | None, VenueError | ClosedError | None]:
    """One call to an in-process venue: (result, None) or (None, the venue's refusal or close)."""
    try:
        return call(arg), None
    except VenueError as exc:
        return None, exc
    except ClosedError as exc:
        return None, _closed(exc, arg)


def _closed(exc: ClosedError, effect: Any) -> ClosedError:
    """``exc``, logged: the venue was closed under a call (its owner closed it first)."""
    what = getattr(effect, "client_order_id", "") or getattr(effect, "symbol", "")
    log.warning("%s %s not done: %s (the restart reconcile settles it)", type(effect).__name__, what, exc)
    return exc


def _describe(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, VenueError):
        return exc.code, exc.message
    if isinstance(exc, ClosedError):
        return "CLOSED", str(exc)
    return "TIMEOUT", "no reply within the call deadline"

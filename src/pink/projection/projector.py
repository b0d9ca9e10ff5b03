"""The projector: hot-path ``put_*`` into per-sink queues, sinks fed off the hot path.

``put_slot``, ``put_account`` and ``put_event`` must be called from the event
loop's thread (the runtime task that owns the kernel). They cost a few µs:
a dict store (or a deque append) per sink and waking the sink's task. They
never block and never raise because of a sink (F8).

Each sink has its own task and queue, so a slow or dead sink does not hold
back another. A sink that fails is counted (``failures``, ``last_error``),
reconnected with backoff (50 ms doubling to 2 s) and, once back, is sent the
current state of every key again before anything else. Trade events that
overflow its queue while it is down are dropped and counted. Events are
numbered in put order (:class:`~pink.projection.sinks.Numbered`) so that a
sink can tell a batch sent again after a failure from new events.

:meth:`flush` (and :meth:`close`, which flushes first) waits, within its
bound, for every sink's queue, a disconnected sink's included: it may come
back within the bound. When the bound passes it logs what each sink still
holds and returns False; at close that is lost.

An idle sink is asked every ``heartbeat_s`` whether its store still holds the state keys
published (:meth:`Sink.missing`): a store restarted empty while nothing changed (no publish
failed, so nothing told) is sent the current state again; one that cannot answer is reconnected.

At :meth:`start` a sink that cannot be reached is a :class:`StartupError`
naming it, unless it was configured ``optional`` (F22); ``health()`` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import cast

from pink.errors import ClosedError, StartupError
from pink.kernel.views import AccountView, SlotView
from pink.plane.health import SinkHealth
from pink.projection.queue import SinkQueue
from pink.projection.sinks import Numbered, Sink

__all__ = ["Projector"]

log = logging.getLogger("pink.projection")


class _SinkState:
    def __init__(self, sink: Sink, max_events: int) -> None:
        self.sink = sink
        self.queue = SinkQueue(max_events)
        self.wake = asyncio.Event()
        self.connected = False
        self.ever_connected = False
        self.published = 0
        self.publishing = False  # a batch taken from the queue is being sent
        self.failures = 0
        self.reconnects = 0
        self.last_error = ""
        self.task: asyncio.Task[None] | None = None
        self.down_since: float | None = None  # monotonic time of the outage's first failure
        self.drops_before = 0  # the queue's drops when the outage began

    def fail(self, exc: BaseException, *, warn: bool = True) -> None:
        """Count a failure; ``warn=False``: a required sink failing its start (the start says so)."""
        self.failures += 1
        self.connected = False
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        if self.down_since is None and warn:  # once per outage, not at every reconnect attempt
            self.down_since = time.monotonic()
            self.drops_before = self.queue.drops
            log.warning("projection sink %s (%s) is down: %s; trading goes on, and its updates wait for it "
                        "(the latest state of each key, and the last %d events: older ones are dropped)",
                        self.sink.name, self.sink.backend, self.last_error, self.queue.max_events)

    def back(self) -> None:
        self.connected = True
        if self.down_since is not None:
            log.warning("projection sink %s (%s) is back after %.1f s; %d events dropped while it was down",
                        self.sink.name, self.sink.backend, time.monotonic() - self.down_since,
                        self.queue.drops - self.drops_before)
            self.down_since = None


class Projector:
    def __init__(
        self,
        account_id: str,
        runtime_id: str,
        sinks: Sequence[Sink],
        *,
        max_events: int = 10_000,
        batch_events: int = 500,
        startup_timeout_s: float = 5.0,
        heartbeat_s: float = 1.0,
    ) -> None:
        self.prefix = f"pink:{account_id}:{runtime_id}"
        self._states = [_SinkState(s, max_events) for s in sinks]
        for st in self._states:
            st.sink.bind(self.prefix)
        self._current: dict[str, object] = {}
        self._events_put = 0  # the number of the last event put
        self._batch = batch_events
        self._startup_timeout_s = startup_timeout_s
        self._heartbeat_s = heartbeat_s
        self._started = False
        self._closed = False

    # ----------------------------------------------------------- hot path

    def put_slot(self, view: SlotView) -> None:
        self._put_state(f"slot:{view.slot}", view)

    def put_account(self, view: AccountView) -> None:
        self._put_state("account", view)

    def _put_state(self, key: str, view: object) -> None:
        if self._closed:
            raise ClosedError("projector")
        self._current[key] = view
        for st in self._states:
            st.queue.states[key] = view
            if not st.wake.is_set():
                st.wake.set()

    def put_event(self, record: object) -> None:
        """A trade event (FillBooked, TradeClosed, Settlement...): never coalesced."""
        if self._closed:
            raise ClosedError("projector")
        self._events_put += 1
        numbered = Numbered(self._events_put, record)
        for st in self._states:
            st.queue.put_event(numbered)
            if not st.wake.is_set():
                st.wake.set()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect every sink; a required one that cannot be reached is a StartupError."""
        if self._closed:
            raise ClosedError("projector")
        if self._started:
            return
        results = await asyncio.gather(
            *(self._first_connect(st) for st in self._states), return_exceptions=True
        )
        for st, result in zip(self._states, results, strict=True):
            if isinstance(result, BaseException) and not st.sink.optional:
                for other in self._states:
                    with contextlib.suppress(Exception):
                        await other.sink.aclose()
                self._closed = True
                raise StartupError(
                    f"projection sink {st.sink.name} ({st.sink.backend})", st.last_error
                ) from result
        self._started = True
        for st in self._states:
            st.task = asyncio.create_task(self._run(st), name=f"pink-projection-{st.sink.name}")

    async def _first_connect(self, st: _SinkState) -> None:
        try:
            await asyncio.wait_for(st.sink.connect(), self._startup_timeout_s)
        except BaseException as exc:
            st.fail(exc if str(exc) else TimeoutError("no answer"), warn=st.sink.optional)
            with contextlib.suppress(Exception):
                await st.sink.disconnect()
            raise
        st.back()
        st.ever_connected = True

    async def _run(self, st: _SinkState) -> None:
        backoff = 0.05
        while not self._closed:
            if not st.connected:
                try:
                    await st.sink.connect()
                except Exception as exc:
                    st.fail(exc)
                    with contextlib.suppress(Exception):
                        await st.sink.disconnect()
                    await self._sleep(st, backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                st.back()
                st.reconnects += st.ever_connected
                st.ever_connected = True
                backoff = 0.05
                for key, view in self._current.items():  # re-publish the current state
                    st.queue.states.setdefault(key, view)
            if not st.queue:
                st.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(st.wake.wait(), self._heartbeat_s)
                if not st.queue and not self._closed and self._current:
                    await self._look(st)
                continue
            states, events = st.queue.take(self._batch)
            st.publishing = True
            try:
                await st.sink.publish(states, cast("list[Numbered]", events))  # put_event queues them
            except Exception as exc:
                st.fail(exc)
                st.queue.give_back(states, events)
                with contextlib.suppress(Exception):
                    await st.sink.disconnect()
                continue
            finally:
                st.publishing = False
            st.published += len(states) + len(events)

    async def _look(self, st: _SinkState) -> None:
        """An idle sink: publish the current state again if its store lost it (restarted empty)."""
        try:
            lost = await st.sink.missing(list(self._current))
        except Exception as exc:
            st.fail(exc)  # reconnected at the loop's top, which publishes the current state again
            with contextlib.suppress(Exception):
                await st.sink.disconnect()
            return
        if lost:
            log.warning("projection sink %s (%s) lost the state it was sent (restarted empty?): it is "
                        "sent again", st.sink.name, st.sink.backend)  # fmt: skip
            for key, view in self._current.items():
                st.queue.states.setdefault(key, view)

    async def _sleep(self, st: _SinkState, seconds: float) -> None:
        """Sleep, cut short by close()."""
        st.wake.clear()
        if self._closed:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing_wait(st), seconds)

    async def _closing_wait(self, st: _SinkState) -> None:
        while not self._closed:
            st.wake.clear()
            await st.wake.wait()

    async def flush(self, timeout_s: float = 2.0) -> bool:
        """Wait until every sink has published what is queued (the batch it is sending
        included: taken from the queue is not yet published). A disconnected sink is
        waited for too, within the bound; past it, what is left is logged and False returned."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(self._idle(st) for st in self._states):
                await asyncio.sleep(0)
                if all(self._idle(st) for st in self._states):
                    return True
            await asyncio.sleep(0.005)
        for line in self.unpublished():
            log.warning("projection flush: %.1f s passed with %s", timeout_s, line)
        return False

    @staticmethod
    def _idle(st: _SinkState) -> bool:
        return not st.queue and not st.publishing

    def unpublished(self) -> list[str]:
        """What each sink still has to publish, one line per sink that has something."""
        out = []
        for st in self._states:
            if not st.queue and not st.publishing:
                continue
            line = (f"sink {st.sink.name} ({st.sink.backend}): {len(st.queue.events)} events and "
                    f"{len(st.queue.states)} states queued")
            if st.publishing:
                line += ", a batch being sent"
            if not st.connected:
                line += f", disconnected ({st.last_error or 'never connected'})"
            out.append(line)
        return out

    async def close(self, flush_timeout_s: float = 2.0) -> None:
        """Publish what is queued (bounded), stop the tasks, close the sinks. Idempotent."""
        if self._closed:
            return
        if self._started and not await self.flush(flush_timeout_s):
            for line in self.unpublished():
                log.warning("projection closed: lost %s", line)
        self._closed = True
        for st in self._states:
            st.wake.set()
            if st.task is not None:
                st.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await st.task
        for st in self._states:
            with contextlib.suppress(Exception):
                await st.sink.aclose()
            st.connected = False

    # ---------------------------------------------------------------- health

    def health(self) -> list[SinkHealth]:
        return [
            SinkHealth(
                name=st.sink.name,
                backend=st.sink.backend,
                requested=True,
                optional=st.sink.optional,
                connected=st.connected,
                queue_depth=st.queue.depth,
                published=st.published,
                failures=st.failures,
                drops=st.queue.drops,
                last_drop_ts=st.queue.last_drop_ns,
                reconnects=st.reconnects,
                last_error=st.last_error,
            )
            for st in self._states
        ]

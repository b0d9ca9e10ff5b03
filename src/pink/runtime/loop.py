"""The runtime loop: one task owns the kernel (T1, E2, E4).

Venue events (from the venue's sink), timers (``kernel.tick``), policy
cycles and operator commands (control changes, flatten) all go through ONE
``asyncio.Queue``, consumed by one task: the only code that calls the
kernel. What its outcomes produce (effects, records, views) goes through
:class:`~pink.runtime.outputs.Outputs`, handed over after each batch's
journal commit.

A scheduler task decides *when*: next policy cycle, the kernel's next
deadline, the simulator's next due event, the slow reconciliation timer.
With a :class:`SimClock` it waits until everything in flight has been
handled, then jumps straight to the next due time.

This module holds the runtime's inputs and life (start, run, quiesce,
shutdown); the owner task is :mod:`pink.runtime.owner`, the scheduler
:mod:`pink.runtime.scheduler`, the queue's items and :class:`LoopConfig`
:mod:`pink.runtime.items`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from pink.errors import ClosedError
from pink.kernel.exact import kernel_context
from pink.kernel.messages import ClosedOutside, ControlSnapshot, Instrument, Outcome, VenueEvent
from pink.kernel.views import AccountView, OrderView
from pink.policy.base import DecisionEngine, IntentEngine
from pink.ports import Clock, Quote, Venue
from pink.runtime.clock import SteadyClock
from pink.runtime.closes import ClosesAfterCancel
from pink.runtime.decimals import PolicyDecimals
from pink.runtime.executor import EffectExecutor, InFlight
from pink.runtime.ids import IdFactory
from pink.runtime.items import CallItem, ControlItem, CycleItem, FlattenItem, Item, LoopConfig, TickItem
from pink.runtime.outputs import Outputs
from pink.runtime.owner import KernelOwner
from pink.runtime.policy_run import PolicyRunner
from pink.runtime.ports_ext import (
    BooksLog,
    ControlSource,
    FlattenLog,
    FlattenMark,
    JournaledOps,
    KernelOps,
    KernelViews,
    NullControl,
    NullProjection,
    NullRecordSink,
    NullStateSink,
    ProjectionSink,
    RecordSink,
    SimDriver,
    StateSink,
)
from pink.runtime.recovery import Reconciler, ReconcileReport
from pink.runtime.scheduler import Scheduling
from pink.runtime.stats import RunStats

__all__ = ["LoopConfig", "Runtime"]

log = logging.getLogger(__name__)
_NS = 1_000_000_000


class Runtime(KernelOwner, Scheduling):
    """Owns a (journaled) kernel and drives it; see the module docstring."""

    def __init__(
        self,
        kernel: KernelOps,
        views: KernelViews,
        venue: Venue,
        clock: Clock,
        decision: DecisionEngine,
        intents: IntentEngine,
        *,
        instruments: Mapping[str, Instrument],
        slots: int,
        config: LoopConfig | None = None,
        ledger: RecordSink | None = None,
        plane: StateSink | None = None,
        projection: ProjectionSink | None = None,
        control: ControlSource | None = None,
        quotes: Callable[[str], Quote | None] | None = None,
        ids: IdFactory | None = None,
        flatten_log: FlattenLog | None = None,
        books_log: BooksLog | None = None,
        policy_decimals: PolicyDecimals | None = None,
    ) -> None:
        self.cfg = config or LoopConfig()
        self._k = kernel
        self._v = views
        self._venue = venue
        # wall time never goes backwards for the kernel, nor stalls the scheduler (SteadyClock)
        self.clock: Clock = clock if getattr(clock, "simulated", False) else SteadyClock(clock)
        clock = self.clock
        self.instruments = dict(instruments)
        self._control = control or NullControl()
        self._quotes = quotes or (lambda _s: None)
        self._ids = ids or IdFactory()
        self._q: asyncio.Queue[Item] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self.executor = EffectExecutor(
            venue,
            self._put,
            clock,
            max_in_flight=self.cfg.max_in_flight,
            call_timeout_s=self.cfg.call_timeout_s,
        )
        self.stats = RunStats(views.account_view().capital)  # this run's: a restart goes on from it
        journaled = kernel if isinstance(kernel, JournaledOps) else None
        self._batch = journaled.batch if journaled is not None else contextlib.nullcontext
        self.outputs = Outputs(
            views, slots, self.stats,
            ledger=ledger or NullRecordSink(),
            plane=plane or NullStateSink(),
            projection=projection or NullProjection(),
            journal_position=(lambda: None) if journaled is None else (lambda: journaled.position),
        )  # fmt: skip
        self.steps: list[str] = []  # close steps, in order (F21)
        self.reconciler = Reconciler(venue, self._put, self.ask, clock.now_ns,
                                     int(self.cfg.books_settle_s * _NS),
                                     books_log=books_log, books_rebase=self.cfg.books_rebase,
                                     start_attempts=self.cfg.start_read_attempts,
                                     start_backoff_s=self.cfg.start_read_backoff_s)
        # where the next slow reconcile reads from: the start-up one's start, then the start of
        # the last slow run that read everything (one that failed a read leaves it where it was)
        self._recon_since: int | None = None
        self._sim = isinstance(venue, SimDriver) and getattr(clock, "simulated", False)
        self._owner: asyncio.Task[None] | None = None
        self._scheduler: asyncio.Task[None] | None = None
        self._bg: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()
        self._policy_on = True
        self._intake_on = True
        self._accept_events = True
        self._flatten_armed = False
        self._flatten_log = flatten_log
        self._flatten_doing: FlattenMark | None = None  # the control file's flatten being done
        self._control_read: ControlSnapshot | None = None  # the control file's snapshot read last
        self._flatten_mark = FlattenMark()  # the control file's latest flatten
        self._cycle_limit: int | None = None
        self._next_recon: int | None = None  # when the next slow reconcile is due
        self._reconciling = False  # a slow reconcile runs (never two at once)
        self._done = asyncio.Event()
        self._deadline: int | None = views.next_deadline()
        self._fatal: BaseException | None = None
        self._closed = False
        self.events_dropped = 0
        self.policy = PolicyRunner(decision, intents, self.stats, self.cfg.cycle_s,
                                   real_time=not getattr(clock, "simulated", False), decimals=policy_decimals)
        self._closes = ClosesAfterCancel()  # policy close-alls waiting for a working order to end
        self.last_event_wall_ns = 0  # wall time of the last venue event (for health)

    @property
    def policy_errors(self) -> int:
        """Cycles skipped: the policy raised."""
        return self.policy.errors

    @property
    def policy_dropped(self) -> int:
        """Decisions and intents not submitted: not of their types."""
        return self.policy.dropped

    @property
    def policy_slow(self) -> int:
        """Cycles whose policy took longer than cycle_s (real time)."""
        return self.policy.slow

    @property
    def account(self) -> AccountView:
        return self.outputs.account

    @property
    def working(self) -> list[OrderView]:
        """The working orders as the policy saw them at its last cycle."""
        return self.outputs.working

    @property
    def control(self) -> ControlSnapshot:
        """The operator switches the kernel holds now."""
        return self._v.control

    @property
    def queued(self) -> int:
        """Items waiting for the owner task."""
        return self._q.qsize()

    def control_read(self) -> tuple[int, FlattenMark, bool]:
        """The control file's version and latest flatten this run last read (-1, none: not yet), and
        whether a flatten is being carried out."""
        version = -1 if self._control_read is None else self._control_read.version
        return version, self._flatten_mark, self._flatten_armed

    # ------------------------------------------------------------------ inputs

    def sink(self, event: VenueEvent) -> None:
        """The venue's event sink: thread-safe, never touches the kernel."""
        if threading.get_ident() != self._thread:
            self._loop.call_soon_threadsafe(self.sink, event)
            return
        if not self._accept_events:
            self.events_dropped += 1  # after close: restart reconciliation recovers it
            return
        self.last_event_wall_ns = time.time_ns()
        self._q.put_nowait(event)

    def _put(self, item: Item) -> None:
        if isinstance(item, (CycleItem, TickItem, ControlItem, FlattenItem)):
            if not self._intake_on:
                return
        elif not self._accept_events:
            self.events_dropped += 1
            return
        self._q.put_nowait(item)
        self._wake.set()

    def flatten(self) -> None:
        """Operator command: cancel working entries, close every position at market."""
        self._put(FlattenItem())

    async def ask(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the owner task (the only one that touches the kernel).

        With no owner to run it (not started, stopped, or dead of an error such as a journal
        that cannot write), it fails at once with the owner's error or :class:`ClosedError`;
        an owner that dies fails the asks still queued. Nothing waits for ever on a dead queue."""
        self._owner_alive()
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._q.put_nowait(CallItem(fn, fut))
        self._wake.set()
        return await fut

    async def book_closed_outside(self, event: ClosedOutside) -> Outcome:
        """Book a position the operator says was closed outside PINK (by hand, or by a
        liquidation): on the owner task, journaled with its batch. The outcome says what was
        booked, or why not (see :mod:`pink.kernel.outside`)."""

        def book() -> Outcome:
            outcome = self._k.apply(event, self.clock.now_ns())
            self.outputs.route(outcome)
            return outcome

        outcome: Outcome = await self.ask(book)
        return outcome

    async def read_working_orders(self) -> list[OrderView]:
        """The kernel's working orders now (read on the owner task)."""
        orders: list[OrderView] = await self.ask(self._v.working_orders)
        return orders

    # ------------------------------------------------------------------- life

    async def start(self, resume_from_ns: int | None = None, *, book_since_ns: int = 0) -> ReconcileReport:
        """Start the owner task and reconcile with the venue before any cycle (E26).

        ``resume_from_ns``: when the journal last saw anything. Funding and transfers are
        looked for from a minute before it (at most ``money_lookback_max_s`` back) when that
        is further back than ``reconcile_lookback_s``: a withdrawal made during a long stop
        must be in capital before anything is sized. ``book_since_ns``: when the journal was
        made; no money moved before it is its own (``initial_capital`` is what it started with:
        a deposit made that morning was already in it).

        Every read of that reconcile must succeed (each is retried a few times): one that still
        fails raises :class:`~pink.errors.ReconcileError` and no cycle ever runs on this start."""
        if self._closed:
            raise ClosedError("runtime")
        with kernel_context():  # (its tasks, started here, keep it: :mod:`pink.runtime.decimals`)
            return await self._start(resume_from_ns, book_since_ns)

    async def _start(self, resume_from_ns: int | None, book_since_ns: int) -> ReconcileReport:
        self._owner = asyncio.create_task(self._own(), name="pink-kernel-owner")
        ctrl = self._control.current()
        self._control_read = ctrl.snapshot
        mark = self._flatten_mark = FlattenMark.of(ctrl)
        log_ = self._flatten_log
        handled = await self.ask(log_.flatten_handled) if log_ is not None else None
        self._put(ControlItem(ctrl.snapshot))
        now = self.clock.now_ns()
        since = now - int(self.cfg.reconcile_lookback_s * _NS)
        money_since = since
        if resume_from_ns:
            floor = now - int(self.cfg.money_lookback_max_s * _NS)
            money_since = min(since, max(resume_from_ns - 60 * _NS, floor))
        money_since = max(money_since, book_since_ns)
        report = await self.reconciler.full(self._v, since, len(self.slots), money_since_ns=money_since)
        self._recon_since = now
        await self.quiesce()
        if handled is not None and handled.asks_again(mark):
            # asked for while nothing ran: carry it out now, after reconciliation, before any cycle
            log.warning("flatten #%d was asked for while the runtime was down: flattening now", mark.seq)
            self._put(FlattenItem(mark))
            await self.quiesce()
        elif log_ is not None and handled != mark:
            await self.ask(lambda: log_.record_flatten(mark))  # this journal's baseline
        await self.ask(self.outputs.publish_all)  # readers never wait for the first change
        return report

    async def run(self, cycles: int | None = None) -> None:
        """Run policy cycles until ``cycles`` were done or :meth:`request_stop`."""
        if self._closed:
            raise ClosedError("runtime")
        self._cycle_limit = None if cycles is None else self.stats.cycles + cycles
        with kernel_context():  # (the scheduler's task, and the slow reconciles it starts, keep it)
            self._scheduler = asyncio.create_task(self._schedule(), name="pink-scheduler")
        waits = [self._scheduler]
        if self._owner is not None:
            waits.append(self._owner)
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if self._fatal is not None:
            raise self._fatal
        if self._scheduler.done() and not self._scheduler.cancelled():
            self._scheduler.result()

    def request_stop(self) -> None:
        self._policy_on = False
        self._done.set()
        self._wake.set()

    async def quiesce(self) -> None:
        """Wait until the queue is empty and no venue call or background task runs."""
        while True:
            if self._fatal is not None:
                raise self._fatal
            await self._q.join()
            if self.executor.in_flight:
                await self.executor.wait_idle()
                continue
            if self._bg:
                await asyncio.gather(*list(self._bg), return_exceptions=True)
                continue
            if self._q.empty():
                return

    async def shutdown(self) -> list[InFlight]:
        """Steps 1-3 of the close order (F21); returns calls that did not finish."""
        if self._closed:
            return []
        self._closed = True
        self._policy_on = False
        self.steps.append("stop_policy")
        self._intake_on = False
        self._done.set()
        self._wake.set()
        if self._scheduler is not None:
            self._scheduler.cancel()
            await asyncio.gather(self._scheduler, return_exceptions=True)
        self.steps.append("stop_intake")
        unfinished = await self.executor.close(self.cfg.close_timeout_s)
        for bg in list(self._bg):
            bg.cancel()
        await asyncio.gather(*list(self._bg), return_exceptions=True)
        if self._owner is not None and not self._owner.done():
            try:
                async with asyncio.timeout(self.cfg.close_timeout_s):
                    await self._q.join()
            except TimeoutError:
                log.warning("close: %d queued items not applied", self._q.qsize())
        self._accept_events = False
        if self._owner is not None:
            self._owner.cancel()
            await asyncio.gather(self._owner, return_exceptions=True)
        for f in unfinished:
            log.warning("close: %s %s still in flight (journal + restart reconcile)", f.kind,
                        f.client_order_id)
        self.steps.append("finish_in_flight")
        return unfinished


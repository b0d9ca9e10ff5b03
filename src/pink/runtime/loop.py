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
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pink.errors import ClosedError
from pink.kernel.messages import (
    Action,
    ClosedOutside,
    ControlSnapshot,
    Instrument,
    Intent,
    Outcome,
    VenueEvent,
)
from pink.kernel.views import AccountView, OrderView, SlotView
from pink.policy.base import DecisionEngine, IntentEngine, PolicySnapshot
from pink.ports import Clock, Quote, Venue
from pink.runtime.clock import SteadyClock
from pink.runtime.closes import ClosesAfterCancel
from pink.runtime.executor import EffectExecutor, InFlight
from pink.runtime.flatten import flatten_intents
from pink.runtime.ids import IdFactory
from pink.runtime.outputs import Outputs
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
from pink.runtime.stats import RunStats

__all__ = ["LoopConfig", "Runtime"]

log = logging.getLogger(__name__)
_NS = 1_000_000_000
_CONTROL_POLL_NS = _NS // 2  # how often a real-time run reads the control file (one stat) at least


@dataclass(frozen=True, slots=True)
class LoopConfig:
    cycle_s: float = 5.0
    max_in_flight: int = 8
    call_timeout_s: float = 5.0
    close_timeout_s: float = 5.0
    reconcile_interval_s: float = 300.0
    reconcile_lookback_s: float = 86_400.0
    # how long kernel capital and the venue's wallet must differ by one new amount to be a mismatch
    books_settle_s: float = 600.0
    # drop the books baseline kept by the last run: this start's reading becomes the new one
    books_rebase: bool = False
    # funding and transfers while the runtime was down, however long (BingX keeps 3 months of them)
    money_lookback_max_s: float = 90 * 86_400.0
    tick_s: float = 0.25  # re-tick period while a deadline stays overdue
    # each read of the start-up reconcile: tries while the venue's error is retryable, first wait
    start_read_attempts: int = 3
    start_read_backoff_s: float = 0.5


@dataclass(frozen=True, slots=True)
class _Cycle:
    n: int


@dataclass(frozen=True, slots=True)
class _Tick:
    pass


@dataclass(frozen=True, slots=True)
class _Control:
    snapshot: ControlSnapshot


@dataclass(frozen=True, slots=True)
class _Flatten:
    mark: FlattenMark | None = None  # the control file's flatten (None: asked in-process)


@dataclass(frozen=True, slots=True)
class _Call:
    """Run ``fn`` on the owner task (reads of the kernel from elsewhere)."""

    fn: Callable[[], Any]
    done: asyncio.Future[Any]


_Item = VenueEvent | _Cycle | _Tick | _Control | _Flatten | _Call


class Runtime:
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
        self._q: asyncio.Queue[_Item] = asyncio.Queue()
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
        self._control_version = -1
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
                                   real_time=not getattr(clock, "simulated", False))
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
    def slots(self) -> list[SlotView]:
        """The slots' views as of the last batch (or the last read of a touched slot)."""
        return self.outputs.slots

    @property
    def account(self) -> AccountView:
        return self.outputs.account

    @property
    def working(self) -> list[OrderView]:
        """The working orders as the policy saw them at its last cycle."""
        return self.outputs.working

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

    def _put(self, item: _Item) -> None:
        if isinstance(item, (_Cycle, _Tick, _Control, _Flatten)):
            if not self._intake_on:
                return
        elif not self._accept_events:
            self.events_dropped += 1
            return
        self._q.put_nowait(item)
        self._wake.set()

    def flatten(self) -> None:
        """Operator command: cancel working entries, close every position at market."""
        self._put(_Flatten())

    async def ask(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the owner task (the only one that touches the kernel).

        With no owner to run it (not started, stopped, or dead of an error such as a journal
        that cannot write), it fails at once with the owner's error or :class:`ClosedError`;
        an owner that dies fails the asks still queued. Nothing waits for ever on a dead queue."""
        self._owner_alive()
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._q.put_nowait(_Call(fn, fut))
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
        self._owner = asyncio.create_task(self._own(), name="pink-kernel-owner")
        ctrl = self._control.current()
        self._control_version = ctrl.snapshot.version
        mark = self._flatten_mark = FlattenMark.of(ctrl)
        log_ = self._flatten_log
        handled = await self.ask(log_.flatten_handled) if log_ is not None else None
        self._put(_Control(ctrl.snapshot))
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
            self._put(_Flatten(mark))
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

    # ------------------------------------------------------------- owner task

    def _owner_alive(self) -> None:
        """Raise what stopped the owner task (or ClosedError) unless it runs."""
        if self._fatal is not None:
            raise self._fatal
        if self._owner is None or self._owner.done():
            raise ClosedError("runtime (its kernel owner task is not running)")

    async def _own(self) -> None:
        try:
            await self._own_batches()
        finally:  # stopped (close) or dead: fail what can never run now
            stopped = self._fatal or ClosedError("runtime (its kernel owner task stopped)")
            while not self._q.empty():
                item = self._q.get_nowait()
                if isinstance(item, _Call) and not item.done.done():
                    item.done.set_exception(stopped)
                self._q.task_done()

    async def _own_batches(self) -> None:
        while True:
            items = [await self._q.get()]
            while not self._q.empty() and len(items) < 256:
                items.append(self._q.get_nowait())
            try:
                # one durable journal commit for the batch, then its effects (journal first)
                answers: list[tuple[_Call, Any, Exception | None]] = []
                with self._batch():
                    for item in items:
                        if isinstance(item, _Call):
                            answers.append(self._answer(item))
                        else:
                            self._handle(item)
                    if self._closes.waiting:
                        for close in self._closes.due(self.outputs.slot):
                            self.submit(close, self.clock.now_ns())
                for call, value, error in answers:  # after the commit: what they changed is durable
                    if not call.done.done():
                        if error is None:
                            call.done.set_result(value)
                        else:
                            call.done.set_exception(error)
                self._deadline = self._v.next_deadline()
                self.outputs.hand_over(self.executor.submit)  # journal first: after the commit
            except BaseException as exc:
                self._fatal = exc
                self._done.set()
                log.exception("kernel owner stopped")
                for item in items:  # those of the failed batch not answered yet
                    if isinstance(item, _Call) and not item.done.done():
                        item.done.set_exception(exc)
                raise
            finally:
                for _ in items:
                    self._q.task_done()

    @staticmethod
    def _answer(call: _Call) -> tuple[_Call, Any, Exception | None]:
        """Run an asked function; its answer is given once its batch is committed."""
        if call.done.done():
            return call, None, None
        try:
            return call, call.fn(), None
        except Exception as exc:
            return call, None, exc

    def _handle(self, item: VenueEvent | _Cycle | _Tick | _Control | _Flatten) -> None:
        """One item of a batch (an asked call is answered apart: :meth:`_answer`)."""
        now = self.clock.now_ns()
        if isinstance(item, _Cycle):
            self._cycle(item.n, now)
        elif isinstance(item, _Tick):
            self.outputs.route(self._k.tick(now))
        elif isinstance(item, _Control):
            snap = self._as_newer(item.snapshot)
            outcome = self._k.set_control(snap, now)
            self.outputs.route(outcome)
            if outcome.status.value == "CONFIRMED" and snap.version > 0:  # (0: no control file yet)
                log.info("control v%d in force (%s%s): pause_entries=%s kill=%s max_leverage=%d "
                         "max_position_notional=%s", snap.version, snap.changed_by,
                         f": {snap.note}" if snap.note else "", snap.pause_entries, snap.kill,
                         snap.max_leverage, snap.max_position_notional)
        elif isinstance(item, _Flatten):
            self._flatten_armed = True
            if item.mark is not None:
                self._flatten_doing = item.mark
            self._run_flatten(now)
        else:
            self.outputs.route(self._k.apply(item, now))

    def _cycle(self, n: int, now: int) -> None:
        self.stats.cycles += 1
        if self._cycle_limit is not None and self.stats.cycles >= self._cycle_limit:
            self._wake.set()  # the last cycle asked for is done: the scheduler ends now
        if self._flatten_armed:
            self._run_flatten(now)
            return
        if not self._policy_on:
            return
        self.outputs.refresh()
        for intent in self.policy.plan(n, self.snapshot(n, now)):
            if intent.close_all is True and type(intent.slot) is int and 0 <= intent.slot < len(self.slots):
                view = self.outputs.slot(intent.slot)
                if view.working_order:  # (a stop over a resting order: rare)
                    taken = self._closes.take(intent, view, self.outputs.working_orders())
                    if taken is None:
                        continue
                    intent = taken
            self.submit(intent, now)

    def snapshot(self, n: int, now: int) -> PolicySnapshot:
        """A consistent, versioned snapshot (no await between it and the submits)."""
        quotes = {s: q for s in self.instruments if (q := self._quotes(s)) is not None}
        out = self.outputs
        return PolicySnapshot(
            cycle=n,
            ts=now,
            kernel_version=self._v.version,
            slots=tuple(out.slots),
            account=out.account,
            quotes=MappingProxyType(quotes),  # the policy's to read, not to change
            instruments=MappingProxyType(self.instruments),
            working_orders=tuple(out.working_orders()),  # read once per cycle, not once per event
        )

    def submit(self, intent: Intent, now: int) -> Outcome:
        """Stamp identity and submit on current state (owner task only)."""
        trade_id = intent.trade_id
        if not trade_id:
            if intent.action is Action.ENTER:
                trade_id = self._ids.trade_id()
            elif 0 <= intent.slot < len(self.slots):
                trade_id = self.outputs.slot(intent.slot).trade_id
        intent = intent.stamped(
            trade_id, intent.intent_id or self._ids.intent_id(), intent.decision_id or self._ids.decision_id()
        )
        outcome = self._k.submit(intent, now)
        self.outputs.route(outcome)
        return outcome

    def _run_flatten(self, now: int) -> None:
        self.outputs.refresh()
        pending = flatten_intents(self.slots)
        # a DESYNC slot may hold a position the venue has yet to tell of: done once it is idle too
        if not pending and all(s.state == "IDLE" for s in self.slots):
            self._flatten_armed = False
            if self._flatten_doing is not None and self._flatten_log is not None:
                self._flatten_log.record_flatten(self._flatten_doing)  # journaled with this batch
            self._flatten_doing = None
        for intent in pending:
            self.submit(intent, now)

    # -------------------------------------------------------------- scheduler

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
                self._put(_Tick())
            if more and now >= next_cycle:
                n += 1
                self._put(_Cycle(n))
                next_cycle += cycle_ns
                if next_cycle <= now:  # wall clock fell behind: skip missed cycles
                    next_cycle = now + cycle_ns
            if now >= self._next_recon:
                self._next_recon = now + recon_ns
                if not self._reconciling:  # (one still reading a slow venue: the next is due later)
                    self._reconciling = True
                    self._spawn_bg(self._slow_reconcile(now))
            ctrl = self._control.current()
            if ctrl.snapshot.version != self._control_version:
                self._control_version = ctrl.snapshot.version
                self._put(_Control(ctrl.snapshot))
            held = self._flatten_mark
            if ctrl.flatten_seq != held.seq or ctrl.flatten_ns != held.ns:
                mark = FlattenMark.of(ctrl)
                if held.asks_again(mark):  # not a reset file counting from 0 again
                    self._flatten_mark = mark
                    self._put(_Flatten(mark))

    def _as_newer(self, snap: ControlSnapshot) -> ControlSnapshot:
        """``snap`` numbered so that the kernel takes it when it is the operator's latest word.

        The control file numbers its versions from 1 again once it is removed or reset, while
        the kernel (and its journal) takes only a version newer than the one in force: a
        ``pink control kill`` written as v1 after a reset would be dropped, and the kill switch
        never engage. A snapshot that differs from the one in force is adopted under the next
        version; the file with no version at all (none written) changes nothing."""
        held = self._v.control
        if snap.version == 0 or snap.version > held.version:
            return snap
        if dataclasses.replace(snap, version=held.version) == held:
            return snap  # the one in force: the kernel says so
        log.warning("control: the control file says v%d, older than v%d in force (was it reset?); "
                    "its switches are adopted as v%d", snap.version, held.version, held.version + 1)
        return dataclasses.replace(snap, version=held.version + 1)

    async def _slow_reconcile(self, now: int) -> None:
        """A slow reconcile from where the last complete one (or the start-up one) began: a read
        the venue failed is read again next time over the whole window it missed."""
        since = now if self._recon_since is None else self._recon_since
        try:
            rep = await self.reconciler.periodic(self._v, since, len(self.slots))
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

"""The kernel owner task of :class:`~pink.runtime.loop.Runtime`: the only code that calls the kernel.

It takes the queue's items (:mod:`pink.runtime.items`) in batches, applies each batch inside
one durable journal commit, answers asked calls after that commit, then hands the batch's
outputs over (views, ledger records, effects: journal first). A policy cycle runs here: the
snapshot, the policy's intents and their submits happen with no await between them (T1, E2,
E4). An owner that dies of an error (a journal that cannot write) fails every asked call still
queued: nothing waits for ever on a dead queue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import MappingProxyType
from typing import Any

from pink.errors import ClosedError
from pink.kernel.consts import O_REFUSED
from pink.kernel.messages import Action, ControlSnapshot, Instrument, Intent, Outcome, VenueEvent
from pink.kernel.views import SlotView
from pink.policy.base import PolicySnapshot
from pink.ports import Clock, Quote
from pink.runtime.closes import ClosesAfterCancel
from pink.runtime.executor import EffectExecutor
from pink.runtime.flatten import flatten_intents
from pink.runtime.ids import IdFactory
from pink.runtime.items import CallItem, ControlItem, CycleItem, FlattenItem, Item, TickItem
from pink.runtime.outputs import Outputs
from pink.runtime.policy_run import PolicyRunner
from pink.runtime.ports_ext import FlattenLog, FlattenMark, KernelOps, KernelViews
from pink.runtime.stats import RunStats

__all__ = ["KernelOwner"]

log = logging.getLogger("pink.runtime.loop")  # (where a trader's log filters already look)


class KernelOwner:
    """The owner task's part of the runtime (a base of :class:`~pink.runtime.loop.Runtime`,
    which sets every attribute below)."""

    clock: Clock
    instruments: dict[str, Instrument]
    executor: EffectExecutor
    stats: RunStats
    outputs: Outputs
    policy: PolicyRunner
    _k: KernelOps
    _v: KernelViews
    _q: asyncio.Queue[Item]
    _batch: Callable[[], AbstractContextManager[Any]]
    _quotes: Callable[[str], Quote | None]
    _ids: IdFactory
    _closes: ClosesAfterCancel
    _owner: asyncio.Task[None] | None
    _fatal: BaseException | None
    _done: asyncio.Event
    _wake: asyncio.Event
    _deadline: int | None
    _cycle_limit: int | None
    _policy_on: bool
    _flatten_armed: bool
    _flatten_log: FlattenLog | None
    _flatten_doing: FlattenMark | None

    @property
    def slots(self) -> list[SlotView]:
        """The slots' views as of the last batch (or the last read of a touched slot)."""
        return self.outputs.slots

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
                if isinstance(item, CallItem) and not item.done.done():
                    item.done.set_exception(stopped)
                self._q.task_done()

    async def _own_batches(self) -> None:
        while True:
            items = [await self._q.get()]
            while not self._q.empty() and len(items) < 256:
                items.append(self._q.get_nowait())
            try:
                # one durable journal commit for the batch, then its effects (journal first)
                answers: list[tuple[CallItem, Any, Exception | None]] = []
                with self._batch():
                    for item in items:
                        if isinstance(item, CallItem):
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
                    if isinstance(item, CallItem) and not item.done.done():
                        item.done.set_exception(exc)
                raise
            finally:
                for _ in items:
                    self._q.task_done()

    @staticmethod
    def _answer(call: CallItem) -> tuple[CallItem, Any, Exception | None]:
        """Run an asked function; its answer is given once its batch is committed."""
        if call.done.done():
            return call, None, None
        try:
            return call, call.fn(), None
        except Exception as exc:
            return call, None, exc

    def _handle(self, item: VenueEvent | CycleItem | TickItem | ControlItem | FlattenItem) -> None:
        """One item of a batch (an asked call is answered apart: :meth:`_answer`)."""
        now = self.clock.now_ns()
        if isinstance(item, CycleItem):
            self._cycle(item.n, now)
        elif isinstance(item, TickItem):
            self.outputs.route(self._k.tick(now))
        elif isinstance(item, ControlItem):
            snap = self._as_newer(item.snapshot)
            outcome = self._k.set_control(snap, now)
            self.outputs.route(outcome)
            if outcome.status.value == "CONFIRMED" and snap.version > 0:  # (0: no control file yet)
                log.info("control v%d in force (%s%s): pause_entries=%s kill=%s max_leverage=%d "
                         "max_position_notional=%s", snap.version, snap.changed_by,
                         f": {snap.note}" if snap.note else "", snap.pause_entries, snap.kill,
                         snap.max_leverage,
                         "none" if snap.max_position_notional is None else f"{snap.max_position_notional:f}")
        elif isinstance(item, FlattenItem):
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
        for i, intent in enumerate(self.policy.plan(n, self.snapshot(n, now))):
            if intent.close_all is True and type(intent.slot) is int and 0 <= intent.slot < len(self.slots):
                view = self.outputs.slot(intent.slot)
                if view.working_order:  # (a stop over a resting order: rare)
                    taken = self._closes.take(intent, view, self.outputs.working_orders())
                    if taken is None:
                        continue
                    intent = taken
            outcome = self.submit(intent, now)
            if outcome.status is O_REFUSED:  # the kernel's words, for the trader: the summary only counts
                self.policy.refused(n, i, intent, outcome)

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

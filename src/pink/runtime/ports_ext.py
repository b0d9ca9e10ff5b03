"""Protocols the runtime needs beyond :mod:`pink.ports`.

The runtime depends on these small shapes, never on concrete classes, so
that a missing or replaced component does not block it. The ``Null*``
classes are what the runtime uses when a component was *not asked for*
(configured ``none``); a component that was asked for and cannot start is a
:class:`pink.errors.StartupError` (F22), never silently a ``Null*``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from pink.kernel.messages import (
    ClosedOutside,
    ControlSnapshot,
    Intent,
    IntentRecorded,
    KernelRecord,
    Outcome,
    Side,
    VenueEvent,
)
from pink.kernel.views import AccountView, OrderView, SlotView

__all__ = [
    "BooksLog",
    "ControlSource",
    "ControlState",
    "FixedControlState",
    "FlattenLog",
    "FlattenMark",
    "JournaledOps",
    "KernelOps",
    "KernelViews",
    "NullControl",
    "NullProjection",
    "NullRecordSink",
    "NullStateSink",
    "ProjectionSink",
    "QuoteFeed",
    "RecordSink",
    "SimDriver",
    "StateSink",
]


class KernelOps(Protocol):
    """The changing operations of a kernel (plain or journaled)."""

    def submit(self, intent: Intent, now: int) -> Outcome: ...

    def apply(self, event: VenueEvent | ClosedOutside, now: int) -> Outcome: ...

    def tick(self, now: int) -> Outcome: ...

    def set_control(self, snapshot: ControlSnapshot, now: int) -> Outcome: ...


@runtime_checkable
class JournaledOps(KernelOps, Protocol):
    """A kernel that journals every change (:class:`pink.journal.JournaledKernel`)."""

    def batch(self) -> AbstractContextManager[None]: ...

    @property
    def position(self) -> int: ...


class KernelViews(Protocol):
    """Read-only views of a kernel."""

    @property
    def version(self) -> int: ...

    def slot_view(self, i: int) -> SlotView: ...

    def account_view(self) -> AccountView: ...

    def working_orders(self) -> list[OrderView]: ...

    def orders_with_open_gaps(self) -> dict[str, str]: ...

    def money_in_doubt(self, *, partly_closed: bool = True) -> str: ...

    def partly_closed(self) -> dict[tuple[str, Side], tuple[Decimal, Decimal]]: ...

    def held_outside(self) -> dict[tuple[str, Side], Decimal]: ...

    def next_deadline(self) -> int | None: ...

    @property
    def control(self) -> ControlSnapshot: ...


class RecordSink(Protocol):
    """The ledger outbox: ``put`` is non-blocking (hot path)."""

    def put(self, records: Sequence[KernelRecord], position: int | None = None) -> None: ...


class StateSink(Protocol):
    """The state plane (shared memory), written for the touched slot only."""

    def write_slot(self, view: SlotView) -> None: ...

    def write_account(self, view: AccountView) -> None: ...

    def push_intent(self, record: IntentRecorded) -> None: ...


class ProjectionSink(Protocol):
    """The projection queue (Redis / Hazelcast), off the hot path."""

    def put_slot(self, view: SlotView) -> None: ...

    def put_account(self, view: AccountView) -> None: ...

    def put_event(self, record: KernelRecord) -> None: ...


class ControlState(Protocol):
    """What a control source holds: the kernel's snapshot plus the flatten counter."""

    @property
    def snapshot(self) -> ControlSnapshot: ...

    @property
    def flatten_seq(self) -> int: ...

    @property
    def flatten_ns(self) -> int: ...


@dataclass(frozen=True, slots=True)
class FlattenMark:
    """One operator flatten: the control file's count and when it was asked (0: not known)."""

    seq: int = 0
    ns: int = 0

    @staticmethod
    def of(state: ControlState) -> FlattenMark:
        return FlattenMark(state.flatten_seq, state.flatten_ns)

    def asks_again(self, later: FlattenMark) -> bool:
        """Whether ``later`` is a flatten asked after this one. Told by when it was asked: a
        reset control file counts from 0 again, so a lower count may be a new flatten and a
        different one none at all. Without both times (a file or journal from before they were
        kept), by the count."""
        if later.seq == 0:
            return False  # this control file never asked for a flatten
        if later.ns and self.ns:
            return later.ns > self.ns
        return later.seq > self.seq


class ControlSource(Protocol):
    """Operator switches, cached by version (F27); flatten is a command counter."""

    def current(self) -> ControlState: ...


class FlattenLog(Protocol):
    """Where the runtime keeps the last flatten it carried out (the journal),
    so that a flatten asked for while it was down is carried out when it starts."""

    def flatten_handled(self) -> FlattenMark | None: ...

    def record_flatten(self, mark: FlattenMark) -> None: ...


class BooksLog(Protocol):
    """Where the runtime keeps the books check's baseline (the journal), so that money that moved
    unbooked while it was down is found at the next start instead of becoming the new baseline."""

    def books_baseline(self) -> Decimal | None: ...

    def record_books_baseline(self, offset: Decimal | None) -> None: ...


@runtime_checkable
class SimDriver(Protocol):
    """A venue whose time is driven by the runtime (the simulator)."""

    async def advance_to(self, now_ns: int) -> None: ...

    def next_due(self) -> int | None: ...

    @property
    def market_ended(self) -> str:
        """What ended its market ('' while it goes on): a replay that ran out."""
        ...


class QuoteFeed(Protocol):
    """Latest quotes from a stream or cache; no request per policy cycle (E1)."""

    def latest(self, symbol: str) -> Any: ...


class NullRecordSink:
    """No ledger (configured ``none``)."""

    backend = "none"

    def put(self, records: Sequence[KernelRecord], position: int | None = None) -> None:
        return None


class NullStateSink:
    """No state plane (configured ``none``)."""

    backend = "none"

    def write_slot(self, view: SlotView) -> None:
        return None

    def write_account(self, view: AccountView) -> None:
        return None

    def push_intent(self, record: IntentRecorded) -> None:
        return None


class NullProjection:
    """No projection (configured ``none``)."""

    backend = "none"

    def put_slot(self, view: SlotView) -> None:
        return None

    def put_account(self, view: AccountView) -> None:
        return None

    def put_event(self, record: KernelRecord) -> None:
        return None


@dataclass(frozen=True, slots=True)
class FixedControlState:
    snapshot: ControlSnapshot = field(default_factory=ControlSnapshot)
    flatten_seq: int = 0
    flatten_ns: int = 0


class NullControl:
    """A control source set in process (no control file configured)."""

    backend = "none"

    def __init__(self, snapshot: ControlSnapshot | None = None) -> None:
        self.state = FixedControlState(snapshot or ControlSnapshot())

    def current(self) -> FixedControlState:
        return self.state

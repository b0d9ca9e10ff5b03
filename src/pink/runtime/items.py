"""What goes through the runtime's one queue to its kernel owner task, and the loop's settings.

Venue events, policy cycles, timer ticks, control changes, flattens and asked calls (reads of
the kernel from other tasks) are all items of one ``asyncio.Queue`` (see
:mod:`pink.runtime.loop`): the owner task (:mod:`pink.runtime.owner`) takes them in order, the
scheduler (:mod:`pink.runtime.scheduler`) decides when the timed ones are queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pink.kernel.messages import ControlSnapshot, VenueEvent
from pink.runtime.ports_ext import FlattenMark

__all__ = ["CallItem", "ControlItem", "CycleItem", "FlattenItem", "Item", "LoopConfig", "TickItem"]


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
class CycleItem:
    n: int


@dataclass(frozen=True, slots=True)
class TickItem:
    pass


@dataclass(frozen=True, slots=True)
class ControlItem:
    snapshot: ControlSnapshot


@dataclass(frozen=True, slots=True)
class FlattenItem:
    mark: FlattenMark | None = None  # the control file's flatten (None: asked in-process)


@dataclass(frozen=True, slots=True)
class CallItem:
    """Run ``fn`` on the owner task (reads of the kernel from elsewhere)."""

    fn: Callable[[], Any]
    done: asyncio.Future[Any]


Item = VenueEvent | CycleItem | TickItem | ControlItem | FlattenItem | CallItem

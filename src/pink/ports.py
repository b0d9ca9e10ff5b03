"""Small protocols between the runtime and its adapters.

Dependencies point inward: adapters implement these, the runtime uses them,
the kernel knows none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from pink.kernel.frozen import direct_init
from pink.kernel.messages import (
    BalanceReport,
    CancelOrder,
    EnsureLeverage,
    FundingPaid,
    FundsTransferred,
    Instrument,
    OrderFilled,
    OrderStatusReport,
    PlaceOrder,
    PositionReport,
    QueryOrder,
    VenueEvent,
)

__all__ = ["Clock", "EventSink", "InProcessVenue", "MoneyMoved", "OneIncomeRead", "OrderFillsRead", "Quote", "Venue"]


@direct_init
@dataclass(frozen=True, slots=True)
class Quote:
    """Market state of one symbol for the policy (floats are not used: prices exact)."""

    symbol: str
    bid: Decimal
    ask: Decimal
    last: Decimal
    mark: Decimal
    funding_rate: Decimal
    ts: int


EventSink = Callable[[VenueEvent], None]


class Venue(Protocol):
    """What the runtime needs from a venue. The simulator and BingX implement it.

    Replies to ``place``/``cancel`` are events handed to the sink given to
    :meth:`start` (the same path as the user-data stream), so that an ack may
    arrive after its fill exactly as on a real exchange. A request whose
    outcome is unknown raises :class:`pink.errors.UnknownOutcomeError`.
    """

    name: str
    hedge_mode: bool | None
    """Whether the account keeps LONG and SHORT of a symbol apart (None: not known yet)."""

    @property
    def stream_connected(self) -> bool:
        """Whether events can reach the sink now (health reports a venue whose stream is down)."""
        ...

    async def start(self, sink: EventSink) -> None: ...

    async def close(self) -> None: ...

    async def instruments(self) -> dict[str, Instrument]: ...

    async def place(self, order: PlaceOrder) -> None: ...

    async def cancel(self, order: CancelOrder) -> None: ...

    async def query(self, query: QueryOrder) -> OrderStatusReport: ...

    async def ensure_leverage(self, request: EnsureLeverage) -> None: ...

    async def open_orders(self) -> list[OrderStatusReport]: ...

    async def fills_since(
        self,
        ts: int,
        orders: Collection[str] | None = None,
        *,
        outside: bool = False,
        symbols: Collection[str] | None = None,
    ) -> list[OrderFilled]:
        """Fills after ``ts``; given ``orders`` (client order ids), only theirs (the reconciler
        needs no others: an order the kernel has finished has all its fills) and, with
        ``outside``, those of orders placed outside PINK (with no client order id, by hand on
        the venue's site or a liquidation, or with one not of PINK's form, by another program:
        :func:`pink.kernel.events.is_pinks_own`), of ``symbols`` only when given; these name
        their symbol and sides (``OrderFilled.symbol``...)."""
        ...

    async def funding_since(self, ts: int) -> list[FundingPaid]: ...

    async def transfers_since(self, ts: int) -> list[FundsTransferred]: ...

    async def positions(self) -> list[PositionReport]: ...

    async def balance(self) -> BalanceReport: ...

    async def quote(self, symbol: str) -> Quote: ...


@runtime_checkable
class InProcessVenue(Protocol):
    """A venue that answers in the caller's process, without I/O (the simulator).

    The same requests as :class:`Venue`, as plain calls: nothing can hang on a
    socket, so the runtime calls them directly instead of running a task with
    a deadline for each. Errors are the same exceptions; replies still arrive
    through the sink, later.
    """

    def place_now(self, order: PlaceOrder) -> None: ...

    def cancel_now(self, order: CancelOrder) -> None: ...

    def query_now(self, query: QueryOrder) -> OrderStatusReport: ...

    def ensure_leverage_now(self, request: EnsureLeverage) -> None: ...


@dataclass(frozen=True, slots=True)
class MoneyMoved:
    """Money moved outside trading since a time, each list oldest first (see :class:`Venue`)."""

    funding: list[FundingPaid]
    transfers: list[FundsTransferred]


@runtime_checkable
class OneIncomeRead(Protocol):
    """A venue that lists funding and transfers in one read (BingX: its income rows of every
    type). The reconcile reads them once, not once each: such reads are rate-limited, and a
    read that fails books neither (the next reconcile does)."""

    async def money_since(self, ts: int) -> MoneyMoved: ...


@runtime_checkable
class OrderFillsRead(Protocol):
    """A venue whose fill list may show a fill late, stamped when it was made (BingX): a read over
    a window from the last reconcile on misses it. The fills of an order holding a report's gap
    (the real fills that true it up) are read by the order, over its own life, instead."""

    async def fills_of_order(self, client_order_id: str, symbol: str = "") -> list[OrderFilled] | None:
        """Every fill of one of PINK's orders, whenever made (``symbol`` "": the one the venue
        knows it by, if it does); None when the venue cannot ask it by order (its symbol unknown,
        or the venue does not know the order)."""
        ...


class Clock(Protocol):
    """Wall or simulated time, in integer nanoseconds."""

    def now_ns(self) -> int: ...

    async def sleep_until(self, ts: int) -> None: ...

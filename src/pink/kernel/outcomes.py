"""What the kernel answers each message with: an :class:`Outcome` (what is known, and why), the
effects the shell must carry out and the records to keep (see :mod:`pink.kernel.messages`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from pink.kernel.commands import OrderSide, OrderType, Side, TimeInForce
from pink.kernel.records import KernelRecord

__all__ = [
    "CancelOrder",
    "Effect",
    "EnsureLeverage",
    "Outcome",
    "OutcomeStatus",
    "PlaceOrder",
    "QueryOrder",
    "Reason",
]

# ------------------------------------------------------------------- effects


@dataclass(slots=True)
class PlaceOrder:
    client_order_id: str
    slot: int
    symbol: str
    side: OrderSide
    position_side: Side
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None
    time_in_force: TimeInForce
    reduce_only: bool
    leverage: int


@dataclass(slots=True)
class CancelOrder:
    client_order_id: str
    symbol: str
    venue_order_id: str


@dataclass(slots=True)
class QueryOrder:
    client_order_id: str
    symbol: str
    why: str


@dataclass(slots=True)
class EnsureLeverage:
    """Set leverage only if the venue's setting differs (E15)."""

    symbol: str
    position_side: Side
    leverage: int


Effect = PlaceOrder | CancelOrder | QueryOrder | EnsureLeverage

# ------------------------------------------------------------------- outcomes


class OutcomeStatus(str, Enum):
    """What is known after a message (E9, F1)."""

    REFUSED = "REFUSED"  # nothing changed; ``reason`` says why
    PENDING = "PENDING"  # admitted by the kernel; waiting for the venue
    CONFIRMED = "CONFIRMED"  # the venue said so
    UNKNOWN = "UNKNOWN"  # outcome unknown; effects say what happens next
    DUPLICATE = "DUPLICATE"  # already applied; a no-op
    NO_CHANGE = "NO_CHANGE"  # nothing was due (a tick with nothing overdue)
    QUARANTINED = "QUARANTINED"  # venue protocol error; slot flagged DESYNC


class Reason(str, Enum):
    OK = "OK"
    INVALID_FIELD = "INVALID_FIELD"
    UNKNOWN_SLOT = "UNKNOWN_SLOT"
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    SLOT_BUSY = "SLOT_BUSY"
    OPPOSITE_SIDE_ONE_WAY = "OPPOSITE_SIDE_ONE_WAY"
    TRADE_ID_USED = "TRADE_ID_USED"
    WRONG_TRADE = "WRONG_TRADE"
    NO_OPEN_POSITION = "NO_OPEN_POSITION"
    NOTHING_TO_CANCEL = "NOTHING_TO_CANCEL"
    CANCEL_ALREADY_REQUESTED = "CANCEL_ALREADY_REQUESTED"
    ENTRIES_PAUSED = "ENTRIES_PAUSED"
    KILL_SWITCH = "KILL_SWITCH"
    LEVERAGE_ABOVE_MAX = "LEVERAGE_ABOVE_MAX"
    NOTIONAL_ABOVE_MAX = "NOTIONAL_ABOVE_MAX"
    BELOW_MIN_QTY = "BELOW_MIN_QTY"
    BELOW_VENUE_MINIMUM = "BELOW_VENUE_MINIMUM"
    NO_VENUE_POSITION = "NO_VENUE_POSITION"
    VENUE_REFUSED_RECENTLY = "VENUE_REFUSED_RECENTLY"
    SLOT_DESYNC = "SLOT_DESYNC"
    VENUE_REJECTED = "VENUE_REJECTED"
    ORDER_ALREADY_FILLED = "ORDER_ALREADY_FILLED"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    PROTOCOL_ERROR = "PROTOCOL_ERROR"
    CLOSED = "CLOSED"


@dataclass(slots=True)
class Outcome:
    status: OutcomeStatus
    reason: Reason = Reason.OK
    detail: str = ""
    slot: int = -1
    effects: tuple[Effect, ...] = ()
    records: tuple[KernelRecord, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the kernel's state changed (and so must be journaled)."""
        return self.status not in _UNCHANGED


_UNCHANGED = frozenset({OutcomeStatus.REFUSED, OutcomeStatus.DUPLICATE, OutcomeStatus.NO_CHANGE})

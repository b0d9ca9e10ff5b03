"""What comes into the kernel from the venue: events (past tense: an order accepted, filled,
canceled; funding; a transfer) and reports (snapshots, for reconciliation: an order's status,
a position, a balance). Frozen records (see :mod:`pink.kernel.messages`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from pink.kernel.commands import ZERO, OrderSide, Side
from pink.kernel.frozen import direct_init

__all__ = [
    "BELOW_MINIMUM_CODES",
    "NO_POSITION_CODES",
    "BalanceReport",
    "CancelRejected",
    "ClosedOutside",
    "CommissionReported",
    "FundingPaid",
    "FundsTransferred",
    "OrderAccepted",
    "OrderCanceled",
    "OrderExpired",
    "OrderFilled",
    "OrderRejected",
    "OrderStatus",
    "OrderStatusReport",
    "PositionReport",
    "VenueEvent",
]

class OrderStatus(str, Enum):
    """An order's status as a venue reports it (normalised)."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    NOT_FOUND = "NOT_FOUND"



@direct_init
@dataclass(frozen=True, slots=True)
class OrderAccepted:
    client_order_id: str
    venue_order_id: str
    ts: int


#: the codes a venue adapter gives an :class:`OrderRejected` whose order was below the
#: instrument's minimum quantity or notional (the kernel then closes a trade's rest at once)
BELOW_MINIMUM_CODES = frozenset({"QTY_BELOW_MIN", "NOTIONAL_BELOW_MIN"})
#: the codes of an :class:`OrderRejected` whose closing order found no position (or less than
#: it would close) at the venue: closed outside PINK, by hand or by liquidation
NO_POSITION_CODES = frozenset({"NO_POSITION", "REDUCE_ONLY_EXCEEDS_POSITION"})


@direct_init
@dataclass(frozen=True, slots=True)
class OrderRejected:
    """The venue refused the order. ``code`` is the venue's, except that an order below the
    instrument's minimum gets one of :data:`BELOW_MINIMUM_CODES` and a close with no position
    to close one of :data:`NO_POSITION_CODES`."""

    client_order_id: str
    code: str
    message: str
    ts: int


@direct_init
@dataclass(frozen=True, slots=True)
class OrderFilled:
    """One fill. ``last_qty`` is this fill, ``cum_qty`` the order's total (F23).

    ``fee_final`` is False when the venue's fee for it may be wrong (a fee field
    of unclear meaning, or none): once the order ends, the kernel asks the venue
    for the order's total commission (:class:`CommissionReported`).

    ``symbol``, ``side`` and ``position_side`` (None: a one-way account) are what the venue's
    push says the order traded. The kernel needs them only for a fill of an order it never
    sent (placed by hand on the venue, or a liquidation): with them, such a fill that closes a
    position the kernel holds is booked as closed outside PINK (:mod:`pink.kernel.outside`).
    """

    client_order_id: str
    venue_order_id: str
    fill_id: str
    last_qty: Decimal
    last_price: Decimal
    cum_qty: Decimal
    commission: Decimal
    commission_asset: str
    ts: int
    fee_final: bool = True
    symbol: str = ""
    side: OrderSide | None = None
    position_side: Side | None = None


@direct_init
@dataclass(frozen=True, slots=True)
class OrderCanceled:
    client_order_id: str
    venue_order_id: str
    cum_qty: Decimal
    ts: int


@direct_init
@dataclass(frozen=True, slots=True)
class CancelRejected:
    """The venue refused a cancel; ``still_open`` is None when it is unknown."""

    client_order_id: str
    code: str
    message: str
    still_open: bool | None
    ts: int


@direct_init
@dataclass(frozen=True, slots=True)
class OrderExpired:
    client_order_id: str
    venue_order_id: str
    cum_qty: Decimal
    ts: int


@direct_init
@dataclass(frozen=True, slots=True)
class FundingPaid:
    """A funding payment; ``amount`` > 0 was received, < 0 was paid. ``alt_id``: see
    :class:`FundsTransferred`."""

    funding_id: str
    symbol: str
    amount: Decimal
    ts: int
    alt_id: str = ""


@direct_init
@dataclass(frozen=True, slots=True)
class FundsTransferred:
    """Money moved into (``amount`` > 0: a deposit, a transfer in) or out of
    (< 0: a withdrawal, a transfer out) the trading account, outside trading.

    ``transfer_id`` is the venue's own id for the movement (BingX: the income
    row's ``tranId``); the kernel books each id once. It changes capital, not
    PnL. ``alt_id``, when the venue's id is given, is the id the same movement
    would have had without it (BingX: a key made from the row's fields): a
    movement booked under either is not booked again under the other (two
    movements with ids of their own are two, whatever their ``alt_id``)."""

    transfer_id: str
    asset: str
    amount: Decimal
    ts: int
    alt_id: str = ""


@direct_init
@dataclass(frozen=True, slots=True)
class ClosedOutside:
    """The operator's word that a trade's position was closed outside PINK (by hand on the
    venue, or by a liquidation) at ``price``, paying ``commission`` (>= 0).

    The kernel books it as the trade's closing fill, on an order of its own
    (``<trade_id>-out``, never sent), so that the trade is closed and its slot
    freed; ``note`` (who, why) stays in the journal.
    """

    slot: int
    trade_id: str
    price: Decimal
    commission: Decimal
    ts: int
    note: str = ""


@direct_init
@dataclass(frozen=True, slots=True)
class CommissionReported:
    """The venue's own total commission for an order that has ended (> 0 was paid).

    A venue adapter sends it when the fees its fills carried may be wrong (a
    stream whose fee field is ambiguous, a fill without one). The kernel books
    the difference from what the order's fills booked, once, as an
    ``ADJUSTMENT`` account entry; ``cum_qty`` must match the fills it has.
    """

    client_order_id: str
    venue_order_id: str
    cum_qty: Decimal
    commission: Decimal
    commission_asset: str
    ts: int


@direct_init
@dataclass(frozen=True, slots=True)
class OrderStatusReport:
    """A venue's answer to "what is order X?" (also used for gap-fill).

    ``commission`` is the order's total so far (> 0 paid), None when the venue's
    record does not state it (fills booked from the report then carry no fee and
    are not final: see :mod:`pink.kernel.commission`)."""

    client_order_id: str
    venue_order_id: str
    status: OrderStatus
    quantity: Decimal
    cum_qty: Decimal
    avg_price: Decimal
    commission: Decimal | None
    ts: int
    code: str = ""
    message: str = ""


@direct_init
@dataclass(frozen=True, slots=True)
class PositionReport:
    symbol: str
    side: Side
    quantity: Decimal
    entry_price: Decimal
    ts: int


@direct_init
@dataclass(frozen=True, slots=True)
class BalanceReport:
    asset: str
    balance: Decimal
    available: Decimal
    ts: int
    resolution: Decimal = ZERO  # the venue shows the balance only to this (rounded or cut); 0: exactly
    account: str = ""  # the venue's id of the account (BingX: its user id); "" when it gives none


VenueEvent = (
    OrderAccepted
    | OrderRejected
    | OrderFilled
    | OrderCanceled
    | CancelRejected
    | OrderExpired
    | FundingPaid
    | FundsTransferred
    | OrderStatusReport
    | CommissionReported
)

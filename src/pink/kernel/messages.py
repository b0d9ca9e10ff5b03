"""Everything that crosses the kernel boundary, as frozen typed records.

Vocabulary (after NautilusTrader):

* commands (imperative) come in: :class:`Intent` (ENTER / EXIT / CANCEL),
  :class:`ControlSnapshot`;
* venue events (past tense) come in: :class:`OrderAccepted`,
  :class:`OrderRejected`, :class:`OrderFilled`, :class:`OrderCanceled`,
  :class:`CancelRejected`, :class:`OrderExpired`, :class:`FundingPaid`,
  :class:`CommissionReported`, :class:`FundsTransferred`;
* venue reports (snapshots, for reconciliation) come in:
  :class:`OrderStatusReport`, :class:`PositionReport`, :class:`BalanceReport`;
* effects (what the shell must do) go out: :class:`PlaceOrder`,
  :class:`CancelOrder`, :class:`QueryOrder`, :class:`EnsureLeverage`;
* kernel records (what happened, for the journal, ledger, planes) go out:
  :class:`SlotChanged`, :class:`OrderRecorded`, :class:`FillBooked`,
  :class:`Settlement`, :class:`TradeClosed`, :class:`TradeCorrected`,
  :class:`IntentRecorded`, :class:`ProtocolErrorRecorded`, :class:`OutsideFillRecorded`.

Money and quantities are :class:`decimal.Decimal`; time is integer
nanoseconds since the epoch, always passed in by the caller.

Inputs (commands, events, reports) are frozen dataclasses. Outputs (effects,
records, outcomes) are slotted dataclasses that nothing mutates after the
kernel builds them: they are not declared frozen because a frozen dataclass
costs ~5x more to construct, and the kernel builds several per message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from pink.kernel.frozen import direct_init

__all__ = [
    "BELOW_MINIMUM_CODES",
    "NO_POSITION_CODES",
    "ZERO",
    "Action",
    "BalanceReport",
    "CancelOrder",
    "CancelRejected",
    "ClosedOutside",
    "CommissionReported",
    "ControlChanged",
    "ControlSnapshot",
    "Effect",
    "EnsureLeverage",
    "FillBooked",
    "FundingPaid",
    "FundsTransferred",
    "Instrument",
    "Intent",
    "IntentRecorded",
    "KernelRecord",
    "OrderAccepted",
    "OrderCanceled",
    "OrderExpired",
    "OrderFilled",
    "OrderRecorded",
    "OrderRejected",
    "OrderSide",
    "OrderStatus",
    "OrderStatusReport",
    "OrderType",
    "Outcome",
    "OutcomeStatus",
    "OutsideFillRecorded",
    "PlaceOrder",
    "PolicyMetadata",
    "PositionReport",
    "ProtocolErrorRecorded",
    "QueryOrder",
    "Reason",
    "Settlement",
    "SettlementKind",
    "Side",
    "SlotChanged",
    "TimeInForce",
    "TradeClosed",
    "TradeCorrected",
    "VenueEvent",
]

ZERO = Decimal(0)


class Action(str, Enum):
    ENTER = "ENTER"
    EXIT = "EXIT"
    CANCEL = "CANCEL"


class Side(str, Enum):
    """Direction of a trade (the position it opens)."""

    LONG = "LONG"
    SHORT = "SHORT"


class OrderSide(str, Enum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(str, Enum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


class TimeInForce(str, Enum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "POST_ONLY"


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
class Instrument:
    """Trading rules of one symbol: prices on ``tick``, quantities on ``step``."""

    symbol: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal = ZERO
    max_leverage: int = 125


@direct_init
@dataclass(frozen=True, slots=True)
class PolicyMetadata:
    """What the policy knew when it decided; persisted unchanged (E11, F28)."""

    confidence: float | None = None
    bars_held: int | None = None
    features: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@direct_init
@dataclass(frozen=True, slots=True)
class Intent:
    """One intent type end to end, from the policy to the venue request (E3, E11).

    ENTER opens ``quantity`` of ``asset`` in ``side`` on ``slot`` with a new,
    never used ``trade_id``. EXIT sends the next exit leg
    (``min(ratio x entered, remaining)``; ``close_all`` sends the whole
    remainder). CANCEL cancels the slot's working order.
    ``reference_price`` is the price the policy saw (for MARKET orders the
    kernel checks notional limits against it).
    """

    action: Action
    slot: int
    trade_id: str
    intent_id: str
    decision_id: str = ""
    asset: str = ""
    side: Side | None = None
    quantity: Decimal = ZERO
    leverage: int = 1
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    reference_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    exit_legs: tuple[Decimal, ...] = (Decimal(1),)
    close_all: bool = False
    reason: str = ""
    metadata: PolicyMetadata = field(default_factory=PolicyMetadata)

    def stamped(self, trade_id: str, intent_id: str, decision_id: str) -> Intent:
        """This intent with its identity filled in (``dataclasses.replace``, without its cost)."""
        return Intent(
            self.action, self.slot, trade_id, intent_id, decision_id, self.asset, self.side,
            self.quantity, self.leverage, self.order_type, self.limit_price, self.reference_price,
            self.time_in_force, self.exit_legs, self.close_all, self.reason, self.metadata,
        )  # fmt: skip


@direct_init
@dataclass(frozen=True, slots=True)
class ControlSnapshot:
    """Operator switches, checked by the kernel on every intent (F27)."""

    version: int = 0
    pause_entries: bool = False
    kill: bool = False
    max_leverage: int = 125
    max_position_notional: Decimal | None = None
    changed_by: str = ""
    note: str = ""


# --------------------------------------------------------------- venue events


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

# ------------------------------------------------------------ kernel records


class SettlementKind(str, Enum):
    FILL = "FILL"
    FUNDING = "FUNDING"
    ADJUSTMENT = "ADJUSTMENT"
    TRANSFER = "TRANSFER"


@dataclass(slots=True)
class SlotChanged:
    slot: int
    trade_id: str
    before: str
    after: str
    cause: str
    ts: int


@dataclass(slots=True)
class OrderRecorded:
    """An order the kernel asked for, linked to its intent and decision (E21)."""

    slot: int
    trade_id: str
    intent_id: str
    decision_id: str
    client_order_id: str
    role: str
    leg: int
    attempt: int
    symbol: str
    side: OrderSide
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None
    time_in_force: TimeInForce
    ts: int


@dataclass(slots=True)
class FillBooked:
    slot: int
    trade_id: str
    intent_id: str
    decision_id: str
    client_order_id: str
    venue_order_id: str
    fill_id: str
    role: str
    leg: int
    symbol: str
    side: OrderSide
    last_qty: Decimal
    last_price: Decimal
    cum_qty: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    ts: int


@dataclass(slots=True)
class Settlement:
    """One account entry: ``capital_after = capital_before + amount - fee``."""

    seq: int
    kind: SettlementKind
    slot: int
    trade_id: str
    cause: str
    amount: Decimal
    fee: Decimal
    capital_before: Decimal
    capital_after: Decimal
    ts: int


@dataclass(slots=True)
class TradeClosed:
    """A finished trade, from its real fills (E23, A13).

    ``gross_pnl`` is what the round trip made, exactly: the exit notional less
    the entry fills' notional, times the direction (the legs before the close
    book ``(price - entry_vwap) * qty * direction``, the close the rest);
    ``exit_vwap`` is ``exit_notional / exit_qty`` for display.
    """

    slot: int
    trade_id: str
    intent_id: str
    decision_id: str
    symbol: str
    side: Side
    entry_qty: Decimal
    entry_vwap: Decimal
    exit_qty: Decimal
    exit_notional: Decimal
    exit_vwap: Decimal
    legs: int
    gross_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    opened_ts: int
    closed_ts: int


@dataclass(slots=True)
class TradeCorrected:
    """A closed trade's late true-up (:mod:`pink.kernel.late`): the real fill ``fill_id`` of its
    order ``client_order_id`` replaced a piece a report had booked at the venue's rounded average
    after the trade had closed. Each amount is what to add to the trade's :class:`TradeClosed`
    (which is never written again): its entry notional, exit notional, gross PnL and fees."""

    slot: int
    trade_id: str
    client_order_id: str
    fill_id: str
    role: str
    symbol: str
    side: Side
    entry_notional: Decimal
    exit_notional: Decimal
    gross_pnl: Decimal
    fees: Decimal
    ts: int


@dataclass(slots=True)
class IntentRecorded:
    """Every intent and the kernel's answer to it (policy_events)."""

    intent: Intent
    status: str
    reason: str
    detail: str
    ts: int


@dataclass(slots=True)
class ProtocolErrorRecorded:
    """The venue did something the kernel cannot explain (quarantined)."""

    slot: int
    trade_id: str
    cause: str
    detail: str
    ts: int


@dataclass(slots=True)
class OutsideFillRecorded:
    """A fill of an order PINK never sent (placed by hand on the venue, by another program, or
    a liquidation) that the kernel did not book, in whole or in part: what it opened, what
    closed what such orders had opened, what no trade of PINK's held. The account traded
    outside PINK; nothing is wrong with the venue (not a protocol error, no slot flagged)."""

    fill_id: str
    symbol: str
    detail: str
    ts: int


@dataclass(slots=True)
class ControlChanged:
    """The operator's control snapshot changed (who, when, what)."""

    snapshot: ControlSnapshot
    ts: int


KernelRecord = (
    ControlChanged
    | SlotChanged
    | OrderRecorded
    | FillBooked
    | Settlement
    | TradeClosed
    | TradeCorrected
    | IntentRecorded
    | ProtocolErrorRecorded
    | OutsideFillRecorded
)

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

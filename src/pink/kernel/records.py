"""What the kernel records of what happened, for the journal, ledger and planes: slot
transitions, orders, fills, settlements, closed and corrected trades, intents, protocol
errors, fills of orders placed outside PINK, control changes (see :mod:`pink.kernel.messages`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from pink.kernel.commands import ControlSnapshot, Intent, OrderSide, OrderType, Side, TimeInForce

__all__ = [
    "ControlChanged",
    "FillBooked",
    "IntentRecorded",
    "KernelRecord",
    "OrderRecorded",
    "OutsideFillRecorded",
    "ProtocolErrorRecorded",
    "Settlement",
    "SettlementKind",
    "SlotChanged",
    "TradeClosed",
    "TradeCorrected",
]

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

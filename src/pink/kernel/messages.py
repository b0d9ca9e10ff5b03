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

They are declared by kind in :mod:`pink.kernel.commands` (with the shared vocabulary:
sides, order types), :mod:`pink.kernel.venue_events` (events and reports),
:mod:`pink.kernel.outcomes` (effects and outcomes) and :mod:`pink.kernel.records`, and
all named here: import them from this module.

Money and quantities are :class:`decimal.Decimal`; time is integer
nanoseconds since the epoch, always passed in by the caller.

Inputs (commands, events, reports) are frozen dataclasses. Outputs (effects,
records, outcomes) are slotted dataclasses that nothing mutates after the
kernel builds them: they are not declared frozen because a frozen dataclass
costs ~5x more to construct, and the kernel builds several per message.
"""

from __future__ import annotations

from pink.kernel.commands import (
    ZERO,
    Action,
    ControlSnapshot,
    Instrument,
    Intent,
    OrderSide,
    OrderType,
    PolicyMetadata,
    Side,
    TimeInForce,
)
from pink.kernel.outcomes import (
    CancelOrder,
    Effect,
    EnsureLeverage,
    Outcome,
    OutcomeStatus,
    PlaceOrder,
    QueryOrder,
    Reason,
)
from pink.kernel.records import (
    ControlChanged,
    FillBooked,
    IntentRecorded,
    KernelRecord,
    OrderRecorded,
    OutsideFillRecorded,
    ProtocolErrorRecorded,
    Settlement,
    SettlementKind,
    SlotChanged,
    TradeClosed,
    TradeCorrected,
)
from pink.kernel.venue_events import (
    BELOW_MINIMUM_CODES,
    NO_POSITION_CODES,
    BalanceReport,
    CancelRejected,
    ClosedOutside,
    CommissionReported,
    FundingPaid,
    FundsTransferred,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatus,
    OrderStatusReport,
    PositionReport,
    VenueEvent,
)

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

"""What comes into the kernel from the trader and the operator, and the vocabulary every
message shares: :class:`Intent` (ENTER / EXIT / CANCEL), :class:`ControlSnapshot`, the
:class:`Instrument` rules and the sides, order types and times in force (frozen records; see
:mod:`pink.kernel.messages`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from pink.kernel.frozen import direct_init

__all__ = [
    "ZERO",
    "Action",
    "ControlSnapshot",
    "Instrument",
    "Intent",
    "OrderSide",
    "OrderType",
    "PolicyMetadata",
    "Side",
    "TimeInForce",
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

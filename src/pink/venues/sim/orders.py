"""Records of the matching engine: requests, orders, fills, fees, codes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pink.errors import ConfigError
from pink.kernel.frozen import direct_init
from pink.kernel.messages import (
    ZERO,
    CancelRejected,
    FundingPaid,
    FundsTransferred,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)

__all__ = [
    "CODES",
    "LIVE",
    "Q8",
    "EngineEvent",
    "EngineFill",
    "EngineOrder",
    "FeeSchedule",
    "NewOrder",
]

Q8 = Decimal("1e-8")

EngineEvent = (
    OrderAccepted | OrderRejected | OrderFilled | OrderCanceled | CancelRejected | OrderExpired | FundingPaid
    | FundsTransferred
)

LIVE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})

_BUY = OrderSide.BUY  # on the order path: a global reads faster than an enum member (Python 3.11)
_LONG = Side.LONG

#: rejection / cancel-rejection codes the engine uses, with their meaning
CODES: dict[str, str] = {
    "UNKNOWN_SYMBOL": "symbol is not listed",
    "INVALID_CLIENT_ORDER_ID": "client order id must be 1-40 characters",
    "DUPLICATE_CLIENT_ORDER_ID": "client order id already used",
    "QTY_BELOW_MIN": "quantity below the minimum",
    "QTY_NOT_ON_STEP": "quantity is not a multiple of the step",
    "NOTIONAL_BELOW_MIN": "notional below the minimum",
    "INVALID_PRICE": "limit price missing, not positive, or not on the tick",
    "INVALID_SIDE": "side does not match position side for reduce-only",
    "REDUCE_ONLY_EXCEEDS_POSITION": "closing quantity exceeds the free position",
    "INSUFFICIENT_MARGIN": "not enough available margin",
    "POST_ONLY_WOULD_TAKE": "post-only order would take liquidity",
    "ORDER_NOT_FOUND": "no such order",
    "ORDER_ALREADY_FILLED": "order is already filled",
    "ORDER_NOT_OPEN": "order is already canceled or expired",
    "SIM_REJECT": "injected reject",
}


@direct_init
@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Fee rates (fractions of notional); BingX defaults 0.02 % / 0.05 %."""

    maker: Decimal = Decimal("0.0002")
    taker: Decimal = Decimal("0.0005")
    asset: str = "USDT"

    def __post_init__(self) -> None:
        for name, rate in (("maker", self.maker), ("taker", self.taker)):
            if not rate.is_finite() or rate < 0:  # (NaN would not even compare)
                raise ConfigError(f"{name} fee rate must be a finite number >= 0, got {rate}")


@direct_init
@dataclass(frozen=True, slots=True)
class NewOrder:
    client_order_id: str
    symbol: str
    side: OrderSide
    position_side: Side
    quantity: Decimal
    order_type: OrderType
    price: Decimal | None
    time_in_force: TimeInForce
    reduce_only: bool

    @property
    def opens(self) -> bool:
        """BUY LONG and SELL SHORT open; the other two close (hedge mode)."""
        return (self.side is _BUY) == (self.position_side is _LONG)


@dataclass(slots=True)
class EngineOrder:
    venue_order_id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    position_side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    price: Decimal | None
    cum_qty: Decimal
    avg_price: Decimal
    commission: Decimal
    status: OrderStatus
    created_ts: int
    updated_ts: int
    reduce_only: bool
    cum_notional: Decimal = ZERO
    price_ticks: int = 0
    opens: bool = True
    leverage: int = 1
    code: str = ""
    message: str = ""
    fills: int = 0

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.cum_qty

    @property
    def live(self) -> bool:
        return self.status in LIVE


@direct_init
@dataclass(frozen=True, slots=True)
class EngineFill:
    fill_id: str
    venue_order_id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    commission: Decimal
    is_maker: bool
    ts: int
    cum_qty: Decimal = ZERO
    position_side: Side = Side.LONG
    realized_pnl: Decimal = ZERO

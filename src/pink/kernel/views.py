"""Read-only views of kernel state, for the policy, planes and projection.

Views are plain frozen records built on demand for one slot (E19, F5): a
caller that was told slot 3 changed reads slot 3 only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pink.kernel.frozen import direct_init
from pink.kernel.messages import OrderSide, OrderType, Side

__all__ = ["AccountView", "OrderView", "SlotView"]


@direct_init
@dataclass(frozen=True, slots=True)
class OrderView:
    client_order_id: str
    venue_order_id: str
    slot: int
    trade_id: str
    role: str  # "ENTRY" or "EXIT"
    leg: int
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    limit_price: Decimal | None
    filled_qty: Decimal
    state: str  # PENDING, WORKING, CANCELING, UNKNOWN, DONE
    deadline: int


@direct_init
@dataclass(frozen=True, slots=True)
class SlotView:
    slot: int
    version: int  # bumps on every change of this slot
    state: str  # a SlotState name
    trade_id: str
    symbol: str
    side: Side | None
    entry_qty: Decimal
    remaining_qty: Decimal
    entry_vwap: Decimal
    exit_qty: Decimal
    exit_notional: Decimal
    legs_done: int
    realized_pnl: Decimal
    fees: Decimal
    working_order: str  # client order id, "" if none
    deadline: int  # 0 when nothing is in flight
    desync_reason: str


@direct_init
@dataclass(frozen=True, slots=True)
class AccountView:
    version: int
    seq: int  # sequence of the last settlement
    initial_capital: Decimal
    capital: Decimal
    gross_pnl: Decimal
    fees: Decimal
    funding: Decimal
    transfers: Decimal  # deposits in minus withdrawals out
    net_pnl: Decimal

"""Positions (per symbol and position side) and the USDT wallet, exact.

Each position keeps its quantity and its entry *cost* (sum of qty x price).
A close of ``q`` realizes ``(q x price - r) x direction`` where ``r`` is the
share of the cost being released, rounded to 1e-8; the full close releases
the rest of the cost. So a round trip realizes exactly
``(exit notional - entry notional) x direction`` and the wallet, a sum of the
per-fill amounts, is exact.

Each position is on a margin of its own (isolated): its funding (``Position.funding``, + received,
- paid) is paid into or out of that margin, not the available balance; a close releases its share
of it with the cost (all of it with the last of the position).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pink.kernel.messages import ZERO, PositionReport, Side
from pink.venues.sim.orders import Q8

__all__ = ["Account", "Position"]


@dataclass(slots=True)
class Position:
    symbol: str
    side: Side
    qty: Decimal = ZERO
    cost: Decimal = ZERO
    realized: Decimal = ZERO
    funding: Decimal = ZERO

    @property
    def entry_price(self) -> Decimal:
        return (self.cost / self.qty).quantize(Q8) if self.qty else ZERO


class Account:
    __slots__ = ("asset", "fees", "funding", "initial", "positions", "realized", "transfers")

    def __init__(self, initial: Decimal, asset: str = "USDT") -> None:
        self.asset = asset
        self.initial = initial
        self.realized = ZERO
        self.fees = ZERO
        self.funding = ZERO
        self.transfers = ZERO  # deposits in minus withdrawals out
        self.positions: dict[tuple[str, Side], Position] = {}

    @property
    def wallet(self) -> Decimal:
        return self.initial + self.transfers + self.realized - self.fees + self.funding

    def position(self, symbol: str, side: Side) -> Position:
        key = (symbol, side)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = Position(symbol, side)
        return pos

    def fill(self, symbol: str, side: Side, opens: bool, qty: Decimal, price: Decimal, fee: Decimal) -> Decimal:
        """Book one fill; return the realized PnL (0 for an opening fill)."""
        pos = self.position(symbol, side)
        self.fees += fee
        if opens:
            pos.qty += qty
            pos.cost += qty * price
            return ZERO
        if qty > pos.qty:
            raise AssertionError(f"closing {qty} of a {pos.qty} {symbol} {side.value} position")
        whole = qty == pos.qty
        released = pos.cost if whole else (pos.cost * qty / pos.qty).quantize(Q8)
        pos.funding -= pos.funding if whole else (pos.funding * qty / pos.qty).quantize(Q8)
        gross = qty * price - released
        pnl = gross if side is Side.LONG else -gross
        pos.qty -= qty
        pos.cost -= released
        pos.realized += pnl
        self.realized += pnl
        return pnl

    def charge_funding(self, pos: Position, amount: Decimal) -> None:
        """Pay ``amount`` (+ received, - paid) into the wallet, through ``pos``'s own margin."""
        pos.funding += amount
        self.funding += amount

    def reports(self, ts: int) -> list[PositionReport]:
        return [
            PositionReport(p.symbol, p.side, p.qty, p.entry_price, ts) for p in self.positions.values() if p.qty > 0
        ]

"""Small records for projection tests."""

from __future__ import annotations

from decimal import Decimal

from pink.kernel.messages import FillBooked, OrderSide, Side
from pink.kernel.views import AccountView, SlotView

__all__ = ["account", "fill", "slot"]


def slot(i: int, v: int) -> SlotView:
    q = Decimal(v) / 1000
    return SlotView(i, v, "OPEN", f"t{v}", "BTC-USDT", Side.LONG, q, q, Decimal("100.5"),
                    Decimal(0), Decimal(0), 0, Decimal(0), q / 10, f"c{v}", 0, "")


def account(v: int) -> AccountView:
    c = Decimal("1000") + Decimal(v) / 100
    return AccountView(v, v, Decimal("1000"), c, c - 1000, Decimal(0), Decimal(0), Decimal(0),
                       c - 1000)


def fill(n: int) -> FillBooked:
    return FillBooked(0, "t", "i", "d", "c", "v", f"f{n}", "ENTRY", 0, "BTC-USDT", OrderSide.BUY,
                      Decimal("0.001"), Decimal("100.5"), Decimal("0.001") * n, Decimal("0.0001"),
                      "USDT", Decimal(0), n)

"""Instruments the simulator lists by default."""

from __future__ import annotations

from decimal import Decimal

from pink.kernel.messages import Instrument

__all__ = ["default_instruments"]


def default_instruments() -> dict[str, Instrument]:
    """BTC-USDT, ETH-USDT and a cheap one (DOGE-USDT), BingX-like rules."""
    rows = [
        Instrument("BTC-USDT", Decimal("0.1"), Decimal("0.0001"), Decimal("0.0001"), Decimal("5")),
        Instrument("ETH-USDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("5")),
        Instrument("DOGE-USDT", Decimal("0.00001"), Decimal("1"), Decimal("1"), Decimal("2"), 75),
    ]
    return {i.symbol: i for i in rows}

"""Instrument map of BingX USDT-M contracts (E16).

Loaded once from ``GET /openApi/swap/v2/quote/contracts`` into a dict and
refreshed on a timer; lookups are O(1). An unknown symbol raises
:class:`pink.errors.UnknownInstrumentError`: there is no default step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import ROUND_DOWN, Decimal

from pink.errors import PinkError, UnknownInstrumentError
from pink.kernel.messages import Instrument
from pink.venues.bingx.fields import BingxParseError
from pink.venues.bingx.http import BingxHttp
from pink.venues.bingx.parse_rest import list_of, parse_contract

__all__ = ["CONTRACTS_PATH", "InstrumentBook", "format_decimal"]

CONTRACTS_PATH = "/openApi/swap/v2/quote/contracts"
log = logging.getLogger(__name__)


def format_decimal(value: Decimal, increment: Decimal) -> str:
    """``value`` truncated down to a multiple of ``increment``, in plain notation."""
    steps = (value / increment).to_integral_value(rounding=ROUND_DOWN)
    return format((steps * increment).quantize(increment), "f")


class InstrumentBook:
    """The symbol -> :class:`Instrument` map; ``load`` fills it, ``run_refresh`` keeps it."""

    def __init__(self, instruments: dict[str, Instrument] | None = None) -> None:
        self._map: dict[str, Instrument] = dict(instruments or {})
        self.loads = 0

    @staticmethod
    def from_payload(data: object) -> dict[str, Instrument]:
        rows = list_of(data, "contracts", "contracts")
        out: dict[str, Instrument] = {}
        for row in rows:
            inst = parse_contract(row)
            out[inst.symbol] = inst
        return out

    async def load(self, http: BingxHttp) -> dict[str, Instrument]:
        data = await http.request("GET", CONTRACTS_PATH, signed=False)
        fresh = self.from_payload(data)
        if not fresh:
            raise BingxParseError("contracts", "data", "is empty")
        self._map = fresh
        self.loads += 1
        return dict(fresh)

    async def run_refresh(self, http: BingxHttp, every_s: float) -> None:
        """Reload every ``every_s``; a failed refresh keeps the previous map."""
        while True:
            await asyncio.sleep(every_s)
            with contextlib.suppress(PinkError):
                await self.load(http)

    def snapshot(self) -> dict[str, Instrument]:
        return dict(self._map)

    def get(self, symbol: str) -> Instrument:
        try:
            return self._map[symbol]
        except KeyError:
            raise UnknownInstrumentError(symbol) from None

    def format_qty(self, symbol: str, qty: Decimal) -> str:
        inst = self.get(symbol)
        text = format_decimal(qty, inst.step)
        if Decimal(text) < inst.min_qty:
            raise ValueError(
                f"quantity {qty} of {symbol} is below the minimum {inst.min_qty} "
                f"after rounding to step {inst.step}"
            )
        return text

    def format_price(self, symbol: str, price: Decimal) -> str:
        inst = self.get(symbol)
        if price <= 0:
            raise ValueError(f"price {price} of {symbol} must be positive")
        return format_decimal(price, inst.tick)

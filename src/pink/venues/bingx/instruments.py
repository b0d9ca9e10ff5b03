"""Instrument map of BingX USDT-M contracts (E16).

Loaded once from ``GET /openApi/swap/v2/quote/contracts`` into a dict and
refreshed on a timer; lookups are O(1). An unknown symbol raises
:class:`pink.errors.UnknownInstrumentError`: there is no default step. A contract
row that cannot be read is left out (logged, and named in that error), not
allowed to stop every other symbol loading.

A contract's ``status`` (1 online, 25 close-only, 5 pre-listing, 0 offline) and
``apiStateOpen`` (the string ``"false"``: no opening through the API) say whether
it takes new positions; the book keeps why not (:class:`NoOpensError`), and an
order that would open one there is refused before it is sent (the venue would
answer 101415/101400). Closes stay allowed.

A quantity or price is sent as it is, in plain notation, and only if it lies on the
contract's step or tick as last loaded: the kernel sends values on the grid it loaded at
start, so one off the current grid means BingX changed the precision since. Cutting it
down would send an order the kernel has no record of; it is refused (:class:`OffGridError`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import ROUND_DOWN, Decimal
from typing import Any

from pink.errors import PinkError, UnknownInstrumentError
from pink.kernel.messages import Instrument
from pink.venues.bingx.fields import BingxParseError, int_field, mapping
from pink.venues.bingx.http import BingxHttp
from pink.venues.bingx.parse_rest import list_of, parse_contract

__all__ = ["CONTRACTS_PATH", "InstrumentBook", "NoOpensError", "OffGridError", "format_decimal", "opens_refused"]

CONTRACTS_PATH = "/openApi/swap/v2/quote/contracts"
log = logging.getLogger(__name__)

#: contract ``status`` values other than 1 (online): (refusal code, what it is)
_STATES = {25: ("SYMBOL_CLOSE_ONLY", "close-only"), 5: ("SYMBOL_PRE_LISTING", "pre-listing"),
           0: ("SYMBOL_OFFLINE", "offline")}  # fmt: skip


class NoOpensError(ValueError):
    """An order that would open a position on a contract that takes none; ``code`` names why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class OffGridError(ValueError):
    """A quantity or price not on the contract's current step or tick; ``code`` names which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _on_grid(symbol: str, field: str, value: Decimal, increment: Decimal, grid: str) -> str:
    """``value`` in plain notation on ``increment``'s decimals; OffGridError if it is not a multiple."""
    try:
        off = value % increment != 0
    except ArithmeticError:  # (too many steps for the decimal context: no order of that size exists)
        raise ValueError(f"{field} {value} of {symbol} cannot be expressed on {grid} {increment}") from None
    if off:
        code = "QTY_OFF_STEP" if field == "quantity" else "PRICE_OFF_TICK"
        raise OffGridError(code, f"{field} {value} of {symbol} is not a multiple of the venue's {grid} {increment} "
                                 f"(BingX changed the contract's precision since PINK started? restart PINK to "
                                 f"take it); not sent")
    return format(value.quantize(increment), "f")


def opens_refused(row: Any) -> NoOpensError | None:
    """Why the contract ``row`` takes no new positions; None when it does (``status`` 1 or
    absent, as in old payloads, and ``apiStateOpen`` not ``"false"``). A status not in the
    docs is taken as not online: opening there is not known to work."""
    w = "contract"
    r = mapping(row, w, "row")
    symbol = str(r.get("symbol", ""))
    status = int_field(r, w, "status", default=1)
    if status != 1:
        code, name = _STATES.get(status, ("SYMBOL_NOT_ONLINE", "not online"))
        return NoOpensError(code, f"{symbol} is {name} (contract status {status}): it takes no new positions")
    api_open = r.get("apiStateOpen")
    if api_open is False or (isinstance(api_open, str) and api_open.strip().lower() == "false"):
        return NoOpensError("SYMBOL_API_OPEN_OFF", f"{symbol} takes no new positions through the API "
                            "(apiStateOpen false)")  # fmt: skip
    return None


def format_decimal(value: Decimal, increment: Decimal) -> str:
    """``value`` truncated down to a multiple of ``increment``, in plain notation."""
    steps = (value / increment).to_integral_value(rounding=ROUND_DOWN)
    return format((steps * increment).quantize(increment), "f")


class InstrumentBook:
    """The symbol -> :class:`Instrument` map; ``load`` fills it, ``run_refresh`` keeps it."""

    def __init__(self, instruments: dict[str, Instrument] | None = None) -> None:
        self._map: dict[str, Instrument] = dict(instruments or {})
        self._no_opens: dict[str, NoOpensError] = {}  # symbol -> why it takes no new positions
        self._unreadable: dict[str, str] = {}  # symbol -> why its contract row was left out
        self.loads = 0

    @staticmethod
    def from_payload(data: object, unreadable: dict[str, str] | None = None) -> dict[str, Instrument]:
        """The contracts of ``data``; a row that cannot be read is left out (one new listing
        must not stop every symbol), its symbol and the reason put in ``unreadable``."""
        out: dict[str, Instrument] = {}
        for row in list_of(data, "contracts", "contracts"):
            try:
                inst = parse_contract(row)
            except BingxParseError as exc:
                symbol = row.get("symbol") if isinstance(row, dict) else None
                name = symbol if isinstance(symbol, str) and symbol else "<no symbol>"
                if unreadable is not None:
                    unreadable[name] = str(exc)
                continue
            out[inst.symbol] = inst
        return out

    @staticmethod
    def no_opens_from_payload(data: object) -> dict[str, NoOpensError]:
        out: dict[str, NoOpensError] = {}
        for row in list_of(data, "contracts", "contracts"):
            with contextlib.suppress(BingxParseError):  # (an unreadable row is not loaded at all)
                refused = opens_refused(row)
                if refused is not None:
                    out[parse_contract(row).symbol] = refused
        return out

    async def load(self, http: BingxHttp) -> dict[str, Instrument]:
        data = await http.request("GET", CONTRACTS_PATH, signed=False)
        unreadable: dict[str, str] = {}
        fresh = self.from_payload(data, unreadable)
        if not fresh:
            raise BingxParseError("contracts", "data", "is empty" if not unreadable else
                                  f"has no readable contract ({next(iter(unreadable.values()))})")
        for symbol in sorted(unreadable.keys() - self._unreadable.keys()):
            log.warning("BingX contract %s left out: %s", symbol, unreadable[symbol])
        self._map, self._no_opens = fresh, self.no_opens_from_payload(data)
        self._unreadable = unreadable
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
            why = self._unreadable.get(symbol, "")
            raise UnknownInstrumentError(symbol, f"its contract was left out: {why}" if why else "") from None

    def check_opens(self, symbol: str) -> None:
        """Raise :class:`NoOpensError` if ``symbol`` takes no new positions (as last loaded)."""
        refused = self._no_opens.get(symbol)
        if refused is not None:
            raise NoOpensError(refused.code, str(refused))

    def format_qty(self, symbol: str, qty: Decimal) -> str:
        """``qty`` as sent; OffGridError off the current step, ValueError below the minimum."""
        inst = self.get(symbol)
        text = _on_grid(symbol, "quantity", qty, inst.step, "step")
        if qty < inst.min_qty:
            raise ValueError(f"quantity {qty} of {symbol} is below the minimum {inst.min_qty}")
        return text

    def format_price(self, symbol: str, price: Decimal) -> str:
        """``price`` as sent; OffGridError off the current tick, ValueError unless positive."""
        inst = self.get(symbol)
        if price <= 0:
            raise ValueError(f"price {price} of {symbol} must be positive")
        return _on_grid(symbol, "price", price, inst.tick, "tick")

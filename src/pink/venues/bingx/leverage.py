"""Leverage and position mode (E15, F18).

Leverage is read once per symbol and set only when it differs; the result is
cached per (symbol, side). A failure raises :class:`pink.errors.LeverageError`
with the venue's code and message, never an order rejection.
"""

from __future__ import annotations

from pink.errors import LeverageError, VenueError
from pink.kernel.messages import Side
from pink.venues.bingx.fields import BingxParseError, int_field, mapping
from pink.venues.bingx.http import BingxHttp

__all__ = ["LEVERAGE_PATH", "POSITION_MODE_PATH", "LeverageCache", "read_hedge_mode"]

LEVERAGE_PATH = "/openApi/swap/v2/trade/leverage"
POSITION_MODE_PATH = "/openApi/swap/v1/positionSide/dual"


async def read_hedge_mode(http: BingxHttp) -> bool:
    """True in hedge (dual-side) mode, False in one-way mode."""
    data = await http.request("GET", POSITION_MODE_PATH)
    obj = mapping(data, "positionSide/dual", "data")
    raw = obj.get("dualSidePosition")
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise BingxParseError("positionSide/dual", "dualSidePosition", f"is not true/false: {raw!r}")


class LeverageCache:
    """Known venue leverage per (symbol, side); ``sets`` counts POSTs made."""

    def __init__(self, http: BingxHttp) -> None:
        self._http = http
        self._known: dict[tuple[str, str], int] = {}
        self.sets = 0

    @staticmethod
    def side_param(side: Side, hedge: bool) -> str:
        return side.value if hedge else "BOTH"

    async def ensure(self, symbol: str, side: Side, leverage: int, hedge: bool) -> bool:
        """Make the venue's leverage ``leverage``; returns True when a set was sent."""
        key = (symbol, self.side_param(side, hedge))
        if key not in self._known:
            await self._read(symbol, hedge)
        if self._known.get(key) == leverage:
            return False
        params: dict[str, str | int] = {"symbol": symbol, "side": key[1], "leverage": leverage}
        try:
            await self._http.request("POST", LEVERAGE_PATH, dict(params), mutating=True)
        except VenueError as exc:
            self._known.pop(key, None)  # unknown now: read again next time
            raise LeverageError(symbol, exc.code, exc.message) from None
        self.sets += 1
        self._known[key] = leverage
        return True

    async def _read(self, symbol: str, hedge: bool) -> None:
        try:
            data = await self._http.request("GET", LEVERAGE_PATH, {"symbol": symbol})
            obj = mapping(data, "leverage", "data")
            long_lev = int_field(obj, "leverage", "longLeverage")
            short_lev = int_field(obj, "leverage", "shortLeverage")
        except VenueError as exc:
            raise LeverageError(symbol, exc.code, exc.message) from None
        except BingxParseError as exc:
            raise LeverageError(symbol, "BAD_REPLY", str(exc)) from None
        if hedge:
            self._known[(symbol, "LONG")] = long_lev
            self._known[(symbol, "SHORT")] = short_lev
        else:
            self._known[(symbol, "BOTH")] = long_lev

"""Market-data cache fed by the BingX market WebSocket (flaw E1).

``quote`` is served from memory: bid/ask from ``@bookTicker``, mark from
``@markPrice``, last from ``@lastPrice``. The funding rate has no stream, so
``premiumIndex`` is polled on a slow timer per subscribed symbol, never per
cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pink.errors import PinkError, VenueError
from pink.kernel.messages import ZERO
from pink.ports import Quote
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.fields import BingxParseError, mapping, opt_dec
from pink.venues.bingx.http import BingxHttp
from pink.venues.bingx.parse import parse_market_frame
from pink.venues.bingx.ws import GzipSocket

__all__ = ["MarketStream"]

log = logging.getLogger(__name__)
TOPICS = ("bookTicker", "markPrice", "lastPrice")
PREMIUM_PATH = "/openApi/swap/v2/quote/premiumIndex"


@dataclass(slots=True)
class _Book:
    bid: Decimal = ZERO
    ask: Decimal = ZERO
    last: Decimal = ZERO
    mark: Decimal = ZERO
    funding_rate: Decimal = ZERO
    ts: int = 0


class MarketStream:
    """Subscribes symbols on demand and keeps the latest quote of each."""

    def __init__(self, config: BingxConfig, http: BingxHttp) -> None:
        self._config = config
        self._http = http
        self._books: dict[str, _Book] = {}
        self._ready: dict[str, asyncio.Event] = {}
        self._errors: dict[str, str] = {}
        self._pending: dict[str, str] = {}  # sub id -> symbol
        self._socket = GzipSocket(config, "market", self._url, self._on_json, self._resubscribe)
        self._funding_task: asyncio.Task[None] | None = None
        self.frames = 0

    async def _url(self) -> str:
        return self._config.market_ws_url

    def start(self) -> None:
        self._socket.start()
        if self._funding_task is None:
            self._funding_task = asyncio.create_task(self._funding_loop(), name="bingx-funding")

    async def close(self) -> None:
        if self._funding_task is not None:
            self._funding_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._funding_task
            self._funding_task = None
        await self._socket.close()

    async def quote(self, symbol: str, wait_s: float = 5.0) -> Quote:
        """The cached quote; the first call for a symbol subscribes and waits for a tick.

        A book from before the stream dropped is never served: while the socket is down, and
        after it reconnects until the symbol's first new book ticker, the call waits for one
        (``NO_QUOTE`` after ``wait_s``). A policy must not price an order on a book that stopped."""
        if symbol not in self._ready:
            self._ready[symbol] = asyncio.Event()
            self._books[symbol] = _Book()
            await self._subscribe(symbol)
            await self._refresh_funding(symbol)
        if symbol in self._errors:
            raise VenueError("MARKET_SUBSCRIBE", self._errors[symbol])
        if not self._socket.connected.is_set():
            self._ready[symbol].clear()  # its book is from before the drop
        if not self._ready[symbol].is_set():
            try:  # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel (gh-86296)
                async with asyncio.timeout(wait_s):
                    await self._ready[symbol].wait()
            except TimeoutError:
                up = self._socket.connected.is_set()
                raise VenueError(
                    "NO_QUOTE", f"no book ticker for {symbol} " + ("yet" if up else "(market stream down)"),
                    retryable=True,
                ) from None
        if symbol in self._errors:
            raise VenueError("MARKET_SUBSCRIBE", self._errors[symbol])
        b = self._books[symbol]
        mark = b.mark or (b.bid + b.ask) / 2
        last = b.last or mark
        return Quote(symbol, b.bid, b.ask, last, mark, b.funding_rate, b.ts)

    async def _subscribe(self, symbol: str) -> None:
        for topic in TOPICS:
            sub_id = str(uuid.uuid4())
            self._pending[sub_id] = symbol
            await self._socket.send_json(
                {"id": sub_id, "reqType": "sub", "dataType": f"{symbol}@{topic}"}
            )

    async def _resubscribe(self) -> None:
        """On each (re)connect: the books are from before it; each waits for a new ticker."""
        for symbol in list(self._books):
            if symbol not in self._errors:
                self._ready[symbol].clear()
            await self._subscribe(symbol)

    async def _on_json(self, obj: Any) -> None:
        if isinstance(obj, dict) and "id" in obj and obj.get("code") not in (0, "0", None):
            symbol = self._pending.pop(str(obj["id"]), "")
            if symbol:
                self._errors[symbol] = f"subscribe refused: code {obj.get('code')} {obj.get('msg')}"
                self._ready[symbol].set()
            return
        try:
            tick = parse_market_frame(obj)
        except BingxParseError as exc:
            log.warning("BingX market frame dropped: %s", exc)
            return
        if tick is None or tick.symbol not in self._books:
            return
        self.frames += 1
        book = self._books[tick.symbol]
        if tick.bid is not None and tick.ask is not None:
            book.bid, book.ask = tick.bid, tick.ask
            self._ready[tick.symbol].set()
        if tick.mark is not None:
            book.mark = tick.mark
        if tick.last is not None:
            book.last = tick.last
        book.ts = max(book.ts, tick.ts)

    async def _refresh_funding(self, symbol: str) -> None:
        try:
            data = await self._http.request(
                "GET", PREMIUM_PATH, {"symbol": symbol}, signed=False
            )
            row = data[0] if isinstance(data, list) and data else data
            obj = mapping(row, "premiumIndex", "data")
            rate = opt_dec(obj, "premiumIndex", "lastFundingRate")
            mark = opt_dec(obj, "premiumIndex", "markPrice")
        except PinkError as exc:
            log.warning("BingX premiumIndex for %s failed: %s", symbol, type(exc).__name__)
            return
        book = self._books[symbol]
        if rate is not None:
            book.funding_rate = rate
        if mark is not None and not book.mark:
            book.mark = mark

    async def _funding_loop(self) -> None:
        while True:
            await asyncio.sleep(self._config.funding_refresh_s)
            for symbol in list(self._books):
                await self._refresh_funding(symbol)

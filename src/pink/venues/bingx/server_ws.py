"""WebSockets of the BingX simulator: the user-data stream and market streams.

Both live on ``/swap-market`` (REFERENCE §4.2, §11.4): with ``?listenKey=``
it is the user-data stream (every account event pushed, no subscription),
without it the market streams (``{"id","reqType":"sub","dataType"}``).
Every server frame is gzip-compressed binary; the server sends ``Ping``
every ``ping_interval_s`` and drops a client that has not answered ``Pong``
within ``pong_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from pink.venues.bingx.server_faults import ServerFaults
from pink.venues.bingx.server_state import SimState, places
from pink.venues.bingx.server_wire import dec, gzip_frame, ms

__all__ = ["INTERVALS", "MarketStreams", "UserStreams", "market_frame"]

INTERVALS: dict[str, int] = {
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200,
    "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400, "3d": 259200,
    "1w": 604800, "1M": 2592000,
}  # fmt: skip


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    request: web.Request
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    last_pong: float = 0.0
    held: bytes | None = None


async def _sender(conn: _Conn) -> None:
    while True:
        item = await conn.queue.get()
        if conn.ws.closed:
            return
        if item is None:
            await conn.ws.close()
            return
        await conn.ws.send_bytes(item)


async def _pinger(conn: _Conn, interval: float, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    conn.last_pong = loop.time()
    while not conn.ws.closed:
        await asyncio.sleep(interval)
        if loop.time() - conn.last_pong > timeout:
            await conn.ws.close(code=1000, message=b"pong timeout")
            return
        conn.queue.put_nowait(gzip_frame("Ping"))


def _is_pong(data: str | bytes) -> bool:
    text = data if isinstance(data, str) else ""
    if isinstance(data, bytes):
        try:
            text = gzip.decompress(data).decode()
        except (OSError, EOFError, UnicodeDecodeError):
            text = data.decode(errors="replace")
    return text.strip().lower() == "pong"


class UserStreams:
    """listenKeys and the user-data sockets bound to them."""

    def __init__(
        self,
        state: SimState,
        faults: ServerFaults,
        *,
        ping_interval_s: float = 5.0,
        pong_timeout_s: float = 15.0,
    ) -> None:
        self.state = state
        self.faults = faults
        self.ping_interval_s = ping_interval_s
        self.pong_timeout_s = pong_timeout_s
        self.keys: dict[str, float] = {}  # listenKey -> expiry (wall ms)
        self.conns: dict[str, set[_Conn]] = {}
        state.sinks.append(self.broadcast)

    # ---------------------------------------------------------- listenKeys
    def create(self) -> str:
        key = secrets.token_hex(32)
        self.keys[key] = self.state.wall_ms() + self.faults.listen_key_ttl_s * 1000
        return key

    def extend(self, key: str) -> bool:
        if key not in self.keys:
            return False
        self.keys[key] = self.state.wall_ms() + self.faults.listen_key_ttl_s * 1000
        return True

    def delete(self, key: str) -> bool:
        if self.keys.pop(key, None) is None:
            return False
        for conn in self.conns.pop(key, set()):
            conn.queue.put_nowait(None)
        return True

    def expire(self, key: str) -> None:
        """Send ``listenKeyExpired`` to the key's sockets, close them, forget the key."""
        self.keys.pop(key, None)
        frame = gzip_frame({"e": "listenKeyExpired", "E": self.state.wall_ms(), "listenKey": key})
        for conn in self.conns.pop(key, set()):
            conn.queue.put_nowait(frame)
            conn.queue.put_nowait(None)

    def check_expiry(self) -> None:
        now = self.state.wall_ms()
        for key, expiry in list(self.keys.items()):
            if expiry <= now:
                self.expire(key)

    def expire_all(self) -> None:
        for key in list(self.keys):
            self.expire(key)

    def drop_all_gracefully(self) -> None:
        """Close every user-data socket with a close handshake (server shutdown)."""
        for conns in self.conns.values():
            for conn in conns:
                conn.queue.put_nowait(None)

    def drop_all(self) -> None:
        for conns in self.conns.values():
            for conn in list(conns):
                _abort(conn)

    # ------------------------------------------------------------- frames
    def broadcast(self, frame: dict[str, Any]) -> None:
        data = gzip_frame(frame)
        for conns in self.conns.values():
            for conn in list(conns):
                self._send(conn, data)

    def _send(self, conn: _Conn, data: bytes) -> None:
        if self.faults.fire("ws_drop"):
            _abort(conn)
            return
        if self.faults.fire("stream_loss"):
            return
        if conn.held is None and self.faults.fire("reorder_stream"):
            conn.held = data
            return
        conn.queue.put_nowait(data)
        if self.faults.fire("dup_stream"):
            conn.queue.put_nowait(data)
        if conn.held is not None:
            conn.queue.put_nowait(conn.held)
            conn.held = None

    async def handle(self, request: web.Request, key: str) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if key not in self.keys:
            body = {"e": "listenKeyExpired", "E": self.state.wall_ms(), "listenKey": key}
            await ws.send_bytes(gzip_frame(body))
            await ws.close()
            return ws
        conn = _Conn(ws, request)
        self.conns.setdefault(key, set()).add(conn)
        tasks = [
            asyncio.create_task(_sender(conn)),
            asyncio.create_task(_pinger(conn, self.ping_interval_s, self.pong_timeout_s)),
        ]
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and _is_pong(msg.data):
                    conn.last_pong = asyncio.get_running_loop().time()
        finally:
            self.conns.get(key, set()).discard(conn)
            await _finish(conn, tasks)
        return ws


def _abort(conn: _Conn) -> None:
    """Drop the socket without a close handshake (what a deploy does to clients)."""
    conn.queue.put_nowait(None)
    transport = conn.request.transport
    if transport is not None:
        transport.abort()


async def _finish(conn: _Conn, tasks: list[asyncio.Task[None]]) -> None:
    """Flush what is queued (e.g. listenKeyExpired), then close and stop the tasks."""
    sender = tasks[0]
    conn.queue.put_nowait(None)
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(sender), 1.0)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if not conn.ws.closed:
        with contextlib.suppress(Exception):
            await conn.ws.close()


# ------------------------------------------------------------------ market


def _book(state: SimState, symbol: str, levels: int) -> tuple[list[list[str]], list[list[str]]]:
    quote = state.engine.quote(symbol)
    inst = state.instruments[symbol]
    pp, qp = places(inst.tick), places(inst.step)
    qty = max(inst.step, (Decimal(20000) / quote.ask).quantize(inst.step))
    bids = [[dec(quote.bid - inst.tick * i, pp), dec(qty, qp)] for i in range(levels)]
    asks = [[dec(quote.ask + inst.tick * i, pp), dec(qty, qp)] for i in range(levels)]
    asks.reverse()  # BingX sends asks high -> low
    return bids, asks


def market_frame(state: SimState, topic: str) -> dict[str, Any] | None:
    """One data frame for a topic, or None when the topic is unknown (80015)."""
    symbol, _, stream = topic.partition("@")
    if symbol not in state.instruments:
        return None
    now_ms = ms(state.now_ns())
    if stream == "bookTicker":
        bids, asks = _book(state, symbol, 1)
        data: Any = {
            "e": "bookTicker", "u": now_ms, "E": now_ms, "T": now_ms, "s": symbol,
            "b": bids[0][0], "B": bids[0][1], "a": asks[0][0], "A": asks[0][1],
        }  # fmt: skip
        return {"code": 0, "dataType": topic, "data": data}
    if stream == "markPrice":
        mark = state.engine.quote(symbol).mark
        data = {"e": "markPriceUpdate", "E": now_ms, "s": symbol, "p": dec(mark)}
        return {"code": 0, "dataType": topic, "data": data}
    if stream == "lastPrice":
        last = state.engine.quote(symbol).last
        data = {"e": "lastPriceUpdate", "E": now_ms, "s": symbol, "c": dec(last)}
        return {"code": 0, "dataType": topic, "data": data}
    if stream.startswith("kline_") and stream[6:] in INTERVALS:
        candles = state.engine.candles(symbol, INTERVALS[stream[6:]], 1)
        rows = [
            {"c": dec(c.close), "o": dec(c.open), "h": dec(c.high), "l": dec(c.low),
             "v": dec(c.volume), "T": ms(c.ts)}
            for c in candles[-1:]
        ]  # fmt: skip
        return {"code": 0, "dataType": topic, "s": symbol, "data": rows}
    if stream.startswith("depth"):
        head = stream[5:].split("@", 1)[0]
        if head.isdigit() and int(head) in (5, 10, 20, 50, 100):
            bids, asks = _book(state, symbol, int(head))
            return {"code": 0, "dataType": topic, "ts": now_ms, "data": {"bids": bids, "asks": asks}}
    return None


class MarketStreams:
    """Market-data sockets: sub/unsub acks, then a push per topic every ``interval_s``."""

    def __init__(self, state: SimState, *, interval_s: float = 0.5, ping_interval_s: float = 5.0):
        self.state = state
        self.interval_s = interval_s
        self.ping_interval_s = ping_interval_s
        self.sockets: set[web.WebSocketResponse] = set()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.add(ws)
        topics: set[str] = set()
        pusher = asyncio.create_task(self._push(ws, topics))
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT or _is_pong(msg.data):
                    continue
                reply = self._on_request(msg.data, topics)
                if reply is not None:
                    await ws.send_bytes(gzip_frame(reply))
        finally:
            self.sockets.discard(ws)
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pusher
        return ws

    def _on_request(self, text: str, topics: set[str]) -> dict[str, Any] | None:
        try:
            req = json.loads(text)
        except ValueError:
            return {"code": 100400, "msg": "invalid request", "timestamp": self.state.wall_ms()}
        if not isinstance(req, dict):
            return None
        rid, kind, topic = req.get("id", ""), req.get("reqType", "sub"), req.get("dataType", "")
        if kind == "unsub":
            topics.discard(topic)
        elif market_frame(self.state, str(topic)) is None:
            return {"id": rid, "code": 80015, "msg": f"dataType not supported: {topic}",
                    "dataType": "", "data": None}  # fmt: skip
        elif len(topics) >= 200:
            return {"id": rid, "code": 80403, "msg": "too many topics", "dataType": "", "data": None}
        else:
            topics.add(str(topic))
        return {"id": rid, "code": 0, "msg": "", "dataType": "", "data": None}

    async def _push(self, ws: web.WebSocketResponse, topics: set[str]) -> None:
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + self.ping_interval_s
        while not ws.closed:
            await asyncio.sleep(self.interval_s)
            for topic in sorted(topics):
                frame = market_frame(self.state, topic)
                if frame is not None and not ws.closed:
                    await ws.send_bytes(gzip_frame(frame))
            if loop.time() >= next_ping and not ws.closed:
                next_ping = loop.time() + self.ping_interval_s
                await ws.send_bytes(gzip_frame("Ping"))

"""A SimVenue that outlives its runtime: served from the harness over loopback.

``pink run --venue sim`` keeps the simulator inside the runtime's process, so
killing that process would kill the venue too, and a restart would meet a
new, empty exchange. For chaos runs the :class:`~pink.venues.sim.venue.SimVenue`
lives in the harness (:class:`SimHost`, one per trial) and the runtime
process talks to it through :class:`RemoteSimVenue`, which implements the
same :class:`~pink.ports.Venue` and :class:`~pink.runtime.ports_ext.SimDriver`
protocols. The runtime's simulated clock still drives the venue
(``advance_to``); while no runtime is connected the venue's time stands still.

Wire: each frame is a 4-byte big-endian length and a pickle. Request
``(method, args)``; reply ``(error, result, events, next_due, now, quotes)``.
Events the venue delivered while handling the request travel in its reply,
exactly as a stream would deliver them; a reply that never reaches a killed
runtime loses its events, as a dropped stream would (restart reconciliation
must recover them). Pickle is used because both ends are this harness's own
processes on 127.0.0.1; it is not an interface for anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import struct
from collections import Counter
from collections.abc import Callable, Collection
from typing import Any

from pink.errors import ClosedError, RateLimitedError, UnknownOutcomeError, VenueError
from pink.kernel.messages import (
    BalanceReport,
    CancelOrder,
    EnsureLeverage,
    FundingPaid,
    FundsTransferred,
    Instrument,
    OrderFilled,
    OrderStatusReport,
    PlaceOrder,
    PositionReport,
    QueryOrder,
    VenueEvent,
)
from pink.ports import EventSink, Quote
from pink.venues.sim.venue import SimVenue

__all__ = ["RemoteSimVenue", "SimHost"]

_LEN = struct.Struct(">I")
_METHODS = frozenset({
    "instruments", "place", "cancel", "query", "ensure_leverage", "open_orders", "fills_since",
    "funding_since", "transfers_since", "positions", "balance", "quote", "advance_to", "hello",
})


async def _read(reader: asyncio.StreamReader) -> Any:
    head = await reader.readexactly(_LEN.size)
    return pickle.loads(await reader.readexactly(_LEN.unpack(head)[0]))


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LEN.pack(len(data)) + data


def _error(exc: BaseException) -> tuple[str, str, str, float]:
    if isinstance(exc, RateLimitedError):
        return ("rate_limited", exc.code, exc.message, exc.retry_after_s)
    if isinstance(exc, UnknownOutcomeError):
        return ("unknown_outcome", exc.code, exc.message, 0.0)
    if isinstance(exc, VenueError):
        return ("venue", exc.code, exc.message, 1.0 if exc.retryable else 0.0)
    return ("venue", "SIMHOST_ERROR", f"{type(exc).__name__}: {exc}", 0.0)


def _raise(err: tuple[str, str, str, float]) -> None:
    kind, code, message, extra = err
    if kind == "rate_limited":
        raise RateLimitedError(code, message, retry_after_s=extra)
    if kind == "unknown_outcome":
        raise UnknownOutcomeError(code, message)
    raise VenueError(code, message, retryable=bool(extra))


class SimHost:
    """Serves one SimVenue on 127.0.0.1 to one runtime at a time; counts places per order id."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue
        self.places: Counter[str] = Counter()  # place requests by client order id
        self.connections = 0
        self._events: list[VenueEvent] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> SimHost:
        await self.venue.start(self._events.append)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            await self._server.wait_closed()
            self._server = None
        await self.venue.close()

    def _quotes(self) -> dict[str, Quote]:
        engine = self.venue.engine
        return {s: engine.quote(s) for s in engine.instruments}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while True:
                try:
                    method, args = await _read(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                err: tuple[str, str, str, float] | None = None
                result: Any = None
                try:
                    if method not in _METHODS:
                        raise VenueError("SIMHOST_METHOD", f"unknown method {method!r}")
                    if method == "place":
                        self.places[args[0].client_order_id] += 1
                    if method == "fills_since":  # (ts, orders, outside, symbols)
                        result = await self.venue.fills_since(args[0], args[1], outside=args[2], symbols=args[3])
                    elif method != "hello":
                        result = await getattr(self.venue, method)(*args)
                except Exception as exc:
                    err = _error(exc)
                events, self._events[:] = list(self._events), []
                reply = (err, result, events, self.venue.next_due(), self.venue.now, self._quotes())
                try:
                    writer.write(_frame(reply))
                    await writer.drain()
                except ConnectionError:
                    return  # the runtime died: the events in this reply are lost, as on a stream
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class _QuoteBook:
    """What the launcher takes as ``venue.engine`` for quotes: the last ones the host sent."""

    def __init__(self) -> None:
        self.quotes: dict[str, Quote] = {}

    def quote(self, symbol: str) -> Quote:
        return self.quotes[symbol]


KillHook = Callable[[str, Any], None]


class RemoteSimVenue:
    """The runtime side of :class:`SimHost`: a Venue + SimDriver over one loopback connection.

    ``hook(point, detail)`` is called at the chaos kill points (``submit``
    after a place has reached the venue, ``fill`` before a fill reaches the
    runtime); the runner's hook may SIGKILL the process there.
    """

    name = "sim (remote)"
    hedge_mode: bool | None = True  # as the SimVenue it serves

    def __init__(self, port: int, hook: KillHook | None = None) -> None:
        self._port = port
        self._hook = hook or (lambda _p, _d: None)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        self._sink: EventSink | None = None
        self._next_due: int | None = None
        self._now = 0
        self.engine = _QuoteBook()
        self.calls: Counter[str] = Counter()

    @property
    def now(self) -> int:
        return self._now

    @property
    def stream_connected(self) -> bool:
        """Events ride on the one loopback connection to the host."""
        return self._sink is not None and self._writer is not None

    async def connect(self) -> RemoteSimVenue:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        await self._call("hello")
        return self

    async def _call(self, method: str, *args: Any) -> Any:
        if self._writer is None or self._reader is None:
            raise ClosedError(f"remote sim venue ({method})")
        self.calls[method] += 1
        async with self._lock:
            self._writer.write(_frame((method, args)))
            await self._writer.drain()
            err, result, events, next_due, now, quotes = await _read(self._reader)
        self._next_due, self._now = next_due, now
        self.engine.quotes = quotes
        if events:
            for ev in events:
                if isinstance(ev, OrderFilled):
                    self._hook("fill", ev)
                if self._sink is not None:
                    self._sink(ev)
        if err is not None:
            _raise(err)
        return result

    # ---------------------------------------------------------- SimDriver
    def next_due(self) -> int | None:
        return self._next_due

    @property
    def market_ended(self) -> str:
        return ""  # (the host's random walk never ends)

    async def advance_to(self, now_ns: int) -> None:
        await self._call("advance_to", now_ns)

    # -------------------------------------------------------------- Venue
    async def start(self, sink: EventSink) -> None:
        self._sink = sink

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def instruments(self) -> dict[str, Instrument]:
        result: dict[str, Instrument] = await self._call("instruments")
        return result

    async def place(self, order: PlaceOrder) -> None:
        try:
            await self._call("place", order)
        finally:
            self._hook("submit", order)

    async def cancel(self, order: CancelOrder) -> None:
        await self._call("cancel", order)

    async def query(self, query: QueryOrder) -> OrderStatusReport:
        result: OrderStatusReport = await self._call("query", query)
        return result

    async def ensure_leverage(self, request: EnsureLeverage) -> None:
        await self._call("ensure_leverage", request)

    async def open_orders(self) -> list[OrderStatusReport]:
        result: list[OrderStatusReport] = await self._call("open_orders")
        return result

    async def fills_since(
        self,
        ts: int,
        orders: Collection[str] | None = None,
        *,
        outside: bool = False,
        symbols: Collection[str] | None = None,
    ) -> list[OrderFilled]:
        result: list[OrderFilled] = await self._call(
            "fills_since", ts, None if orders is None else list(orders), outside,
            None if symbols is None else list(symbols),
        )  # fmt: skip
        return result

    async def funding_since(self, ts: int) -> list[FundingPaid]:
        result: list[FundingPaid] = await self._call("funding_since", ts)
        return result

    async def transfers_since(self, ts: int) -> list[FundsTransferred]:
        result: list[FundsTransferred] = await self._call("transfers_since", ts)
        return result

    async def positions(self) -> list[PositionReport]:
        result: list[PositionReport] = await self._call("positions")
        return result

    async def balance(self) -> BalanceReport:
        result: BalanceReport = await self._call("balance")
        return result

    async def quote(self, symbol: str) -> Quote:
        result: Quote = await self._call("quote", symbol)
        return result


def sigkill_self() -> None:
    """Die now, as ``kill -9`` would: no finally blocks, no close, no flush."""
    os.kill(os.getpid(), signal.SIGKILL)

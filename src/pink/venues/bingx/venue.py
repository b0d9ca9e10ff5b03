"""``BingxVenue``: :class:`pink.ports.Venue` on BingX USDT-M perpetuals.

* Replies to place/cancel go to the sink given to :meth:`start`, like the
  stream's events; each order's ack and terminal event is delivered once,
  each fill once (by fill id).
* A place with no reply (timeout, 5xx) raises UnknownOutcomeError: the kernel
  queries by client order id (F16). An ack is never a fill (E12): fills come
  from ``ORDER_TRADE_UPDATE`` or an order query (and the fill rows it stands for:
  :mod:`pink.venues.bingx.queries`), never from positions (E13).
* Cancel is tri-state (E17/F17): cancelled, still open, or unknown; a "not
  found"/"already filled" answer triggers an order query.
* ``quote`` is served from the market-stream cache (E1); ``calls`` counts
  REST requests per endpoint.
* An ``ACCOUNT_UPDATE`` for funding, a deposit, a withdrawal or a transfer
  only triggers a read of the income rows, each delivered once by ``tranId``
  (:meth:`Reports.book_pushed_income`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from pink.errors import (
    AuthError,
    ClosedError,
    PinkError,
    StartupError,
    UnknownOutcomeError,
    VenueError,
)
from pink.kernel.events import is_pinks_own
from pink.kernel.messages import (
    ZERO,
    CancelOrder,
    CancelRejected,
    EnsureLeverage,
    Instrument,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatus,
    OrderStatusReport,
    OrderType,
    PlaceOrder,
    TimeInForce,
    VenueEvent,
)
from pink.ports import EventSink, Quote
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.errors import is_already_filled, is_not_found
from pink.venues.bingx.fields import BingxParseError
from pink.venues.bingx.http import BingxHttp
from pink.venues.bingx.instruments import InstrumentBook, NoOpensError, OffGridError
from pink.venues.bingx.leverage import LeverageCache, read_hedge_mode
from pink.venues.bingx.market import MarketStream
from pink.venues.bingx.orders import order_params
from pink.venues.bingx.parse import AccountUpdate, FillTracker, ListenKeyExpired, OrderUpdate, parse_user_frame
from pink.venues.bingx.parse_rest import parse_ack, parse_order, unwrap_order
from pink.venues.bingx.queries import OPEN, ORDER_PATH, OrderQueries, now_ns, with_client
from pink.venues.bingx.recent import RecentKeys, keep_last
from pink.venues.bingx.ws import UserStream

__all__ = ["ORDER_PATH", "BingxVenue"]

log = logging.getLogger(__name__)
_ORDER_EVENTS = ("ORDER_TRADE_UPDATE", "TRADE_UPDATE")
_CANCEL_CODES = {OrderStatus.FILLED: "ORDER_ALREADY_FILLED", OrderStatus.NOT_FOUND: "ORDER_NOT_FOUND"}


#: how long after its place call ended an order's "not found" is no news: BingX's order query
#: may not know an order it acknowledged a moment ago (and one whose place is still on its way
#: is not known at all)
NOT_FOUND_GRACE_S = 10.0

#: BingX's codes for a close with no position to close (101290, "reduce-only would open a
#: position", is how one-way mode says it: every exit PINK sends there is reduce-only)
NO_POSITION_CODES = {"101205", "80017", "101290"}


def rejection(cid: str, exc: VenueError) -> OrderRejected:
    """The refusal of ``cid``'s order. One below the minimum (110425, or 101400 saying
    "minimum": with another message it means a pair not open for trading), or a close with no
    position to close, gets the kernel's code for it; BingX's number is kept in the message."""
    code = exc.code
    if code == "110425" or (code == "101400" and "minimum" in exc.message.lower()):
        return OrderRejected(cid, "NOTIONAL_BELOW_MIN", f"{code}: {exc.message}", now_ns())
    if code in NO_POSITION_CODES:
        return OrderRejected(cid, "NO_POSITION", f"{code}: {exc.message}", now_ns())
    return OrderRejected(cid, code, exc.message, now_ns())


@dataclass(slots=True)
class _Live:
    """An order placed here, until it ends; ``settled`` is when its place call ended
    (monotonic seconds), None while the call is on its way."""

    symbol: str
    qty: Decimal
    settled: float | None = None


class BingxVenue(OrderQueries):
    """The BingX adapter; ``async with`` is not required, but :meth:`close` is."""

    name = "bingx"

    def __init__(self, config: BingxConfig, *, asset: str = "USDT",
                 fill_watch_s: float = 5.0, remember: int = 100_000) -> None:
        self.config = config
        self.http = BingxHttp(config)
        self.book = InstrumentBook()
        self.leverage = LeverageCache(self.http)
        self.tracker = FillTracker()
        self.market = MarketStream(config, self.http)
        self.stream = UserStream(config, self.http, self._on_user_json, self._gap_fill)
        self.asset = asset
        self.hedge_mode: bool | None = config.hedge_mode
        self.last_account: AccountUpdate | None = None
        self._fill_watch_s = fill_watch_s
        self._sink: EventSink | None = None
        self._live: dict[str, _Live] = {}  # cid -> the order, until done
        # what was delivered, oldest first, each kept for the last ``remember`` orders or events: a
        # long run must not grow without end (the kernel drops what repeats older ones anyway)
        self._keep = remember
        self._by_venue_id: OrderedDict[str, str] = OrderedDict()  # venue order id -> client order id
        # client order id -> symbol, of the orders placed or asked here
        self._symbols: OrderedDict[str, str] = OrderedDict()
        self._delivered = RecentKeys(remember)
        self._fees: OrderedDict[str, Decimal] = OrderedDict()  # venue order id -> commission delivered
        self.unbooked_income: Counter[str] = Counter()  # income rows PINK does not book, by type
        self.income_reading = False  # a read of the income for a push is on its way
        self._income_again: tuple[int, str] | None = None  # pushed meanwhile: read once more from then
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False

    @property
    def rest_reachable(self) -> bool:
        """The venue answered the last REST request (none unanswered since)."""
        return not self._closed and self.http.unanswered == 0

    @property
    def stream_connected(self) -> bool:
        """The user-data WebSocket is open (it reconnects by itself; health says when it is not)."""
        return not self._closed and self.stream.connected.is_set()

    @property
    def calls(self) -> Counter[str]:
        """REST requests made, per ``"METHOD path"``."""
        return self.http.calls

    # ------------------------------------------------------------ lifecycle

    async def start(self, sink: EventSink) -> None:
        self._check_open()
        if self._started:
            raise StartupError("bingx venue", "already started")
        self.config.require_keys()
        self._sink = sink
        try:
            await self.http.sync_time()
            await self.book.load(self.http)
            if self.hedge_mode is None:
                self.hedge_mode = await read_hedge_mode(self.http)
            await self.stream.start()
            await self._await_stream()
        except (VenueError, BingxParseError) as exc:
            await self.close()
            raise StartupError("bingx venue", str(exc)) from None
        self.market.start()
        self._spawn(self.book.run_refresh(self.http, self.config.instrument_refresh_s))
        self._started = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, PinkError):
                await task
        self._tasks.clear()
        with contextlib.suppress(PinkError):
            await self.stream.close()
        await self.market.close()
        await self.http.close()

    async def _await_stream(self) -> None:
        """Orders placed before the user stream is up would lose their stream fills."""
        try:  # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel (gh-86296)
            async with asyncio.timeout(self.config.request_timeout_s):
                await self.stream.connected.wait()
        except TimeoutError:
            raise VenueError("STREAM", "the user-data stream did not connect") from None

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("bingx venue")

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------- delivery

    def _emit(self, event: VenueEvent) -> None:
        """Deliver once: one ack and one terminal event per order, each fill once."""
        key: tuple[str, str] | None = None
        if isinstance(event, OrderAccepted):
            key = ("ack", event.client_order_id)
        elif isinstance(event, OrderFilled):
            key = ("fill", event.fill_id)
        elif isinstance(event, OrderCanceled | OrderExpired | OrderRejected):
            key = ("end", event.client_order_id)
        if key is not None and key[1]:
            if key in self._delivered:
                return
            self._delivered.add(key)
        if isinstance(event, OrderCanceled | OrderExpired | OrderRejected):
            self._live.pop(event.client_order_id, None)
        elif isinstance(event, OrderFilled):
            voi = event.venue_order_id
            self._fees[voi] = self._fees.get(voi, ZERO) + event.commission
            keep_last(self._fees, self._keep)
            live = self._live.get(event.client_order_id)
            if live is not None and event.cum_qty >= live.qty:
                del self._live[event.client_order_id]
        elif isinstance(event, OrderStatusReport):
            self._drop_if_ended(event.client_order_id, event.status)
        if self._sink is None:
            raise ClosedError("bingx venue sink (start() was not called)")
        self._sink(event)

    def _young(self, cid: str) -> bool:
        """``cid``'s place call is on its way or ended under :data:`NOT_FOUND_GRACE_S` ago."""
        live = self._live.get(cid)
        return live is not None and (live.settled is None or time.monotonic() - live.settled < NOT_FOUND_GRACE_S)

    def _drop_if_ended(self, cid: str, status: OrderStatus) -> None:
        """An order the venue reports ended leaves the live list (no more watch or gap-fill);
        one it does not know (yet) stays while it is young (see :data:`NOT_FOUND_GRACE_S`)."""
        if status in OPEN or (status is OrderStatus.NOT_FOUND and self._young(cid)):
            return
        self._live.pop(cid, None)

    def _remember(self, client_order_id: str, venue_order_id: str) -> None:
        if client_order_id and venue_order_id:
            self._by_venue_id[venue_order_id] = client_order_id
            keep_last(self._by_venue_id, self._keep)

    # --------------------------------------------------------------- orders

    async def instruments(self) -> dict[str, Instrument]:
        self._check_open()
        if not self.book.snapshot():
            await self.book.load(self.http)
        return self.book.snapshot()

    def order_params(self, order: PlaceOrder) -> dict[str, str]:
        """The request params of ``order``, formatted to the instrument (E16)."""
        return order_params(self.book, bool(self.hedge_mode), order)

    async def place(self, order: PlaceOrder) -> None:
        self._check_open()
        cid = order.client_order_id.lower()
        try:
            params = self.order_params(order)
        except NoOpensError as exc:  # the contract takes no new positions: not sent
            self._emit(OrderRejected(cid, exc.code, str(exc), now_ns()))
            return
        except OffGridError as exc:  # never cut to fit: the venue's order would not be the kernel's
            log.error("BingX order %s refused: %s", cid, exc)
            self._emit(OrderRejected(cid, exc.code, str(exc), now_ns()))
            return
        except ValueError as exc:
            self._emit(OrderRejected(cid, "INVALID_ORDER", str(exc), now_ns()))
            return
        live = self._live[cid] = _Live(order.symbol, order.quantity)
        self._symbols[cid] = order.symbol
        keep_last(self._symbols, self._keep)
        try:
            data = await self.http.request("POST", ORDER_PATH, dict(params), mutating=True)
        except AuthError:
            self._live.pop(cid, None)
            raise
        except VenueError as exc:
            live.settled = time.monotonic()
            if isinstance(exc, UnknownOutcomeError):
                raise  # F16: the kernel queries by client order id at its deadline
            self._emit(rejection(cid, exc))
            return
        live.settled = time.monotonic()
        try:
            ack = parse_ack(data)
        except BingxParseError as exc:
            self._spawn(self._query_and_emit(cid, order.symbol, f"unreadable ack: {exc}"))
            return
        self._remember(cid, ack.venue_order_id)
        self._emit(OrderAccepted(cid, ack.venue_order_id, now_ns()))
        if order.order_type is OrderType.MARKET or order.time_in_force in (
            TimeInForce.IOC, TimeInForce.FOK
        ):
            self._spawn(self._watch(cid, order.symbol))

    async def _watch(self, cid: str, symbol: str) -> None:
        """An immediate order still unsettled after a while is queried (E12)."""
        await asyncio.sleep(self._fill_watch_s)
        if cid in self._live:
            await self._query_and_emit(cid, symbol, "no terminal stream event")

    async def cancel(self, order: CancelOrder) -> None:
        self._check_open()
        cid = order.client_order_id.lower()
        params = {"symbol": order.symbol, "clientOrderId": cid}
        if order.venue_order_id:
            params = {"symbol": order.symbol, "orderId": order.venue_order_id}
        try:
            data = await self.http.request("DELETE", ORDER_PATH, dict(params), mutating=True)
        except AuthError:
            raise
        except VenueError as exc:
            gone = is_not_found(exc.code, exc.message) or is_already_filled(exc.code, exc.message)
            if gone or isinstance(exc, UnknownOutcomeError):
                await self._resolve_cancel(cid, order.symbol, exc.code, exc.message)
            else:
                self._emit(CancelRejected(cid, exc.code, exc.message, None, now_ns()))
            return
        try:
            report, raw = parse_order(data, "cancel reply"), unwrap_order(data, "cancel reply")
        except BingxParseError as exc:
            await self._resolve_cancel(cid, order.symbol, "BAD_REPLY", str(exc))
            return
        self._remember(cid, report.venue_order_id)
        if report.status is not OrderStatus.CANCELED:  # (it filled as the cancel came): no cancel
            await self._cancel_answered(cid, with_client(report, cid), raw, order.symbol, "CANCEL_NOT_DONE",
                                        f"the cancel reply shows the order {report.status.value}")
            return
        self._emit(OrderCanceled(cid, report.venue_order_id, report.cum_qty, now_ns()))

    async def _resolve_cancel(self, cid: str, symbol: str, code: str, message: str) -> None:
        """Ask the venue what happened to the order, then say cancelled / open / unknown."""
        try:
            report, raw = await self._fetch(cid, symbol)
        except VenueError:
            self._emit(CancelRejected(cid, code, message, None, now_ns()))
            return
        await self._cancel_answered(cid, report, raw, symbol, code, message)

    async def _cancel_answered(self, cid: str, report: OrderStatusReport, raw: dict[str, Any], symbol: str,
                               code: str, message: str) -> None:
        """The order as the venue has it (its fills, then itself), then cancelled / open / gone."""
        await self._emit_report(report, raw, symbol)
        if report.status is OrderStatus.CANCELED:
            self._emit(OrderCanceled(cid, report.venue_order_id, report.cum_qty, now_ns()))
            return
        plain = _CANCEL_CODES.get(report.status, code)
        detail = f"{message} (venue code {code})" if plain != code else message
        self._emit(CancelRejected(cid, plain, detail, report.status in OPEN, now_ns()))

    async def ensure_leverage(self, request: EnsureLeverage) -> None:
        self._check_open()
        self.book.get(request.symbol)  # unknown symbol: UnknownInstrumentError (E16)
        await self.leverage.ensure(
            request.symbol, request.position_side, request.leverage, bool(self.hedge_mode)
        )

    async def quote(self, symbol: str) -> Quote:
        self._check_open()
        self.book.get(symbol)
        return await self.market.quote(symbol)

    # --------------------------------------------------------------- stream

    async def _on_user_json(self, obj: Any) -> None:
        try:
            msg = parse_user_frame(obj)
        except BingxParseError as exc:
            log.error("BingX user frame rejected: %s", exc)
            self._query_unreadable(obj)
            return
        if isinstance(msg, OrderUpdate):
            self._on_order_update(msg)
        elif isinstance(msg, AccountUpdate):
            self.last_account = msg
            if msg.funding or msg.transfer:
                self._spawn(self.book_pushed_income(msg))
        elif isinstance(msg, ListenKeyExpired):
            await self.stream.expired()

    def _query_unreadable(self, frame: Any) -> None:
        """An order push that could not be read may have been a fill: if it names an order of
        PINK's (its client id, or BingX's id of one placed here) and a symbol, ask the order now
        rather than at the kernel's next check of it."""
        o = frame.get("o") if isinstance(frame, dict) and frame.get("e") in _ORDER_EVENTS else None
        if not isinstance(o, dict) or not isinstance(o.get("s"), str) or not o["s"]:
            return
        named = o.get("c")
        cid = (named.lower() if isinstance(named, str) else "") or self._by_venue_id.get(str(o.get("i")), "")
        if is_pinks_own(cid):  # (another's order has no slot to wait on it: the reconcile books it)
            self._spawn(self._query_and_emit(cid, o["s"], "unreadable stream push"))

    def _on_order_update(self, up: OrderUpdate) -> None:
        cid = up.client_order_id or self._by_venue_id.get(up.venue_order_id, "")
        if cid != up.client_order_id:
            up = _with_update_client(up, cid)
        self._remember(cid, up.venue_order_id)
        events, needs_query = self.tracker.apply(up)
        for event in events:  # (an order placed outside PINK: by hand, a liquidation, another program's)
            if (isinstance(event, OrderFilled) and not event.fee_final and up.status not in OPEN
                    and not is_pinks_own(cid)):  # fmt: skip
                self._spawn(self._emit_outside_fill(event, up.symbol))  # its fee from the order first
            else:
                self._emit(event)
        if needs_query and cid:
            self._spawn(self._query_and_emit(cid, up.symbol, "stream fill without price/size"))

    async def _emit_outside_fill(self, fill: OrderFilled, symbol: str) -> None:
        """The last fill of an order placed outside PINK (no client id: by hand, a liquidation; or
        another program's) whose fee the push did not state for sure: the kernel has no order to
        true up later, so the fee is the order's total commission, asked by its venue id, less
        what its earlier fills carried."""
        for attempt in range(3):
            try:
                report, _ = await self.order_by_id(symbol, fill.venue_order_id, "order placed outside PINK")
            except VenueError as exc:
                log.warning("BingX order %s (placed outside PINK): commission unknown: %s", fill.venue_order_id, exc)
                await asyncio.sleep(0.5 * 2**attempt)
                continue
            if report.commission is not None and report.cum_qty == fill.cum_qty:
                paid = self._fees.get(fill.venue_order_id, ZERO)
                fill = replace(fill, commission=report.commission - paid, fee_final=True)
                break
        if not self._closed:
            self._emit(fill)

    async def _gap_fill(self) -> None:
        """After a reconnect: query every order still live (orders and fills missed), each
        on its own (a failed query is logged and the next order asked)."""
        for cid, live in list(self._live.items()):
            await self._query_and_emit(cid, live.symbol, "stream reconnected")


def _with_update_client(up: OrderUpdate, cid: str) -> OrderUpdate:
    return replace(up, client_order_id=cid)

"""Read-only venue reports for reconciliation (slow path, never per cycle).

Money moved outside trading (funding, deposits, withdrawals, transfers) is
booked from the venue's income rows, each once by its ``tranId`` (or a key
made from its fields when it has none: :attr:`IncomeRow.key`); an
``ACCOUNT_UPDATE`` push that announces such a movement only triggers a read
of them (:meth:`Reports.book_pushed_income`).

Fills come from the venue's fill records (E13, F19): each fill is cumulated
per order from the order's own rows since its start, so its id
(``<orderId>:<cum qty>``) is the one the stream gives the same fill. (The
order's ``executedQty`` is no base: it may count a fill the window does not
list, one made after its end or one the fill list has not caught up with.)
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import replace
from typing import Any

from pink.errors import VenueError
from pink.kernel.events import is_pinks_own
from pink.kernel.messages import (
    ZERO,
    BalanceReport,
    FundingPaid,
    FundsTransferred,
    OrderFilled,
    OrderStatusReport,
    PositionReport,
)
from pink.ports import EventSink, MoneyMoved
from pink.venues.bingx.errors import is_not_found, unreadable_as_venue_error
from pink.venues.bingx.fields import BingxParseError, order_side, position_side
from pink.venues.bingx.http import BingxHttp
from pink.venues.bingx.income import IncomeRow, booked_income, name_keyless, name_unbooked, readable_rows
from pink.venues.bingx.parse import AccountUpdate
from pink.venues.bingx.parse_rest import (
    FillRow,
    created_second_ms,
    fills_from_rows,
    list_of,
    parse_balance,
    parse_fill_row,
    parse_order,
    parse_position,
    unwrap_order,
)
from pink.venues.bingx.recent import RecentKeys
from pink.venues.bingx.signing import ParamValue

__all__ = [
    "BALANCE_PATH",
    "FILLS_PATH",
    "INCOME_PATH",
    "OPEN_ORDERS_PATH",
    "POSITIONS_PATH",
    "PUSH_LOOKBACK_NS",
    "Reports",
]

log = logging.getLogger(__name__)

OPEN_ORDERS_PATH = "/openApi/swap/v2/trade/openOrders"
FILLS_PATH = "/openApi/swap/v2/trade/allFillOrders"
INCOME_PATH = "/openApi/swap/v2/user/income"
POSITIONS_PATH = "/openApi/swap/v2/user/positions"
BALANCE_PATH = "/openApi/swap/v3/user/balance"
SINGLE_ORDER_PATH = "/openApi/swap/v2/trade/order"
NS_PER_MS = 1_000_000
#: how far before an ``ACCOUNT_UPDATE`` its income rows are looked for (their times may differ)
PUSH_LOOKBACK_NS = 120 * 1_000_000_000
INCOME_END_SLACK_MS = 5_000
#: the most income rows the venue lists per request
INCOME_PAGE_ROWS = 1000


def _ms(ts_ns: int) -> int:
    return max(0, ts_ns // NS_PER_MS)


def _second_ms(ts_ns: int) -> int:
    """The start of ``ts_ns``'s second, in ms: ``allFillOrders`` stamps ``filledTime`` to the
    second (every recorded row ends ``.000``), so a fill made after ``ts_ns`` in its second
    shows the second's start; the window must take the whole second again (the kernel books
    each fill id once) or that fill is lost to this and every later window."""
    return _ms(ts_ns) // 1000 * 1000


def _oldest_first(rows: list[IncomeRow], ts: int) -> list[IncomeRow]:
    """Income rows from ``ts``'s millisecond on (the venue's resolution: a row of that
    millisecond is listed, the kernel books each ``tranId`` once), oldest first. The venue
    lists newest first, so rows of one millisecond keep its order, reversed."""
    start = _ms(ts) * NS_PER_MS
    return sorted((r for r in reversed(rows) if r.ts >= start), key=lambda r: r.ts)


def _with_order_fee(fills: list[OrderFilled], report: OrderStatusReport) -> list[OrderFilled]:
    """The fills (every one, from the order's start) of an order placed outside PINK, their fees
    made the order's own total: a row's commission may be cut to 4 decimals, and the kernel has
    no order of its own to true up later (it does for PINK's). The last fill takes the total less
    what the others carry; without a total, or with fills missing, they stay as the rows say."""
    total = report.commission
    if total is None or report.cum_qty != fills[-1].cum_qty or any(f.commission_asset != fills[-1].commission_asset
                                                                   for f in fills):  # fmt: skip
        return fills
    *first, last = fills
    rest = total - sum((f.commission for f in first), ZERO)
    return [*first, replace(last, commission=rest, fee_final=True)] if rest >= 0 else fills


class Reports:
    """Mixin of :class:`BingxVenue`: open orders, fills, funding, transfers, positions, balance."""

    http: BingxHttp
    asset: str
    _sink: EventSink | None
    _delivered: RecentKeys
    #: income rows of types PINK does not book, named so far (by type; see :meth:`money_since`)
    unbooked_income: Counter[str]
    #: a read of the income for a push is on its way; a push meanwhile is read after it (its earliest time)
    income_reading: bool
    _income_again: tuple[int, str] | None

    def _check_open(self) -> None:  # overridden
        raise NotImplementedError

    async def open_orders(self) -> list[OrderStatusReport]:
        self._check_open()
        data = await self.http.request("GET", OPEN_ORDERS_PATH)
        with unreadable_as_venue_error():
            return [parse_order(row, "open order") for row in list_of(data, "openOrders", "orders")]

    async def fills_since(
        self,
        ts: int,
        orders: Collection[str] | None = None,
        *,
        outside: bool = False,
        symbols: Collection[str] | None = None,
    ) -> list[OrderFilled]:
        """Fills from ``ts``'s second on (``ts`` in ns; see :func:`_second_ms`) from
        ``allFillOrders``, with stream-compatible ids; given ``orders``, only theirs and, with
        ``outside``, those of orders placed outside PINK (no client id: by hand on BingX's site,
        a liquidation; or one not of PINK's form: another program's), of ``symbols`` only when
        given. Each order's ids need its progress before the window (a request per order, two
        for one created before the window: see :meth:`_order_fills`), so rows naming another
        client order id are dropped first: after a busy day a restart asks about the orders in
        flight, not about every order of the day."""
        self._check_open()
        # the end is now on the venue's clock, with slack (as for income): a fill just made,
        # stamped by a clock ahead of this one, must not fall after the window
        start_ms, end_ms = _second_ms(ts), self.http.clock.now_ms() + INCOME_END_SLACK_MS
        data = await self.http.request(
            "GET",
            FILLS_PATH,
            {"tradingUnit": "COIN", "startTs": start_ms, "endTs": end_ms},
        )
        with unreadable_as_venue_error():
            rows = [parse_fill_row(r) for r in list_of(data, "allFillOrders", "fill_orders")]
        rows = [r for r in rows if r.ts_ms >= start_ms]
        wanted = None if orders is None else {o.lower() for o in orders}

        def theirs(cid: str, symbol: str) -> bool:  # an order placed outside PINK, asked for
            return outside and not is_pinks_own(cid.lower()) and (symbols is None or symbol in symbols)

        if wanted is not None:  # (a row without a client id may be one of ``orders``: its order names it)
            rows = [r for r in rows if (wanted and not r.client_order_id) or r.client_order_id.lower() in wanted
                    or theirs(r.client_order_id, r.symbol)]  # fmt: skip
        by_order: dict[str, list[FillRow]] = {}
        for row in rows:
            by_order.setdefault(row.venue_order_id, []).append(row)
        fills: list[OrderFilled] = []
        for order_id, order_rows in by_order.items():
            fills += await self._order_fills(order_id, order_rows, start_ms, end_ms)
        fills.sort(key=lambda f: f.ts)  # (stable: each order's fills keep their order)
        if wanted is None:
            return fills
        return [f for f in fills if f.client_order_id.lower() in wanted or theirs(f.client_order_id, f.symbol)]

    async def _order_fills(self, order_id: str, rows: list[FillRow], start_ms: int, end_ms: int) -> list[OrderFilled]:
        """The fills of one order's ``rows`` in the window ``start_ms``..``end_ms``, each cum qty
        counted from the order's start: the order (its client id, sides and creation time),
        then, for an order created before the window, its own rows from its start (one more
        request; an order created in the window has all its rows in it).

        An order BingX says does not exist (while it lists its fills) is counted from the time
        its id carries, without its sides and total fee. Any other failure fails the read (the
        next reconcile reads it again): counted from the window's start, a fill would get
        another id than the stream gave it, and the kernel would book it twice."""
        client = next((r.client_order_id for r in rows if r.client_order_id), "")
        symbol = rows[0].symbol
        report, raw = await self._order_of_fill(symbol, order_id)
        sides = {order_id: (order_side(raw.get("side")), position_side(raw.get("positionSide")))}
        with unreadable_as_venue_error():
            created_ms = created_second_ms(raw, order_id)
        if report is None and not created_ms:
            raise VenueError("ORDER_OF_FILL", f"BingX lists fills of order {order_id} on {symbol} but says "
                             "the order does not exist, and its id tells no time: its fills cannot be "
                             "numbered as the stream numbers them")  # fmt: skip
        if created_ms < start_ms:
            rows = await self._rows_of_order(symbol, order_id, created_ms, end_ms)
        client = client or (report.client_order_id if report is not None else "")
        fills = fills_from_rows(rows, {order_id: (client, ZERO)}, sides)
        if fills and report is not None and not is_pinks_own(client.lower()):
            fills = _with_order_fee(fills, report)
        return [f for f in fills if f.ts >= start_ms * NS_PER_MS]

    async def _order_of_fill(self, symbol: str, order_id: str) -> tuple[OrderStatusReport | None, dict[str, Any]]:
        """The order of a fill (:meth:`order_by_id`); ``(None, {})`` when BingX says it does not
        exist. Any other failure is raised naming the order."""
        try:
            return await self.order_by_id(symbol, order_id, "order of a fill")
        except VenueError as exc:
            if is_not_found(exc.code, exc.message):
                log.warning("BingX order %s on %s of a fill: %s; its fills are counted from the time its "
                            "id carries", order_id, symbol, exc)  # fmt: skip
                return None, {}
            if type(exc) is not VenueError:  # (a rate limit, an auth error: as they are)
                raise
            raise VenueError(exc.code, f"the order {order_id} on {symbol} of a fill could not be read "
                             f"({exc.message}): its fills are read again at the next reconcile",
                             retryable=exc.retryable) from exc

    async def order_fills(self, symbol: str, order_id: str, client: str, order: dict[str, Any]) -> list[OrderFilled]:
        """Every fill of one order (BingX's raw ``order``: its creation time and sides), from its
        ``allFillOrders`` rows since it was created, each at its own price and numbered as the
        stream numbers it (``<orderId>:<cum qty>``). Their fees are the rows' (not final)."""
        with unreadable_as_venue_error():
            created_ms = created_second_ms(order, order_id)
        end_ms = self.http.clock.now_ms() + INCOME_END_SLACK_MS
        rows = await self._rows_of_order(symbol, order_id, created_ms, end_ms)
        sides = {order_id: (order_side(order.get("side")), position_side(order.get("positionSide")))}
        return fills_from_rows(rows, {order_id: (client, ZERO)}, sides)

    async def _rows_of_order(self, symbol: str, order_id: str, start_ms: int, end_ms: int) -> list[FillRow]:
        """``allFillOrders`` of one order (its ``orderId``) from ``start_ms`` to ``end_ms``."""
        data = await self.http.request(
            "GET",
            FILLS_PATH,
            {"symbol": symbol, "orderId": order_id, "tradingUnit": "COIN", "startTs": start_ms, "endTs": end_ms},
        )
        with unreadable_as_venue_error():
            rows = [parse_fill_row(r) for r in list_of(data, "allFillOrders", "fill_orders")]
        return [r for r in rows if r.venue_order_id == order_id]

    async def order_by_id(self, symbol: str, order_id: str, where: str) -> tuple[OrderStatusReport, dict[str, Any]]:
        """One order by BingX's id (for orders with no client id too): the report and the raw
        order (its ``side``/``positionSide``, which the report leaves out)."""
        data = await self.http.request("GET", SINGLE_ORDER_PATH, {"symbol": symbol, "orderId": order_id})
        with unreadable_as_venue_error():
            return parse_order(data, where), unwrap_order(data, where)

    async def _income(self, ts: int) -> list[IncomeRow]:
        """Every income row (of every type) from ``ts``'s millisecond to now, oldest first.

        ``endTime`` is now on the venue's clock, with slack for the measured offset: a row the
        venue has just pushed about must not fall after the window. The venue lists the newest
        ``limit`` rows of a window, so a full page means older rows were left out: the next
        page ends just after the page's oldest millisecond (rows of it may be missing from
        this page), and rows already seen are dropped by ``tranId``."""
        self._check_open()
        start_ms, end_ms = _ms(ts), self.http.clock.now_ms() + INCOME_END_SLACK_MS
        newest_first: list[IncomeRow] = []
        seen: set[str] = set()
        while True:
            params: dict[str, ParamValue] = {"startTime": start_ms, "endTime": end_ms, "limit": INCOME_PAGE_ROWS}
            data = await self.http.request("GET", INCOME_PATH, params)
            with unreadable_as_venue_error():
                listed = list_of(data, "income", "rows", "list")
                page = readable_rows(listed, self._delivered, self.unbooked_income)
            full = len(listed) >= INCOME_PAGE_ROWS
            if full and not page:  # (no time to page by: the next page would skip to the window's start)
                raise VenueError("INCOME_PAGING", f"BingX income: a page of {len(listed)} rows, none of them "
                                 "readable; the rows before them cannot be paged to")  # fmt: skip
            oldest_ms = min((_ms(r.ts) for r in page), default=start_ms)
            for row in page:
                key = row.key
                if key not in seen and not (full and _ms(row.ts) == oldest_ms):
                    seen.add(key)
                    newest_first.append(row)
            if not full:
                return _oldest_first(newest_first, ts)
            if oldest_ms + 1 >= end_ms:
                raise VenueError(
                    "INCOME_PAGING", f"BingX income: more than {INCOME_PAGE_ROWS} rows in "
                    f"the milliseconds {oldest_ms}..{end_ms}; they cannot be paged by time"
                )
            end_ms = oldest_ms + 1

    async def money_since(self, ts: int) -> MoneyMoved:
        """Funding and transfers at/after ``ts``, oldest first, each keyed by its ``tranId``
        (:func:`~pink.venues.bingx.income.booked_income`), from one read of the income rows of
        every type (paged): BingX rate-limits it, and one read holds them all.

        A row of a type PINK does not book (not funding, a transfer or a fill's) is named once
        and counted in :attr:`unbooked_income` (see :mod:`pink.venues.bingx.income`). The fills'
        own rows (two per closing fill) make a busy window need more pages than these alone would."""
        rows = await self._income(ts)
        name_unbooked(rows, self._delivered, self.unbooked_income, self.asset)
        name_keyless(rows, self._delivered)
        return booked_income(rows, self.asset)

    async def funding_since(self, ts: int) -> list[FundingPaid]:
        """Funding rows (income type FUNDING_FEE) at/after ``ts`` (see :meth:`money_since`)."""
        return (await self.money_since(ts)).funding

    async def transfers_since(self, ts: int) -> list[FundsTransferred]:
        """Deposits, withdrawals and transfers (income type TRANSFER) at/after ``ts`` (see :meth:`money_since`)."""
        return (await self.money_since(ts)).transfers

    async def book_pushed_income(self, push: AccountUpdate) -> None:
        """An ``ACCOUNT_UPDATE`` that moved money is a trigger: book the income rows around it.

        Each row goes to the sink once (by ``tranId``). The push itself is never booked: it
        has no ``tranId``, so the row the reconciler lists later would count it twice. If the
        query fails nothing is booked now; the periodic reconcile (and the one at restart)
        books the rows.

        Pushes come in bursts (funding settles with one per isolated position): one that comes
        while a read is on its way asks for one more read after it, from the earliest such push
        (its row may be missing from the read already sent), not for a read of its own."""
        again = self._income_again
        self._income_again = (push.ts, push.reason) if again is None or push.ts < again[0] else again
        if self.income_reading:
            return
        self.income_reading = True
        try:
            while self._income_again is not None:
                (ts, why), self._income_again = self._income_again, None
                await self._read_pushed_income(ts, why)
        finally:
            self.income_reading = False

    async def _read_pushed_income(self, ts: int, why: str) -> None:
        """One read of the income rows from before ``ts`` (a ``why`` push): every funding and
        transfer in it to the sink, each once by ``tranId``."""
        try:
            moved = await self.money_since(ts - PUSH_LOOKBACK_NS)
        except (VenueError, BingxParseError) as exc:
            log.warning("BingX %s push at %d ms: income not read (%s); the reconcile books it", why, _ms(ts), exc)
            return
        for paid in moved.funding:  # (one read holds both: a push may not say all that moved)
            self._emit_once(("funding", paid.funding_id), paid)
        for done in moved.transfers:
            self._emit_once(("transfer", done.transfer_id), done)

    def _emit_once(self, key: tuple[str, str], row: FundingPaid | FundsTransferred) -> None:
        if key in self._delivered or self._sink is None:
            return
        self._delivered.add(key)
        self._sink(row)

    async def positions(self) -> list[PositionReport]:
        self._check_open()
        data = await self.http.request("GET", POSITIONS_PATH)
        now_ms = int(time.time() * 1000)
        with unreadable_as_venue_error():
            reports = [parse_position(r, now_ms) for r in list_of(data, "positions", "positions")]
        return [p for p in reports if p.quantity > 0]

    async def balance(self) -> BalanceReport:
        self._check_open()
        data = await self.http.request("GET", BALANCE_PATH)
        with unreadable_as_venue_error():
            return parse_balance(data, self.asset, int(time.time() * 1000))

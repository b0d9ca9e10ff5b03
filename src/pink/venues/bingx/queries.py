"""Mixin of :class:`~pink.venues.bingx.venue.BingxVenue`: what an order query tells, and the
fills the stream missed that it stands for.

BingX's order shows ``avgPrice`` rounded to the price's digits and its stream gives no price per
fill, so a report counting more filled than the stream delivered makes the adapter read the
order's fill rows (one request, only then) and hand each fill over at its own price under the
stream's id before the report. What they do not list is left to the report: the kernel books
it as a gap at the rounded average, which the real fills true up when read
(:mod:`pink.kernel.gaps`); the fill tracker then holds that part as approximate, so no pushed
fill is priced from it.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import replace
from decimal import Decimal
from typing import Any

from pink.errors import VenueError
from pink.kernel.events import is_pinks_own
from pink.kernel.messages import (
    ZERO,
    CommissionReported,
    OrderFilled,
    OrderStatus,
    OrderStatusReport,
    QueryOrder,
    VenueEvent,
)
from pink.venues.bingx.errors import is_not_found, unreadable_as_venue_error
from pink.venues.bingx.parse import FillTracker, OrderUpdate
from pink.venues.bingx.parse_rest import parse_order, unwrap_order
from pink.venues.bingx.recent import keep_last
from pink.venues.bingx.reports import Reports

__all__ = ["OPEN", "ORDER_PATH", "OrderQueries", "now_ns", "with_client"]

log = logging.getLogger("pink.venues.bingx.venue")  # (where a trader's log filters already look)

ORDER_PATH = "/openApi/swap/v2/trade/order"
#: statuses of an order still working
OPEN = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


def now_ns() -> int:
    return time.time_ns()


def with_client(report: OrderStatusReport, cid: str) -> OrderStatusReport:
    return replace(report, client_order_id=cid)


class OrderQueries(Reports):
    """Order queries and the fills they stand for (see the module docstring)."""

    tracker: FillTracker
    _fees: OrderedDict[str, Decimal]  # venue order id -> commission delivered so far
    _symbols: OrderedDict[str, str]  # client order id -> symbol, of the orders placed or asked here
    _keep: int  # how many orders each such map keeps (the most recent)

    def _emit(self, event: VenueEvent) -> None:  # overridden
        raise NotImplementedError

    def _remember(self, client_order_id: str, venue_order_id: str) -> None:  # overridden
        raise NotImplementedError

    def _young(self, cid: str) -> bool:  # overridden
        raise NotImplementedError

    def _drop_if_ended(self, cid: str, status: OrderStatus) -> None:  # overridden
        raise NotImplementedError

    async def query(self, query: QueryOrder) -> OrderStatusReport:
        """The venue's record of the order (the kernel books unseen fills from it).

        For an order that has ended, the venue's total commission goes to the kernel
        too (:class:`CommissionReported`): the stream's fees may be wrong (see
        :mod:`pink.kernel.commission`), and the kernel asks for exactly this."""
        self._check_open()
        cid = query.client_order_id.lower()
        report, raw = await self._fetch(cid, query.symbol)
        voi = report.venue_order_id
        await self._missed_fills(report, raw, query.symbol)  # (before the report: it then has no gap)
        total = report.commission
        if total is not None and report.status not in OPEN and voi:
            self._emit(CommissionReported(cid, voi, report.cum_qty, total, self.asset, now_ns()))
        self._left_to_the_report(report, finished=report.status not in OPEN)  # (the kernel books a gap)
        self._drop_if_ended(cid, report.status)
        return report

    def _left_to_the_report(self, report: OrderStatusReport, *, finished: bool = False) -> None:
        """What ``report`` counts beyond the fills delivered goes to the kernel as its gap (at the
        report's rounded average, with its stated total as fee), which the real fills true up: the
        tracker holds it as approximate, so no push's fill is priced from it (see ``approx``)."""
        voi, cum = report.venue_order_id, report.cum_qty
        if voi:
            self.tracker.seed(voi, cum, report.avg_price * cum, finished=finished, approx=True)

    async def _fetch(self, cid: str, symbol: str) -> tuple[OrderStatusReport, dict[str, Any]]:
        """The order's report and BingX's raw order (its creation time and sides)."""
        params = {"symbol": symbol, "clientOrderId": cid}
        try:
            data = await self.http.request("GET", ORDER_PATH, dict(params))
        except VenueError as exc:
            if is_not_found(exc.code, exc.message):
                return OrderStatusReport(cid, "", OrderStatus.NOT_FOUND, ZERO, ZERO, ZERO, ZERO,
                                         now_ns(), exc.code, exc.message), {}
            raise
        with unreadable_as_venue_error():
            report, raw = parse_order(data, "query reply"), unwrap_order(data, "query reply")
        if not report.client_order_id:
            report = with_client(report, cid)
        self._remember(cid, report.venue_order_id)
        self._symbols[cid] = symbol
        keep_last(self._symbols, self._keep)
        return report, raw

    async def fills_of_order(self, client_order_id: str, symbol: str = "") -> list[OrderFilled] | None:
        """Every fill of one of PINK's orders, whenever made: the order (by its client id), then its
        ``allFillOrders`` rows since it was created (:meth:`order_fills`), each at its own price
        under the stream's id. Read by the order, not over a window: BingX may list a fill late,
        stamped when it was made, before the window of the reconcile after it (the fills that true a
        report's gap up would never be read). ``symbol`` "": the one it was placed or asked on
        here. None when it is not known here, or BingX says the order does not exist."""
        self._check_open()
        cid = client_order_id.lower()
        symbol = symbol or self._symbols.get(cid, "")
        if not symbol:
            return None
        report, raw = await self._fetch(cid, symbol)
        if report.status is OrderStatus.NOT_FOUND or not report.venue_order_id:
            return None
        return await self.order_fills(symbol, report.venue_order_id, cid, raw)

    async def _missed_fills(self, report: OrderStatusReport, raw: dict[str, Any], symbol: str) -> None:
        """A report counting more filled than was delivered: the fills it stands for, read from
        the order's fill rows, each at its own price under the stream's id (BingX rounds a report's
        average to the price's digits: a fill booked at it would be off for good), and the fill
        tracker told their exact cost. Nothing when the stream delivered everything (no request).
        A read that fails or lags leaves the rest to the report (said in a warning)."""
        voi, cum = report.venue_order_id, report.cum_qty
        if not voi or report.status is OrderStatus.NOT_FOUND or cum <= self.tracker.cum_qty(voi):
            return
        try:
            fills = await self.order_fills(symbol, voi, report.client_order_id, raw)
        except VenueError as exc:
            log.warning("BingX order %s: its fills could not be read (%s %s); %s filled is booked at the "
                        "report's average %s", report.client_order_id, exc.code, exc.message, cum,
                        report.avg_price)  # fmt: skip
            return
        notional = listed = ZERO
        for fill in fills:
            delivered = self.tracker.cum_qty(voi)
            # rows of one second (their stamp) listed out of order are numbered otherwise than the
            # stream numbered them: a fill across what was delivered would book part of it again
            if fill.cum_qty > delivered > fill.cum_qty - fill.last_qty:
                log.warning("BingX order %s: its fill rows are numbered across the %s filled already "
                            "delivered (listed out of order?): not used; %s filled is booked at the "
                            "report's average %s", report.client_order_id, delivered, cum,
                            report.avg_price)  # fmt: skip
                return
            notional += fill.last_qty * fill.last_price
            listed = fill.cum_qty
            if fill.cum_qty > delivered:
                self._emit(fill)
                self.tracker.seed(voi, fill.cum_qty, notional)
        if listed < cum:
            log.warning("BingX order %s: its fill rows list %s of the %s filled; the rest is booked at the "
                        "report's average %s", report.client_order_id, listed, cum, report.avg_price)  # fmt: skip

    async def _query_and_emit(self, cid: str, symbol: str, why: str) -> None:
        try:
            report, raw = await self._fetch(cid, symbol)
        except VenueError as exc:
            log.warning("BingX query of %s (%s) failed: %s %s", cid, why, exc.code, exc.message)
            return
        if report.status is OrderStatus.NOT_FOUND and self._young(cid):
            # placed a moment ago (or still on its way): the venue has not indexed it yet. No news
            # for the kernel (it would take an acknowledged order's "not found" as a desync); the
            # order stays watched, and the kernel's own queries settle one that never shows up
            log.info("BingX order %s (%s): not found yet, placed a moment ago; still watched", cid, why)
            return
        await self._emit_report(report, raw, symbol)

    async def _emit_report(self, report: OrderStatusReport, raw: dict[str, Any], symbol: str) -> None:
        """Fills the stream missed, then the report: read from the order's fill rows
        (:meth:`_missed_fills`); what they do not list is left to the report, which the kernel
        books as a gap at its rounded average that their real fills true up when read (as one
        fill at that average under the stream's id, the real fill would be taken as booked and
        the rounding never corrected). Of another program's order, which the kernel books no gap
        of, it is one fill at the report's average, its fee the order's total commission less
        what was delivered (without a stated total not final). A report behind the pushes
        already delivered (they were read while it was on its way) is dropped."""
        await self._missed_fills(report, raw, symbol)
        if report.cum_qty < self.tracker.cum_qty(report.venue_order_id):
            # pushes read while the query was on its way told more: the report is older than
            # what the kernel has (it would take the lower total for a lost fill)
            log.info("BingX order %s: query (%s filled) older than its pushes; dropped",
                     report.client_order_id, report.cum_qty)
            return
        total = report.commission
        if report.status is not OrderStatus.NOT_FOUND and report.venue_order_id:
            own = is_pinks_own(report.client_order_id.lower())
            if own:  # (first: the tracker makes no fill of the rest, the kernel books it as a gap)
                self._left_to_the_report(report)
            up = OrderUpdate(symbol, report.client_order_id, report.venue_order_id, "QUERY",
                             report.status, report.quantity, report.cum_qty,
                             report.avg_price or None, None, None, total or ZERO,
                             self.asset, report.ts or now_ns())
            events, _ = self.tracker.apply(up)
            for event in events:
                if isinstance(event, OrderFilled):  # (another program's order: the kernel books no gap of it)
                    paid = self._fees.get(event.venue_order_id, ZERO)
                    fee = max(total - paid, ZERO) if total is not None else ZERO
                    event = replace(event, commission=fee, fee_final=total is not None)
                self._emit(event)
            if not own:
                self._left_to_the_report(report)  # (a fill not priced from an approximate cost)
        self._emit(report)

"""What the matching engine keeps of its orders, fills and transfers, and forgets.

Every order is kept by its venue id (a 19-digit snowflake, increasing) and by its client id
(lower case, as ids are matched case-insensitively), the live ones also on their symbol's
book; a rejected order is kept by its client id only (it has no venue id, and its client id
stays used). Fills and transfers are kept in time order. What ended before the history kept
is forgotten, never a live order.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from pink.kernel.messages import FundsTransferred
from pink.venues.sim.orders import EngineFill, EngineOrder
from pink.venues.sim.prices import NS_PER_MS

__all__ = ["MIN_ORDER_ID", "SNOWFLAKE_EPOCH_MS", "Records"]

SNOWFLAKE_EPOCH_MS = 1288834974657
MIN_ORDER_ID = 10**18


class Records:
    """The orders (``orders`` by venue id, ``by_coid``, ``rejected`` by client id, ``open``
    per symbol by venue id), ``fills`` and ``transfers`` of one engine."""

    __slots__ = ("_last_vid", "by_coid", "fills", "open", "orders", "rejected", "transfers")

    def __init__(self, symbols: Iterable[str]) -> None:
        self.orders: dict[str, EngineOrder] = {}
        self.by_coid: dict[str, EngineOrder] = {}
        self.rejected: dict[str, EngineOrder] = {}
        self.open: dict[str, dict[str, EngineOrder]] = {s: {} for s in symbols}
        self.fills: list[EngineFill] = []
        self.transfers: list[FundsTransferred] = []
        self._last_vid = 0

    @property
    def last_vid(self) -> int:
        """The last venue order id given (a restored account's next ones go above it)."""
        return self._last_vid

    @last_vid.setter
    def last_vid(self, vid: int) -> None:
        self._last_vid = vid

    def next_vid(self, now: int) -> str:
        """A new venue order id: a snowflake of ``now``, above every one given."""
        cand = max((now // NS_PER_MS - SNOWFLAKE_EPOCH_MS) << 22, MIN_ORDER_ID)
        self._last_vid = max(cand, self._last_vid + 1)
        return str(self._last_vid)

    def used(self, coid: str) -> bool:
        """Whether the (lower-case) client id is taken: by an order, a rejected one too."""
        return coid in self.by_coid or coid in self.rejected

    def find(self, client_order_id: str | None, venue_order_id: str | None) -> EngineOrder | None:
        """The order (never a rejected one) by its venue id, else by its client id."""
        if venue_order_id:
            return self.orders.get(venue_order_id)
        if client_order_id:
            return self.by_coid.get(client_order_id.lower())
        return None

    def order(self, client_order_id: str | None, venue_order_id: str | None) -> EngineOrder | None:
        """As :meth:`find`, and a rejected order by its client id."""
        found = self.find(client_order_id, venue_order_id)
        if found is None and client_order_id and not venue_order_id:
            return self.rejected.get(client_order_id.lower())
        return found

    def add(self, o: EngineOrder) -> None:
        """Keep ``o`` by its ids (the venue's own orders, with no client id, by their venue id)."""
        self.orders[o.venue_order_id] = o
        if o.client_order_id:
            self.by_coid[o.client_order_id.lower()] = o

    def rest(self, o: EngineOrder) -> None:
        """Keep ``o``, given its venue id elsewhere, on its book (a restarted simulator's)."""
        self.add(o)
        self.open[o.symbol][o.venue_order_id] = o
        if o.venue_order_id.isdigit():
            self._last_vid = max(self._last_vid, int(o.venue_order_id))

    def open_orders(self, symbol: str | None = None) -> list[EngineOrder]:
        books = [self.open[symbol]] if symbol else list(self.open.values())
        return sorted((o for b in books for o in b.values()), key=lambda o: o.venue_order_id)

    def orders_since(self, ts: int) -> list[EngineOrder]:
        return [o for o in self.orders.values() if o.updated_ts >= ts]

    def fills_since(self, ts: int) -> list[EngineFill]:
        return self.fills[bisect_left(self.fills, ts, key=_fill_ts) :]

    def transfers_since(self, ts: int) -> list[FundsTransferred]:
        return self.transfers[bisect_left(self.transfers, ts, key=_transfer_ts) :]

    def forget_before(self, cut: int) -> None:
        """Forget orders that ended before ``cut`` and fills before it (never a live order)."""
        for vid, o in list(self.orders.items()):
            if o.updated_ts < cut and not o.live:
                del self.orders[vid]
                if self.by_coid.get(o.client_order_id.lower()) is o:
                    del self.by_coid[o.client_order_id.lower()]
        for coid, o in list(self.rejected.items()):
            if o.updated_ts < cut:
                del self.rejected[coid]
        del self.fills[: bisect_left(self.fills, cut, key=_fill_ts)]


def _fill_ts(f: EngineFill) -> int:
    return f.ts


def _transfer_ts(t: FundsTransferred) -> int:
    return t.ts

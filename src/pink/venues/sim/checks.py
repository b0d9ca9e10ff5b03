"""What the simulated venue checks of a new order before it trades, as codes of :data:`CODES`.

In order: the client id (1-40 characters, never used before, a rejected order's too), the
symbol, the quantity (at least the minimum, on the step), a LIMIT's price (positive, on the
tick). An opening order must reach the minimum notional, cannot be reduce-only, and must
find its margin and its fee available: at its price, or for a MARKET at its walk of the
book, the taker's fee unless it rests (then the maker's). A closing order may close at most
the position held less what the resting closing orders of that position will close, and
reaches the minimum quantity and notional unless it closes all of that (``full_close_below_min``:
a venue closes a whole position whatever its size, so a partly filled entry below the minimum
is never stuck).
"""

from __future__ import annotations

from collections.abc import Mapping

from pink.kernel.messages import ZERO, Instrument, OrderSide, OrderType
from pink.venues.sim.book import Book
from pink.venues.sim.margin import Margins
from pink.venues.sim.orders import Q8, FeeSchedule, NewOrder
from pink.venues.sim.prices import PriceProcess
from pink.venues.sim.records import Records

__all__ = ["OrderChecks"]

_BUY = OrderSide.BUY  # on the order path: a global reads faster than an enum member (Python 3.11)
_LIMIT = OrderType.LIMIT


class OrderChecks:
    """The checks of one engine's new orders, against its books, records and margin."""

    __slots__ = ("_books", "_fees", "_margins", "_procs", "_records", "full_close_below_min", "instruments")

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        procs: Mapping[str, PriceProcess],
        books: Mapping[str, Book],
        records: Records,
        margins: Margins,
        fees: FeeSchedule,
        full_close_below_min: bool,
    ) -> None:
        self.instruments = instruments
        self._procs = procs
        self._books = books
        self._records = records
        self._margins = margins
        self._fees = fees
        self.full_close_below_min = full_close_below_min

    def refusal(self, order: NewOrder, coid: str) -> str:
        """The code ``order`` (with its client id ``coid``, lower case) is refused with, or ""."""
        if not 1 <= len(coid) <= 40:
            return "INVALID_CLIENT_ORDER_ID"
        if self._records.used(coid):  # a rejected order's id is used too
            return "DUPLICATE_CLIENT_ORDER_ID"
        inst = self.instruments.get(order.symbol)
        if inst is None:
            return "UNKNOWN_SYMBOL"
        qty = order.quantity
        if not qty.is_finite() or qty <= 0:
            return "QTY_BELOW_MIN"
        few = qty < inst.min_qty
        if few and order.opens:
            return "QTY_BELOW_MIN"
        if qty % inst.step:
            return "QTY_NOT_ON_STEP"
        proc = self._procs[order.symbol]
        if order.order_type is _LIMIT:
            p = order.price
            if p is None or not p.is_finite() or p <= 0 or p % inst.tick:
                return "INVALID_PRICE"
            ref = p
        else:
            ref = proc.price(proc.ask if order.side is _BUY else proc.bid)
        small = qty * ref < inst.min_notional
        if order.opens:
            if small:
                return "NOTIONAL_BELOW_MIN"
            if order.reduce_only:
                return "INVALID_SIDE"
            # the margin and the fee, at the price it takes: a MARKET's walk of the book, a LIMIT's
            # price (a maker's fee if it rests: kept aside while it does, see Margins.used)
            if order.order_type is _LIMIT:
                buy = order.side is _BUY
                ticks = int(ref / inst.tick)
                taker = ticks >= proc.ask if buy else ticks <= proc.bid
                notional = qty * ref
            else:
                taker, notional = True, self._books[order.symbol].cost(order.side is _BUY, qty)
            fee = (notional * (self._fees.taker if taker else self._fees.maker)).quantize(Q8)
            margins = self._margins
            if notional / margins.leverage(order.symbol, order.position_side) + fee > margins.available():
                return "INSUFFICIENT_MARGIN"
            return ""
        pos = self._margins.account.positions.get((order.symbol, order.position_side))
        held = pos.qty if pos else ZERO
        pending = sum(
            (o.remaining for o in self._records.open[order.symbol].values()
             if not o.opens and o.position_side is order.position_side),
            ZERO,
        )  # fmt: skip
        if qty > held - pending:
            return "REDUCE_ONLY_EXCEEDS_POSITION"
        if (few or small) and not (self.full_close_below_min and qty == held - pending):
            return "QTY_BELOW_MIN" if few else "NOTIONAL_BELOW_MIN"
        return ""

"""Pure parsers of BingX WebSocket frames (user data and market data).

``ORDER_TRADE_UPDATE`` (also ``TRADE_UPDATE``) -> :class:`OrderUpdate`;
:class:`FillTracker` turns updates into kernel events. USDT-M pushes carry no
last-fill fields, so a fill is ``Δz`` at price ``(ap₁·z₁ − ap₀·z₀)/(z₁ − z₀)``
unless ``l``/``L`` are present. A cumulative increase without a positive
average price is never a fill: the update is marked ``needs_query`` (E12).
Fill ids are ``<orderId>:<cumulative qty>`` so every source (stream, order
query, fill history) names the same fill the same way.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pink.kernel.messages import (
    ZERO,
    BalanceReport,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    PositionReport,
    Side,
    VenueEvent,
)
from pink.venues.bingx.fields import (
    BingxParseError,
    dec,
    ident,
    int_field,
    mapping,
    opt_dec,
    order_side,
    position_side,
    status_of,
    text,
)

__all__ = [
    "MONEY_MOVES",
    "AccountUpdate",
    "FillTracker",
    "ListenKeyExpired",
    "MarketTick",
    "OrderUpdate",
    "fill_id",
    "parse_market_frame",
    "parse_user_frame",
]

MS = 1_000_000  # ns per ms


def fill_id(venue_order_id: str, cum_qty: Decimal) -> str:
    return f"{venue_order_id}:{cum_qty.normalize():f}"


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    symbol: str
    client_order_id: str
    venue_order_id: str
    exec_type: str
    status: OrderStatus
    quantity: Decimal
    cum_qty: Decimal
    avg_price: Decimal | None
    last_qty: Decimal | None
    last_price: Decimal | None
    commission: Decimal  # positive = paid
    commission_asset: str
    ts: int
    fee_stated: bool = True  # False: the push had no ``n`` (commission is then 0)
    side: OrderSide | None = None  # ``S``
    position_side: Side | None = None  # ``ps``; None: BOTH (a one-way account) or not given


#: ``ACCOUNT_UPDATE`` reasons (``a.m``) of money moved outside trading; any reason naming a
#: ``TRANSFER`` (e.g. ``ASSET_TRANSFER``) is one too
MONEY_MOVES = ("DEPOSIT", "WITHDRAW")


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """Balances and positions after a change, and why (``a.m``).

    A push that moved money (funding, a deposit, a withdrawal, a transfer) is only a
    trigger: it has no ``tranId``, so what is booked is the venue's income row."""

    reason: str
    balances: tuple[BalanceReport, ...]
    positions: tuple[PositionReport, ...]
    ts: int

    @property
    def funding(self) -> bool:
        """A funding settlement changed the balance."""
        return self.reason.upper() == "FUNDING_FEE"

    @property
    def transfer(self) -> bool:
        """Money moved in or out: a deposit, a withdrawal or a transfer."""
        reason = self.reason.upper()
        return reason.startswith(MONEY_MOVES) or "TRANSFER" in reason


@dataclass(frozen=True, slots=True)
class ListenKeyExpired:
    listen_key: str
    ts: int


@dataclass(frozen=True, slots=True)
class MarketTick:
    """One market push: whichever of bid/ask/last/mark it carried."""

    symbol: str
    ts: int
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    mark: Decimal | None = None


UserMessage = OrderUpdate | AccountUpdate | ListenKeyExpired | None


def _order_update(frame: dict[str, Any]) -> OrderUpdate:
    w = "ORDER_TRADE_UPDATE"
    o = mapping(frame.get("o"), w, "o")
    status = status_of(text(o, w, "X"), w, "X")
    event_ms = int_field(frame, w, "E")
    trade_ms = int_field(o, w, "T", default=0)
    commission = opt_dec(o, w, "n")
    return OrderUpdate(
        symbol=text(o, w, "s"),
        client_order_id=text(o, w, "c", default="").lower(),
        venue_order_id=ident(o, w, "i"),
        exec_type=text(o, w, "x"),
        status=status,
        quantity=dec(o, w, "q"),
        cum_qty=dec(o, w, "z"),
        avg_price=opt_dec(o, w, "ap"),
        last_qty=opt_dec(o, w, "l"),
        last_price=opt_dec(o, w, "L"),
        commission=-commission if commission is not None else ZERO,
        commission_asset=text(o, w, "N", default=""),
        ts=(trade_ms or event_ms) * MS,
        fee_stated=commission is not None,
        side=order_side(o.get("S")),
        position_side=position_side(o.get("ps")),
    )



def _side_of(raw: str, amount: Decimal, where: str) -> Side:
    up = raw.upper()
    if up in ("LONG", "SHORT"):
        return Side(up)
    if up == "BOTH":
        return Side.SHORT if amount < 0 else Side.LONG
    raise BingxParseError(where, "ps", f"has an unknown position side {raw!r}")


def _account_update(frame: dict[str, Any]) -> AccountUpdate:
    w = "ACCOUNT_UPDATE"
    a = mapping(frame.get("a"), w, "a")
    ts = int_field(frame, w, "E") * MS
    reason = text(a, w, "m")
    raw_b = a.get("B") or []
    raw_p = a.get("P") or []
    if not isinstance(raw_b, list) or not isinstance(raw_p, list):
        raise BingxParseError(w, "B" if not isinstance(raw_b, list) else "P", "must be a list")
    balances: list[BalanceReport] = []
    for item in raw_b:
        b = mapping(item, w, "B[]")
        wallet = dec(b, w, "wb")
        cross = opt_dec(b, w, "cw")
        balances.append(BalanceReport(text(b, w, "a"), wallet, cross if cross is not None else wallet, ts))
    positions: list[PositionReport] = []
    for item in raw_p:
        p = mapping(item, w, "P[]")
        amount = dec(p, w, "pa")
        side = _side_of(text(p, w, "ps"), amount, w)
        positions.append(PositionReport(text(p, w, "s"), side, abs(amount), dec(p, w, "ep"), ts))
    return AccountUpdate(reason, tuple(balances), tuple(positions), ts)


def parse_user_frame(frame: Any) -> UserMessage:
    """One decoded user-data frame; None for events the adapter does not use."""
    obj = mapping(frame, "user-data frame", "<frame>")
    event = obj.get("e")
    if event in ("ORDER_TRADE_UPDATE", "TRADE_UPDATE"):
        return _order_update(obj)
    if event == "ACCOUNT_UPDATE":
        return _account_update(obj)
    if event == "listenKeyExpired":
        w = "listenKeyExpired"
        return ListenKeyExpired(text(obj, w, "listenKey", default=""), int_field(obj, w, "E") * MS)
    return None


def parse_market_frame(frame: Any) -> MarketTick | None:
    """A market push (bookTicker, markPrice, lastPrice, ticker); None for acks/others."""
    obj = mapping(frame, "market frame", "<frame>")
    data = obj.get("data")
    topic = obj.get("dataType")
    if not isinstance(data, dict) or not isinstance(topic, str) or not topic:
        return None
    w = topic
    ts = int_field(data, w, "E", "T", default=0) * MS
    kind = data.get("e")
    if kind == "bookTicker" or topic.endswith("@bookTicker"):
        return MarketTick(text(data, w, "s"), ts, bid=dec(data, w, "b"), ask=dec(data, w, "a"))
    if kind == "markPriceUpdate" or topic.endswith("@markPrice"):
        return MarketTick(text(data, w, "s"), ts, mark=dec(data, w, "p"))
    if kind in ("lastPriceUpdate", "24hTicker") or topic.endswith(("@lastPrice", "@ticker")):
        return MarketTick(text(data, w, "s"), ts, last=dec(data, w, "c"))
    return None


#: statuses whose push states the order's final cumulative fill (``z``)
_ENDED_WITH_CUM = (OrderStatus.CANCELED, OrderStatus.EXPIRED)
_FINISHED = (OrderStatus.FILLED, *_ENDED_WITH_CUM, OrderStatus.REJECTED)


@dataclass(slots=True)
class _OrderProgress:
    cum_qty: Decimal = ZERO
    notional: Decimal = ZERO  # avg price x cum qty, as last reported
    accepted: bool = False
    #: ``notional`` holds a report's average (BingX rounds it to the price's digits) for fills the
    #: kernel booked as a report's gap, which their real fills true up: a fill priced from it would
    #: take the rounding a second time, so the next one without its own price is asked for
    approx: bool = False


class FillTracker:
    """Per-order progress; turns stream updates into kernel events (pure, no I/O)."""

    def __init__(self, max_orders: int = 10_000) -> None:
        self._orders: dict[str, _OrderProgress] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()  # venue order ids of ended orders, oldest first
        self.max_orders = max_orders

    def seed(self, venue_order_id: str, cum_qty: Decimal, notional: Decimal, *, finished: bool = False,
             approx: bool = False) -> None:
        """Record progress known otherwise (the order's fill rows: their exact ``notional``; a
        query's report: its average times ``cum_qty``, ``approx``), so the next push is a delta."""
        prog = self._orders.setdefault(venue_order_id, _OrderProgress())
        if cum_qty > prog.cum_qty:
            prog.cum_qty, prog.notional, prog.approx = cum_qty, notional, approx
        if finished:
            self._finished[venue_order_id] = None
            self._forget_finished()

    def cum_qty(self, venue_order_id: str) -> Decimal:
        """The order's cumulative fill as delivered so far (0 for an order not seen)."""
        prog = self._orders.get(venue_order_id)
        return prog.cum_qty if prog is not None else ZERO

    def apply(self, up: OrderUpdate) -> tuple[list[VenueEvent], bool]:
        """(events, needs_query): needs_query when a fill's price or size is unknown."""
        prog = self._orders.setdefault(up.venue_order_id, _OrderProgress())
        events: list[VenueEvent] = []
        needs_query = False
        if not prog.accepted and up.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            prog.accepted = True
            events.append(OrderAccepted(up.client_order_id, up.venue_order_id, up.ts))
        if up.cum_qty > prog.cum_qty:
            fill = self._fill(prog, up)
            if fill is None:
                needs_query = True
            else:
                events.append(fill)
        elif up.status is OrderStatus.FILLED and up.cum_qty < up.quantity:
            needs_query = True  # FILLED without the quantity (z missing or 0): ask the venue
        if up.status in _ENDED_WITH_CUM and up.cum_qty < prog.cum_qty:
            needs_query = True  # its ``z`` is behind the fills delivered (BingX has sent "0"): ask
        elif up.status is OrderStatus.CANCELED:
            events.append(OrderCanceled(up.client_order_id, up.venue_order_id, up.cum_qty, up.ts))
        elif up.status is OrderStatus.EXPIRED:
            events.append(OrderExpired(up.client_order_id, up.venue_order_id, up.cum_qty, up.ts))
        elif up.status is OrderStatus.REJECTED:
            events.append(OrderRejected(up.client_order_id, "REJECTED", up.exec_type, up.ts))
        if up.status in _FINISHED:
            self._finished[up.venue_order_id] = None
        self._forget_finished()
        return events, needs_query

    def _forget_finished(self) -> None:
        """Past ``max_orders``, forget the orders that finished first. A live order is kept
        however many there are: forgotten, its next push would count its fills from 0 again."""
        while len(self._orders) > self.max_orders and self._finished:
            oldest, _ = self._finished.popitem(last=False)
            self._orders.pop(oldest, None)

    @staticmethod
    def _fill(prog: _OrderProgress, up: OrderUpdate) -> OrderFilled | None:
        delta = up.cum_qty - prog.cum_qty
        if up.last_qty is not None and up.last_price is not None and up.last_qty > 0:
            if up.last_price <= 0 or up.last_qty != delta:
                return None
            price = up.last_price
            notional = prog.notional + price * delta
        else:
            if up.avg_price is None or up.avg_price <= 0 or prog.approx:
                return None
            notional = up.avg_price * up.cum_qty
            price = (notional - prog.notional) / delta
            if price <= 0:
                return None
        # ``n`` is this fill's fee or the order's running total (undocumented): the two readings
        # agree only for an order's first fill, so any later one (or one with no fee) is not final
        fee_final = prog.cum_qty == 0 and up.fee_stated
        prog.cum_qty, prog.notional = up.cum_qty, notional
        return OrderFilled(
            client_order_id=up.client_order_id,
            venue_order_id=up.venue_order_id,
            fill_id=fill_id(up.venue_order_id, up.cum_qty),
            last_qty=delta,
            last_price=price,
            cum_qty=up.cum_qty,
            commission=up.commission,
            commission_asset=up.commission_asset,
            ts=up.ts,
            fee_final=fee_final,
            symbol=up.symbol,
            side=up.side,
            position_side=up.position_side,
        )

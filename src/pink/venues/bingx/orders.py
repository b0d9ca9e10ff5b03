"""The place-order request of a :class:`PlaceOrder` effect (E3, E16).

Order type, limit price and time-in-force flow from the effect to the wire;
quantity and price are sent as they are, if on the instrument's step and tick
(else :class:`pink.venues.bingx.instruments.OffGridError`: never cut to fit; an
unknown symbol raises :class:`pink.errors.UnknownInstrumentError`). An order
that would open a position on a contract that takes none (close-only,
pre-listing, offline, ``apiStateOpen`` false) raises
:class:`pink.venues.bingx.instruments.NoOpensError`; a close is sent.
"""

from __future__ import annotations

from pink.kernel.messages import OrderSide, OrderType, PlaceOrder, Side, TimeInForce
from pink.venues.bingx.instruments import InstrumentBook

__all__ = ["opens", "order_params"]

_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK",
        TimeInForce.POST_ONLY: "PostOnly"}


def opens(order: PlaceOrder, hedge_mode: bool) -> bool:
    """Whether ``order`` may open or add to a position: every order but a reduce-only one; in
    hedge mode only BUY LONG and SELL SHORT (SELL LONG and BUY SHORT close)."""
    if order.reduce_only:
        return False
    return not hedge_mode or (order.side is OrderSide.BUY) == (order.position_side is Side.LONG)


def order_params(book: InstrumentBook, hedge_mode: bool, order: PlaceOrder) -> dict[str, str]:
    """The request params; ValueError when the order cannot be expressed (NoOpensError when
    it would open a position on a contract that takes none)."""
    if opens(order, hedge_mode):
        book.check_opens(order.symbol)
    params = {
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.order_type.value,
        "quantity": book.format_qty(order.symbol, order.quantity),
        "clientOrderId": order.client_order_id.lower(),
    }
    if hedge_mode:
        params["positionSide"] = order.position_side.value
    else:
        params["positionSide"] = "BOTH"
        if order.reduce_only:
            params["reduceOnly"] = "true"
    if order.order_type is OrderType.LIMIT:
        if order.limit_price is None:
            raise ValueError("a LIMIT order needs a limit price")
        params["price"] = book.format_price(order.symbol, order.limit_price)
        params["timeInForce"] = _TIF[order.time_in_force]
    return params

"""Wire formatting of the BingX simulator: envelopes, order objects, stream frames.

Shapes follow the recorded payloads in ``shared/venues/bingx/endpoints``:
decimals as strings, ids and times as unquoted integers (19-digit order ids
stay exact: ``msgspec`` writes Python ints as JSON integers), the few fields
BingX sends as JSON numbers (bookTicker, commissionRate, contract limits,
liquidationPrice) as raw number tokens built from the Decimal text, never
through float.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec

from pink.kernel.messages import OrderStatus, OrderType, TimeInForce
from pink.venues.sim.orders import EngineOrder as WireOrder  # the server formats the engine's orders

__all__ = [
    "ENGINE_CODES",
    "OrderMeta",
    "WireOrder",
    "avg_text",
    "bingx_error",
    "dec",
    "encode",
    "engine_code",
    "fill_row",
    "gzip_frame",
    "ms",
    "num",
    "order_object",
    "order_trade_update",
    "rest_status",
    "tif_from_wire",
    "tif_to_wire",
    "ws_status",
]

_ENCODER = msgspec.json.Encoder()


def encode(obj: object) -> bytes:
    """JSON bytes: Decimal as string, int as integer, ``msgspec.Raw`` verbatim."""
    return _ENCODER.encode(obj)


def gzip_frame(obj: object) -> bytes:
    """A gzip-compressed frame: JSON for objects, the text itself for ``str``."""
    raw = obj.encode() if isinstance(obj, str) else encode(obj)
    return gzip.compress(raw, mtime=0)


def ms(ts_ns: int) -> int:
    return ts_ns // 1_000_000


def dec(value: Decimal | None, places: int | None = None) -> str:
    """Plain decimal text; padded to ``places`` decimals when that loses nothing."""
    if value is None:
        return ""
    if value.is_zero():
        value = abs(value)
    if places is not None:
        quantum = Decimal(1).scaleb(-places)
        q = value.quantize(quantum)
        if q == value:
            return format(q, "f")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def num(value: Decimal | int) -> msgspec.Raw:
    """A JSON number token with the exact decimal text (no float on the way)."""
    if isinstance(value, int):
        return msgspec.Raw(str(value).encode())
    return msgspec.Raw(dec(value).encode())


def bingx_error(code: int, msg: str, *, now_ms: int) -> dict[str, Any]:
    return {"code": code, "msg": msg, "timestamp": now_ms}


#: Engine rejection codes -> BingX (code, msg). Unknown ones fall back to 80014.
ENGINE_CODES: dict[str, tuple[int, str]] = {
    "DUPLICATE_CLIENT_ORDER_ID": (101481, "clientOrderID is duplicated"),
    "ORDER_ALREADY_FILLED": (80018, "order is already filled, The order doesn't exist"),
    "ORDER_NOT_FOUND": (80016, "order not exist"),
    "ORDER_NOT_OPEN": (80016, "order not exist"),
    "ORDER_ALREADY_CANCELED": (80016, "order not exist"),
    "ORDER_CLOSED": (80016, "order not exist"),
    "INSUFFICIENT_MARGIN": (101204, "Insufficient margin"),
    "INSUFFICIENT_BALANCE": (101204, "Insufficient margin"),
    "MIN_NOTIONAL": (
        101400,
        "Please ensure that the minimum nominal value of the order placed must be "
        "greater than 2u",
    ),
    "MIN_QTY": (101400, "the order quantity is below the minimum"),
    "POST_ONLY_WOULD_TAKE": (101215, "PostOnly order would be executed immediately"),
    "REDUCE_ONLY": (101290, "reduce-only order would open a position"),
    "NO_POSITION": (101205, "No position to close"),
    "UNKNOWN_SYMBOL": (109400, "symbol not exist"),
    "INVALID_CLIENT_ORDER_ID": (80014, "Invalid parameters, clientOrderId: length must be 1-40"),
    "QTY_BELOW_MIN": (101400, "the order quantity is below the minimum quantity"),
    "QTY_NOT_ON_STEP": (80014, "Invalid parameters, quantity"),
    "NOTIONAL_BELOW_MIN": (
        101400,
        "Please ensure that the minimum nominal value of the order placed must be "
        "greater than 2u",
    ),
    "INVALID_PRICE": (80014, "Invalid parameters, price"),
    "INVALID_SIDE": (101290, "Reduce Only order can only reduce your position"),
    "REDUCE_ONLY_EXCEEDS_POSITION": (101205, "No position to close"),
}


def engine_code(code: str, message: str) -> tuple[int, str]:
    """BingX's (code, msg) for an engine rejection, matched by name then by keyword."""
    if code in ENGINE_CODES:
        return ENGINE_CODES[code]
    upper = code.upper()
    for key, keyword in (
        ("ORDER_ALREADY_FILLED", "FILLED"),
        ("ORDER_NOT_FOUND", "NOT_FOUND"),
        ("INSUFFICIENT_MARGIN", "MARGIN"),
        ("INSUFFICIENT_MARGIN", "BALANCE"),
        ("MIN_NOTIONAL", "NOTIONAL"),
        ("MIN_QTY", "QTY"),
        ("POST_ONLY_WOULD_TAKE", "POST"),
        ("REDUCE_ONLY", "REDUCE"),
        ("NO_POSITION", "POSITION"),
        ("DUPLICATE_CLIENT_ORDER_ID", "DUPLICATE"),
        ("UNKNOWN_SYMBOL", "SYMBOL"),
    ):
        if keyword in upper:
            return ENGINE_CODES[key]
    return 80014, f"Invalid parameters, {code}: {message}"


def tif_to_wire(tif: TimeInForce) -> str:
    return "PostOnly" if tif is TimeInForce.POST_ONLY else tif.value


def tif_from_wire(text: str) -> TimeInForce | None:
    table = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
    if text.upper() in ("POSTONLY", "POST_ONLY", "PO", "GTX"):
        return TimeInForce.POST_ONLY
    return table.get(text.upper())


@dataclass(slots=True)
class OrderMeta:
    """What the wire shows but the engine does not keep."""

    client_id: str  # as shown: lowercased, "" when the client sent none
    position_side: str  # as sent: BOTH, LONG or SHORT
    leverage: int
    price_places: int
    qty_places: int


def rest_status(order: WireOrder) -> str:
    status = order.status
    if status is OrderStatus.NEW:
        return "PENDING" if order.order_type is OrderType.LIMIT else "NEW"
    if status is OrderStatus.CANCELED:
        return "CANCELLED"
    if status is OrderStatus.REJECTED:
        return "FAILED"
    return str(status.value)


def ws_status(order: WireOrder) -> str:
    status = order.status
    if status is OrderStatus.REJECTED:
        return "CANCELED"
    return str(status.value)


def avg_text(avg: Decimal, places: int) -> str:
    """An order's ``avgPrice`` as BingX's REST shows it: rounded to the price's digits (an order
    filled at several prices has an average off the tick; its fills carry the exact prices)."""
    return dec(avg.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP), places)


def _empty_tpsl() -> dict[str, Any]:
    return {"type": "", "quantity": 0, "stopPrice": 0, "price": 0, "workingType": ""}


def order_object(order: WireOrder, meta: OrderMeta, *, hedge: bool) -> dict[str, Any]:
    """The REST order object of §3.3 (query, cancel, openOrders, allOrders)."""
    pp, qp = meta.price_places, meta.qty_places
    notional = order.cum_qty * order.avg_price
    return {
        "symbol": order.symbol,
        "orderId": int(order.venue_order_id),
        "side": order.side.value,
        "positionSide": meta.position_side,
        "type": order.order_type.value,
        "origQty": dec(order.quantity, qp),
        "price": dec(order.price if order.price is not None else order.avg_price, pp),
        "executedQty": dec(order.cum_qty, qp),
        "avgPrice": avg_text(order.avg_price, pp),
        "cumQuote": dec(notional),
        "stopPrice": "",
        "profit": "0.0000",
        "commission": dec(-order.commission, 6),
        "status": rest_status(order),
        "time": ms(order.created_ts),
        "updateTime": ms(order.updated_ts),
        "clientOrderId": meta.client_id,
        "leverage": f"{meta.leverage}X",
        "takeProfit": _empty_tpsl(),
        "stopLoss": _empty_tpsl(),
        "advanceAttr": 0,
        "positionID": 0,
        "takeProfitEntrustPrice": 0,
        "stopLossEntrustPrice": 0,
        "orderType": "",
        "workingType": "MARK_PRICE",
        "onlyOnePosition": not hedge,
        "reduceOnly": order.reduce_only,
        "postOnly": order.time_in_force is TimeInForce.POST_ONLY,
        "timeInForce": tif_to_wire(order.time_in_force),
        "stopGuaranteed": False,
        "triggerOrderId": 0,
        "trailingStopRate": 0,
        "trailingStopDistance": 0,
    }


def _plus8(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC) + timedelta(hours=8)


def fill_row(
    *, order: WireOrder, meta: OrderMeta, qty: Decimal, price: Decimal, commission: Decimal,
    ts_ns: int,
) -> dict[str, Any]:
    """One ``allFillOrders`` row (``filledTm`` is UTC+8 wall time ending in Z, as BingX; both
    times to the second, ``filledTime`` ending ``.000`` as in every recorded row)."""
    t = _plus8(ms(ts_ns))
    return {
        "filledTm": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "volume": dec(qty, meta.qty_places),
        "price": dec(price, meta.price_places),
        "amount": dec(qty * price),
        "commission": dec(-commission),
        "currency": "USDT",
        "orderId": str(order.venue_order_id),
        "liquidatedPrice": "",
        "liquidatedMarginRatio": "",
        "filledTime": t.strftime("%Y-%m-%dT%H:%M:%S.000+0800"),
        "clientOrderID": meta.client_id,
        "clientOrderId": meta.client_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "positionSide": meta.position_side,
        "type": order.order_type.value,
        "workingType": "MARK_PRICE",
        "onlyOnePosition": meta.position_side == "BOTH",
    }


def order_trade_update(
    *,
    order: WireOrder,
    meta: OrderMeta,
    execution: str,
    status: str,
    cum_qty: Decimal,
    avg_price: Decimal,
    fee: Decimal | None,
    trade_ts_ns: int,
    event_ts_ns: int,
) -> dict[str, Any]:
    """An ``ORDER_TRADE_UPDATE`` push (§4.3): no ``l``/``L``, ``z`` cumulative, ``n`` this fee
    (left out when ``fee`` is None)."""
    pp, qp = meta.price_places, meta.qty_places
    price = order.price if order.price is not None else avg_price
    frame: dict[str, Any] = {
        "e": "ORDER_TRADE_UPDATE",
        "E": ms(event_ts_ns),
        "o": {
            "s": order.symbol,
            "c": meta.client_id,
            "i": int(order.venue_order_id),
            "S": order.side.value,
            "o": order.order_type.value,
            "q": dec(order.quantity, max(qp, 8)),
            "p": dec(price, max(pp, 8)),
            "sp": "0.00000000",
            "ap": dec(avg_price, max(pp, 8)),
            "x": execution,
            "X": status,
            "N": "USDT",
            "n": dec(-fee, 8) if fee is not None else None,
            "T": ms(trade_ts_ns),
            "wt": "MARK_PRICE",
            "ps": meta.position_side,
            "rp": "0.00000000",
            "z": dec(cum_qty, max(qp, 8)),
            "sg": "false",
            "ro": order.reduce_only,
        },
    }
    if fee is None:
        del frame["o"]["n"]  # a push without a fee at all
    return frame

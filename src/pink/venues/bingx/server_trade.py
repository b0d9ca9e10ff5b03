"""Signed order routes of the simulator: place, cancel, query, open orders, history, fills."""

from __future__ import annotations

import json
import time
from decimal import ROUND_DOWN, Decimal
from typing import Any

from aiohttp import web

from pink.kernel.messages import (
    ZERO,
    CancelRejected,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderType,
    Side,
)
from pink.venues.bingx.server_faults import ServerFaults
from pink.venues.bingx.server_http import (
    FAULTS,
    STATE,
    BadParam,
    fail,
    ok,
    param,
    param_int,
    param_limit,
    params_of,
)
from pink.venues.bingx.server_state import SimState
from pink.venues.bingx.server_wire import (
    avg_text,
    dec,
    engine_code,
    fill_row,
    ms,
    order_object,
    rest_status,
    tif_from_wire,
    tif_to_wire,
)
from pink.venues.sim.orders import EngineOrder, NewOrder

__all__ = ["add_trade_routes", "place_one"]

_NS_PER_MS = 1_000_000
#: the commission of an ``allFillOrders`` row with the ``fill_fee_cut`` fault (4 decimals)
FEE_CUT = Decimal("0.0001")
_GATEWAY_TIMEOUT = "<html><body><h1>504 Gateway Time-out</h1></body></html>"


def _dec(params: dict[str, str], name: str) -> Decimal | None:
    text = str(params.get(name, "") or "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise BadParam(f"Invalid parameters, {name}: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise BadParam(f"Invalid parameters, {name}: {text!r}")
    return value


def _one_way_side(state: SimState, symbol: str, side: OrderSide, reduce_only: bool) -> Side:
    """Map a one-way (BOTH) order onto the engine's hedge books: close first, else open."""
    closing = Side.SHORT if side is OrderSide.BUY else Side.LONG
    held = sum(
        (p.quantity for p in state.engine.positions() if p.symbol == symbol and p.side is closing),
        ZERO,
    )
    if reduce_only or held > 0:
        return closing
    return Side.LONG if side is OrderSide.BUY else Side.SHORT


def _ack(order: EngineOrder, state: SimState, faults: ServerFaults) -> web.Response:
    meta = state.meta_of(order)
    body: dict[str, Any] = {
        "symbol": order.symbol,
        "orderId": int(order.venue_order_id),
        "side": order.side.value,
        "positionSide": meta.position_side,
        "type": order.order_type.value,
        "price": dec(order.price or ZERO),
        "quantity": dec(order.quantity),
        "stopPrice": "0",
        "workingType": "MARK_PRICE",
        "clientOrderId": meta.client_id,
        "clientOrderID": meta.client_id,
        "timeInForce": tif_to_wire(order.time_in_force),
        "priceRate": "0",
        "stopLoss": "",
        "takeProfit": "",
        "reduceOnly": order.reduce_only,
        "activationPrice": "0",
        "closePosition": "",
        "stopGuaranteed": "",
    }
    if not faults.fire("ack_no_avg"):
        body["status"] = rest_status(order)
        body["avgPrice"] = avg_text(order.avg_price, meta.price_places)
        body["executedQty"] = dec(order.cum_qty, meta.qty_places)
    if faults.fire("ack_flat"):
        body["orderID"] = body["orderId"]
        body["quoteOrderQty"] = "0"
        return ok(body, debugMsg="")
    return ok({"order": body})


def _trading_state(state: SimState, symbol: str, *, opens: bool) -> tuple[int, str] | None:
    """The refusal of an order the contract's state does not take: none on an offline or
    pre-listing contract (101400), no new position on a close-only one or with
    ``apiStateOpen`` "false" (101415)."""
    status, api_open = state.contract_state.get(symbol, (1, "true"))
    if status in (0, 5):
        return 101400, "This pair is currently unavailable for trading"
    if opens and (status != 1 or api_open != "true"):
        return 101415, "Pair suspended from opening"
    return None


def place_one(state: SimState, params: dict[str, str]) -> EngineOrder | tuple[int, str]:
    """Validate and submit one order; the engine order, or BingX's (code, msg)."""
    symbol = str(params.get("symbol", ""))
    inst = state.instruments.get(symbol)
    if inst is None:
        return 109400, f"symbol not exist: {symbol}" if symbol else "symbol is required"
    kind = str(params.get("type", "")).upper()
    if kind not in ("MARKET", "LIMIT"):
        return 109400, f"Invalid parameters, type: {kind or 'required'} (simulator: MARKET|LIMIT)"
    side_text = str(params.get("side", "")).upper()
    if side_text not in ("BUY", "SELL"):
        return 80014, "Invalid parameters, side: This field is required."
    side = OrderSide(side_text)
    ps = str(params.get("positionSide", "") or "LONG").upper()
    reduce_only = str(params.get("reduceOnly", "")).lower() == "true"
    if state.hedge:
        if ps not in ("LONG", "SHORT"):
            return 109400, "In the Hedge mode, the 'PositionSide' field can only be set to LONG or SHORT"
        if reduce_only:
            return 109400, "reduceOnly is not accepted in Hedge mode"
        engine_side = Side(ps)
    else:
        if ps != "BOTH":
            return 109400, "In the One-way mode, the 'PositionSide' field can only be set to BOTH"
        engine_side = _one_way_side(state, symbol, side, reduce_only)
    refusal = _trading_state(state, symbol, opens=(side is OrderSide.BUY) == (engine_side is Side.LONG))
    if refusal is not None:
        return refusal
    qty = _dec(params, "quantity")
    if qty is None:
        return 80014, "parameter quantity is must"
    qty = qty.quantize(inst.step, rounding=ROUND_DOWN)  # BingX truncates, §2
    price = _dec(params, "price")
    if kind == "LIMIT":
        if price is None:
            return 80014, "Invalid parameters, price: This field is required."
        price = (price / inst.tick).to_integral_value(rounding=ROUND_DOWN) * inst.tick
    else:
        price = None
    tif = tif_from_wire(str(params.get("timeInForce", "") or "GTC"))
    if tif is None:
        return 80014, f"Invalid parameters, timeInForce: {params.get('timeInForce')}"
    given = str(params.get("clientOrderId", "") or params.get("clientOrderID", "") or "")
    if len(given) > 40:
        return 80014, "Invalid parameters, clientOrderId: length must be 1-40"
    client_id = given.lower()
    engine_id = client_id or state.new_client_id()
    new = NewOrder(
        engine_id, symbol, side, engine_side, qty, OrderType(kind), price, tif, reduce_only
    )
    lev = state.engine.leverage(symbol, engine_side)
    events = state.submit(new, state.instrument_meta(symbol, client_id, ps, lev))
    for event in events:
        if isinstance(event, OrderRejected) and event.client_order_id == engine_id:
            return engine_code(event.code, event.message)
    order = state.engine.order(client_order_id=engine_id)
    if order is None or not order.venue_order_id:
        return 80001, "service has some errors"
    return order


async def place_order(request: web.Request) -> web.Response:
    state, faults = request.app[STATE], request.app[FAULTS]
    params = params_of(request)
    if request.path.endswith("/test"):
        if state.instruments.get(params.get("symbol", "")) is None:
            return fail(request, 109400, "symbol not exist")
        return ok({"order": {"symbol": params["symbol"], "orderId": 0, "side": params.get("side")}})
    result = place_one(state, params)
    if isinstance(result, tuple):
        return fail(request, *result)
    if faults.fire("order504"):
        return web.Response(status=504, text=_GATEWAY_TIMEOUT, content_type="text/html")
    if faults.fire("order_busy"):
        return fail(request, 101500, "RPC timeout")
    return _ack(result, state, faults)


async def batch_place(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        items = json.loads(param(request, "batchOrders", required=True))
    except ValueError:
        return fail(request, 80014, "Invalid parameters, batchOrders: not a JSON array")
    if not isinstance(items, list) or not 1 <= len(items) <= 5:
        return fail(request, 80014, "Invalid parameters, batchOrders: 1 to 5 orders")
    orders: list[dict[str, Any]] = []
    for item in items:
        result = place_one(state, {k: str(v).lower() if isinstance(v, bool) else str(v)
                                   for k, v in dict(item).items()})  # fmt: skip
        if isinstance(result, tuple):
            return fail(request, *result)
        meta = state.meta_of(result)
        orders.append(
            {"symbol": result.symbol, "orderId": int(result.venue_order_id),
             "side": result.side.value, "positionSide": meta.position_side,
             "type": result.order_type.value, "clientOrderId": meta.client_id,
             "workingType": "MARK_PRICE"}
        )  # fmt: skip
    return ok({"orders": orders})


def _cancel_one(
    state: SimState, faults: ServerFaults, symbol: str, order_id: str, client_id: str
) -> EngineOrder | tuple[int, str]:
    key = order_id or f"c:{client_id.lower()}"
    now = time.monotonic()
    if now - state.cancel_times.get(key, -10.0) < 1.0:
        return 109201, "The same order number is only allowed to be submitted once within 1 second."
    state.cancel_times[key] = now
    order = state.find(client_id=client_id, order_id=order_id)
    if order is None or not order.venue_order_id or order.symbol != symbol:
        return 80016, "order not exist"
    if order.live and faults.fire("cancel_race"):
        now_ns = state.now_ns()
        state.publish(state.engine.force_fill(now_ns, venue_order_id=order.venue_order_id), now_ns)
    events = state.cancel(venue_order_id=order.venue_order_id)
    for event in events:
        if isinstance(event, CancelRejected):
            return engine_code(event.code, event.message)
    return order


async def cancel_order(request: web.Request) -> web.Response:
    state, faults = request.app[STATE], request.app[FAULTS]
    symbol = param(request, "symbol", required=True)
    order_id = param(request, "orderId")
    client_id = param(request, "clientOrderId", "clientOrderID")
    if not order_id and not client_id:
        return fail(request, 80014, "Invalid parameters, orderId or clientOrderId is required")
    result = _cancel_one(state, faults, symbol, order_id, client_id)
    if isinstance(result, tuple):
        return fail(request, *result)
    if faults.fire("cancel504"):
        return web.Response(status=504, text=_GATEWAY_TIMEOUT, content_type="text/html")
    if faults.fire("cancel_busy"):
        return fail(request, 80001, "service has some errors")
    return ok({"order": order_object(result, state.meta_of(result), hedge=state.hedge)})


def _id_list(text: str) -> list[str]:
    try:
        values = json.loads(text) if text else []
    except ValueError:
        raise BadParam("Invalid parameters, id list is not a JSON array") from None
    return [str(v) for v in values] if isinstance(values, list) else []


async def cancel_many(request: web.Request) -> web.Response:
    """``DELETE batchOrders`` (id lists) and ``DELETE allOpenOrders`` (symbol optional)."""
    state, faults = request.app[STATE], request.app[FAULTS]
    symbol = param(request, "symbol")
    targets: list[tuple[str, str, str]]
    if request.path.endswith("allOpenOrders"):
        targets = [(o.symbol, o.venue_order_id, "") for o in state.engine.open_orders(symbol or None)]
    else:
        symbol = param(request, "symbol", required=True)
        ids = _id_list(param(request, "orderIdList"))
        cids = _id_list(param(request, "clientOrderIdList", "clientOrderIDList"))
        targets = [(symbol, i, "") for i in ids] + [(symbol, "", c) for c in cids]
    success: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for sym, oid, cid in targets:
        result = _cancel_one(state, faults, sym, oid, cid)
        if isinstance(result, tuple):
            failed.append({"orderId": int(oid) if oid.isdigit() else 0, "clientOrderId": cid,
                           "errorCode": result[0], "errorMessage": result[1]})  # fmt: skip
        else:
            success.append(order_object(result, state.meta_of(result), hedge=state.hedge))
    return ok({"success": success, "failed": failed or None})


async def query_order(request: web.Request) -> web.Response:
    state = request.app[STATE]
    symbol = param(request, "symbol", required=True)
    order = state.find(
        client_id=param(request, "clientOrderId", "clientOrderID"),
        order_id=param(request, "orderId"),
    )
    if order is None or not order.venue_order_id or order.symbol != symbol:
        return fail(request, 80016, "order not exist")
    if request.path.endswith("openOrder") and not order.live:
        return fail(request, 80016, "order not exist")
    if param(request, "orderId") and not order.live and request.app[FAULTS].fire("query_not_found"):
        return fail(request, 80016, "order not exist")
    body = order_object(order, state.meta_of(order), hedge=state.hedge)
    if request.app[FAULTS].fire("query_garbled"):
        body["status"] = "PENDING_REVIEW"  # a status no client knows
    return ok({"order": body})


async def open_orders(request: web.Request) -> web.Response:
    state = request.app[STATE]
    kind = param(request, "type").upper()
    rows = [
        order_object(o, state.meta_of(o), hedge=state.hedge)
        for o in state.engine.open_orders(param(request, "symbol") or None)
        if not kind or o.order_type.value == kind
    ]
    return ok({"orders": rows})


def _window(request: web.Request, start: str, end: str) -> tuple[int, int]:
    lo = param_int(request, start) * _NS_PER_MS
    hi_ms = param_int(request, end, -1)
    hi = hi_ms * _NS_PER_MS if hi_ms >= 0 else 2**62
    return lo, hi


async def order_history(request: web.Request) -> web.Response:
    """``allOrders`` (finished only) and ``fullOrder`` (every status)."""
    state = request.app[STATE]
    symbol = param(request, "symbol")
    after = param_int(request, "orderId")
    lo, hi = _window(request, "startTime", "endTime")
    limit = param_limit(request, 500, 1000)
    finished_only = request.path.endswith("allOrders")
    rows = []
    for o in sorted(state.engine.orders_since(lo), key=lambda o: int(o.venue_order_id)):
        if (symbol and o.symbol != symbol) or int(o.venue_order_id) <= after:
            continue
        if o.created_ts > hi or (finished_only and o.live):
            continue
        if o.status is OrderStatus.REJECTED:
            continue
        rows.append(order_object(o, state.meta_of(o), hedge=state.hedge))
    return ok({"orders": rows[:limit]})


async def fills(request: web.Request) -> web.Response:
    """``allFillOrders`` (``fill_orders``) and ``fillHistory`` (``fill_history_orders``)."""
    state = request.app[STATE]
    symbol, order_id = param(request, "symbol"), param(request, "orderId")
    lo, hi = _window(request, "startTs", "endTs")
    history = request.path.endswith("fillHistory")
    rows = []
    lagging = request.app[FAULTS].fire("fills_lag")
    for f in () if lagging else state.engine.fills_since(lo):
        if f.ts > hi or (symbol and f.symbol != symbol) or (order_id and f.venue_order_id != order_id):
            continue
        order = state.engine.order(venue_order_id=f.venue_order_id)
        if order is None:
            continue
        meta = state.meta_of(order)
        commission = f.commission
        if request.app[FAULTS].fire("fill_fee_cut"):
            commission = commission.quantize(FEE_CUT, ROUND_DOWN)
        row = fill_row(order=order, meta=meta, qty=f.qty, price=f.price,
                       commission=commission, ts_ns=f.ts)  # fmt: skip
        if history:
            row.update(
                {"tradeId": f.fill_id, "qty": row["volume"], "quoteQty": row["amount"],
                 "commissionAsset": "USDT", "role": "maker" if f.is_maker else "taker",
                 "realizedPnl": dec(f.realized_pnl), "time": ms(f.ts)}
            )  # fmt: skip
        rows.append(row)
    if history:
        return ok({"fill_history_orders": rows, "total": len(rows)})
    return ok({"fill_orders": rows})


def add_trade_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/openApi/swap/v2/trade/order", place_order)
    r.add_post("/openApi/swap/v2/trade/order/test", place_order)
    r.add_post("/openApi/swap/v2/trade/batchOrders", batch_place)
    r.add_delete("/openApi/swap/v2/trade/order", cancel_order)
    r.add_delete("/openApi/swap/v2/trade/batchOrders", cancel_many)
    r.add_delete("/openApi/swap/v2/trade/allOpenOrders", cancel_many)
    r.add_get("/openApi/swap/v2/trade/order", query_order)
    r.add_get("/openApi/swap/v2/trade/openOrder", query_order)
    r.add_get("/openApi/swap/v2/trade/openOrders", open_orders)
    r.add_get("/openApi/swap/v2/trade/allOrders", order_history)
    r.add_get("/openApi/swap/v1/trade/fullOrder", order_history)
    r.add_get("/openApi/swap/v2/trade/allFillOrders", fills)
    r.add_get("/openApi/swap/v2/trade/fillHistory", fills)

"""Signed account routes of the simulator: balance, positions, income, leverage, modes, listenKey."""

from __future__ import annotations

import zlib
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from aiohttp import web

from pink.errors import LeverageError, UnknownInstrumentError
from pink.kernel.messages import ZERO, PositionReport, Side
from pink.venues.bingx.server_http import STATE, USER_STREAMS, BadParam, fail, json_response, ok, param_int, param_limit
from pink.venues.bingx.server_http import param as p
from pink.venues.bingx.server_state import SimState
from pink.venues.bingx.server_wire import dec, ms, num

__all__ = ["LISTEN_KEY_PATH", "add_account_routes"]

LISTEN_KEY_PATH = "/openApi/user/auth/userDataStream"
_NS_PER_MS = 1_000_000


_SHOWN = Decimal("0.0001")


def _shown(value: Decimal) -> str:
    """An amount as the balance endpoint shows it: to 4 decimals, as in every recorded payload
    (whether BingX rounds or cuts is not documented; rounding half up here)."""
    return dec(value.quantize(_SHOWN, ROUND_HALF_UP), 4)


def _balance_row(state: SimState) -> dict[str, Any]:
    bal = state.engine.balance()
    upnl = sum((r["up"] for r in _position_values(state)), ZERO)
    used = bal.balance - bal.available
    return {
        "userId": state.user_id,
        "asset": bal.asset,
        "balance": _shown(bal.balance),
        "equity": _shown(bal.balance + upnl),
        "unrealizedProfit": _shown(upnl),
        "realisedProfit": _shown(state.realized()),
        "availableMargin": _shown(bal.available),
        "usedMargin": _shown(used),
        "freezedMargin": "0.0000",
        "shortUid": "10000001",
    }


def _position_values(state: SimState) -> list[dict[str, Any]]:
    out = []
    for pos in state.engine.positions():
        if not pos.quantity:
            continue
        mark = state.engine.quote(pos.symbol).mark
        direction = 1 if pos.side is Side.LONG else -1
        out.append({"pos": pos, "mark": mark, "up": (mark - pos.entry_price) * pos.quantity * direction})
    return out


async def balance(request: web.Request) -> web.Response:
    state = request.app[STATE]
    row = _balance_row(state)
    if "/v2/" in request.path:
        return ok({"balance": row})
    return ok([row])


def _liquidation_price(state: SimState, pos: PositionReport) -> Decimal:
    """Where the engine liquidates the position (0, as BingX shows none, when it never would)."""
    price = state.engine.liquidation_price(pos.symbol, pos.side)
    return price if price is not None else ZERO


async def positions(request: web.Request) -> web.Response:
    state = request.app[STATE]
    symbol = p(request, "symbol")
    rows = []
    for v in _position_values(state):
        pos = v["pos"]
        if symbol and pos.symbol != symbol:
            continue
        lev = state.engine.leverage(pos.symbol, pos.side)
        value = v["mark"] * pos.quantity
        margin = pos.entry_price * pos.quantity / lev
        rows.append(
            {
                "positionId": str(zlib.crc32(f"{pos.symbol}/{pos.side.value}".encode())),
                "symbol": pos.symbol,
                "currency": "USDT",
                "positionAmt": dec(pos.quantity),
                "availableAmt": dec(pos.quantity),
                "positionSide": pos.side.value,
                "isolated": True,  # the engine gives each position a margin of its own
                "avgPrice": dec(pos.entry_price),
                "initialMargin": dec(margin, 4),
                "margin": dec(margin, 4),
                "leverage": lev,
                "unrealizedProfit": dec(v["up"], 4),
                "realisedProfit": "0",
                "liquidationPrice": num(_liquidation_price(state, pos)),
                "pnlRatio": dec((v["up"] / margin).quantize(ZERO.scaleb(-4)) if margin else ZERO),
                "maxMarginReduction": "0.0000",
                "riskRate": "0.0000",
                "markPrice": dec(v["mark"]),
                "positionValue": dec(value),
                "onlyOnePosition": not state.hedge,
                "updateTime": ms(pos.ts),
            }
        )
    return ok(rows)


def _keyless(state: SimState, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` as listed: without its ``tranId`` when the ``income_no_tranid`` fault picked it
    (drawn when the row is first listed; the same at every later listing)."""
    faults, tran_id = state.faults, row["tranId"]
    if faults is None or "income_no_tranid" not in faults.rules:
        return row
    if tran_id not in state.keyless_income:
        state.keyless_income[tran_id] = faults.fire("income_no_tranid")
    return {k: v for k, v in row.items() if k != "tranId"} if state.keyless_income[tran_id] else row


async def income(request: web.Request) -> web.Response:
    state = request.app[STATE]
    symbol, kind = p(request, "symbol"), p(request, "incomeType")
    lo = param_int(request, "startTime") * _NS_PER_MS
    hi_ms = param_int(request, "endTime", -1)
    hi = (hi_ms + 1) * _NS_PER_MS - 1 if hi_ms >= 0 else 2**62  # endTime's whole millisecond
    limit = param_limit(request, 100, 1000)
    rows: list[tuple[int, dict[str, Any]]] = []
    if kind in ("", "FUNDING_FEE"):
        for fp in state.engine.funding_since(lo):
            rows.append((fp.ts, _keyless(state, {"symbol": fp.symbol, "incomeType": "FUNDING_FEE",
                                 "income": dec(fp.amount), "asset": "USDT", "info": "Funding Fee",
                                 "time": ms(fp.ts), "tranId": fp.funding_id,
                                 "tradeId": fp.funding_id})))  # fmt: skip
    if kind in ("", "TRANSFER"):
        for t in state.engine.transfers_since(lo):
            rows.append((t.ts, _keyless(state, {"symbol": "", "incomeType": "TRANSFER", "income": dec(t.amount),
                                "asset": t.asset, "info": "TRANSFER", "time": ms(t.ts),
                                "tranId": t.transfer_id, "tradeId": ""})))  # fmt: skip
    for f in state.engine.fills_since(lo):
        if kind in ("", "TRADING_FEE") and f.commission:
            rows.append((f.ts, {"symbol": f.symbol, "incomeType": "TRADING_FEE",
                                "income": dec(-f.commission), "asset": "USDT",
                                "info": "Trading Fee" if f.client_order_id else "Closing Fee", "time": ms(f.ts),
                                "tranId": f"{f.fill_id}_COMMISSION", "tradeId": f.fill_id}))  # fmt: skip
        # a liquidation's realized loss is listed as INSURANCE_CLEAR ("Strong liquidation") in place of
        # REALIZED_PNL, as in BingX's own example (the fill's PnL and its fee: nothing apart from them)
        pnl_kind = "REALIZED_PNL" if f.client_order_id else "INSURANCE_CLEAR"
        if kind in ("", pnl_kind) and f.realized_pnl:
            rows.append((f.ts, {"symbol": f.symbol, "incomeType": pnl_kind,
                                "income": dec(f.realized_pnl), "asset": "USDT",
                                "info": "Closing" if f.client_order_id else "Strong liquidation", "time": ms(f.ts),
                                "tranId": f"{f.fill_id}_PNL", "tradeId": f.fill_id}))  # fmt: skip
    for other in state.other_income:
        if kind in ("", other.kind) and other.ts >= lo:
            rows.append((other.ts, other.row("USDT")))
    # newest first, as BingX lists them, rows of one instant too (each source lists oldest first)
    newest_first = reversed(sorted(rows, key=lambda x: x[0]))
    picked = [r for ts, r in newest_first if ts <= hi and (not symbol or r["symbol"] == symbol)]
    return ok(picked[:limit])


async def commission_rate(request: web.Request) -> web.Response:
    state = request.app[STATE]
    rates = {"takerCommissionRate": num(state.taker_fee), "makerCommissionRate": num(state.maker_fee)}
    return ok({"commission": rates})


def _symbol(state: SimState, request: web.Request) -> str:
    symbol = p(request, "symbol", required=True)
    if symbol not in state.instruments:
        raise BadParam(f"symbol not exist: {symbol}", 109500)
    return symbol


async def get_leverage(request: web.Request) -> web.Response:
    state = request.app[STATE]
    symbol = _symbol(state, request)
    top = state.instruments[symbol].max_leverage
    return ok(
        {
            "longLeverage": state.engine.leverage(symbol, Side.LONG),
            "shortLeverage": state.engine.leverage(symbol, Side.SHORT),
            "maxLongLeverage": top,
            "maxShortLeverage": top,
            "availableLongVol": "0.0000",
            "availableShortVol": "0.0000",
            "availableLongVal": "0.0",
            "availableShortVal": "0.0",
            "maxPositionLongVal": "0.0",
            "maxPositionShortVal": "0.0",
        }
    )


async def set_leverage(request: web.Request) -> web.Response:
    state = request.app[STATE]
    symbol = _symbol(state, request)
    side = p(request, "side", required=True).upper()
    allowed = ("LONG", "SHORT") if state.hedge else ("BOTH",)
    if side not in allowed:
        mode = "Hedge" if state.hedge else "One-way"
        return fail(request, 109400, f"In the {mode} mode, side can only be {'/'.join(allowed)}")
    text = p(request, "leverage", required=True)
    if not text.isdigit():
        return fail(request, 80014, f"Invalid parameters, leverage: {text}")
    sides = [Side(side)] if side != "BOTH" else [Side.LONG, Side.SHORT]
    try:
        for s in sides:
            state.engine.set_leverage(symbol, s, int(text))
    except (LeverageError, UnknownInstrumentError) as exc:
        return fail(request, 101414, f"leverage {text} is above the maximum: {exc}")
    return ok({"leverage": int(text), "symbol": symbol, "availableLongVol": "0.0000",
               "availableShortVol": "0.0000", "availableLongVal": "0.0",
               "availableShortVal": "0.0", "maxPositionLongVal": "0.0",
               "maxPositionShortVal": "0.0"})  # fmt: skip


async def position_mode(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.method == "POST":
        wanted = p(request, "dualSidePosition", required=True).lower()
        if wanted not in ("true", "false"):
            return fail(request, 80014, "Invalid parameters, dualSidePosition: true|false")
        busy = state.engine.open_orders() or any(x.quantity for x in state.engine.positions())
        if busy and (wanted == "true") != state.hedge:
            return fail(request, 109401, "position mode cannot change with positions or orders")
        state.hedge = wanted == "true"
    return ok({"dualSidePosition": "true" if state.hedge else "false"})


async def margin_type(request: web.Request) -> web.Response:
    state = request.app[STATE]
    symbol = _symbol(state, request)
    wanted = p(request, "marginType").upper()
    if request.method == "POST" and wanted not in ("ISOLATED", ""):
        return fail(request, 109400, f"marginType {wanted}: the simulator supports ISOLATED margin only "
                                     "(its engine gives each position a margin of its own)")  # fmt: skip
    return ok({"marginType": "ISOLATED", "symbol": symbol})


async def listen_key(request: web.Request) -> web.Response:
    streams = request.app[USER_STREAMS]
    if request.method == "POST":
        return json_response({"listenKey": streams.create()})
    key = p(request, "listenKey")
    if not key:
        return web.Response(status=204)
    done = streams.extend(key) if request.method == "PUT" else streams.delete(key)
    return web.Response(status=200 if done else 404)


def add_account_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/openApi/swap/v3/user/balance", balance)
    r.add_get("/openApi/swap/v2/user/balance", balance)
    r.add_get("/openApi/swap/v2/user/positions", positions)
    r.add_get("/openApi/swap/v2/user/income", income)
    r.add_get("/openApi/swap/v2/user/commissionRate", commission_rate)
    r.add_get("/openApi/swap/v2/trade/leverage", get_leverage)
    r.add_post("/openApi/swap/v2/trade/leverage", set_leverage)
    r.add_get("/openApi/swap/v1/positionSide/dual", position_mode)
    r.add_post("/openApi/swap/v1/positionSide/dual", position_mode)
    r.add_get("/openApi/swap/v2/trade/marginType", margin_type)
    r.add_post("/openApi/swap/v2/trade/marginType", margin_type)
    r.add_post(LISTEN_KEY_PATH, listen_key)
    r.add_put(LISTEN_KEY_PATH, listen_key)
    r.add_delete(LISTEN_KEY_PATH, listen_key)

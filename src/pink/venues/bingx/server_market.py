"""Public REST routes of the simulator: time, contracts, tickers, book, klines, funding."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from pink.kernel.messages import ZERO
from pink.venues.bingx.server_http import STATE, BadParam, ok, param, param_limit
from pink.venues.bingx.server_state import SimState, places
from pink.venues.bingx.server_wire import dec, ms, num
from pink.venues.bingx.server_ws import INTERVALS

__all__ = ["PUBLIC_PATHS", "add_market_routes"]

PUBLIC_PATHS = frozenset(
    {
        "/openApi/swap/v2/server/time",
        "/openApi/swap/v2/quote/contracts",
        "/openApi/swap/v2/quote/ticker",
        "/openApi/swap/v1/ticker/price",
        "/openApi/swap/v2/quote/price",
        "/openApi/swap/v2/quote/bookTicker",
        "/openApi/swap/v2/quote/depth",
        "/openApi/swap/v3/quote/klines",
        "/openApi/swap/v2/quote/klines",
        "/openApi/swap/v1/market/markPriceKlines",
        "/openApi/swap/v2/quote/premiumIndex",
        "/openApi/swap/v2/quote/fundingRate",
    }
)


def _symbols(state: SimState, request: web.Request, *, required: bool = False) -> list[str]:
    symbol = param(request, "symbol", required=required)
    if not symbol:
        return sorted(state.instruments)
    if symbol not in state.instruments:
        raise BadParam(f"symbol not exist: {symbol}", 109400)
    return [symbol]


def _one_or_list(request: web.Request, rows: list[dict[str, Any]]) -> web.Response:
    return ok(rows[0] if param(request, "symbol") else rows)


async def server_time(request: web.Request) -> web.Response:
    return ok({"serverTime": request.app[STATE].wall_ms()})


async def contracts(request: web.Request) -> web.Response:
    state = request.app[STATE]
    rows = []
    for i, symbol in enumerate(_symbols(state, request)):
        inst = state.instruments[symbol]
        status, api_open = state.contract_state.get(symbol, (1, "true"))
        rows.append(
            {
                "contractId": str(100 + i),
                "symbol": symbol,
                "size": "0",
                "quantityPrecision": places(inst.step),
                "pricePrecision": places(inst.tick),
                "feeRate": num(state.taker_fee),
                "makerFeeRate": num(state.maker_fee),
                "takerFeeRate": num(state.taker_fee),
                "tradeMinLimit": 0,
                "tradeMinQuantity": num(inst.min_qty),
                "tradeMinUSDT": num(inst.min_notional),
                "maxLongLeverage": inst.max_leverage,
                "maxShortLeverage": inst.max_leverage,
                "currency": "USDT",
                "asset": symbol.split("-")[0],
                "status": status,
                "apiStateOpen": api_open,
                "apiStateClose": "true",
                "brokerState": "true",
                "launchTime": 1586275200000,
                "maintainTime": 0,
                "offTime": 0,
                "displayName": symbol,
            }
        )
    return ok(rows)


async def ticker(request: web.Request) -> web.Response:
    state = request.app[STATE]
    rows = []
    for symbol in _symbols(state, request):
        q = state.engine.quote(symbol)
        day = state.engine.candles(symbol, 86400, 1)
        bar = day[-1] if day else None
        open_px = bar.open if bar else q.last
        change = q.last - open_px
        pct = (change / open_px * 100).quantize(Decimal("0.01")) if open_px else ZERO
        bids, asks = state.engine.depth(symbol)
        rows.append(
            {
                "symbol": symbol,
                "priceChange": dec(change),
                "priceChangePercent": dec(pct),
                "lastPrice": dec(q.last),
                "lastQty": "0",
                "highPrice": dec(bar.high if bar else q.last),
                "lowPrice": dec(bar.low if bar else q.last),
                "volume": dec(bar.volume if bar else ZERO),
                "quoteVolume": dec((bar.volume if bar else ZERO) * q.last),
                "openPrice": dec(open_px),
                "openTime": ms(bar.ts) if bar else ms(q.ts),
                "closeTime": ms(q.ts),
                "bidPrice": dec(q.bid),
                "bidQty": dec(bids[0][1]) if bids else "0",
                "askPrice": dec(q.ask),
                "askQty": dec(asks[0][1]) if asks else "0",
            }
        )
    return _one_or_list(request, rows)


async def price(request: web.Request) -> web.Response:
    state = request.app[STATE]
    rows = [
        {"symbol": s, "price": dec(state.engine.quote(s).last), "time": ms(state.now_ns())}
        for s in _symbols(state, request)
    ]
    return _one_or_list(request, rows)


async def book_ticker(request: web.Request) -> web.Response:
    state = request.app[STATE]
    symbol = _symbols(state, request, required=True)[0]
    bids, asks = state.engine.depth(symbol)
    now = ms(state.now_ns())
    book = {
        "symbol": symbol,
        "bid_price": num(bids[0][0]),
        "bid_qty": num(bids[0][1]),
        "ask_price": num(asks[0][0]),
        "ask_qty": num(asks[0][1]),
        "lastUpdateId": now,
        "time": now,
    }
    return ok({"book_ticker": book})


async def depth(request: web.Request) -> web.Response:
    state = request.app[STATE]
    symbol = _symbols(state, request, required=True)[0]
    limit = param_limit(request, 20, 1000)
    inst = state.instruments[symbol]
    pp, qp = places(inst.tick), places(inst.step)
    bids, asks = state.engine.depth(symbol)
    bid_rows = [[dec(p, pp), dec(q, qp)] for p, q in bids[:limit]]
    ask_rows = [[dec(p, pp), dec(q, qp)] for p, q in asks[:limit]]
    ask_rows.reverse()  # BingX: asks high -> low, best ask last
    return ok(
        {
            "T": ms(state.now_ns()),
            "bids": bid_rows,
            "asks": ask_rows,
            "bidsCoin": bid_rows,
            "asksCoin": ask_rows,
        }
    )


async def klines(request: web.Request) -> web.Response:
    state = request.app[STATE]
    symbol = _symbols(state, request, required=True)[0]
    interval = param(request, "interval", required=True)
    if interval not in INTERVALS:
        raise BadParam(f"Invalid parameters, interval: {interval}", 109400)
    limit = param_limit(request, 500, 1440)
    bars = state.engine.candles(symbol, INTERVALS[interval], limit)
    mark = request.path.endswith("markPriceKlines")
    rows = []
    for c in bars:
        row: dict[str, Any] = {
            "open": dec(c.open),
            "close": dec(c.close),
            "high": dec(c.high),
            "low": dec(c.low),
            "volume": dec(c.volume),
        }
        if mark:
            row["openTime"] = row["closeTime"] = ms(c.ts)
        else:
            row["time"] = ms(c.ts)
        rows.append(row)
    return ok(rows)


async def premium_index(request: web.Request) -> web.Response:
    state = request.app[STATE]
    rows = []
    for symbol in _symbols(state, request):
        q = state.engine.quote(symbol)
        rows.append(
            {
                "symbol": symbol,
                "markPrice": dec(q.mark),
                "indexPrice": dec(q.mark),
                "lastFundingRate": dec(q.funding_rate, 8),
                "nextFundingTime": ms(state.next_funding_ns()),
                "fundingIntervalHours": state.funding_interval_h,
                "updateTime": ms(q.ts),
            }
        )
    return _one_or_list(request, rows)


async def funding_rate(request: web.Request) -> web.Response:
    state = request.app[STATE]
    symbol = param(request, "symbol")
    limit = param_limit(request, 100, 1000)
    rows = [
        {"symbol": s, "fundingRate": dec(rate, 8), "fundingTime": ms(ts)}
        for s, rate, ts in state.funding_history()
        if not symbol or s == symbol
    ]
    rows.reverse()  # newest first
    return ok(rows[:limit])


def add_market_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/openApi/swap/v2/server/time", server_time)
    r.add_get("/openApi/swap/v2/quote/contracts", contracts)
    r.add_get("/openApi/swap/v2/quote/ticker", ticker)
    r.add_get("/openApi/swap/v1/ticker/price", price)
    r.add_get("/openApi/swap/v2/quote/price", price)
    r.add_get("/openApi/swap/v2/quote/bookTicker", book_ticker)
    r.add_get("/openApi/swap/v2/quote/depth", depth)
    r.add_get("/openApi/swap/v3/quote/klines", klines)
    r.add_get("/openApi/swap/v2/quote/klines", klines)
    r.add_get("/openApi/swap/v1/market/markPriceKlines", klines)
    r.add_get("/openApi/swap/v2/quote/premiumIndex", premium_index)
    r.add_get("/openApi/swap/v2/quote/fundingRate", funding_rate)

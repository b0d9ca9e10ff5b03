"""BingxVenue against the scripted server: the venue-boundary flaws."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from bingx_fake import FakeBingx, fail, fixture, ok

from pink.errors import LeverageError, UnknownInstrumentError, UnknownOutcomeError, VenueError
from pink.kernel.messages import (
    CancelOrder,
    CancelRejected,
    EnsureLeverage,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderStatusReport,
    OrderType,
    PlaceOrder,
    QueryOrder,
    Side,
    TimeInForce,
    VenueEvent,
)
from pink.runtime.clock import WallClock
from pink.runtime.executor import EffectExecutor
from pink.venues.bingx.venue import BingxVenue

D = Decimal
ORDER = "/openApi/swap/v2/trade/order"
VID = 1970374651259387904


def place(cid: str = "t00001-e1", kind: OrderType = OrderType.MARKET) -> PlaceOrder:
    return PlaceOrder(cid, 1, "BTC-USDT", OrderSide.BUY, Side.LONG, D("0.01"), kind,
                      D("100") if kind is OrderType.LIMIT else None, TimeInForce.GTC, False, 5)


def order_obj(status: str, executed: str, avg: str, cid: str = "t00001-e1") -> dict[str, Any]:
    return {"symbol": "BTC-USDT", "orderId": VID, "side": "BUY", "positionSide": "BOTH",
            "type": "MARKET", "origQty": "0.01", "price": "0", "executedQty": executed,
            "avgPrice": avg, "commission": "-0.0005", "status": status, "time": 1700000000000,
            "updateTime": 1700000000000, "clientOrderId": cid}


def push(x: str, status: str, z: str, ap: str) -> dict[str, Any]:
    return {"e": "ORDER_TRADE_UPDATE", "E": 1700000000001, "o": {
        "s": "BTC-USDT", "c": "t00001-e1", "i": VID, "S": "BUY", "o": "MARKET", "q": "0.01",
        "p": "0", "ap": ap, "x": x, "X": status, "N": "USDT", "n": "-0.0005", "T": 0,
        "ps": "BOTH", "z": z}}


class Sink:
    def __init__(self) -> None:
        self.events: list[VenueEvent] = []

    def __call__(self, event: VenueEvent) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, kind: type, n: int = 1) -> list[Any]:
        for _ in range(200):
            if len(self.of(kind)) >= n:
                return self.of(kind)
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {kind.__name__} in {self.events}")


@pytest.fixture
async def venue(fake: FakeBingx) -> AsyncIterator[tuple[BingxVenue, Sink]]:
    v = BingxVenue(fake.config(), fill_watch_s=0.2)
    sink = Sink()
    await v.start(sink)
    try:
        await asyncio.wait_for(v.stream.connected.wait(), 2)
        yield v, sink
    finally:
        await v.close()


async def test_place_sends_the_kernel_id_and_formatted_fields(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]
) -> None:
    v, sink = venue
    seen: dict[str, str] = {}

    def on_place(_r: web.Request, p: dict[str, str]) -> web.Response:
        seen.update(p)
        return ok({"order": {"orderId": VID, "clientOrderId": p["clientOrderId"]}})

    fake.on("POST", ORDER, on_place)
    order = PlaceOrder("t00002-e1", 2, "BTC-USDT", OrderSide.SELL, Side.SHORT, D("0.0123"),
                       OrderType.LIMIT, D("50000"), TimeInForce.POST_ONLY, True, 3)
    await v.place(order)
    assert seen["clientOrderId"] == "t00002-e1" and seen["quantity"] == "0.0123"
    assert seen["price"] == "50000.0" and seen["timeInForce"] == "PostOnly"
    assert seen["positionSide"] == "BOTH" and seen["reduceOnly"] == "true"
    assert sink.of(OrderAccepted)[0].venue_order_id == str(VID)


@pytest.mark.parametrize(
    ("field", "change", "qty", "price", "code", "named"),
    [("quantity", {"quantityPrecision": 3, "tradeMinQuantity": 0.001}, "0.0123", "100", "QTY_OFF_STEP",
      "step 0.001"),
     ("price", {"pricePrecision": 0}, "0.01", "100.5", "PRICE_OFF_TICK", "tick 1")],
)
async def test_e16_an_order_off_a_precision_changed_mid_run_is_refused_not_cut(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink], caplog: pytest.LogCaptureFixture,
    field: str, change: dict[str, Any], qty: str, price: str, code: str, named: str,
) -> None:
    """BingX coarsens BTC-USDT's precision mid-run; the adapter's hourly reload takes it, the
    kernel keeps the grid it started with. An order on the old grid is not cut down silently
    (the venue's order would differ from the kernel's record): it is refused, not sent, with a
    code and a message naming the symbol, the field, the value and the new grid, logged loudly."""
    v, sink = venue
    rows = fixture("contracts.json")["official"]["responseBody"]["data"]
    fake.reply("GET", "/openApi/swap/v2/quote/contracts",
               [dict(r, **change) if r["symbol"] == "BTC-USDT" else r for r in rows])
    await v.book.load(v.http)  # (the hourly refresh)
    order = PlaceOrder("t00003-e1", 3, "BTC-USDT", OrderSide.BUY, Side.LONG, D(qty), OrderType.LIMIT,
                       D(price), TimeInForce.GTC, False, 5)
    await v.place(order)
    (rejected,) = sink.of(OrderRejected)
    assert rejected.code == code and rejected.client_order_id == "t00003-e1"
    assert all(w in rejected.message for w in ("BTC-USDT", field, qty if field == "quantity" else price, named))
    assert fake.counts[f"POST {ORDER}"] == 0
    assert any(r.levelname == "ERROR" and "BTC-USDT" in r.getMessage() for r in caplog.records)


async def test_e12_market_ack_without_price_is_never_settled_at_zero(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]
) -> None:
    v, sink = venue
    fake.reply("POST", ORDER, dict(order_obj("FILLED", "0.01", "0.00"), orderID=str(VID)))
    fake.reply("GET", ORDER, {"order": order_obj("FILLED", "0.01", "100.5")})
    await v.place(place())
    await fake.push(push("TRADE", "FILLED", "0.01", "0"))  # a fill push without a price
    reports = await sink.wait_for(OrderStatusReport)
    # nothing settled at price 0: the fill is the order query's, which the kernel books as its gap
    assert sink.of(OrderFilled) == [] and v.tracker.cum_qty(str(VID)) == D("0.01")
    assert reports[0].commission == D("0.0005")
    assert reports[0].status is OrderStatus.FILLED and reports[0].avg_price == D("100.5")
    assert reports[0].cum_qty == D("0.01")


async def test_a_queried_fill_without_a_stated_commission_is_not_final(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]
) -> None:
    """The order record stands for a fill the stream missed (the kernel books it as the
    report's gap); when the record states no commission, the report says so (the kernel books
    none and asks again at the end)."""
    v, sink = venue
    no_fee = order_obj("FILLED", "0.01", "100.5")
    del no_fee["commission"]
    fake.reply("POST", ORDER, dict(order_obj("FILLED", "0.01", "0.00"), orderID=str(VID)))
    fake.reply("GET", ORDER, {"order": no_fee})
    await v.place(place())
    await fake.push(push("TRADE", "FILLED", "0.01", "0"))  # no price: the adapter queries
    (report,) = await sink.wait_for(OrderStatusReport)
    assert sink.of(OrderFilled) == [] and report.cum_qty == D("0.01") and report.commission is None


async def test_e13_a_queried_fill_of_another_programs_order_is_still_a_fill(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]
) -> None:
    """An order of another program (its own client id) whose push tells no price is asked for;
    its fill rows unread, the report's fill is handed over as one (the kernel, which books no
    gap of an order it never sent, books it as a close outside PINK), not left to the report."""
    _, sink = venue
    fake.reply("GET", ORDER, {"order": order_obj("FILLED", "0.01", "100.5", cid="bot-7")})
    pushed = push("TRADE", "FILLED", "0.01", "0")  # no price: the adapter queries
    pushed["o"]["c"] = "bot-7"
    await fake.push(pushed)
    (fill,) = await sink.wait_for(OrderFilled)
    assert (fill.client_order_id, fill.last_qty, fill.last_price) == ("bot-7", D("0.01"), D("100.5"))
    assert (fill.commission, fill.fee_final) == (D("0.0005"), True)


async def test_e13_f19_fills_come_from_order_records_not_positions(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]
) -> None:
    """Flaws E13, F19."""
    v, sink = venue
    fake.reply("POST", ORDER, {"order": {"orderId": VID, "clientOrderId": "t00001-e1"}})
    await v.place(place("t00001-e1", OrderType.LIMIT))
    await fake.push({"e": "ACCOUNT_UPDATE", "E": 1, "a": {"m": "ORDER", "B": [], "P": [
        {"s": "BTC-USDT", "pa": "7.5", "ep": "90", "ps": "LONG"}]}})  # a stale, unrelated size
    await fake.push(push("TRADE", "PARTIALLY_FILLED", "0.004", "100"))
    await fake.push(push("TRADE", "FILLED", "0.01", "101"))
    fills = await sink.wait_for(OrderFilled, 2)
    assert [(f.last_qty, f.cum_qty) for f in fills] == [(D("0.004"), D("0.004")),
                                                        (D("0.006"), D("0.01"))]
    assert fills[1].last_price == (D("101") * D("0.01") - D("100") * D("0.004")) / D("0.006")
    assert not any("positions" in k for k in v.calls)
    assert v.last_account is not None and v.last_account.positions[0].quantity == D("7.5")


async def test_e15_leverage_read_once_set_only_when_different(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]
) -> None:
    v, _ = venue
    lev = "/openApi/swap/v2/trade/leverage"
    fake.reply("GET", lev, {"longLeverage": 5, "shortLeverage": 5})
    fake.on("POST", lev, lambda _r, p: ok({"leverage": int(p["leverage"]), "symbol": p["symbol"]}))
    for n in (5, 5, 10, 10):
        await v.ensure_leverage(EnsureLeverage("BTC-USDT", Side.LONG, n))
    assert fake.counts[f"GET {lev}"] == 1 and fake.counts[f"POST {lev}"] == 1
    fake.on("POST", lev, lambda _r, _p: fail(109400, "margin is not enough"))
    with pytest.raises(LeverageError) as info:
        await v.ensure_leverage(EnsureLeverage("BTC-USDT", Side.LONG, 20))
    assert info.value.code == "109400" and "margin is not enough" in str(info.value)
    with pytest.raises(UnknownInstrumentError):
        await v.ensure_leverage(EnsureLeverage("XYZ-USDT", Side.LONG, 2))


@pytest.mark.parametrize(
    ("code", "msg", "status", "still_open"),
    [(80018, "order is already filled", "FILLED", False),
     (109422, "The order doesn't exist", "FILLED", False),
     (80016, "order not exist", "PENDING", True)],
)
async def test_e17_cancel_answers_are_queried_not_rejected(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink], code: int, msg: str, status: str,
    still_open: bool,
) -> None:
    v, sink = venue
    fake.on("DELETE", ORDER, lambda _r, _p: fail(code, msg))
    fake.reply("GET", ORDER, {"order": order_obj(status, "0.01" if status == "FILLED" else "0",
                                                 "100")})
    await v.cancel(CancelOrder("t00001-e1", "BTC-USDT", ""))
    assert fake.counts[f"GET {ORDER}"] == 1
    report = sink.of(OrderStatusReport)[0]
    rejected = sink.of(CancelRejected)[0]
    assert report.status.value == ("FILLED" if status == "FILLED" else "NEW")
    assert rejected.still_open is still_open and str(code) in f"{rejected.code} {rejected.message}"
    if status == "FILLED":  # the kernel reads the code: gone because it filled (E17)
        assert rejected.code == "ORDER_ALREADY_FILLED"


async def test_cancel_confirmed_and_cancel_of_unknown_order(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]
) -> None:
    v, sink = venue
    fake.reply("DELETE", ORDER, {"order": order_obj("CANCELLED", "0", "0")})
    await v.cancel(CancelOrder("t00001-e1", "BTC-USDT", str(VID)))
    assert sink.of(OrderCanceled)[0].cum_qty == 0
    fake.on("DELETE", ORDER, lambda _r, _p: fail(80016, "order not exist"))
    fake.on("GET", ORDER, lambda _r, _p: fail(80016, "order not exist"))
    await v.cancel(CancelOrder("t00009-e1", "BTC-USDT", ""))
    assert sink.of(OrderStatusReport)[-1].status is OrderStatus.NOT_FOUND
    assert sink.of(CancelRejected)[-1].still_open is False


async def test_f16_place_without_reply_raises_unknown_then_query_resolves(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]
) -> None:
    v, sink = venue
    fake.on("POST", ORDER, lambda _r, _p: web.Response(status=504))
    with pytest.raises(UnknownOutcomeError):
        await v.place(place())
    assert not sink.events
    fake.reply("GET", ORDER, {"order": order_obj("FILLED", "0.01", "100")})
    report = await v.query(QueryOrder("t00001-e1", "BTC-USDT", "deadline"))
    assert report.status is OrderStatus.FILLED and report.client_order_id == "t00001-e1"
    fake.on("GET", ORDER, lambda _r, _p: fail(109421, "order does not exist"))
    missing = await v.query(QueryOrder("t00002-e1", "BTC-USDT", "deadline"))
    assert missing.status is OrderStatus.NOT_FOUND


@pytest.mark.parametrize("body", ['{"success":true}', "[]", "null", '{"data":{"orderId":1}}'])
async def test_f16_place_answered_without_an_envelope_code_is_unknown_not_rejected(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink], body: str
) -> None:
    """HTTP 200 whose body is JSON but not BingX's envelope (a proxy's page, a changed shape):
    the venue may have placed the order, so it is not booked as refused; the kernel queries."""
    v, sink = venue
    fake.on("POST", ORDER, lambda _r, _p: web.Response(text=body, content_type="application/json"))
    with pytest.raises(UnknownOutcomeError) as caught:
        await v.place(place())
    assert caught.value.code == "BAD_REPLY"
    assert not sink.of(OrderRejected)
    assert fake.counts[f"POST {ORDER}"] == 1  # never sent again blindly


async def test_e1_quote_comes_from_the_market_stream_cache(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]
) -> None:
    v, _ = venue
    fake.reply("GET", "/openApi/swap/v2/quote/premiumIndex",
               {"symbol": "BTC-USDT", "markPrice": "100.2", "lastFundingRate": "0.0001"})
    task = asyncio.create_task(v.quote("BTC-USDT"))
    await asyncio.sleep(0.1)
    await fake.push({"code": 0, "dataType": "BTC-USDT@bookTicker", "data": {
        "e": "bookTicker", "E": 5, "s": "BTC-USDT", "b": "100.1", "B": "1", "a": "100.3",
        "A": "2"}})
    q = await asyncio.wait_for(task, 2)
    assert (q.bid, q.ask, q.mark, q.funding_rate) == (D("100.1"), D("100.3"), D("100.2"),
                                                      D("0.0001"))
    before = sum(v.calls.values())
    for _ in range(5):
        await v.quote("BTC-USDT")
    assert sum(v.calls.values()) == before  # an idle cycle makes zero REST calls
    assert fake.pongs >= 1  # Ping answered with Pong


async def test_e1_a_book_from_before_the_market_stream_dropped_is_never_served(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]
) -> None:
    v, _ = venue
    fake.reply("GET", "/openApi/swap/v2/quote/premiumIndex",
               {"symbol": "BTC-USDT", "markPrice": "100.2", "lastFundingRate": "0.0001"})

    def ticker(bid: str, ask: str, ts: int) -> dict[str, object]:
        return {"code": 0, "dataType": "BTC-USDT@bookTicker", "data": {
            "e": "bookTicker", "E": ts, "s": "BTC-USDT", "b": bid, "B": "1", "a": ask, "A": "2"}}

    task = asyncio.create_task(v.quote("BTC-USDT"))
    await asyncio.sleep(0.1)
    await fake.push(ticker("100.1", "100.3", 5))
    assert (await asyncio.wait_for(task, 2)).bid == D("100.1")
    connects = v.market._socket.connects
    for ws in list(fake.sockets):
        await ws.close()  # the venue drops the streams; the price moves meanwhile
    while v.market._socket.connects == connects:  # reconnected and subscribed again ...
        await asyncio.sleep(0.01)
    with pytest.raises(VenueError) as caught:
        await v.market.quote("BTC-USDT", wait_s=0.05)  # ... but no new ticker yet
    assert caught.value.code == "NO_QUOTE"
    task = asyncio.create_task(v.quote("BTC-USDT"))
    await asyncio.sleep(0.1)
    await fake.push(ticker("90.1", "90.3", 9))
    q = await asyncio.wait_for(task, 2)
    assert (q.bid, q.ask) == (D("90.1"), D("90.3"))


@pytest.mark.parametrize(
    ("field", "value"),
    [("E", "²"), ("ap", "9E+999999")],  # a digit int() refuses; a price whose notional overflows
)
async def test_a_push_the_parser_chokes_on_leaves_the_stream_reading(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink], field: str, value: str
) -> None:
    """A push with a value no reader foresaw is dropped (and logged); the stream reads on, so the
    next push's fill is delivered and no reconnect is needed."""
    v, sink = venue
    fake.reply("POST", ORDER, {"order": {"orderId": VID, "clientOrderId": "t00001-e1"}})
    await v.place(place("t00001-e1", OrderType.LIMIT))
    bad = push("TRADE", "PARTIALLY_FILLED", "100", "100")
    (bad if field == "E" else bad["o"])[field] = value
    await fake.push(bad)
    await fake.push(push("TRADE", "PARTIALLY_FILLED", "0.004", "100"))
    (fill,) = await sink.wait_for(OrderFilled)
    assert fill.cum_qty == D("0.004")
    assert v.stream_connected and v.stream.connects == 1


async def test_e12_an_unreadable_push_of_a_known_order_is_resolved_by_a_query_at_once(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]
) -> None:
    """A fill push PINK cannot read (here a status it does not know) is not lost until the
    kernel's next check of the order (a minute for a resting one): the order is queried now."""
    v, sink = venue
    fake.reply("POST", ORDER, {"order": {"orderId": VID, "clientOrderId": "t00001-e1"}})
    await v.place(place("t00001-e1", OrderType.LIMIT))
    fake.reply("GET", ORDER, {"order": order_obj("PARTIALLY_FILLED", "0.004", "100")})
    unreadable = push("TRADE", "TRIGGERED", "0.004", "100")
    unreadable["o"]["c"] = ""  # named by BingX's id only: the adapter knows it from the ack
    await fake.push(unreadable)
    (report,) = await sink.wait_for(OrderStatusReport)
    assert (report.client_order_id, report.cum_qty, report.avg_price) == ("t00001-e1", D("0.004"), D("100"))


async def test_e9_a_cancel_reply_showing_the_order_filled_is_not_a_cancel(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]
) -> None:
    """A cancel answered with code 0 but the order object FILLED (it filled as the cancel came):
    the kernel is told it filled, never that it was cancelled."""
    v, sink = venue
    fake.reply("DELETE", ORDER, {"order": order_obj("FILLED", "0.01", "100")})
    await v.cancel(CancelOrder("t00001-e1", "BTC-USDT", str(VID)))
    assert not sink.of(OrderCanceled)
    assert sink.of(OrderStatusReport)[0].status is OrderStatus.FILLED  # (the reply is the order: no query)
    assert sink.of(OrderStatusReport)[0].cum_qty == D("0.01")  # (its fills: the kernel books the report's gap)
    (rejected,) = sink.of(CancelRejected)
    assert rejected.code == "ORDER_ALREADY_FILLED" and rejected.still_open is False


async def test_the_adapters_memory_of_delivered_orders_is_bounded_over_a_long_run(fake: FakeBingx) -> None:
    """Each delivered fill, its fee and its venue id were kept for ever: memory grew with every
    order of a run that lasts weeks. Only the most recent ones are kept; the newest still
    de-duplicate."""
    v = BingxVenue(fake.config(), fill_watch_s=0.2, remember=20)
    sink = Sink()
    await v.start(sink)
    try:
        await asyncio.wait_for(v.stream.connected.wait(), 2)
        for n in range(60):
            order = push("TRADE", "FILLED", "0.01", "100")
            order["o"].update({"i": VID + n, "c": f"t{n:05d}-e1", "T": 1700000000000 + n})
            await fake.push(order)
        fills = await sink.wait_for(OrderFilled, 60)
        await fake.push(order)  # the last one again: still known, dropped
        await asyncio.sleep(0.05)
        assert len(sink.of(OrderFilled)) == len(fills) == 60
        assert len(v._delivered) <= 20 and len(v._fees) <= 20 and len(v._by_venue_id) <= 20
    finally:
        await v.close()


async def test_f21_calls_in_flight_when_the_adapter_closes_end_quietly_in_the_executor(
    fake: FakeBingx, caplog: pytest.LogCaptureFixture
) -> None:
    """The adapter is closed (by its owner, before the runtime) while the executor's query backs
    off after a 500, and a place comes after: both end in ClosedError, which is not a VenueError.
    The executor must take them as calls the close cut short (the restart reconcile settles
    them), not as crashes logged with a traceback as if PINK had a bug."""
    v = BingxVenue(fake.config(rate_limit_backoff_s=5.0), fill_watch_s=0.2)
    sink = Sink()
    await v.start(sink)
    asked = asyncio.Event()

    def busy(_r: web.Request, _p: dict[str, str]) -> web.Response:
        asked.set()
        return web.Response(status=500)

    fake.on("GET", ORDER, busy)
    executor = EffectExecutor(v, sink, WallClock())
    executor.submit([QueryOrder("t00001-e1", "BTC-USDT", "deadline")])
    await asyncio.wait_for(asked.wait(), 2)
    await v.close()  # the query waits 0.5 s before asking again: it meets a closed client
    executor.submit([place("t00002-e1")])
    await asyncio.wait_for(executor.wait_idle(), 5)
    assert executor.stats["crashed"] == 0
    assert executor.stats["query_failed"] == 1 and executor.stats["place_unknown"] == 1
    assert not sink.events  # nothing made up: the order is not said refused
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert "closed" in caplog.text


async def test_funding_in_another_asset_than_the_accounts_is_named_not_booked_as_its_money(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink], caplog: pytest.LogCaptureFixture
) -> None:
    """BingX keeps a margin asset per contract family (USDT, USDC) in one futures account, and its
    income lists the rows of both. A FUNDING_FEE row carries no asset to the kernel, so a USDC
    contract's funding was booked as USDT capital (a transfer in USDC is flagged by the kernel).
    It is named once and counted instead; the account's own funding is booked as before."""
    v, _ = venue
    row = {"incomeType": "FUNDING_FEE", "info": "Funding Fee", "tradeId": "x"}
    fake.reply("GET", "/openApi/swap/v2/user/income", [  # newest first, as BingX lists them
        dict(row, symbol="ETH-USDT", income="0.5", asset="", tranId="plain-1", time=1769241662000),  # the account's
        dict(row, symbol="BTC-USDT", income="-0.25", asset="USDT", tranId="usdt-1", time=1769241661000),
        dict(row, symbol="BTC-USDC", income="-1.5", asset="USDC", tranId="usdc-1", time=1769241660000),
    ])
    moved = await v.money_since(0)
    assert [(f.funding_id, f.amount) for f in moved.funding] == [("usdt-1", D("-0.25")), ("plain-1", D("0.5"))]
    named = [r.getMessage() for r in caplog.records if "usdc-1" in r.getMessage()]
    assert len(named) == 1 and "USDC" in named[0] and "-1.5" in named[0], named
    assert v.unbooked_income == {"FUNDING_FEE (USDC)": 1}
    caplog.clear()
    await v.money_since(0)  # read again: named once
    assert not [r for r in caplog.records if "usdc-1" in r.getMessage()]


async def test_a_funding_row_of_zero_moves_nothing_and_is_not_sent_to_the_kernel(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink], caplog: pytest.LogCaptureFixture
) -> None:
    """A funding payment that rounds to 0 moves no money; the kernel refuses an amount of 0 as a
    protocol error and keeps no id of it, so each reconcile (which reads a look-back too) raised
    the same error again, for ever."""
    v, _ = venue
    row = {"incomeType": "FUNDING_FEE", "info": "Funding Fee", "tradeId": "x", "asset": "USDT"}
    fake.reply("GET", "/openApi/swap/v2/user/income", [
        dict(row, symbol="BTC-USDT", income="0.00000000", tranId="zero-1", time=1769241661000),
        dict(row, symbol="BTC-USDT", income="-0.25", tranId="paid-1", time=1769241660000),
    ])
    moved = await v.money_since(0)
    assert [(f.funding_id, f.amount) for f in moved.funding] == [("paid-1", D("-0.25"))]
    assert not [r for r in caplog.records if "zero-1" in r.getMessage()]

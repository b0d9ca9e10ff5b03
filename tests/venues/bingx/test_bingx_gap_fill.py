"""BingxVenue's gap-fill against the scripted server: it runs beside the stream's pushes; an
unreadable reply is a VenueError."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from aiohttp import web
from bingx_fake import FakeBingx, fail, ok
from test_bingx_venue import ORDER, VID, Sink, order_obj, place, push, venue  # noqa: F401

from pink.errors import VenueError
from pink.kernel.messages import OrderFilled, OrderStatus, OrderStatusReport, OrderType, QueryOrder
from pink.venues.bingx.reports import BALANCE_PATH, FILLS_PATH, INCOME_PATH, OPEN_ORDERS_PATH, POSITIONS_PATH
from pink.venues.bingx.venue import BingxVenue

D = Decimal


async def _reconnect(fake: FakeBingx, v: BingxVenue) -> None:
    connects = v.stream.connects
    for ws in list(fake.sockets):
        await ws.close()  # the venue drops the stream
    while v.stream.connects < connects + 1:
        await asyncio.sleep(0.01)


async def test_a_push_during_the_gap_fill_is_delivered_and_the_older_query_dropped(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]  # noqa: F811 (the fixture)
) -> None:
    """The gap-fill's query was answered before a fill its reply arrives after: the fill is
    delivered at once, and the reply (0 filled) never goes to the kernel behind it."""
    v, sink = venue
    fake.reply("POST", ORDER, {"order": {"orderId": VID, "clientOrderId": "t00001-e1"}})
    await v.place(place("t00001-e1", OrderType.LIMIT))
    asked, answered = asyncio.Event(), asyncio.Event()

    async def late(_r: web.Request, _p: dict[str, str]) -> web.Response:
        asked.set()
        await asyncio.sleep(0.5)
        answered.set()
        return ok({"order": order_obj("PENDING", "0", "0")})

    fake.on("GET", ORDER, late)
    await _reconnect(fake, v)
    await asyncio.wait_for(asked.wait(), 2)
    await fake.push(push("TRADE", "PARTIALLY_FILLED", "0.004", "100"))
    (fill,) = await sink.wait_for(OrderFilled)
    assert not answered.is_set()  # delivered while the gap-fill's query is on its way
    await asyncio.sleep(0.7)
    assert fill.cum_qty == D("0.004")
    assert [r.cum_qty for r in sink.of(OrderStatusReport)] == []  # older than the fill: dropped


@pytest.mark.parametrize(
    ("path", "garbled", "read"),
    [
        (OPEN_ORDERS_PATH, {"orders": [{"orderId": "x"}]}, lambda v: v.open_orders()),
        (FILLS_PATH, {"fill_orders": [{"orderId": 1}]}, lambda v: v.fills_since(0)),
        (INCOME_PATH, [{"tranId": "t", "income": "not a number"}], lambda v: v.funding_since(0)),
        (INCOME_PATH, [{"income": "1"}], lambda v: v.transfers_since(0)),
        (POSITIONS_PATH, [{"symbol": "BTC-USDT", "positionAmt": "many"}], lambda v: v.positions()),
        (BALANCE_PATH, {"balance": "none"}, lambda v: v.balance()),
    ],
)
async def test_every_unreadable_report_is_a_venue_error_the_reconcile_handles(
    fake: FakeBingx,
    venue: tuple[BingxVenue, Sink],  # noqa: F811 (the fixture)
    path: str,
    garbled: object,
    read: Callable[[BingxVenue], Awaitable[object]],
) -> None:
    """The runtime's reconcile handles VenueError: a reply it cannot read must be one (BAD_REPLY),
    not a parse error that would end the read's task."""
    v, _ = venue
    fake.reply("GET", path, garbled)
    with pytest.raises(VenueError) as caught:
        await read(v)
    assert caught.value.code == "BAD_REPLY"


async def test_e12_a_gap_fill_not_found_while_the_place_is_on_its_way_does_not_drop_the_order(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]  # noqa: F811 (the fixture)
) -> None:
    """The stream reconnects while a MARKET order's place request is still on its way: the
    gap-fill's query finds no such order yet. The order must stay watched: when the ack comes,
    its fill watch still asks and the fill the stream missed is delivered; the early "not found"
    (no news about an order the venue has not seen yet) is not handed to the kernel."""
    v, sink = venue
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow_place(_r: web.Request, _p: dict[str, str]) -> web.Response:
        arrived.set()
        await release.wait()
        return ok({"order": {"orderId": VID, "clientOrderId": "t00001-e1"}})

    fake.on("POST", ORDER, slow_place)
    fake.on("GET", ORDER, lambda _r, _p: fail(80016, "order not exist"))
    placing = asyncio.create_task(v.place(place("t00001-e1", OrderType.MARKET)))
    await asyncio.wait_for(arrived.wait(), 2)
    await _reconnect(fake, v)
    while fake.counts[f"GET {ORDER}"] < 1:  # the gap-fill asked, and heard "not found"
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    fake.reply("GET", ORDER, {"order": order_obj("FILLED", "0.01", "100.5")})
    release.set()
    await placing
    (report,) = await sink.wait_for(OrderStatusReport)  # the fill watch asked after the ack
    assert (report.status, report.cum_qty, report.avg_price) == (OrderStatus.FILLED, D("0.01"), D("100.5"))


async def test_a_reconnect_checks_the_listen_key_and_replaces_one_that_expired(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]  # noqa: F811 (the fixture)
) -> None:
    """The stream drops after its listen key expired (the keep-alive is half an hour away): the
    reconnect must not open a stream on the dead key, which stays quiet (every push lost) until
    that keep-alive fails. The key is extended first; told it is gone (404), a new one is made."""
    v, _ = venue
    (old,) = fake.listen_keys
    await _reconnect(fake, v)
    assert fake.ws_keys == [old, old]  # a live key is kept ...
    assert fake.counts["PUT /openApi/user/auth/userDataStream"] >= 1  # ... once checked
    fake.expired_keys.add(old)
    await _reconnect(fake, v)
    assert len(fake.listen_keys) == 2 and fake.ws_keys[-1] == fake.listen_keys[1] != old
    assert v.stream.listen_key == fake.listen_keys[1]


async def test_e10_fill_rows_numbered_across_a_fill_the_stream_delivered_are_not_handed_over(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]  # noqa: F811 (the fixture)
) -> None:
    """The stream delivered the order's first fill (0.004 at 100); its report counts 0.01 at
    100.6. ``allFillOrders`` stamps rows to the second and has no trade id: rows of one second
    listed in another order than they filled are numbered otherwise than the stream numbered
    them. Such a read is not handed over (here a fill of 0.006 "up to 0.006" would book 0.006
    again on top of the delivered 0.004): the rest is the report's, said in a warning."""
    v, sink = venue
    fake.reply("POST", ORDER, {"order": {"orderId": VID, "clientOrderId": "t00001-e1"}})
    await v.place(place("t00001-e1", OrderType.LIMIT))
    await fake.push(push("TRADE", "PARTIALLY_FILLED", "0.004", "100"))
    await sink.wait_for(OrderFilled)
    fake.reply("GET", ORDER, {"order": order_obj("FILLED", "0.01", "100.6")})
    row = {"symbol": "BTC-USDT", "orderId": str(VID), "clientOrderID": "t00001-e1", "commission": "-0.0003",
           "currency": "USDT", "filledTime": "2023-11-14T22:13:21.000+0800"}
    fake.reply("GET", FILLS_PATH, {"fill_orders": [dict(row, volume="0.006", price="101"),
                                                   dict(row, volume="0.004", price="100")]})
    await v.query(QueryOrder("t00001-e1", "BTC-USDT", "test"))
    assert [(f.cum_qty, f.last_qty) for f in sink.of(OrderFilled)] == [(D("0.004"), D("0.004"))]
    assert v.tracker.cum_qty(str(VID)) == D("0.01")  # the report's: the kernel books it as its gap

"""BingxVenue's gap-fill against the scripted server: it runs beside the stream's pushes."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from aiohttp import web
from bingx_fake import FakeBingx, ok
from test_bingx_venue import ORDER, VID, Sink, order_obj, place, push, venue  # noqa: F401

from pink.kernel.messages import OrderFilled, OrderStatusReport, OrderType
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

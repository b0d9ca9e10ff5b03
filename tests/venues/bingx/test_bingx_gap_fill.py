"""BingxVenue's gap-fill against the scripted server: it runs beside the stream's pushes; an
unreadable reply is a VenueError."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from aiohttp import web
from bingx_fake import FakeBingx, ok
from test_bingx_venue import ORDER, VID, Sink, order_obj, place, push, venue  # noqa: F401

from pink.errors import VenueError
from pink.kernel.messages import OrderFilled, OrderStatusReport, OrderType
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

"""FillTracker and the adapter on pushes whose cumulative fill cannot be believed as sent."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from bingx_fake import FakeBingx
from test_bingx_venue import ORDER, VID, Sink, order_obj, place, push, venue  # noqa: F401

from pink.kernel.messages import OrderCanceled, OrderExpired, OrderFilled, OrderStatusReport, OrderType
from pink.venues.bingx.parse import FillTracker, OrderUpdate, parse_user_frame
from pink.venues.bingx.venue import BingxVenue

D = Decimal


def _update(order_id: int, status: str, z: str, ap: str = "100") -> OrderUpdate:
    frame: dict[str, Any] = push("TRADE", status, z, ap)
    frame["o"]["i"], frame["o"]["c"] = order_id, f"t{order_id:05d}-e1"
    up = parse_user_frame(frame)
    assert isinstance(up, OrderUpdate)
    return up


def test_a_live_order_is_never_forgotten_for_finished_ones() -> None:
    """Past ``max_orders`` the finished orders go, never a live one: forgotten, its next push
    would count its fills from 0 and book them again."""
    tracker = FillTracker(max_orders=2)
    tracker.apply(_update(1, "PARTIALLY_FILLED", "0.004"))  # live, the oldest
    for order_id in (2, 3, 4):
        tracker.apply(_update(order_id, "FILLED", "0.01"))
    events, _ = tracker.apply(_update(1, "PARTIALLY_FILLED", "0.006"))
    (fill,) = [e for e in events if isinstance(e, OrderFilled)]
    assert (fill.last_qty, fill.cum_qty) == (D("0.002"), D("0.006"))
    assert tracker.cum_qty("2") == 0 and tracker.cum_qty("4") == D("0.01")  # the oldest finished went


def test_a_terminal_push_behind_the_delivered_fills_asks_instead_of_ending_lower() -> None:
    tracker = FillTracker()
    tracker.apply(_update(1, "PARTIALLY_FILLED", "0.004"))
    for status in ("CANCELED", "EXPIRED"):
        events, needs_query = tracker.apply(_update(1, status, "0"))  # BingX has sent z "0.00000000"
        assert needs_query and not [e for e in events if isinstance(e, OrderCanceled | OrderExpired)]


async def test_a_cancel_push_with_z_zero_after_a_fill_is_settled_by_a_query(
    fake: FakeBingx, venue: tuple[BingxVenue, Sink]  # noqa: F811 (the fixture)
) -> None:
    v, sink = venue
    fake.reply("POST", ORDER, {"order": {"orderId": VID, "clientOrderId": "t00001-e1"}})
    fake.reply("GET", ORDER, {"order": order_obj("CANCELLED", "0.004", "100")})
    await v.place(place("t00001-e1", OrderType.LIMIT))
    await fake.push(push("TRADE", "PARTIALLY_FILLED", "0.004", "100"))
    await sink.wait_for(OrderFilled)
    await fake.push(push("CANCELED", "CANCELED", "0.00000000", "0"))
    await sink.wait_for(OrderStatusReport)
    await asyncio.sleep(0.05)
    assert [c.cum_qty for c in sink.of(OrderCanceled)] == [D("0.004")]  # never 0 below the fill


def test_e10_a_push_is_priced_from_the_exact_cost_of_the_fills_read_not_from_a_reports_average() -> None:
    """Seeded with a query's report (its average rounded by BingX), the next push's fill is not
    priced from it (the kernel trues the report's gap up from the real fills: the rounding would
    be taken twice): it is asked for. Seeded with the fill rows' exact cost, it is priced."""
    tracker = FillTracker()
    tracker.seed("1", D("0.004"), D("100.3") * D("0.004"), approx=True)  # rounded from 100.25
    events, needs_query = tracker.apply(_update(1, "PARTIALLY_FILLED", "0.006", "100.3"))
    assert needs_query and not [e for e in events if isinstance(e, OrderFilled)]
    tracker.seed("1", D("0.005"), D("0.004") * D("100.25") + D("0.001") * D("100.5"))  # the rows read
    events, needs_query = tracker.apply(_update(1, "PARTIALLY_FILLED", "0.006", "100.35"))
    (fill,) = [e for e in events if isinstance(e, OrderFilled)]
    assert not needs_query and (fill.last_qty, fill.last_price) == (D("0.001"), D("100.6"))

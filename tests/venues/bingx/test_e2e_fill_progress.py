"""End to end: a fill rebuilt from ``allFillOrders`` rows gets the id the stream gives it.

Its id is ``<orderId>:<cum qty>``, and its cum qty counts the order's fills from the order's
start. The order record's ``executedQty`` may already count a fill the window does not list
(one made after the window's end, or one the fill list has not caught up with): taking the
progress before the window from it would shift every id, and the kernel would quarantine the
stream's fills as overlapping (a DESYNC slot until a query).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from pink.errors import VenueError
from pink.venues.bingx.parse import fill_id
from pink.venues.bingx.reports import FILLS_PATH
from tests.venues.bingx.e2e_kit import ORDER, SYMBOL, Stack, stack, until

D = Decimal
S = 1_000_000_000


async def _rest(st: Stack) -> Any:
    """A resting LIMIT entry of 0.010 on slot 0: the server's order."""
    p = st.pump
    await p.submit(st.enter("t1", "0.010", price=await st.far_bid()))
    await until(lambda: p.slot() == "ENTRY_WORKING", "resting")
    await p.drain()
    return st.engine.order(client_order_id=p.kernel.slot_view(0).working_order)


def _fill(st: Stack, order: Any, qty: str, *, ahead_s: int = 0, heard: bool = True) -> Any:
    """Fill ``qty`` of ``order`` with the server's clock ``ahead_s`` further ahead of the
    adapter's (a fill after the window's end); pushed only when ``heard``."""
    state, engine = st.server.state, st.engine
    state.advance(D(ahead_s))
    fill = engine._fill(order, D(qty), order.price, True, engine.now)
    if heard:
        state.publish([fill], state.now_ns())
    return fill


def _stream_ids_booked_once(st: Stack, filled: str) -> None:
    p = st.pump
    assert p.slot() != "DESYNC", p.kernel.slot_view(0)
    assert p.kernel.slot_view(0).entry_qty == D(filled)
    st.check_against_venue()


async def test_a_window_fill_keeps_its_id_when_the_order_already_counts_a_later_fill() -> None:
    """The reviewer's case: the order was placed in the window, its first fill is listed, its
    second (after the window's end) is not, while its ``executedQty`` counts both."""
    async with stack() as st:
        p = st.pump
        since = time.time_ns()
        order = await _rest(st)
        first = _fill(st, order, "0.003", heard=False)
        second = _fill(st, order, "0.002", ahead_s=10, heard=False)
        calls = st.server.request_counts[FILLS_PATH]
        fills = await st.venue.fills_since(since, [order.client_order_id])
        assert [(f.fill_id, f.last_qty) for f in fills] == [(fill_id(order.venue_order_id, D("0.003")), D("0.003"))]
        assert st.server.request_counts[FILLS_PATH] - calls == 1  # placed in the window: its rows start it
        for f in fills:
            p.sink(f)
        st.server.state.publish([first, second], st.server.state.now_ns())  # the stream catches up
        await until(lambda: p.kernel.slot_view(0).entry_qty == D("0.005"), "second fill")
        _stream_ids_booked_once(st, "0.005")


async def test_a_window_fill_of_an_older_order_counts_its_progress_from_the_order_start() -> None:
    """The order filled before the window (heard), then in it (unheard), then after its end:
    the progress before the window comes from the order's own rows, not its ``executedQty``."""
    async with stack() as st:
        p = st.pump
        order = await _rest(st)
        _fill(st, order, "0.003")
        await until(lambda: p.kernel.slot_view(0).entry_qty == D("0.003"), "first fill")
        second = _fill(st, order, "0.002", ahead_s=2, heard=False)
        third = _fill(st, order, "0.001", ahead_s=10, heard=False)
        calls = st.server.request_counts[FILLS_PATH]
        fills = await st.venue.fills_since(second.ts, [order.client_order_id])
        assert [(f.fill_id, f.last_qty) for f in fills] == [(fill_id(order.venue_order_id, D("0.005")), D("0.002"))]
        assert st.server.request_counts[FILLS_PATH] - calls == 2  # the window, then the order's own rows
        for f in fills:
            p.sink(f)
        st.server.state.publish([second, third], st.server.state.now_ns())
        await until(lambda: p.kernel.slot_view(0).entry_qty == D("0.006"), "third fill")
        _stream_ids_booked_once(st, "0.006")


async def _hand_rest(st: Stack, qty: str) -> Any:
    """A resting LIMIT SELL placed on BingX by hand (no client id), far above the market."""
    far = (st.engine.quote(SYMBOL).ask * 2).quantize(D("0.1"))
    data = await st.venue.http.request("POST", ORDER, {
        "symbol": SYMBOL, "side": "SELL", "positionSide": "BOTH", "type": "LIMIT", "price": str(far),
        "quantity": qty}, mutating=True)  # fmt: skip
    order = st.engine.order(venue_order_id=str(data["order"]["orderId"]))
    assert order is not None and order.live
    return order


async def _closed_by_hand_twice(st: Stack) -> tuple[Any, Any]:
    """A trade of 0.010, then a close of 0.005 by hand filled in two parts, the second 2 s later;
    both heard from the stream: (the hand order, its second fill)."""
    p = st.pump
    await p.submit(st.enter("t1", "0.010"))
    await until(lambda: p.slot() == "POSITION_OPEN", "entered")
    hand = await _hand_rest(st, "0.005")
    _fill(st, hand, "0.003")
    second = _fill(st, hand, "0.002", ahead_s=2)
    trade = p.kernel.slots[0].trade
    await until(lambda: trade is not None and trade.remaining == D("0.005"), "both closes heard")
    return hand, second


async def test_e13_a_window_fill_of_an_older_hand_order_is_not_booked_again_when_the_order_cannot_be_read() -> None:
    """A close made by hand before the window and in it, both heard from the stream: the
    reconcile's look for closes made outside PINK lists the second fill, and the order query for
    its progress fails. Counted from the window's start, its id was ``<orderId>:0.002``, not the
    stream's ``<orderId>:0.005``, and the kernel (which knows such a fill by its id only) booked
    it again. Now the read fails (the next reconcile reads it again)."""
    async with stack() as st:
        p = st.pump
        hand, second = await _closed_by_hand_twice(st)
        st.server.faults.update("query_garbled=1")  # every order query unreadable
        try:
            fills = await st.venue.fills_since(second.ts, (), outside=True, symbols=[SYMBOL])
        except VenueError as exc:
            fills, failed = [], exc
        else:
            failed = None
        for f in fills:
            p.sink(f)
        assert p.kernel.slots[0].trade is not None and p.kernel.slots[0].trade.remaining == D("0.005")
        st.check_against_venue()
        assert failed is not None and hand.venue_order_id in str(failed)
        st.server.faults.update("query_garbled=0")  # the next reconcile: the same fill, the stream's id
        fills = await st.venue.fills_since(second.ts, (), outside=True, symbols=[SYMBOL])
        assert [f.fill_id for f in fills] == [fill_id(hand.venue_order_id, D("0.005"))]


async def test_e13_a_window_fill_of_an_older_order_bingx_no_longer_knows_counts_from_the_orders_id_time() -> None:
    """BingX answers the order query "order not exist" while it still lists the order's fills:
    its progress before the window is counted from its own rows since the time its id carries,
    so the fill keeps the stream's id and is not booked again."""
    async with stack() as st:
        p = st.pump
        hand, second = await _closed_by_hand_twice(st)
        st.server.faults.update("query_not_found=1")
        fills = await st.venue.fills_since(second.ts, (), outside=True, symbols=[SYMBOL])
        assert [(f.fill_id, f.last_qty) for f in fills] == [(fill_id(hand.venue_order_id, D("0.005")), D("0.002"))]
        for f in fills:
            p.sink(f)
        assert p.kernel.slots[0].trade is not None and p.kernel.slots[0].trade.remaining == D("0.005")
        st.check_against_venue()

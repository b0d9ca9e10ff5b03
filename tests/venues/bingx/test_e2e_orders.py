"""End to end: a real Kernel, the real BingX adapter, the real simulator server (loopback).

Orders: resting LIMIT, cancel, partial-then-full and asynchronous fills (E25),
lost replies (F16), 5xx and slow replies, acks without a price (E12), cancel
of a filled order (E17/F17), leverage once and its own error (E15/F18).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from pink.errors import LeverageError, UnknownOutcomeError
from pink.kernel.messages import (
    CancelRejected,
    EnsureLeverage,
    OrderFilled,
    OrderRejected,
    OrderStatus,
    QueryOrder,
    Reason,
    Side,
)
from pink.venues.bingx.leverage import LEVERAGE_PATH
from tests.venues.bingx.e2e_kit import ORDER, SYMBOL, fill_part, stack, until

D = Decimal


async def test_e25_resting_limit_cancel_partial_then_full_and_async_fills() -> None:
    async with stack() as st:
        p = st.pump
        # 1. a resting LIMIT, listed by the venue, then cancelled
        price = await st.far_bid()
        await p.submit(st.enter("t1", "0.010", price=price))
        await until(lambda: p.slot() == "ENTRY_WORKING", "entry acknowledged and resting")
        (cid,) = [o.client_order_id for o in p.kernel.working_orders()]
        listed = {r.client_order_id: r for r in await st.venue.open_orders()}
        assert listed[cid].status is OrderStatus.NEW and listed[cid].cum_qty == 0
        await p.submit(st.cancel("t1"))
        await until(lambda: p.slot() == "IDLE", "cancel confirmed")
        (order,) = st.engine_orders(cid)
        assert order.status is OrderStatus.CANCELED and order.cum_qty == 0
        assert p.booked() == []

        # 2. partial then full fills, delivered asynchronously on the stream
        await p.submit(st.enter("t2", "0.010", price=price))
        await until(lambda: p.slot() == "ENTRY_WORKING", "second entry resting")
        (cid,) = [o.client_order_id for o in p.kernel.working_orders()]
        rest_before = sum(st.venue.calls.values())
        fill_part(st.server, cid, D("0.004"))  # the venue fills on its own: no call from us
        await until(lambda: p.kernel.slot_view(0).entry_qty == D("0.004"), "partial fill booked")
        assert p.slot() == "ENTRY_WORKING"
        fill_part(st.server, cid, D("0.003"))
        await until(lambda: p.kernel.slot_view(0).entry_qty == D("0.007"), "second partial")
        fill_part(st.server, cid, D("0.003"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entry fully filled")
        assert sum(st.venue.calls.values()) == rest_before  # fills came from the stream
        view = p.kernel.slot_view(0)
        assert view.entry_qty == D("0.010") and view.entry_vwap == price
        assert [f.last_qty for f in p.booked()] == [D("0.004"), D("0.003"), D("0.003")]

        # 3. exit with a MARKET order: back to IDLE, money exact
        await p.submit(st.exit("t2", close_all=True))
        await until(lambda: p.slot() == "IDLE", "trade closed")
        st.check_against_venue()
        assert st.posts() == 3


async def test_f16_submit_without_reply_is_resolved_by_query() -> None:
    # the reply is lost (504 after the order was placed) and so are its stream frames
    async with stack(faults="order504=#1,stream_loss=#3") as st:
        p = st.pump
        out = await p.submit(st.enter("t1", "0.002"))
        assert [type(e) for e in p.errors] == [UnknownOutcomeError]  # the adapter raised
        (cid,) = [e.client_order_id for e in out.effects if hasattr(e, "order_type")]
        (placed,) = st.engine_orders(cid)  # ... although the venue did place it
        assert placed.status is OrderStatus.FILLED
        assert p.slot() == "ENTRY_PENDING" and p.booked() == []
        queried = await p.tick(advance_s=30)  # past the ack deadline
        assert [type(e).__name__ for e in queried.effects] == ["QueryOrder"]
        await p.drain()
        assert p.slot() == "POSITION_OPEN"  # resolved by the venue's answer
        assert st.posts() == 1 and len(st.engine_orders(cid)) == 1  # never placed twice
        assert st.server.request_calls[f"GET {ORDER}"] == 1
        assert [f.last_qty for f in p.booked()] == [placed.quantity]
        assert p.booked()[0].last_price == placed.avg_price
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "closed")
        st.check_against_venue()


async def test_f16_lost_reply_and_dropped_stream_gap_filled_once() -> None:
    # the 504 and a dropped socket: the reconnect gap-fill and the kernel's query agree
    async with stack(faults="order504=#1") as st:
        p = st.pump
        st.server.faults.update("ws_drop=#1")
        await p.submit(st.enter("t1", "0.002"))
        await p.tick(advance_s=30)
        await p.drain()
        await until(lambda: p.slot() == "POSITION_OPEN", "resolved")
        assert st.posts() == 1
        st.check_against_venue()


async def test_f16_order_answered_rpc_timeout_is_unknown_not_refused() -> None:
    # HTTP 200 with code 101500 "RPC timeout" after the venue placed the order, and its
    # frames lost: it must not be booked as refused (its fills would then be quarantined)
    async with stack(faults="order_busy=#1,stream_loss=#3") as st:
        p = st.pump
        out = await p.submit(st.enter("t1", "0.002"))
        assert [(type(e), e.code) for e in p.errors] == [(UnknownOutcomeError, "101500")]
        (cid,) = [e.client_order_id for e in out.effects if hasattr(e, "order_type")]
        (placed,) = st.engine_orders(cid)
        assert placed.status is OrderStatus.FILLED
        assert not [e for e in p.events if isinstance(e, OrderRejected)]
        await p.tick(advance_s=30)  # past the ack deadline: queried by client order id
        await p.drain()
        await until(lambda: p.slot() == "POSITION_OPEN", "resolved by the venue's answer")
        assert [f.last_qty for f in p.booked()] == [placed.quantity] and st.posts() == 1
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "closed")
        st.check_against_venue()


async def test_f16_cancel_answered_service_error_is_resolved_by_query() -> None:
    # the venue cancels, answers 80001 "service has some errors" and its frame is lost
    async with stack() as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.005", price=await st.far_bid()))
        await until(lambda: p.slot() == "ENTRY_WORKING", "resting entry")
        st.server.faults.update("cancel_busy=#1,stream_loss=#1")
        await p.submit(st.cancel("t1"))
        await p.drain()
        await until(lambda: p.slot() == "IDLE", "the query says canceled")
        assert not [e for e in p.events if isinstance(e, CancelRejected)]
        assert p.booked() == []
        st.check_against_venue()


async def test_a_host_clock_step_is_met_by_reading_the_servers_clock_again() -> None:
    # the host clock steps 60 s (an NTP correction) after start: every signed call is refused
    # 100421 with the old offset; one new reading of the server's clock and the call goes through
    async with stack() as st:
        p = st.pump
        st.venue.http.clock.offset_ms -= 60_000
        assert (await st.venue.balance()).balance > 0
        assert st.server.request_counts["/openApi/swap/v2/server/time"] == 2  # start, then once more
        st.venue.http.clock.offset_ms += 60_000
        await p.submit(st.enter("t1", "0.002"))  # an order refused 100421 is sent once more
        await until(lambda: p.slot() == "POSITION_OPEN", "entry filled")
        assert p.errors == [] and not [e for e in p.events if isinstance(e, OrderRejected)]
        assert st.server.request_counts["/openApi/swap/v2/server/time"] == 3
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "closed")
        st.check_against_venue()


async def test_f16_http5xx_on_submit_is_unknown_and_query_finds_nothing() -> None:
    async with stack() as st:
        p = st.pump
        await st.venue.ensure_leverage(EnsureLeverage(SYMBOL, Side.LONG, 5))
        st.server.faults.update("http5xx=#1")  # a read is retried ...
        before = st.server.request_counts["/openApi/swap/v3/user/balance"]
        assert (await st.venue.balance()).balance > 0
        assert st.server.request_counts["/openApi/swap/v3/user/balance"] == before + 2
        st.server.faults.update("http5xx=#1")  # ... an order is not: its outcome is unknown
        await p.submit(st.enter("t1", "0.002"))
        assert [type(e) for e in p.errors] == [UnknownOutcomeError]
        assert st.posts() == 1 and st.engine.orders_since(0) == []  # 500 before handling
        for _ in range(3):  # NOT_FOUND is believed at three backed-off deadlines (a stale answer is not)
            await p.tick(advance_s=200)
            await p.drain()
        assert p.slot() == "IDLE"  # the queries said NOT_FOUND: rejected, slot free
        await p.submit(st.enter("t2", "0.002"))
        await until(lambda: p.slot() == "POSITION_OPEN", "a new trade works")
        st.check_against_venue()


async def test_slow_replies_still_complete_a_round_trip() -> None:
    async with stack(faults="slow_ms=150") as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.003"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entry over a slow link")
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "exit over a slow link")
        st.check_against_venue()
        assert st.posts() == 2


async def test_e12_ack_without_avg_price_never_books_a_zero_price_fill() -> None:
    async with stack(faults="ack_no_avg=1", fill_watch_s=0.2) as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.002"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entry")
        # and when the stream frames are lost too, the fill comes from the query
        st.server.faults.update("ws_drop=#1")
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "exit resolved without a stream fill")
        fills = [e for e in p.events if isinstance(e, OrderFilled)]
        assert fills and all(f.last_price > 0 for f in fills)
        assert all(f.last_price > 0 for f in p.booked())
        st.check_against_venue()


async def test_e17_f17_cancel_of_filled_order_is_queried_not_rejected() -> None:
    """Flaws E17, F17."""
    async with stack(faults="cancel_race=#1") as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.005", price=await st.far_bid()))
        await until(lambda: p.slot() == "ENTRY_WORKING", "resting entry")
        await p.submit(st.cancel("t1"))  # the venue fills it just before: "already filled"
        await p.drain()
        await until(lambda: p.slot() == "POSITION_OPEN", "the fill is booked, the trade goes on")
        (rej,) = [e for e in p.events if isinstance(e, CancelRejected)]
        assert rej.code == "ORDER_ALREADY_FILLED" and rej.still_open is False
        reasons = [o.reason for o in p.outcomes]
        assert Reason.VENUE_REJECTED not in reasons
        assert p.kernel.slot_view(0).entry_qty == D("0.005")
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "closed")
        st.check_against_venue()


async def test_e15_f18_leverage_set_once_and_failure_is_its_own_error() -> None:
    """Flaws E15, F18."""
    async with stack() as st:
        p = st.pump
        for n in range(3):
            await p.submit(st.enter(f"t{n}", "0.002", leverage=7))
            await until(lambda: p.slot() == "POSITION_OPEN", "entry")
            await p.submit(st.exit(f"t{n}", close_all=True))
            await until(lambda: p.slot() == "IDLE", "exit")
        assert st.server.request_calls[f"POST {LEVERAGE_PATH}"] == 1  # set once
        assert st.server.request_calls[f"GET {LEVERAGE_PATH}"] == 1  # read once
        assert st.posts() == 6

        # the venue refuses a leverage: LeverageError, the order is never sent
        doge = p.kernel.instruments["DOGE-USDT"]
        p.kernel.instruments["DOGE-USDT"] = replace(doge, max_leverage=125)
        await p.submit(st.enter("t9", "100", symbol="DOGE-USDT", leverage=100))
        (err,) = [e for e in p.errors if isinstance(e, LeverageError)]
        assert err.symbol == "DOGE-USDT" and err.code == "101414" and "leverage" in str(err)
        assert st.posts() == 6  # no order request
        (rej,) = [e for e in p.events if isinstance(e, OrderRejected)]
        assert rej.code == "LEVERAGE_101414"
        assert p.slot() == "IDLE"
        st.check_against_venue()


async def test_query_of_unknown_order_is_not_found() -> None:
    async with stack() as st:
        report = await st.venue.query(QueryOrder("nope-1", SYMBOL, "test"))
        assert report.status is OrderStatus.NOT_FOUND

"""End to end: the gap-fill after a reconnect runs beside the stream, never in front of it.

BingX drops a client that has not answered Ping with Pong for ~15 s (REFERENCE §4.2); the
gap-fill queries every live order, one request each. The server here pings every 0.1 s and
drops after 0.6 s without Pong, and answers REST slowly, so a gap-fill that held up the
reading of frames would cost the connection (again after each reconnect) and delay pushes.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from pink.errors import VenueError
from pink.kernel.messages import CancelOrder, CancelRejected, QueryOrder
from pink.venues.bingx.server_http import USER_STREAMS
from tests.venues.bingx.e2e_kit import ORDER, SYMBOL, Stack, fill_part, stack, until

D = Decimal
QUERY_S = 0.4  # each REST reply is this late
LIVE = 4  # resting orders the gap-fill asks about: 1.6 s in all, well past the Pong deadline


async def _resting(st: Stack, trade_id: str, slot: int) -> str:
    p = st.pump
    await p.submit(st.enter(trade_id, "0.010", price=await st.far_bid(), slot=slot))
    await until(lambda: p.slot(slot) == "ENTRY_WORKING", "entry resting")
    return next(o.client_order_id for o in p.kernel.working_orders() if o.trade_id == trade_id)


async def test_pushes_and_pong_flow_while_the_gap_fill_queries_live_orders() -> None:
    async with stack(slots=LIVE, ping_interval_s=0.1, pong_timeout_s=0.6) as st:
        p = st.pump
        cids = [await _resting(st, f"t{n}", n) for n in range(LIVE)]
        connects = st.venue.stream.connects
        queries = st.server.request_calls[f"GET {ORDER}"]
        st.server.faults.update(f"slow_ms={int(QUERY_S * 1000)}")
        st.server.app[USER_STREAMS].drop_all()
        await until(lambda: st.venue.stream.connects == connects + 1, "reconnected")
        last = LIVE - 1  # the order the gap-fill asks about last
        fill_part(st.server, cids[last], D("0.004"))  # pushed while the gap-fill is asking
        await until(lambda: p.kernel.slot_view(last).entry_qty == D("0.004"), "fill pushed during the gap-fill")
        assert st.server.request_calls[f"GET {ORDER}"] < queries + LIVE  # the gap-fill is not done
        await until(lambda: st.server.request_calls[f"GET {ORDER}"] == queries + LIVE, "gap-fill done")
        await asyncio.sleep(1.0)  # longer than the Pong deadline
        assert st.venue.stream.connects == connects + 1  # Ping was answered throughout
        assert p.kernel.quarantined == 0
        st.server.faults.clear()
        for n in range(LIVE):
            await p.submit(st.cancel(f"t{n}", slot=n))
        await until(lambda: all(p.slot(n) in ("IDLE", "POSITION_OPEN") for n in range(LIVE)), "cancelled")
        st.check_against_venue()


async def test_an_unreadable_query_in_the_gap_fill_leaves_the_stream_and_the_other_orders() -> None:
    async with stack(slots=2) as st:
        p = st.pump
        cids = [await _resting(st, f"t{n}", n) for n in range(2)]
        connects = st.venue.stream.connects
        queries = st.server.request_calls[f"GET {ORDER}"]
        st.server.faults.update("query_garbled=1")  # every order query unreadable
        st.server.app[USER_STREAMS].drop_all()
        await until(lambda: st.server.request_calls[f"GET {ORDER}"] >= queries + 2, "both orders asked")
        fill_part(st.server, cids[1], D("0.004"))
        await until(lambda: p.kernel.slot_view(1).entry_qty == D("0.004"), "the stream still delivers")
        await asyncio.sleep(0.3)
        assert st.venue.stream.connects == connects + 1
        st.server.faults.clear()
        for n in range(2):
            await p.submit(st.cancel(f"t{n}", slot=n))
        await until(lambda: p.slot(0) == "IDLE" and p.slot(1) == "POSITION_OPEN", "cancelled")
        st.check_against_venue()


async def test_an_unreadable_order_reply_is_a_venue_error_to_query_and_cancel() -> None:
    """The runtime handles VenueError only: an unreadable reply must not escape as another."""
    async with stack() as st:
        cid = await _resting(st, "t1", 0)
        st.server.faults.update("query_garbled=1,cancel_race=#1")
        with pytest.raises(VenueError) as caught:
            await st.venue.query(QueryOrder(cid, SYMBOL, "test"))
        assert caught.value.code == "BAD_REPLY"
        # cancel answered "already filled": the adapter asks the order (unreadable), then says unknown
        await st.venue.cancel(CancelOrder(cid, SYMBOL, ""))
        (rejected,) = [e for e in st.pump.events if isinstance(e, CancelRejected)]
        assert rejected.still_open is None
        st.server.faults.clear()
        await st.pump.tick(60.0)  # the kernel's deadline asks again: now readable
        await until(lambda: st.pump.slot() == "POSITION_OPEN", "the raced fill booked")
        st.check_against_venue()

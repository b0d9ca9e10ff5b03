"""End to end over the user-data stream: drops, expired listenKeys, duplicates, reordering.

A real Kernel is driven with what the real adapter delivers from the real
server; assertions are about the kernel's slots and account and the
server's own fills.
"""

from __future__ import annotations

from decimal import Decimal

from pink.venues.bingx.reports import POSITIONS_PATH
from pink.venues.bingx.server_account import LISTEN_KEY_PATH
from pink.venues.bingx.server_http import USER_STREAMS
from tests.venues.bingx.e2e_kit import Stack, fill_part, stack, until

D = Decimal


async def _resting(st: Stack, trade_id: str, qty: str) -> str:
    p = st.pump
    await p.submit(st.enter(trade_id, qty, price=await st.far_bid()))
    await until(lambda: p.slot() == "ENTRY_WORKING", "entry resting")
    (order,) = p.kernel.working_orders()
    return order.client_order_id


async def test_dropped_websocket_reconnects_and_gap_fills_missed_fills() -> None:
    async with stack() as st:
        p = st.pump
        cid = await _resting(st, "t1", "0.010")
        fill_part(st.server, cid, D("0.004"))
        await until(lambda: p.kernel.slot_view(0).entry_qty == D("0.004"), "partial on the stream")
        connects = st.venue.stream.connects
        assert st.venue.stream_connected
        st.server.app[USER_STREAMS].drop_all()  # the socket dies without a close handshake
        fill_part(st.server, cid, D("0.006"))  # ... and the rest fills while it is down
        await until(lambda: p.slot() == "POSITION_OPEN", "missed fill recovered by the gap-fill")
        assert st.venue.stream.connects == connects + 1
        assert st.venue.stream_connected  # what health reports
        assert p.kernel.slot_view(0).entry_qty == D("0.010")
        assert [f.last_qty for f in p.booked()] == [D("0.004"), D("0.006")]
        await p.submit(st.exit("t1", close_all=True))  # the new socket carries the exit
        await until(lambda: p.slot() == "IDLE", "closed")
        st.check_against_venue()


async def test_expired_listen_key_is_recreated_and_nothing_is_lost() -> None:
    async with stack() as st:
        p = st.pump
        cid = await _resting(st, "t1", "0.005")
        creates = st.venue.stream.key_creates
        old_key = st.venue.stream.listen_key
        st.server.app[USER_STREAMS].expire_all()  # listenKeyExpired, socket closed
        fill_part(st.server, cid, D("0.005"))
        await until(lambda: p.slot() == "POSITION_OPEN", "fill after the key expired")
        await until(lambda: st.venue.stream.connected.is_set(), "reconnected")
        assert st.venue.stream.key_creates == creates + 1
        assert st.venue.stream.listen_key not in ("", old_key)
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "closed over the new key")
        st.check_against_venue()


async def test_duplicated_and_reordered_stream_messages_book_every_fill_once() -> None:
    async with stack(faults="dup_stream=1,reorder_stream=0.5", seed=3) as st:
        p = st.pump
        for n in range(3):
            cid = await _resting(st, f"t{n}", "0.006")
            for _ in range(3):
                fill_part(st.server, cid, D("0.002"))
            await until(lambda: p.slot() == "POSITION_OPEN", "entry filled")
            await p.submit(st.exit(f"t{n}", close_all=True))
            await until(lambda: p.slot() == "IDLE", "exit")
        await p.drain()
        booked = p.booked()
        assert sum(f.last_qty for f in booked) == D("0.036")
        p.check_account()  # each fill id once, capital exact
        venue_fills = st.engine.fills_since(0)
        assert sum(f.qty for f in venue_fills) == D("0.036")
        acct = p.kernel.account_view()
        engine_pnl = sum(f.realized_pnl for f in venue_fills)
        assert acct.gross_pnl == engine_pnl
        assert p.kernel.account_view().capital == acct.initial_capital + acct.gross_pnl - acct.fees
        st.check_against_venue()


async def test_e13_f19_fills_come_from_order_records_not_positions_e2e() -> None:
    # two slots on one symbol: the venue's position is their sum; each slot gets its own fills
    """Flaws E13, F19."""
    async with stack() as st:
        p = st.pump
        await p.submit(st.enter("a", "0.003", slot=0))
        await p.submit(st.enter("b", "0.005", slot=1))
        await until(lambda: p.slot(0) == p.slot(1) == "POSITION_OPEN", "both entries")
        (pos,) = await st.venue.positions()
        assert pos.quantity == D("0.008")
        assert p.kernel.slot_view(0).entry_qty == D("0.003")
        assert p.kernel.slot_view(1).entry_qty == D("0.005")
        await p.submit(st.exit("a", slot=0, close_all=True))
        await until(lambda: p.slot(0) == "IDLE", "slot 0 closed")
        assert p.kernel.slot_view(1).remaining_qty == D("0.005")
        await p.submit(st.exit("b", slot=1, close_all=True))
        await until(lambda: p.slot(1) == "IDLE", "slot 1 closed")
        assert st.venue.calls[f"GET {POSITIONS_PATH}"] == 1  # only the check above
        st.check_against_venue()


async def test_a_failed_listen_key_extend_is_tried_again_before_the_key_expires() -> None:
    """BingX answers a keep-alive with HTTP 500 once: the key is extended again soon, not a whole
    period later (by then it has expired and the stream has stopped, with fills in the gap)."""
    config = {"listen_key_extend_s": 0.5}
    async with stack(faults="listen_key_ttl_s=0.9", config=config) as st:
        stream = st.venue.stream
        puts = f"PUT {LISTEN_KEY_PATH}"
        st.server.faults.update("http5xx=#1")  # the next request (the first keep-alive) fails
        await until(lambda: st.server.request_calls[puts] >= 1, "first keep-alive sent")
        await until(lambda: st.server.request_calls[puts] >= 4, "keep-alives after the failed one", 10)
        assert stream.key_creates == 1 and stream.connects == 1  # the key never expired
        assert stream.key_extends == st.server.request_calls[puts] - 1  # the HTTP 500 was no extend
        cid = await _resting(st, "t1", "0.005")
        fill_part(st.server, cid, D("0.005"))
        await until(lambda: st.pump.slot() == "POSITION_OPEN", "fill pushed on the first key")
        st.check_against_venue()

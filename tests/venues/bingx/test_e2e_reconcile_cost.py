"""A restart after a busy day asks BingX about the orders in flight, not about every order of the day.

Each fill row's id needs its order's progress before the window (one request per order), and
the start-up window is a day: before, every order with a fill that day cost a request at every
start (80 of them, 16 s, after 40 round trips here; a live day is hundreds).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pink.runtime.recovery import Reconciler
from pink.venues.bingx.reports import SINGLE_ORDER_PATH
from tests.venues.bingx.e2e_kit import stack, until

S = 1_000_000_000


async def test_e26_a_restart_reconcile_asks_about_orders_in_flight_only_and_books_their_missed_fills() -> None:
    async with stack(slots=2) as st:
        p = st.pump
        for i in range(10):
            await p.submit(st.enter(f"t{i}", "0.002"))
            await until(lambda: p.slot() == "POSITION_OPEN", "entered")
            await p.submit(st.exit(f"t{i}", close_all=True))
            await until(lambda: p.slot() == "IDLE", "closed")
        # a resting LIMIT on slot 1 fills while the stream is not listening: only the reconcile can say
        bid = await st.far_bid()
        await p.submit(st.enter("rest", "0.002", price=bid, slot=1))
        await until(lambda: p.slot(1) == "ENTRY_WORKING", "resting")
        await p.drain()
        engine = st.engine
        order = engine.order(client_order_id=p.kernel.slot_view(1).working_order)
        engine._fill(order, Decimal("0.002"), order.price, True, engine.now)  # never published

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        before = st.server.request_counts[SINGLE_ORDER_PATH]
        rec = Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1)
        rep = await rec.full(p.kernel, p.now() - 86_400 * S, 2)
        asked = st.server.request_counts[SINGLE_ORDER_PATH] - before
        assert asked <= 2, asked  # the one order in flight (its status, its progress): not 21
        assert rep.errors == [] and p.slot(1) == "POSITION_OPEN"
        rest = [b for b in p.booked() if b.client_order_id == order.client_order_id]
        assert sum(b.last_qty for b in rest) == Decimal("0.002")  # booked once
        st.check_against_venue()

"""End to end: fills rebuilt from ``allFillOrders`` rows, which BingX stamps to the second."""

from __future__ import annotations

from decimal import Decimal

from tests.venues.bingx.e2e_kit import Stack, stack, until

D = Decimal


async def _rest_and_fill_unheard(st: Stack, qty: str) -> tuple[str, int]:
    """A resting LIMIT fills ``qty`` with no push (the stream was not listening): (cid, fill ns)."""
    p = st.pump
    await p.submit(st.enter("t1", "0.010", price=await st.far_bid()))
    await until(lambda: p.slot() == "ENTRY_WORKING", "resting")
    await p.drain()
    engine = st.engine
    order = engine.order(client_order_id=p.kernel.slot_view(0).working_order)
    fill = engine._fill(order, D(qty), order.price, True, engine.now)  # never published
    return order.client_order_id, fill.ts


async def test_a_fill_after_the_window_start_in_its_second_is_found() -> None:
    async with stack() as st:
        p = st.pump
        cid, fill_ns = await _rest_and_fill_unheard(st, "0.004")
        # the last window started just before the fill, in its second: the row says the second's start
        fills = await st.venue.fills_since(fill_ns - 1, [cid])
        assert [f.cum_qty for f in fills] == [D("0.004")]
        for f in fills:
            p.sink(f)
        assert p.kernel.slot_view(0).entry_qty == D("0.004")
        for f in await st.venue.fills_since(fill_ns - 1, [cid]):  # the second again: the same fill
            p.sink(f)
        assert p.kernel.slot_view(0).entry_qty == D("0.004")
        await p.submit(st.cancel("t1"))
        await until(lambda: p.slot() == "POSITION_OPEN", "rest cancelled")
        st.check_against_venue()

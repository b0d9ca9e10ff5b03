"""End to end: fills rebuilt from ``allFillOrders`` rows, which BingX stamps to the second."""

from __future__ import annotations

from decimal import Decimal

from tests.venues.bingx.e2e_kit import Stack, stack, until

D = Decimal


async def _rest_and_fill_unheard(st: Stack, qty: str, size: str = "0.010") -> tuple[str, int]:
    """A resting LIMIT of ``size`` fills ``qty`` with no push (the stream was not listening):
    (cid, fill ns)."""
    p = st.pump
    await p.submit(st.enter("t1", size, price=await st.far_bid()))
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


async def test_a_fill_rebuilt_from_a_row_with_a_cut_fee_is_trued_up_to_the_order_total() -> None:
    async with stack(faults="fill_fee_cut=1") as st:
        p = st.pump
        cid, fill_ns = await _rest_and_fill_unheard(st, "0.0037", "0.0037")  # its fee has 5 decimals
        (fill,) = await st.venue.fills_since(fill_ns - 1, [cid])
        (charged,) = [f.commission for f in st.engine.fills_since(0)]
        assert fill.commission < charged  # the row cut it to 4 decimals
        p.sink(fill)
        assert p.slot() == "POSITION_OPEN"
        await p.tick()  # the order ended with a fee not final: the kernel asks for its total
        await until(lambda: p.kernel.account_view().fees == charged, "fee trued up")
        assert not p.kernel.fee_checks
        p.check_account()

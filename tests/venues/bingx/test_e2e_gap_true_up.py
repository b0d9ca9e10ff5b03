"""End to end: a report's gap trued up by the real fills it stood for (E10), over loopback HTTP
and WebSocket against the BingX simulator server.

The stream loses the pushes of an order that fills at several prices; the order's report (BingX
GET order: ``executedQty`` and an ``avgPrice`` rounded to the price's digits) books what it
filled as one gap at the rounded average; the real fills (the reconcile's ``allFillOrders``
read, or the stream) then replace it piece by piece, once. Once flat, capital is the venue's
wallet to the last digit and the ledger's fill rows of the order are the venue's fills.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from pink.kernel.messages import FillBooked, QueryOrder
from pink.runtime.recovery import Reconciler
from tests.venues.bingx.e2e_kit import SYMBOL, Stack, fill_part, stack, until

D = Decimal
S = 1_000_000_000
TICK = D("0.1")


def _exact_avg(st: Stack, cid: str) -> tuple[Decimal, Decimal]:
    """(quantity, notional) of the venue's fills of order ``cid``."""
    fills = [f for f in st.engine.fills_since(0) if f.client_order_id == cid]
    return sum((f.qty for f in fills), D(0)), sum((f.qty * f.price for f in fills), D(0))


async def _walk_two_levels(st: Stack, trade_id: str) -> str:
    """A LIMIT buy one tick above the ask for more than two levels hold: it takes the ask's level
    and the next (two prices, their average not on the tick), and the rest rests."""
    level = st.engine._books[SYMBOL].level_qty
    ask = st.engine.quote(SYMBOL).ask
    p = st.pump
    await p.submit(st.enter(trade_id, str(level * 2 + D("0.1")), price=ask + TICK, leverage=10))
    cid = next(o.client_order_id for o in p.kernel.working_orders() if o.trade_id == trade_id)
    (order,) = st.engine_orders(cid)
    await until(lambda: order.cum_qty == level * 2, "two levels taken")
    return cid


async def test_the_simulator_rounds_an_orders_average_to_the_prices_digits_as_bingx() -> None:
    async with stack() as st:
        cid = await _walk_two_levels(st, "t1")
        qty, notional = _exact_avg(st, cid)
        assert (notional / qty).quantize(TICK) != notional / qty  # not on the tick
        report = await st.venue.query(QueryOrder(cid, SYMBOL, "test"))
        assert report.cum_qty == qty
        assert report.avg_price == (notional / qty).quantize(TICK, ROUND_HALF_UP)


async def _gap_at_the_rounded_average(st: Stack) -> str:
    """Trade t1's LIMIT entry walks two levels while the stream loses its pushes and the venue's
    fill list lags: the working check's report books what it filled as a gap at BingX's rounded
    average (the fill list still lagging: ``fills_lag`` stays on). Its client order id."""
    p = st.pump
    st.server.faults.update("stream_loss=1")  # every push lost from here (the socket stays up)
    cid = await _walk_two_levels(st, "t1")
    st.server.faults.update("fills_lag=1")  # the venue's fill list does not show them yet
    await p.tick(70.0)  # the working check asks the order: a gap at the rounded average
    await until(lambda: p.kernel.slot_view(0).entry_qty > 0, "the gap booked")
    return cid


def _rows(st: Stack, cid: str) -> list[FillBooked]:
    return [b for b in st.pump.booked() if b.client_order_id == cid]


async def _ask(fn: Callable[[], Any]) -> Any:
    return fn()


def _check_flat_books(st: Stack, cid: str) -> None:
    """Flat: capital is the wallet to the last digit; the order's ledger rows are its venue fills
    (quantity and notional), each real fill booked once."""
    p = st.pump
    assert p.kernel.quarantined == 0
    assert st.engine.positions() == []
    p.check_account()
    st.check_against_venue()
    assert p.kernel.account_view().capital == st.engine.balance().balance  # to the last digit
    qty, notional = _exact_avg(st, cid)
    rows = _rows(st, cid)
    assert sum(r.last_qty for r in rows) == qty
    assert sum(r.last_qty * r.last_price for r in rows) == notional
    real = [r.fill_id for r in rows if r.last_qty > 0]
    assert len(real) == len(set(real))


async def _close_and_check(st: Stack, cid: str) -> None:
    """Close trade t1 and check the books once flat (:func:`_check_flat_books`)."""
    p = st.pump
    await p.submit(st.exit("t1", close_all=True))
    await until(lambda: p.slot() == "IDLE", "closed")
    await p.drain()
    _check_flat_books(st, cid)


async def _gap_trued_up_by_the_reconcile(st: Stack, rec: Reconciler) -> str:
    """The stream loses the fills of an order taking two levels; the working check books them as a
    gap at the rounded average; the reconcile's fill read (the order still works) trues it up."""
    p = st.pump
    await rec.full(p.kernel, p.now() - 60 * S, 2)
    cid = await _gap_at_the_rounded_average(st)
    (gap,) = _rows(st, cid)
    qty, notional = _exact_avg(st, cid)
    assert gap.last_qty == qty and gap.last_price == (notional / qty).quantize(TICK, ROUND_HALF_UP)
    assert gap.last_price * qty != notional  # off by the rounding
    st.server.faults.clear()
    for _ in range(2):  # the fills of the working order: each real fill replaces its piece, once
        rep = await rec.periodic(p.kernel, p.now() - 120 * S, 2)
        assert rep.errors == []
    rows = _rows(st, cid)
    assert sum(r.last_qty * r.last_price for r in rows) == notional
    assert len([r for r in rows if ":replaced-by:" in r.fill_id]) == 2 and len(rows) == 5
    return cid


async def test_e10_a_gap_booked_while_the_stream_lost_the_fills_is_trued_up_once_by_the_reconciles_fill_read(
) -> None:
    async with stack(fill_watch_s=600) as st:
        p = st.pump
        rec = Reconciler(st.venue, p.sink, _ask, p.now, books_settle_ns=1)
        cid = await _gap_trued_up_by_the_reconcile(st, rec)
        await p.submit(st.cancel("t1"))  # the rest is canceled
        await until(lambda: p.slot() == "POSITION_OPEN", "the rest canceled")
        await _close_and_check(st, cid)
        rep = await rec.periodic(p.kernel, p.now() - 600 * S, 2)
        assert rep.errors == [] and rep.books_mismatch == ""
        _check_flat_books(st, cid)  # the fills read again change nothing


async def test_e10_the_rest_of_an_order_pushed_after_its_query_is_booked_at_its_own_price() -> None:
    """The query's report could not be matched to the order's fills (the fill list lagged): the
    kernel booked its gap at BingX's rounded average and the reconcile trued it up. The rest,
    pushed, is not priced from the report's rounded average, ``(ap1 z1 - avg0 z0) / dz`` (here
    59999.8667 for a fill at 60000.2, the rounding corrected twice): it is read from the order's
    fills, at its own price."""
    async with stack(fill_watch_s=600) as st:
        p = st.pump
        rec = Reconciler(st.venue, p.sink, _ask, p.now, books_settle_ns=1)
        cid = await _gap_trued_up_by_the_reconcile(st, rec)
        fill_part(st.server, cid, D(1))  # the rest, pushed
        await until(lambda: p.slot() == "POSITION_OPEN", "the rest filled")
        await _close_and_check(st, cid)


async def test_e10_a_queried_orders_fills_the_stream_lost_are_booked_at_their_own_prices() -> None:
    """The working check's report counts fills the stream lost: the adapter reads them (the
    order's ``allFillOrders``) and hands them over before the report, each at its own price and
    under the stream's id: no gap at the rounded average, nothing to true up, and the rest,
    pushed, is priced from their exact cost."""
    async with stack(fill_watch_s=600) as st:
        p = st.pump
        st.server.faults.update("stream_loss=1")
        cid = await _walk_two_levels(st, "t1")
        await p.tick(70.0)
        await until(lambda: p.kernel.slot_view(0).entry_qty > 0, "the lost fills booked")
        level = st.engine._books[SYMBOL].level_qty
        (order,) = st.engine_orders(cid)
        rows = _rows(st, cid)
        assert [(r.fill_id, r.last_qty) for r in rows] == [
            (f"{order.venue_order_id}:{level.normalize():f}", level),
            (f"{order.venue_order_id}:{(2 * level).normalize():f}", level)]
        assert sum(r.last_qty * r.last_price for r in rows) == _exact_avg(st, cid)[1]
        st.server.faults.clear()
        fill_part(st.server, cid, D(1))  # the rest, pushed
        await until(lambda: p.slot() == "POSITION_OPEN", "the rest filled")
        await _close_and_check(st, cid)
        assert not [r for r in _rows(st, cid) if ":replaced-by:" in r.fill_id]


async def _market_two_levels(st: Stack, trade_id: str) -> str:
    """A MARKET buy of more than a level: two prices, their average off the tick."""
    level = st.engine._books[SYMBOL].level_qty
    await st.pump.submit(st.enter(trade_id, str(level + D("0.1")), leverage=10))
    cid = next(o.client_order_id for o in st.pump.kernel.working_orders() if o.trade_id == trade_id)
    (order,) = st.engine_orders(cid)
    await until(lambda: not order.live, "filled")
    qty, notional = _exact_avg(st, cid)
    assert qty == level + D("0.1") and (notional / qty).quantize(TICK) != notional / qty
    return cid


async def test_e10_an_order_the_fill_watch_finds_filled_at_two_prices_is_booked_at_them() -> None:
    """The stream loses a MARKET order's pushes; the fill watch's report (filled, at BingX's
    rounded average) is not booked as one fill at that average under the id of the last real
    fill (the real fills, read later, would be dropped as already booked and the rounding never
    corrected): the order's real fills are read and booked, each at its own price."""
    async with stack(fill_watch_s=0.2) as st:
        p = st.pump
        st.server.faults.update("stream_loss=1")
        cid = await _market_two_levels(st, "t1")
        await until(lambda: p.slot() == "POSITION_OPEN", "the fill watch found it filled")
        assert len(_rows(st, cid)) == 2
        st.server.faults.clear()
        await _close_and_check(st, cid)


async def test_e10_an_order_the_reconnect_gap_fill_finds_filled_at_two_prices_is_booked_at_them() -> None:
    """As above, found by the gap-fill after the user stream reconnects (the pushes were lost)."""
    async with stack(fill_watch_s=600) as st:
        p = st.pump
        st.server.faults.update("stream_loss=1")
        cid = await _walk_two_levels(st, "t1")
        st.server.faults.clear()
        connects = st.venue.stream.connects
        st.server.faults.update("ws_drop=#1")
        fill_part(st.server, cid, D(1))  # the rest: its push drops the socket instead
        await until(lambda: st.venue.stream.connects > connects, "reconnected")
        await until(lambda: p.slot() == "POSITION_OPEN", "the gap-fill found it filled")
        assert len(_rows(st, cid)) == 3
        await _close_and_check(st, cid)


async def test_e10_the_gap_of_an_order_that_ended_is_trued_up_by_the_next_reconciles_fill_read() -> None:
    """A gap booked while the venue's fill list lagged, on an order that then ended: the
    reconcile read fills for the orders still working only, so its real fills were never read
    and the books stayed off by BingX's rounding for good. An order with a gap open is asked for
    too, working or not (its trade open or closed)."""
    async with stack(fill_watch_s=600) as st:
        p = st.pump
        rec = Reconciler(st.venue, p.sink, _ask, p.now, books_settle_ns=1)
        await rec.full(p.kernel, p.now() - 60 * S, 2)
        cid = await _gap_at_the_rounded_average(st)
        await p.submit(st.cancel("t1"))  # the rest is canceled: the order has ended
        await until(lambda: p.slot() == "POSITION_OPEN", "the rest canceled")
        assert cid not in {o.client_order_id for o in p.kernel.working_orders()}
        st.server.faults.clear()
        rep = await rec.periodic(p.kernel, p.now() - 120 * S, 2)
        assert rep.errors == []
        await p.drain()
        notional = _exact_avg(st, cid)[1]
        assert sum(r.last_qty * r.last_price for r in _rows(st, cid)) == notional  # trued up
        await _close_and_check(st, cid)


async def test_e10_an_order_the_fill_watch_finds_filled_while_the_fill_list_lags_is_trued_up_by_its_real_fills(
) -> None:
    """The stream loses a MARKET order's pushes and the fill watch's report comes while BingX's fill
    list does not show its fills yet: what it filled is left to the report (a gap at BingX's
    rounded average), not booked as a fill at that average under the id of its last real fill.
    So the reconcile's fill read, later, trues the gap up to the real prices; before, the first
    real fill was quarantined as claiming quantity a fill had claimed, the second dropped as
    already booked, and the books stayed off by the rounding for good."""
    async with stack(fill_watch_s=0.2) as st:
        p = st.pump
        rec = Reconciler(st.venue, p.sink, _ask, p.now, books_settle_ns=1)
        await rec.full(p.kernel, p.now() - 60 * S, 2)
        st.server.faults.update("stream_loss=1")
        st.server.faults.update("fills_lag=1")  # the venue's fill list does not show them yet
        cid = await _market_two_levels(st, "t1")
        await until(lambda: p.slot() == "POSITION_OPEN", "the fill watch found it filled")
        st.server.faults.clear()
        rep = await rec.periodic(p.kernel, p.now() - 120 * S, 2)
        assert rep.errors == []
        await p.drain()
        assert sum(r.last_qty * r.last_price for r in _rows(st, cid)) == _exact_avg(st, cid)[1]  # trued up
        await _close_and_check(st, cid)


@pytest.mark.parametrize("then", ["working", "ended", "closed"])
async def test_e10_a_gap_whose_fill_rows_lag_past_a_reconcile_interval_is_trued_up_by_its_order(then: str) -> None:
    """The venue's fill list shows an order's fills only after the reconcile that would have read
    them, stamped when they were made: the next reconcile's window (from where the last began)
    starts after them. The reconcile read its orders holding a gap over that window, so it never
    saw their fills and the books stayed off by BingX's rounding for good. Each such order's fills
    are read by the order, over its own life: the gap is trued up, the order working, ended, or
    its trade closed, and capital ends equal to the venue's wallet to the last digit."""
    async with stack(fill_watch_s=600) as st:
        p = st.pump
        rec = Reconciler(st.venue, p.sink, _ask, p.now, books_settle_ns=1)
        began = time.time_ns()
        await rec.full(p.kernel, began - 60 * S, 2)
        cid = await _gap_at_the_rounded_average(st)
        st.server.faults.clear()
        if then != "working":
            await p.submit(st.cancel("t1"))  # the rest is canceled: the order has ended
            await until(lambda: p.slot() == "POSITION_OPEN", "the rest canceled")
        if then == "closed":  # (its gap still open: the order is kept among the retired)
            await p.submit(st.exit("t1", close_all=True))
            await until(lambda: p.slot() == "IDLE", "closed")
        st.server.faults.update("fills_lag=1")
        rep = await rec.periodic(p.kernel, began, 2)  # the run the fills lagged past: nothing
        assert rep.errors == [] and cid in p.kernel.orders_with_open_gaps()
        st.server.faults.clear()
        made = max(f.ts for f in st.engine.fills_since(0) if f.client_order_id == cid)
        rep = await rec.periodic(p.kernel, (made // S + 1) * S, 2)  # from after the fills' second
        assert rep.errors == []
        await p.drain()
        assert cid not in p.kernel.orders_with_open_gaps()
        # (a working order may fill on meanwhile: pushed, each at its own price)
        await until(lambda: sum(r.last_qty for r in _rows(st, cid)) == _exact_avg(st, cid)[0], "all delivered")
        assert sum(r.last_qty * r.last_price for r in _rows(st, cid)) == _exact_avg(st, cid)[1]  # trued up
        if then == "working":
            await p.submit(st.cancel("t1"))
            await until(lambda: p.slot() == "POSITION_OPEN", "the rest canceled")
        if then == "closed":
            await p.drain()
            _check_flat_books(st, cid)
        else:
            await _close_and_check(st, cid)
        rep = await rec.periodic(p.kernel, p.now() - 600 * S, 2)
        assert rep.errors == [] and rep.books_mismatch == ""


async def test_e10_after_a_restart_a_closed_trades_gap_is_trued_up_by_its_order() -> None:
    """A restarted adapter remembers no order's symbol, and the kernel's views hold none for a
    finished trade's order: its gap was read over the reconcile's window, which starts after its
    lagging fill rows, and was never trued up. The kernel names each gapped order's symbol."""
    from pink.venues.bingx.config import BingxConfig
    from pink.venues.bingx.server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY
    from pink.venues.bingx.venue import BingxVenue

    async with stack(fill_watch_s=600) as st:
        p = st.pump
        began = time.time_ns()
        await Reconciler(st.venue, p.sink, _ask, p.now, books_settle_ns=1).full(p.kernel, began - 60 * S, 2)
        cid = await _gap_at_the_rounded_average(st)
        st.server.faults.clear()
        await p.submit(st.cancel("t1"))
        await until(lambda: p.slot() == "POSITION_OPEN", "the rest canceled")
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "closed")
        await p.drain()
        server = st.server
        again = BingxVenue(BingxConfig(DEFAULT_API_KEY, DEFAULT_SECRET_KEY, server.base_url, server.ws_url,
                                       server.market_ws_url), fill_watch_s=600)  # the process restarted
        try:
            await again.start(p.sink)
            made = max(f.ts for f in st.engine.fills_since(0) if f.client_order_id == cid)
            rec = Reconciler(again, p.sink, _ask, p.now, books_settle_ns=1)
            rep = await rec.periodic(p.kernel, (made // S + 1) * S, 2)  # a window from after the fills
            assert rep.errors == []
            await p.drain()
            assert cid not in p.kernel.orders_with_open_gaps()
            _check_flat_books(st, cid)
        finally:
            await again.close()


async def test_e10_an_order_holding_a_gap_that_cannot_be_asked_does_not_stop_the_start() -> None:
    """Its fills only true up the price a gap booked: an order BingX answers unreadably (or not at
    all) is named among the start-up reconcile's errors and asked again at the next run, not the
    start stopped (every start would stop on the same order)."""
    async with stack(fill_watch_s=600) as st:
        p = st.pump
        rec = Reconciler(st.venue, p.sink, _ask, p.now, books_settle_ns=1, start_backoff_s=0.01)
        await rec.full(p.kernel, p.now() - 60 * S, 2)
        cid = await _gap_at_the_rounded_average(st)
        await p.submit(st.cancel("t1"))  # the rest is canceled: the order has ended
        await until(lambda: p.slot() == "POSITION_OPEN", "the rest canceled")
        st.server.faults.clear()
        st.server.faults.update("query_garbled=1")
        made = max(f.ts for f in st.engine.fills_since(0) if f.client_order_id == cid)
        rec = Reconciler(st.venue, p.sink, _ask, p.now, books_settle_ns=1, start_backoff_s=0.01)
        rep = await rec.full(p.kernel, (made // S + 1) * S, 2)  # a restart's window, after its fills
        assert [e.partition(":")[0] for e in rep.errors] == [f"the fills of order {cid}"]
        assert cid in p.kernel.orders_with_open_gaps()
        st.server.faults.clear()
        rep = await rec.periodic(p.kernel, (made // S + 1) * S, 2)
        assert rep.errors == []
        await p.drain()
        assert sum(r.last_qty * r.last_price for r in _rows(st, cid)) == _exact_avg(st, cid)[1]  # trued up
        await _close_and_check(st, cid)

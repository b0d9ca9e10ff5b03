"""End to end: a report's gap trued up by the real fills it stood for (E10), over loopback HTTP
and WebSocket against the BingX simulator server.

The stream loses the pushes of an order that fills at several prices; the order's report (BingX
GET order: ``executedQty`` and an ``avgPrice`` rounded to the price's digits) books what it
filled as one gap at the rounded average; the real fills (the reconcile's ``allFillOrders``
read, or the stream) then replace it piece by piece, once. Once flat, capital is the venue's
wallet to the last digit and the ledger's fill rows of the order are the venue's fills.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from pink.kernel.messages import QueryOrder
from tests.venues.bingx.e2e_kit import SYMBOL, Stack, stack, until

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
    await p.submit(st.enter(trade_id, str(level * 2 + D("0.1")), price=ask + TICK))
    cid = next(o.client_order_id for o in p.kernel.working_orders() if o.trade_id == trade_id)
    (order,) = st.engine_orders(cid)
    await until(lambda: order.cum_qty == level * 2, "two levels taken")
    return cid


async def test_the_simulator_rounds_an_orders_average_to_the_prices_digits_as_bingx() -> None:
    async with stack(initial=D(20000)) as st:
        cid = await _walk_two_levels(st, "t1")
        qty, notional = _exact_avg(st, cid)
        assert (notional / qty).quantize(TICK) != notional / qty  # not on the tick
        report = await st.venue.query(QueryOrder(cid, SYMBOL, "test"))
        assert report.cum_qty == qty
        assert report.avg_price == (notional / qty).quantize(TICK, ROUND_HALF_UP)

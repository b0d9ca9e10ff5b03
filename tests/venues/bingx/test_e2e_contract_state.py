"""End to end: a contract that takes no new positions refuses an opening order before it is sent.

BingX's contracts say it: ``status`` 25 close-only, 5 pre-listing, 0 offline (1 online), and
``apiStateOpen`` ``"false"``. Before, every contract loaded as tradable and an entry there
went to the venue to get 101415/101400. Closes stay allowed (a close-only contract is there
to let positions out).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from pink.kernel.messages import OrderRejected, OrderSide, OrderType, PlaceOrder, Side, TimeInForce
from pink.venues.bingx.instruments import InstrumentBook, NoOpensError
from pink.venues.bingx.orders import order_params
from tests.venues.bingx.e2e_kit import SYMBOL, stack, until

D = Decimal


@pytest.mark.parametrize(
    ("status", "api_open", "code", "named"),
    [(25, "true", "SYMBOL_CLOSE_ONLY", "close-only"), (1, "false", "SYMBOL_API_OPEN_OFF", "apiStateOpen"),
     (5, "true", "SYMBOL_PRE_LISTING", "pre-listing"), (0, "true", "SYMBOL_OFFLINE", "offline")],
    ids=["close-only", "api-open-off", "pre-listing", "offline"],
)  # fmt: skip
async def test_an_entry_on_a_contract_taking_no_new_positions_is_refused_unsent(
    status: int, api_open: str, code: str, named: str
) -> None:
    async with stack(slots=2) as st:
        p = st.pump
        st.server.state.contract_state[SYMBOL] = (status, api_open)
        await st.venue.book.load(st.venue.http)  # what the refresh timer does
        posts = st.posts()
        await p.submit(st.enter("t1", "0.002"))
        await until(lambda: p.slot() == "IDLE" and any(isinstance(e, OrderRejected) for e in p.events), "refused")
        (rejected,) = [e for e in p.events if isinstance(e, OrderRejected)]
        assert rejected.code == code and named in rejected.message and SYMBOL in rejected.message
        assert st.posts() == posts  # never sent
        assert st.engine.positions() == []


@pytest.mark.parametrize("hedge", [False, True], ids=["one-way", "hedge"])
async def test_a_position_on_a_contract_turned_close_only_can_be_closed_but_not_added_to(hedge: bool) -> None:
    async with stack(slots=2, hedge=hedge, config={"hedge_mode": hedge}) as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.002"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        st.server.state.contract_state[SYMBOL] = (25, "true")
        await st.venue.book.load(st.venue.http)
        posts = st.posts()
        await p.submit(st.enter("t2", "0.002", slot=1))
        await until(lambda: p.slot(1) == "IDLE", "second entry refused")
        assert st.posts() == posts
        await p.submit(st.exit("t1", close_all=True))  # the close goes out and fills
        await until(lambda: p.slot() == "IDLE", "closed")
        assert st.posts() == posts + 1 and st.engine.positions() == []
        st.check_against_venue()


def _order(side: OrderSide, position_side: Side, reduce_only: bool) -> PlaceOrder:
    return PlaceOrder("t00001-e1", 0, SYMBOL, side, position_side, D("0.01"), OrderType.MARKET, None,
                      TimeInForce.GTC, reduce_only, 5)  # fmt: skip


def test_only_orders_that_would_open_are_refused_in_either_mode() -> None:
    row = {"symbol": SYMBOL, "quantityPrecision": "4", "pricePrecision": "1", "status": "25",
           "apiStateOpen": "true"}  # fmt: skip (ccxt's sample: numbers as strings)
    book = InstrumentBook()
    book._map, book._no_opens = book.from_payload([row]), book.no_opens_from_payload([row])
    for hedge, order in ((False, _order(OrderSide.BUY, Side.LONG, False)),
                         (True, _order(OrderSide.SELL, Side.SHORT, False))):  # fmt: skip
        with pytest.raises(NoOpensError):
            order_params(book, hedge, order)
    for hedge, order in ((False, _order(OrderSide.SELL, Side.LONG, True)),
                         (True, _order(OrderSide.SELL, Side.LONG, False)),
                         (True, _order(OrderSide.BUY, Side.SHORT, True))):  # fmt: skip
        assert order_params(book, hedge, order)["symbol"] == SYMBOL
    online = dict(row, status=1)
    assert book.no_opens_from_payload([online, {**online, "status": None}]) == {}

"""A position closed on BingX by hand (an order with no client id, as BingX's own app sends) is
booked from the user-data push, over loopback HTTP and WebSocket (E8)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from pink.kernel.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderSide,
    OrderStatusReport,
    OrderType,
    OutcomeStatus,
    ProtocolErrorRecorded,
    Side,
    TimeInForce,
    TradeClosed,
)
from pink.runtime.recovery import Reconciler
from pink.venues.bingx.parse_rest import parse_ack
from pink.venues.bingx.reports import SINGLE_ORDER_PATH
from pink.venues.sim import NewOrder
from tests.venues.bingx.e2e_kit import ORDER, SYMBOL, stack, until

S = 1_000_000_000


async def _by_hand(st: object, side: str, qty: str, hedge: bool, client_id: str = "") -> None:
    """``POST /trade/order`` without ``clientOrderId``: the push then has ``"c": ""`` (with
    ``client_id``: as another program of the trader's places it)."""
    params = {"symbol": SYMBOL, "side": side, "positionSide": "LONG" if hedge else "BOTH", "type": "MARKET",
              "quantity": qty, **({"clientOrderId": client_id} if client_id else {})}  # fmt: skip
    await st.venue.http.request("POST", ORDER, params, mutating=True)  # type: ignore[attr-defined]


@pytest.mark.parametrize("hedge", [False, True], ids=["one-way", "hedge"])
async def test_e08_a_position_closed_on_bingx_by_hand_is_booked_from_the_stream(hedge: bool) -> None:
    async with stack(hedge=hedge) as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.0004"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        await _by_hand(st, "SELL", "0.0001", hedge)  # part of it
        await until(lambda: len(p.booked()) == 2, "part booked")
        trade = p.kernel.slots[0].trade
        assert trade is not None and trade.remaining == Decimal("0.0003") and p.slot() == "POSITION_OPEN"
        await _by_hand(st, "SELL", "0.0003", hedge)  # the rest
        await until(lambda: p.slot() == "IDLE", "closed")
        hand = [b for b in p.booked() if b.client_order_id.startswith("t1-out")]
        assert [b.client_order_id for b in hand] == ["t1-out", "t1-out2"]
        assert [b.last_qty for b in hand] == [Decimal("0.0001"), Decimal("0.0003")]
        assert sum(isinstance(r, TradeClosed) for o in p.outcomes for r in o.records) == 1
        assert st.engine.positions() == []
        st.check_against_venue()  # quantity, price and fee: the venue's, each once
        assert p.kernel.account_view().capital == st.engine.balance().balance  # to the last digit


@pytest.mark.parametrize("shown_id", ["", "mybot-7"], ids=["by-hand", "another-program"])
@pytest.mark.parametrize("hedge", [False, True], ids=["one-way", "hedge"])
async def test_e08_a_close_on_bingx_by_hand_that_no_push_told_is_booked_by_the_reconcile(
    hedge: bool, shown_id: str
) -> None:
    """PINK was down (or the stream dropped the push): the position check finds BingX holding
    less, and the fills of orders placed outside PINK (``allFillOrders`` rows with an empty
    ``clientOrderID``, or another program's) are booked, with an order request each for their
    progress and sides."""
    async with stack(hedge=hedge) as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.0004"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        await p.drain()
        state = st.server.state
        engine_id = state.new_client_id()  # the engine's own; BingX shows no client id
        state.meta[engine_id] = state.instrument_meta(SYMBOL, shown_id, "LONG" if hedge else "BOTH", 5)
        hand = NewOrder(engine_id, SYMBOL, OrderSide.SELL, Side.LONG, Decimal("0.0004"), OrderType.MARKET, None,
                        TimeInForce.GTC, True)  # fmt: skip
        engine = st.engine
        engine.submit(hand, engine.now)  # never published

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        before = st.server.request_counts[SINGLE_ORDER_PATH]
        rec = Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1)
        rep = await rec.full(p.kernel, p.now() - 3_600 * S, 2)
        assert rep.errors == [] and rep.outside_fills == 1 and rep.position_mismatches == []
        # the hand order's progress and sides, asked once, by the look for closes made outside PINK
        # (none of PINK's orders was in flight, so a row with no client id cannot be one of theirs)
        assert st.server.request_counts[SINGLE_ORDER_PATH] - before == 1
        assert p.slot() == "IDLE" and engine.positions() == []
        st.check_against_venue()
        assert p.kernel.account_view().capital == engine.balance().balance  # to the last digit
        again = await rec.full(p.kernel, p.now() - 3_600 * S, 2)
        assert again.outside_fills == 0  # nothing held apart any more: not asked


async def test_e08_a_close_by_hand_found_by_the_reconcile_in_rows_with_cut_fees_is_booked_at_the_orders_commission(
) -> None:
    """``allFillOrders`` may cut a row's commission to 4 decimals. For PINK's own orders the kernel
    asks for the order's total once it ends; a close made outside PINK has no order in the kernel
    to true up, so its fee stayed cut: capital above the wallet (a chaos trial on the BingX
    simulator found 0.00002). The adapter now takes the fee from the order's own total."""
    async with stack(faults="fill_fee_cut=1") as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.0037"))  # its fees have 5 decimals
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        await p.drain()
        state = st.server.state
        engine_id = state.new_client_id()  # the engine's own; BingX shows no client id
        state.meta[engine_id] = state.instrument_meta(SYMBOL, "", "BOTH", 5)
        hand = NewOrder(engine_id, SYMBOL, OrderSide.SELL, Side.LONG, Decimal("0.0037"), OrderType.MARKET, None,
                        TimeInForce.GTC, True)  # fmt: skip
        engine = st.engine
        state.publish(engine.shock(SYMBOL, Decimal("0.00001")), engine.now)  # off the round price: a fee of 8 decimals
        engine.submit(hand, engine.now)  # never published
        (venue_fill,) = [f for f in engine.fills_since(0) if f.client_order_id == engine_id]
        assert venue_fill.commission != venue_fill.commission.quantize(Decimal("0.0001"))  # the row cuts it

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        rep = await Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1).full(p.kernel, p.now() - 3_600 * S, 2)
        assert rep.errors == [] and rep.outside_fills == 1
        (booked,) = [b for b in p.booked() if b.client_order_id == "t1-out"]
        assert booked.commission == venue_fill.commission
        assert p.kernel.account_view().capital == engine.balance().balance  # to the last digit


@pytest.mark.parametrize("client_id", ["", "mybot-7"], ids=["by-hand", "another-program"])
async def test_e08_a_close_by_hand_pushed_without_its_fee_is_booked_with_the_orders_commission(client_id: str) -> None:
    """The kernel has no order of its own to true up later: the adapter asks BingX for the hand
    order's commission (by its order id) before handing the fill over."""
    async with stack(faults="fee_missing=1") as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.0004"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        await _by_hand(st, "SELL", "0.0004", False, client_id)
        await until(lambda: p.slot() == "IDLE", "closed")
        (hand,) = [b for b in p.booked() if b.client_order_id == "t1-out"]
        (venue_fill,) = [f for f in st.engine.fills_since(0) if hand.fill_id.startswith(f"{f.venue_order_id}:")]
        assert hand.commission == venue_fill.commission and hand.commission > 0  # not the push's 0


@pytest.mark.parametrize("hedge", [False, True], ids=["one-way", "hedge"])
async def test_e08_an_order_rested_on_bingx_by_hand_and_canceled_by_hand_is_left_alone(hedge: bool) -> None:
    """A take-profit the trader rests on BingX's site beside PINK's position: its pushes (no
    client id) and the slow reconcile's report of it (open, unknown to the kernel) flag nothing
    and alert no one; PINK's trade is untouched."""
    async with stack(hedge=hedge) as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.0004"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        far = (st.engine.quote(SYMBOL).ask * 2).quantize(Decimal("0.1"))
        data = await st.venue.http.request("POST", ORDER, {
            "symbol": SYMBOL, "side": "SELL", "positionSide": "LONG" if hedge else "BOTH", "type": "LIMIT",
            "price": str(far), "quantity": "0.0002",
        }, mutating=True)  # fmt: skip
        hand_id = parse_ack(data).venue_order_id
        await until(lambda: any(type(e) is OrderAccepted and e.venue_order_id == hand_id for e in p.events), "ack")

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        rec = Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1)
        rep = await rec.periodic(p.kernel, p.now() - 60 * S, 2)
        assert rep.errors == [] and rep.open_orders == 1 and rep.position_mismatches == []
        assert any(type(e) is OrderStatusReport and e.venue_order_id == hand_id for e in p.events)
        await st.venue.http.request("DELETE", ORDER, {"symbol": SYMBOL, "orderId": hand_id}, mutating=True)
        await until(lambda: any(type(e) is OrderCanceled and e.venue_order_id == hand_id for e in p.events),
                    "canceled")  # fmt: skip
        await p.drain()
        assert p.kernel.quarantined == 0 and p.slot() == "POSITION_OPEN"
        assert not any(o.status is OutcomeStatus.QUARANTINED for o in p.outcomes)
        assert not any(isinstance(r, ProtocolErrorRecorded) for o in p.outcomes for r in o.records)
        trade = p.kernel.slots[0].trade
        assert trade is not None and trade.remaining == Decimal("0.0004")


async def test_e08_a_close_by_hand_whose_fill_rows_lag_at_the_reconciles_ask_is_booked_by_a_later_one() -> None:
    """The push of a close made on BingX by hand was lost and its ``allFillOrders`` rows lagged when
    the reconcile, the position differing twice in a row, asked for fills of orders placed outside
    PINK: it asked once and never again, so the trade stayed open in the kernel (and the position
    reported differing) for good. Found nothing, it asks again at a later run: the close is
    booked and capital equals the wallet to the last digit."""
    async with stack() as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.0004"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        await p.drain()

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        rec = Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1)
        await rec.full(p.kernel, p.now() - 60 * S, 2)
        state, engine = st.server.state, st.engine
        engine_id = state.new_client_id()  # the engine's own; BingX shows no client id
        state.meta[engine_id] = state.instrument_meta(SYMBOL, "", "BOTH", 5)
        engine.submit(NewOrder(engine_id, SYMBOL, OrderSide.SELL, Side.LONG, Decimal("0.0004"), OrderType.MARKET,
                               None, TimeInForce.GTC, True), engine.now)  # never published
        rep = await rec.periodic(p.kernel, p.now(), 2)  # the position differs: seen once
        assert rep.outside_fills == 0
        st.server.faults.update("fills_lag=1")  # the venue's fill list does not show the close yet
        rep = await rec.periodic(p.kernel, p.now(), 2)  # differs again: asked, nothing listed
        assert rep.errors == [] and rep.outside_fills == 0 and p.slot() == "POSITION_OPEN"
        st.server.faults.clear()
        for _ in range(4):
            rep = await rec.periodic(p.kernel, p.now(), 2)
            if p.slot() == "IDLE":
                break
        assert p.slot() == "IDLE" and engine.positions() == []
        st.check_against_venue()
        assert p.kernel.account_view().capital == engine.balance().balance  # to the last digit
        rep = await rec.periodic(p.kernel, p.now(), 2)
        assert rep.position_mismatches == [] and rep.books_mismatch == ""

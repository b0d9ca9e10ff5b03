"""A position closed on BingX by hand (an order with no client id, as BingX's own app sends) is
booked from the user-data push, over loopback HTTP and WebSocket (E8)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pink.kernel.messages import TradeClosed
from tests.venues.bingx.e2e_kit import ORDER, SYMBOL, stack, until


async def _by_hand(st: object, side: str, qty: str, hedge: bool) -> None:
    """``POST /trade/order`` without ``clientOrderId``: the push then has ``"c": ""``."""
    await st.venue.http.request("POST", ORDER, {  # type: ignore[attr-defined]
        "symbol": SYMBOL, "side": side, "positionSide": "LONG" if hedge else "BOTH", "type": "MARKET",
        "quantity": qty,
    }, mutating=True)  # fmt: skip


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

"""BingX's "below the minimum" (101400) and "no position to close" (101205) refusals reach the
kernel as such, over loopback HTTP (E8)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from pink.errors import VenueError
from pink.kernel.messages import OrderRejected
from pink.venues.bingx.venue import rejection
from tests.venues.bingx.e2e_kit import SYMBOL, stack, until

D = Decimal


async def test_e08_a_leg_bingx_refuses_as_below_its_minimum_is_followed_by_a_close_of_the_rest() -> None:
    async with stack() as st:
        p = st.pump
        # 0.0004 BTC is about 24 USDT: two legs of 12, above the minimum of 5 the kernel knows
        await p.submit(st.enter("t1", "0.0004", legs=(D("0.5"), D("0.5"))))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        # BingX raises its minimum to 15: the leg is refused with 101400, the whole 0.0004 is not
        st.engine.instruments[SYMBOL] = replace(st.engine.instruments[SYMBOL], min_notional=D("15"))
        leg = await p.submit(st.exit("t1", 1))
        await until(lambda: any(isinstance(e, OrderRejected) for e in p.events), "leg refused")
        refusal = next(e for e in p.events if isinstance(e, OrderRejected))
        assert refusal.code == "NOTIONAL_BELOW_MIN" and refusal.message.startswith("101400: ")
        assert p.slot() == "POSITION_OPEN"
        p.skew_ns += 1_000_000_000  # the slot's next order waits a second after a refusal
        rest = await p.submit(st.exit("t1", 2))
        assert [e.quantity for e in leg.effects + rest.effects] == [D("0.0002"), D("0.0004")]  # type: ignore[union-attr]
        await until(lambda: p.slot() == "IDLE", "closed")
        assert st.engine.positions() == []
        st.check_against_venue()


def test_bingx_refusals_reach_the_kernel_under_its_codes_but_a_pair_not_trading_keeps_its_own() -> None:
    """101400 also means "pair not available": that is no reason to change an exit plan."""
    below = rejection("c1", VenueError("101400", "Please ensure that the minimum nominal value ... 2u"))
    closed = rejection("c2", VenueError("101400", "The trading pair is not available for trading"))
    assert below.code == "NOTIONAL_BELOW_MIN"
    assert closed.code == "101400" and closed.message == "The trading pair is not available for trading"
    assert rejection("c3", VenueError("110425", "min notional 2u")).code == "NOTIONAL_BELOW_MIN"
    for code in ("101205", "80017", "101290"):
        none = rejection("c4", VenueError(code, "No position to close"))
        assert none.code == "NO_POSITION" and none.message == f"{code}: No position to close"


async def test_e08_a_close_bingx_finds_no_position_for_is_not_sent_again_at_once() -> None:
    async with stack() as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.0004"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        st.engine.account.positions.clear()  # closed on BingX by hand, or liquidated
        await p.submit(st.exit("t1", 1))
        await until(lambda: any(isinstance(e, OrderRejected) for e in p.events), "close refused")
        refusal = next(e for e in p.events if isinstance(e, OrderRejected))
        assert refusal.code == "NO_POSITION" and refusal.message.startswith("101205: ")
        again = await p.submit(st.exit("t1", 2))
        assert again.reason.value == "NO_VENUE_POSITION" and again.effects == ()
        assert st.posts() == 2  # the entry and the one close

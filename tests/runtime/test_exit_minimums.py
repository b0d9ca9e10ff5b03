"""A small position against the venue's minimum notional, over the simulator (E8, A1).

DOGE-USDT's minimum notional is 2 USDT. A 30 DOGE position (about 3 USDT) in two
legs would mean two 1.5 USDT orders, which the venue refuses: before, the slot sent
the refused leg every cycle, for ever, and the position was stuck.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from pink.kernel import Action, ClosedOutside, OrderFilled, OrderSide, OrderType, OutcomeStatus, Side, TimeInForce
from pink.policy.base import Decision, PolicySnapshot
from pink.venues.sim import NewOrder
from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.instruments import default_instruments
from pink.venues.sim.venue import SimVenue
from tests.runtime.helpers import T0, Scripted, sim_runtime

DOGE = "DOGE-USDT"
D = Decimal


def enter_then_exit(qty: str, *, exit_from: int = 0) -> Scripted:
    """Enter ``qty`` DOGE in two legs once; exit every cycle from cycle ``exit_from`` on."""

    def script(snap: PolicySnapshot) -> list[Decision]:
        s = snap.slots[0]
        if s.state == "IDLE" and snap.cycle < 3:
            return [Decision(Action.ENTER, 0, asset=DOGE, side=Side.LONG, quantity=D(qty),
                             exit_legs=(D("0.5"), D("0.5")))]
        if s.state == "POSITION_OPEN" and snap.cycle >= exit_from:
            return [Decision(Action.EXIT, 0)]
        return []

    return Scripted(script)


def venue_with_min(min_notional: str, **engine: bool) -> SimVenue:
    inst = default_instruments()
    inst[DOGE] = replace(inst[DOGE], min_notional=D(min_notional))
    return SimVenue(MatchingEngine(inst, seed=1, start_ts=T0, **engine))


def rejected(venue: SimVenue) -> list[str]:
    return [o.code for o in venue.engine.records.rejected.values()]


async def test_e08_a_position_too_small_for_its_legs_is_closed_at_once_not_stranded() -> None:
    async with sim_runtime(decision=enter_then_exit("30"), slots=1) as (rt, venue, k):
        await rt.run(cycles=10)
        assert k.slot_view(0).state == "IDLE"
        assert rt.stats.trades == 1
        assert await venue.positions() == []
        assert rejected(venue) == []
        assert venue.calls["place"] == 2  # the entry and one exit of all 30


async def test_e08_a_leg_the_venue_refuses_as_too_small_is_followed_by_a_close_of_the_rest() -> None:
    # the venue's minimum (3) is above the kernel's (2): a 22 DOGE leg (2.2) passes the kernel only
    venue = venue_with_min("3")
    async with sim_runtime(venue, decision=enter_then_exit("45"), slots=1) as (rt, _v, k):
        await rt.run(cycles=10)
        assert k.slot_view(0).state == "IDLE"
        assert await venue.positions() == []
        assert rejected(venue) == ["NOTIONAL_BELOW_MIN"]
        sells = [o.quantity for o in venue.engine.orders_since(0) if not o.opens]
        assert sells == [D("45")]  # the refused 22 was never filled; the rest went at once
        a = k.account_view()
        assert a.capital == a.initial_capital + a.gross_pnl - a.fees + a.funding


async def test_e08_a_position_the_venue_will_not_close_is_tried_once_a_minute_not_every_cycle() -> None:
    venue = venue_with_min("2", full_close_below_min=False)
    async with sim_runtime(venue, decision=enter_then_exit("30", exit_from=5), slots=1) as (rt, _v, k):
        await rt.run(cycles=4)
        assert k.slot_view(0).state == "POSITION_OPEN"
        # the venue raises its minimum above the whole position (about 3 USDT)
        venue.engine.instruments[DOGE] = replace(venue.engine.instruments[DOGE], min_notional=D("10"))
        await rt.run(cycles=150)  # 150 s, one policy exit per cycle
        tries = len(rejected(venue))
        assert 2 <= tries <= 4, tries  # at 0, 60 and 120 s
        assert rt.stats.refusals["BELOW_VENUE_MINIMUM"] >= 140
        assert k.slot_view(0).state == "POSITION_OPEN"
        # the minimum comes back down: the next try after the wait closes it
        venue.engine.instruments[DOGE] = replace(venue.engine.instruments[DOGE], min_notional=D("2"))
        await rt.run(cycles=70)
        assert k.slot_view(0).state == "IDLE"
        assert await venue.positions() == []


async def test_e08_a_position_closed_outside_pink_is_not_sent_a_refused_exit_every_cycle() -> None:
    venue = venue_with_min("2")
    loop = {"reconcile_interval_s": 30.0}
    async with sim_runtime(venue, decision=enter_then_exit("30", exit_from=5), slots=1, **loop) as (rt, _v, k):
        await rt.run(cycles=4)
        assert k.slot_view(0).state == "POSITION_OPEN"
        # the operator closes the position on the venue by hand (a liquidation looks the same)
        by_hand = NewOrder("byhand", DOGE, OrderSide.SELL, Side.LONG, D("30"), OrderType.MARKET, None,
                           TimeInForce.GTC, False)
        venue.engine.submit(by_hand, venue.engine.now)
        assert await venue.positions() == []
        await rt.run(cycles=40)  # one slow reconcile (at 30 s) has seen the difference: not yet said
        assert rt.reconciler.runs >= 2 and rt.reconciler.position_alerts == 0
        await rt.run(cycles=110)
        tries = rejected(venue)
        assert 2 <= len(tries) <= 4 and set(tries) == {"REDUCE_ONLY_EXCEEDS_POSITION"}, tries
        assert rt.stats.refusals["NO_VENUE_POSITION"] >= 140
        # the slow reconcile says so while PINK runs (not only at the next start), once two runs in
        # a row saw it: one reading may fall between a fill at the venue and its event
        last = rt.reconciler.last
        assert last is not None and last.position_mismatches == ["DOGE-USDT LONG: kernel 30 venue 0"]


async def test_e08_a_position_closed_outside_pink_is_booked_on_the_operator_s_word_to_the_last_digit(
    tmp_path: Path,
) -> None:
    venue = venue_with_min("2")
    loop = {"reconcile_interval_s": 30.0, "books_settle_s": 40.0}
    journal = tmp_path / "journal.sqlite"
    async with sim_runtime(venue, decision=enter_then_exit("30", exit_from=5), slots=1, journal=journal,
                           **loop) as (rt, _v, k):  # fmt: skip
        await rt.run(cycles=4)
        trade_id = k.slot_view(0).trade_id
        by_hand = NewOrder("byhand", DOGE, OrderSide.SELL, Side.LONG, D("30"), OrderType.MARKET, None,
                           TimeInForce.GTC, False)
        (hand,) = [e for e in venue.engine.submit(by_hand, venue.engine.now) if isinstance(e, OrderFilled)]
        await rt.run(cycles=10)  # its exits are refused: no position
        assert k.slot_view(0).state == "POSITION_OPEN"
        wrong = await rt.book_closed_outside(ClosedOutside(0, "nottheone", hand.last_price, hand.commission, 0))
        assert wrong.status is OutcomeStatus.REFUSED and "not 'nottheone'" in wrong.detail
        # the operator looks the close up on the venue and says so
        out = await rt.book_closed_outside(ClosedOutside(0, trade_id, hand.last_price, hand.commission, 0,
                                                         note="closed by hand"))  # fmt: skip
        assert out.status is OutcomeStatus.CONFIRMED and k.slot_view(0).state == "IDLE"
        await rt.run(cycles=100)  # the policy stops entering after cycle 3; the books are read
        books = rt.reconciler.books
        assert books.sightings >= 3 and books.mismatch == ""
        assert k.account_view().capital == (await venue.balance()).balance  # to the last digit
        assert rt.reconciler.last is not None and rt.reconciler.last.position_mismatches == []

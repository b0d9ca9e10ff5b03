"""A policy acting every cycle into a venue that refuses does not become a refused order every
cycle (venues answer that with trading bans): the slot's orders are spaced out, over the simulator."""

from __future__ import annotations

from decimal import Decimal

from pink.kernel import Action, Side
from pink.policy.base import Decision, PolicySnapshot
from tests.runtime.helpers import Scripted, sim_runtime


def enter_too_big(snap: PolicySnapshot) -> list[Decision]:
    if snap.slots[0].state == "IDLE":  # 5 BTC at leverage 1: far beyond the 10,000 USDT account
        return [Decision(Action.ENTER, 0, asset="BTC-USDT", side=Side.LONG, quantity=Decimal("5"), leverage=1)]
    return []


async def test_entries_the_venue_refuses_are_spaced_out_not_sent_every_cycle() -> None:
    async with sim_runtime(decision=Scripted(enter_too_big), slots=1) as (rt, venue, _k):
        await rt.run(cycles=200)  # 200 s
        codes = [o.code for o in venue.engine.records.rejected.values()]
        # at about 0, 1, 3, 7, 15, 31, 63, 123, 183 s: not 200
        assert 7 <= len(codes) <= 11 and set(codes) == {"INSUFFICIENT_MARGIN"}, codes
        assert rt.stats.refusals["VENUE_REFUSED_RECENTLY"] >= 180

"""Restart on the same journal while an order rests at the venue (E26)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pink.kernel import Action, OrderType, Side
from pink.policy.base import Decision, MarginSizer, PolicySnapshot
from pink.runtime.launcher import Launcher
from tests.runtime.helpers import Scripted, make_venue, quiet_config


def script(snap: PolicySnapshot) -> list[Decision]:
    s = snap.slots[0]
    if snap.cycle == 1 and s.state == "IDLE":
        price = (snap.quotes["BTC-USDT"].bid * Decimal("0.8")).quantize(Decimal("0.1"))
        return [Decision(Action.ENTER, 0, asset="BTC-USDT", side=Side.LONG,
                         order_type=OrderType.LIMIT, limit_price=price, quantity=Decimal("0.01"),
                         exit_legs=(Decimal("0.5"), Decimal("0.5")))]
    if s.state == "POSITION_OPEN":
        return [Decision(Action.EXIT, 0)]
    return []


config = quiet_config


async def test_e26_resting_order_survives_restart_and_trade_completes(tmp_path: Path) -> None:
    venue = make_venue(seed=11)
    try:
        first = Launcher(config(tmp_path), venue=venue, decision=Scripted(script),
                         intents=MarginSizer())
        async with first:
            await first.run(cycles=3)
            assert first.kernel is not None
            working = first.kernel.kernel.slot_view(0)
            assert working.state == "ENTRY_WORKING"
            cid = working.working_order
        # while we are down, the market trades through the resting order
        venue.engine.force_fill(venue.now + 1_000_000, client_order_id=cid)
        assert venue.engine.open_orders() == []
        places_before = venue.calls["place"]

        second = Launcher(config(tmp_path), venue=venue, decision=Scripted(script),
                          intents=MarginSizer())
        async with second:
            assert second.kernel is not None and second.reconcile is not None
            k = second.kernel.kernel
            assert cid in second.reconcile.queried  # asked about before any cycle
            assert k.slot_view(0).state == "POSITION_OPEN"  # the fill was learned
            assert second.reconcile.position_mismatches == []
            await second.run(cycles=10)
            assert k.slot_view(0).state == "IDLE"
            assert second.runtime is not None and second.runtime.stats.trades == 1
        entries = [o for o in venue.engine.orders_since(0) if o.client_order_id == cid]
        assert len(entries) == 1  # never placed twice
        assert venue.calls["place"] - places_before == 2  # the two exit legs only
    finally:
        await venue.close()

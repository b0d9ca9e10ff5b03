"""Resting LIMIT orders, their cancel, partial-then-full and asynchronous fills (E24, E25)."""

from __future__ import annotations

from decimal import Decimal

from pink.kernel import Action, FillBooked, OrderType, Side
from pink.policy.base import Decision, PolicySnapshot
from pink.venues.sim.prices import MarketConfig
from tests.runtime.helpers import Recorder, Scripted, make_venue, sim_runtime


def limit_enter(price: Decimal, qty: Decimal) -> Decision:
    return Decision(Action.ENTER, 0, asset="BTC-USDT", side=Side.LONG, order_type=OrderType.LIMIT,
                    limit_price=price, quantity=qty, leverage=2,
                    exit_legs=(Decimal("0.5"), Decimal("0.5")))


def bid(snap: PolicySnapshot) -> Decimal:
    return snap.quotes["BTC-USDT"].bid


async def test_e25_resting_limit_then_cancel() -> None:
    def script(snap: PolicySnapshot) -> list[Decision]:
        if snap.cycle == 1:
            return [limit_enter(bid(snap) * Decimal("0.9") // 1, Decimal("0.01"))]
        if snap.cycle == 4:
            return [Decision(Action.CANCEL, 0)]
        return []

    async with sim_runtime(decision=Scripted(script)) as (rt, venue, k):
        await rt.run(cycles=3)
        assert k.slot_view(0).state == "ENTRY_WORKING"  # resting, acked on the stream
        assert len(venue.engine.open_orders()) == 1
        await rt.run(cycles=2)
        assert k.slot_view(0).state == "IDLE"
        assert venue.engine.open_orders() == []
        assert venue.calls["cancel"] == 1


async def test_e25_partial_then_full_fills_arrive_asynchronously() -> None:
    # thin book, volatile price: a resting LIMIT is traded through over several updates
    market = MarketConfig(volatility_per_s=Decimal("0.002"), level_qty={"BTC-USDT": Decimal("0.002")},
                          resting_fill_fraction=Decimal("0.25"))
    venue = make_venue(seed=5, market=market)
    rec = Recorder()

    def script(snap: PolicySnapshot) -> list[Decision]:
        if snap.cycle == 1:
            return [limit_enter(bid(snap) - Decimal("0.5"), Decimal("0.02"))]
        return []

    async with sim_runtime(venue, decision=Scripted(script)) as (rt, _v, k):
        rt.outputs.ledger = rec
        for _ in range(600):
            await rt.run(cycles=1)
            if k.slot_view(0).state == "POSITION_OPEN":
                break
        fills = [r for r in rec.records if isinstance(r, FillBooked)]
        assert k.slot_view(0).state == "POSITION_OPEN"
        assert len(fills) >= 2, "expected partial fills before the full fill"
        assert fills[0].cum_qty < Decimal("0.02") == fills[-1].cum_qty
        assert sum(f.last_qty for f in fills) == Decimal("0.02")
        assert k.slot_view(0).entry_qty == Decimal("0.02")
        # the fills came on the stream between cycles, not from a query
        assert venue.calls["query"] == 0
    await venue.close()


async def test_e24_limit_exit_legs_complete_the_trade() -> None:
    def script(snap: PolicySnapshot) -> list[Decision]:
        s = snap.slots[0]
        if snap.cycle == 1:
            return [Decision(Action.ENTER, 0, asset="ETH-USDT", side=Side.SHORT,
                             quantity=Decimal("0.5"), exit_legs=(Decimal("0.5"), Decimal("0.5")))]
        if s.state == "POSITION_OPEN":
            return [Decision(Action.EXIT, 0)]
        return []

    async with sim_runtime(decision=Scripted(script)) as (rt, _v, k):
        await rt.run(cycles=10)
        assert k.slot_view(0).state == "IDLE"
        assert rt.stats.trades == 1
        a = k.account_view()
        assert a.capital == a.initial_capital + a.gross_pnl - a.fees + a.funding

"""A stop (an EXIT close_all) over a resting order: the order is canceled, then all is closed."""

from __future__ import annotations

from decimal import Decimal

from pink.kernel.messages import Action, OrderType, Side
from pink.policy.base import Decision, PolicySnapshot
from tests.runtime.helpers import Recorder, Scripted, sim_runtime

D = Decimal


class TakeProfitThenStop:
    """Enter long; rest a take-profit far above; from cycle 8 on, the stop: close all, every cycle."""

    def __init__(self, entry_type: OrderType = OrderType.MARKET) -> None:
        self.entry_type = entry_type
        self.entered = False

    def __call__(self, snap: PolicySnapshot) -> list[Decision]:
        s = snap.slots[0]
        bid = snap.quotes["BTC-USDT"].bid
        if not self.entered:
            self.entered = True
            price = None if self.entry_type is OrderType.MARKET else (bid * D("0.5")).quantize(D("0.1"))
            return [Decision(Action.ENTER, 0, asset="BTC-USDT", side=Side.LONG, quantity=D("0.010"),
                             order_type=self.entry_type, limit_price=price)]
        if snap.cycle >= 8 and s.trade_id:
            return [Decision(Action.EXIT, 0, close_all=True, reason="stop")]
        if s.state == "POSITION_OPEN" and not s.working_order:
            far = (bid * 2).quantize(D("0.1"))
            return [Decision(Action.EXIT, 0, order_type=OrderType.LIMIT, limit_price=far, reason="take profit")]
        return []


async def test_e3_a_stop_over_a_resting_take_profit_cancels_it_and_closes_the_position() -> None:
    """The kernel refuses an EXIT while the slot's take-profit rests (one order per slot): the
    stop was refused SLOT_BUSY on every cycle and the position never closed."""
    rec = Recorder()
    async with sim_runtime(None, Scripted(TakeProfitThenStop()), slots=1, ledger=rec) as (rt, _venue, k):
        await rt.run(cycles=7)
        assert k.slot_view(0).state == "EXIT_WORKING"  # the take-profit rests
        await rt.run(cycles=6)
        v = k.slot_view(0)
        assert v.state == "IDLE" and v.trade_id == "", v
        busy = [r for r in rec.records if getattr(r, "reason", "") == "SLOT_BUSY"]
        assert not busy, busy
        assert rt.stats.summary().trades == 1


async def test_e3_a_stop_over_an_entry_still_resting_cancels_it_and_has_nothing_more_to_close() -> None:
    rec = Recorder()
    async with sim_runtime(None, Scripted(TakeProfitThenStop(OrderType.LIMIT)), slots=1, ledger=rec) as (rt, _, k):
        await rt.run(cycles=7)
        assert k.slot_view(0).state == "ENTRY_WORKING"  # the entry rests far below the market
        await rt.run(cycles=6)
        assert k.slot_view(0).state == "IDLE" and not rt._closes.waiting
        assert not [r for r in rec.records if getattr(r, "reason", "") == "SLOT_BUSY"]
        assert rt.stats.summary().trades == 0

"""A flatten closes every position, a DESYNC slot's too once the venue has told what it holds."""

from __future__ import annotations

from decimal import Decimal

from pink.kernel.messages import Action, OrderStatus, OrderStatusReport, OrderType, Side
from pink.policy.base import Decision, PolicySnapshot
from tests.runtime.helpers import Scripted, sim_runtime

D = Decimal


def _two_slots_one_resting_exit(snap: PolicySnapshot) -> list[Decision]:
    """Slots 0 and 1 enter long at market; slot 1 then rests an exit far above the market."""
    s0, s1 = snap.slots[0], snap.slots[1]
    if snap.cycle > 6:
        return []  # from here only the flatten acts
    if s0.state == "IDLE" and s1.state == "IDLE" and not s0.trade_id and snap.cycle <= 2:
        return [Decision(Action.ENTER, i, asset="BTC-USDT", side=Side.LONG, quantity=D("0.010")) for i in (0, 1)]
    if s1.state == "POSITION_OPEN" and not s1.working_order:
        far = (snap.quotes["BTC-USDT"].ask * 2).quantize(D("0.1"))
        return [Decision(Action.EXIT, 1, order_type=OrderType.LIMIT, limit_price=far, close_all=True)]
    return []


async def test_f21_a_flatten_waits_for_a_desync_slot_and_closes_its_position() -> None:
    """A flatten asked while a slot is DESYNC (the venue said something the kernel could not
    explain) was counted done once the other slots were idle: the DESYNC slot then resolved to
    its open position, and that position was never closed."""
    async with sim_runtime(None, Scripted(_two_slots_one_resting_exit), slots=2) as (rt, venue, k):
        await rt.run(cycles=6)
        s1 = k.slot_view(1)
        assert k.slot_view(0).state == "POSITION_OPEN" and s1.state == "EXIT_WORKING", s1
        # a malformed report of slot 1's exit (no query at once: the deadline asks again)
        rt.sink(OrderStatusReport(s1.working_order, "", OrderStatus.NEW, s1.remaining_qty, D(-1), D(0),
                                  None, venue.now))
        rt.flatten()
        await rt.quiesce()  # (the simulated clock stands still until run)
        assert k.slot_view(1).state == "DESYNC" and k.slot_view(0).state == "EXIT_PENDING"
        await rt.run(cycles=30)
        assert [k.slot_view(i).state for i in (0, 1)] == ["IDLE", "IDLE"]

"""Policy interface: sizing helper, margin sizer, the SAMPLE policy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pink.kernel import AccountView, Action, Instrument, OrderType, PolicyMetadata, Side, SlotView
from pink.policy.base import Decision, MarginSizer, PolicySnapshot, intent_from_decision, quantity_for
from pink.policy.sample import SamplePolicy
from pink.ports import Quote

BTC = Instrument("BTC-USDT", Decimal("0.1"), Decimal("0.0001"), Decimal("0.0001"), Decimal("5"))


def idle(i: int) -> SlotView:
    z = Decimal(0)
    return SlotView(i, 0, "IDLE", "", "", None, z, z, z, z, z, 0, z, z, "", 0, "")


def snap(cycle: int = 1, bid: str = "50000.0", ask: str = "50000.1") -> PolicySnapshot:
    q = Quote("BTC-USDT", Decimal(bid), Decimal(ask), Decimal(bid), Decimal(bid), Decimal(0), 0)
    c = Decimal(10000)
    acct = AccountView(0, 0, c, c, Decimal(0), Decimal(0), Decimal(0), Decimal(0), Decimal(0))
    return PolicySnapshot(cycle, 0, 0, tuple(idle(i) for i in range(4)), acct,
                          {"BTC-USDT": q}, {"BTC-USDT": BTC})


def test_quantity_for_margin_and_notional_round_down_to_step() -> None:
    assert quantity_for(instrument=BTC, price=Decimal("50000"), leverage=3,
                        margin=Decimal("1000")) == Decimal("0.0600")
    assert quantity_for(instrument=BTC, price=Decimal("30000"),
                        notional=Decimal("1000")) == Decimal("0.0333")
    assert quantity_for(instrument=BTC, price=Decimal("50000"), notional=Decimal("4")) == 0
    with pytest.raises(ValueError):
        quantity_for(instrument=BTC, price=Decimal("1"), margin=Decimal(1), notional=Decimal(1))
    with pytest.raises(ValueError):
        quantity_for(instrument=BTC, price=Decimal("0"), margin=Decimal(1))


def test_e03_e11_conversion_drops_nothing() -> None:
    """Flaws E3, E11."""
    meta = PolicyMetadata(confidence=0.4, bars_held=3, features={"f": 1.5}, tags={"a": "b"})
    d = Decision(Action.ENTER, 2, asset="BTC-USDT", side=Side.SHORT, order_type=OrderType.LIMIT,
                 limit_price=Decimal("50100.0"), leverage=4, exit_legs=(Decimal("0.3"),) * 2
                 + (Decimal("0.4"),), reason="r", decision_id="d1", metadata=meta)
    i = intent_from_decision(d, Decimal("0.1"))
    assert (i.order_type, i.limit_price, i.time_in_force, i.metadata, i.reason) == (
        OrderType.LIMIT, Decimal("50100.0"), d.time_in_force, meta, "r")
    assert (i.slot, i.leverage, i.exit_legs, i.decision_id, i.quantity) == (
        2, 4, d.exit_legs, "d1", Decimal("0.1"))


def test_margin_sizer_uses_the_touch_and_drops_dust() -> None:
    s = snap()
    ds = [Decision(Action.ENTER, 0, asset="BTC-USDT", side=Side.LONG, margin=Decimal("500")),
          Decision(Action.ENTER, 1, asset="BTC-USDT", side=Side.SHORT, notional=Decimal("1")),
          Decision(Action.EXIT, 2)]
    out = MarginSizer().plan(ds, s)
    assert [i.slot for i in out] == [0, 2]
    assert out[0].quantity == Decimal("0.0099")  # 500 / 50000.1, rounded down


def test_e08_a_market_exit_carries_the_touch_it_would_take_for_the_kernel_s_minimum_check() -> None:
    z = Decimal(0)
    held = [SlotView(i, 1, "POSITION_OPEN", f"t{i}", "BTC-USDT", side, Decimal("0.01"), Decimal("0.01"),
                     Decimal("50000"), z, z, 0, z, z, "", 0, "") for i, side in enumerate((Side.LONG, Side.SHORT))]
    s = snap()
    s = PolicySnapshot(s.cycle, s.ts, s.kernel_version, (*held, idle(2), idle(3)), s.account, s.quotes,
                       s.instruments)
    ds = [Decision(Action.EXIT, 0), Decision(Action.EXIT, 1),
          Decision(Action.EXIT, 1, order_type=OrderType.LIMIT, limit_price=Decimal("49000.0")),
          Decision(Action.EXIT, 2)]
    out = MarginSizer().plan(ds, s)
    # LONG sells at the bid, SHORT buys at the ask; a LIMIT has its own price; an idle slot none
    assert [i.reference_price for i in out] == [Decimal("50000.0"), Decimal("50000.1"), None, None]
    empty = PolicySnapshot(s.cycle, s.ts, s.kernel_version, s.slots, s.account,
                           {"BTC-USDT": Quote("BTC-USDT", z, z, z, z, z, 0)}, s.instruments)
    assert MarginSizer().plan(ds[:1], empty)[0].reference_price is None  # an empty book: the entry VWAP


def test_sample_policy_is_deterministic_and_uses_both_order_types() -> None:
    runs = []
    for _ in range(2):
        p = SamplePolicy(seed=7)
        runs.append([p.decide(snap(c, str(50000 + c), str(50000 + c) + ".1")) for c in range(30)])
    assert runs[0] == runs[1]
    kinds = {d.order_type for cycle in runs[0] for d in cycle}
    assert kinds == {OrderType.LIMIT, OrderType.MARKET}
    meta = next(d.metadata for cycle in runs[0] for d in cycle)
    assert meta.confidence is not None and "momentum_bps" in meta.features

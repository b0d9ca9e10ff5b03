"""Views for plane tests: each one is self-consistent, so a torn copy is detectable."""

from __future__ import annotations

from decimal import Decimal

from pink.kernel.messages import Action, Intent, IntentRecorded, Side
from pink.kernel.views import AccountView, SlotView

__all__ = ["account_view", "consistent", "intent_record", "slot_view"]


def slot_view(slot: int, v: int, state: str = "OPEN") -> SlotView:
    q = Decimal(v) / Decimal(1000)
    return SlotView(
        slot=slot,
        version=v,
        state=state,
        trade_id=f"t{v}",
        symbol="BTC-USDT" + "X" * (v % 97),  # lengths vary: torn copies differ
        side=Side.LONG if v % 2 else Side.SHORT,
        entry_qty=q,
        remaining_qty=q,
        entry_vwap=Decimal(v),
        exit_qty=q,
        exit_notional=Decimal(v) * q,
        legs_done=v % 7,
        realized_pnl=-q,
        fees=q,
        working_order=f"c{v}",
        deadline=v,
        desync_reason="",
    )


def consistent(view: SlotView) -> bool:
    v = view.version
    return view == slot_view(view.slot, v, view.state)


def account_view(v: int) -> AccountView:
    return AccountView(
        version=v,
        seq=v,
        initial_capital=Decimal("10000"),
        capital=Decimal("10000") + Decimal(v) / 100,
        gross_pnl=Decimal(v) / 100,
        fees=Decimal(0),
        funding=Decimal(0),
        transfers=Decimal(0),
        net_pnl=Decimal(v) / 100,
    )


def intent_record(n: int) -> IntentRecorded:
    intent = Intent(
        action=Action.ENTER,
        slot=n % 4,
        trade_id=f"t{n}",
        intent_id=f"i{n}",
        asset="BTC-USDT",
        side=Side.LONG,
        quantity=Decimal("0.001"),
    )
    return IntentRecorded(intent=intent, status="PENDING", reason="OK", detail="", ts=n)

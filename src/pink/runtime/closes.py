"""A close-all over a working order: cancel the order first, then close.

A slot has one order at a time, so the kernel refuses an EXIT while the slot's take-profit
LIMIT rests, or while its entry LIMIT is still working after a partial fill (SLOT_BUSY). A
policy's stop is an EXIT with ``close_all``: the trader means "close all of it now". The runtime
therefore cancels the working order and sends the close as soon as the slot holds its position
alone (a MARKET order in flight is not canceled: it fills by itself; the close follows it). If
the order filled in full meanwhile, there is nothing left to close and the close is dropped.

The waiting close is not journaled: after a restart, the policy, seeing its stop still hit,
asks again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pink.kernel.messages import Action, Intent, OrderType
from pink.kernel.views import OrderView, SlotView

__all__ = ["ClosesAfterCancel"]

_CANCEL_REASON = "close_all: the working order is canceled first"


class ClosesAfterCancel:
    """The closes waiting for their slot's working order to end, by slot."""

    def __init__(self) -> None:
        self.waiting: dict[int, Intent] = {}

    def take(self, intent: Intent, view: SlotView, working: Sequence[OrderView]) -> Intent | None:
        """What to submit now for a policy's ``intent``: itself, a CANCEL of the slot's working
        order (the close then waits), or nothing (it waits for an order already ending)."""
        if intent.action is not Action.EXIT or intent.close_all is not True or not view.working_order:
            return intent
        if view.state == "DESYNC" or (intent.trade_id and intent.trade_id != view.trade_id):
            return intent  # the kernel says why not
        self.waiting[view.slot] = intent.stamped(view.trade_id, intent.intent_id, intent.decision_id)
        order = next((o for o in working if o.client_order_id == view.working_order), None)
        if view.state.endswith("_CANCELING") or order is None or order.order_type is OrderType.MARKET:
            return None
        return Intent(Action.CANCEL, view.slot, view.trade_id, "", reason=_CANCEL_REASON)

    def due(self, view_of: Callable[[int], SlotView]) -> list[Intent]:
        """The closes whose slot now holds its position alone; those whose trade ended are dropped."""
        out: list[Intent] = []
        for slot, intent in list(self.waiting.items()):
            view = view_of(slot)
            if view.trade_id != intent.trade_id or view.state == "IDLE":
                del self.waiting[slot]
            elif view.state == "POSITION_OPEN":
                del self.waiting[slot]
                out.append(intent)
        return out

"""The flatten command: cancel working orders, close every position at market."""

from __future__ import annotations

from collections.abc import Sequence

from pink.kernel.messages import Action, Intent, OrderType
from pink.kernel.views import SlotView

__all__ = ["flatten_intents"]


def flatten_intents(slots: Sequence[SlotView]) -> list[Intent]:
    """Intents that move every slot toward flat, from current views.

    A slot with a working order gets a CANCEL (its position, if any, is
    closed on a later pass once the order is done); a slot with a position
    and no working order gets an EXIT of the whole remainder at market.
    Slots with an order in flight (deadline set, no working order) wait.
    """
    out: list[Intent] = []
    for s in slots:
        if s.state == "DESYNC":
            continue
        if s.working_order:
            if s.state.endswith("_CANCELING"):
                continue  # already asked
            out.append(Intent(Action.CANCEL, s.slot, s.trade_id, "", reason="flatten"))
        elif s.remaining_qty > 0 and s.deadline == 0:
            out.append(
                Intent(
                    Action.EXIT,
                    s.slot,
                    s.trade_id,
                    "",
                    order_type=OrderType.MARKET,
                    close_all=True,
                    reason="flatten",
                )
            )
    return out

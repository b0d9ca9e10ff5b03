"""Slot states and the ``(state, trigger) -> state`` table: all of it, here.

Everything that moves a slot from one state to another is a row of
:data:`TRANSITIONS`. The kernel never assigns a state any other way (it calls
:func:`next_state`), the diagram in ``docs/states.md`` is generated from this
table, and the state-space test walks it to prove that IDLE is reachable from
every state (flaw E8: no slot can be stranded).

Triggers whose destination depends on data are split by that data, so that the
table stays a function: an order that ends (filled, canceled, expired,
rejected) is ``ORDER_DONE_OPEN`` when the trade still holds a position and
``ORDER_DONE_FLAT`` when it holds none.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "IN_FLIGHT",
    "TRANSITIONS",
    "S",
    "SlotState",
    "T",
    "Trigger",
    "can_reach_idle",
    "mermaid",
    "next_state",
]


class SlotState(str, Enum):
    IDLE = "IDLE"
    ENTRY_PENDING = "ENTRY_PENDING"  # entry order sent, no ack yet
    ENTRY_WORKING = "ENTRY_WORKING"  # entry order live at the venue
    ENTRY_CANCELING = "ENTRY_CANCELING"  # cancel of the entry requested
    POSITION_OPEN = "POSITION_OPEN"  # position held, no order in flight
    EXIT_PENDING = "EXIT_PENDING"  # exit leg sent, no ack yet
    EXIT_WORKING = "EXIT_WORKING"  # exit leg live at the venue
    EXIT_CANCELING = "EXIT_CANCELING"  # cancel of the exit leg requested
    DESYNC = "DESYNC"  # the venue did something the kernel cannot explain


class Trigger(str, Enum):
    ENTER = "ENTER"
    EXIT = "EXIT"
    CANCEL = "CANCEL"
    ACCEPTED = "ACCEPTED"
    FILLED = "FILLED"  # a fill that leaves the order live
    CANCEL_REJECTED = "CANCEL_REJECTED"  # the venue says the order is still open
    ORDER_DONE_OPEN = "ORDER_DONE_OPEN"  # order ended; the trade holds a position
    ORDER_DONE_FLAT = "ORDER_DONE_FLAT"  # order ended; the trade holds nothing
    PROTOCOL_ERROR = "PROTOCOL_ERROR"  # an impossible or malformed venue event
    RESOLVED_ENTRY = "RESOLVED_ENTRY"  # reconciliation: the entry order is live
    RESOLVED_EXIT = "RESOLVED_EXIT"  # reconciliation: the exit order is live


class S:
    """Slot states as plain class attributes: Enum member access costs a descriptor call."""

    IDLE = SlotState.IDLE
    ENTRY_PENDING = SlotState.ENTRY_PENDING
    ENTRY_WORKING = SlotState.ENTRY_WORKING
    ENTRY_CANCELING = SlotState.ENTRY_CANCELING
    POSITION_OPEN = SlotState.POSITION_OPEN
    EXIT_PENDING = SlotState.EXIT_PENDING
    EXIT_WORKING = SlotState.EXIT_WORKING
    EXIT_CANCELING = SlotState.EXIT_CANCELING
    DESYNC = SlotState.DESYNC


class T:
    """Triggers as plain class attributes (see :class:`S`)."""

    ENTER = Trigger.ENTER
    EXIT = Trigger.EXIT
    CANCEL = Trigger.CANCEL
    ACCEPTED = Trigger.ACCEPTED
    FILLED = Trigger.FILLED
    CANCEL_REJECTED = Trigger.CANCEL_REJECTED
    ORDER_DONE_OPEN = Trigger.ORDER_DONE_OPEN
    ORDER_DONE_FLAT = Trigger.ORDER_DONE_FLAT
    PROTOCOL_ERROR = Trigger.PROTOCOL_ERROR
    RESOLVED_ENTRY = Trigger.RESOLVED_ENTRY
    RESOLVED_EXIT = Trigger.RESOLVED_EXIT


_ENTRY_LIVE = (S.ENTRY_PENDING, S.ENTRY_WORKING, S.ENTRY_CANCELING)
_EXIT_LIVE = (S.EXIT_PENDING, S.EXIT_WORKING, S.EXIT_CANCELING)

TRANSITIONS: dict[tuple[SlotState, Trigger], SlotState] = {
    # commands
    (S.IDLE, T.ENTER): S.ENTRY_PENDING,
    (S.POSITION_OPEN, T.EXIT): S.EXIT_PENDING,
    (S.ENTRY_PENDING, T.CANCEL): S.ENTRY_CANCELING,
    (S.ENTRY_WORKING, T.CANCEL): S.ENTRY_CANCELING,
    (S.EXIT_PENDING, T.CANCEL): S.EXIT_CANCELING,
    (S.EXIT_WORKING, T.CANCEL): S.EXIT_CANCELING,
    # acks
    (S.ENTRY_PENDING, T.ACCEPTED): S.ENTRY_WORKING,
    (S.ENTRY_WORKING, T.ACCEPTED): S.ENTRY_WORKING,
    # real world: the ack of an order we already asked to cancel
    (S.ENTRY_CANCELING, T.ACCEPTED): S.ENTRY_CANCELING,
    (S.EXIT_PENDING, T.ACCEPTED): S.EXIT_WORKING,
    (S.EXIT_WORKING, T.ACCEPTED): S.EXIT_WORKING,
    (S.EXIT_CANCELING, T.ACCEPTED): S.EXIT_CANCELING,
    # partial fills
    # real world: a fill that arrives before its ack
    (S.ENTRY_PENDING, T.FILLED): S.ENTRY_WORKING,
    (S.ENTRY_WORKING, T.FILLED): S.ENTRY_WORKING,
    # real world: a fill after the cancel request (the cancel may still win)
    (S.ENTRY_CANCELING, T.FILLED): S.ENTRY_CANCELING,
    (S.EXIT_PENDING, T.FILLED): S.EXIT_WORKING,
    (S.EXIT_WORKING, T.FILLED): S.EXIT_WORKING,
    (S.EXIT_CANCELING, T.FILLED): S.EXIT_CANCELING,
    # a refused cancel restores the working state
    (S.ENTRY_CANCELING, T.CANCEL_REJECTED): S.ENTRY_WORKING,
    (S.EXIT_CANCELING, T.CANCEL_REJECTED): S.EXIT_WORKING,
    # reconciliation of a flagged slot
    (S.DESYNC, T.RESOLVED_ENTRY): S.ENTRY_WORKING,
    (S.DESYNC, T.RESOLVED_EXIT): S.EXIT_WORKING,
    (S.DESYNC, T.ORDER_DONE_OPEN): S.POSITION_OPEN,
    (S.DESYNC, T.ORDER_DONE_FLAT): S.IDLE,
    # real world: a late fill of an exit the venue had ended at less leaves the trade flat
    (S.POSITION_OPEN, T.ORDER_DONE_FLAT): S.IDLE,
}
# an order ends: filled in full, canceled, expired or rejected
for _s in (*_ENTRY_LIVE, *_EXIT_LIVE):
    TRANSITIONS[(_s, T.ORDER_DONE_OPEN)] = S.POSITION_OPEN
    TRANSITIONS[(_s, T.ORDER_DONE_FLAT)] = S.IDLE
# anything the kernel cannot explain flags the slot; reconciliation leaves it
for _s in SlotState:
    if _s is not S.IDLE:
        TRANSITIONS[(_s, T.PROTOCOL_ERROR)] = S.DESYNC

IN_FLIGHT = frozenset({*_ENTRY_LIVE, *_EXIT_LIVE, S.DESYNC})
"""States with an order in flight (or unexplained): each carries a deadline."""


def next_state(state: SlotState, trigger: Trigger) -> SlotState | None:
    """The destination of ``trigger`` in ``state``, or None if it is not allowed."""
    return TRANSITIONS.get((state, trigger))


def can_reach_idle() -> dict[SlotState, bool]:
    """For every state, whether some path of transitions leads back to IDLE."""
    reach = {S.IDLE}
    changed = True
    while changed:
        changed = False
        for (src, _trigger), dst in TRANSITIONS.items():
            if dst in reach and src not in reach:
                reach.add(src)
                changed = True
    return {s: s in reach for s in SlotState}


def mermaid() -> str:
    """The table as a Mermaid state diagram (docs/states.md is generated from it)."""
    lines = ["stateDiagram-v2", "    [*] --> IDLE"]
    for (src, trigger), dst in TRANSITIONS.items():
        lines.append(f"    {src.value} --> {dst.value}: {trigger.value}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print("# Slot states\n\nGenerated from `pink.kernel.states.TRANSITIONS` by `python -m pink.kernel.states`.\n")
    print("```mermaid")
    print(mermaid(), end="")
    print("```")

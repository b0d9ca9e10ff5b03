"""The transition table: a state-space proof that no slot can be stranded (E8), and the diagram."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from pink.kernel import OrderStatus, OutcomeStatus
from pink.kernel.states import IN_FLIGHT, TRANSITIONS, SlotState, Trigger, can_reach_idle, mermaid, next_state
from tests.kernel.harness import Driver, place

DOCS = Path(__file__).resolve().parents[2] / "docs" / "states.md"


def test_e08_every_state_of_the_table_can_reach_idle() -> None:
    reach = can_reach_idle()
    assert all(reach.values()), [s for s, ok in reach.items() if not ok]


def test_e08_every_state_is_reachable_from_idle() -> None:
    seen = {SlotState.IDLE}
    frontier = [SlotState.IDLE]
    while frontier:
        s = frontier.pop()
        for (src, _t), dst in TRANSITIONS.items():
            if src is s and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    assert seen == set(SlotState)


Abstract = tuple[str, bool, bool, bool, bool, bool]


def _abstract(d: Driver) -> Abstract:
    """A slot's abstract state: table state, holds a position, has a live order, order partly filled,
    the live order would close the position, the next exit leg is the last."""
    slot = d.k.slots[0]
    trade = slot.trade
    order = d.k.orders.get(slot.order_cid)
    live = order is not None and order.live
    closes = bool(
        live and trade and order and order.role == "EXIT" and order.quantity - order.filled == trade.remaining
    )
    last_leg = bool(trade and trade.legs_done >= len(trade.exit_legs) - 1)
    return (
        slot.state.value,
        bool(trade and trade.remaining > 0),
        live,
        bool(live and order and order.filled > 0),
        closes,
        last_leg,
    )


def _moves(d: Driver) -> list[tuple[str, object]]:
    """Every message that could arrive now, from the policy or the venue."""
    slot = d.k.slots[0]
    cid = slot.order_cid
    order = d.k.orders.get(cid)
    moves: list[tuple[str, object]] = [("enter", None), ("exit", None), ("exit_all", None), ("cancel", None)]
    if order is not None and order.live:
        rest = order.quantity - order.filled
        half = (rest / 2).quantize(D("0.001"))
        moves += [
            ("ack", None),
            ("fill_all", rest),
            ("canceled", None),
            ("cancel_rejected_open", None),
            ("cancel_rejected_gone", None),
            ("bad_fill", None),
            ("report_not_found", None),
            ("report_filled", None),
            ("tick", None),
        ]
        if half > 0:
            moves.append(("fill_half", half))
    if slot.state is SlotState.DESYNC:
        moves += [("report_filled", None), ("report_canceled", None), ("report_open", None)]
    return moves


def _do(d: Driver, move: str, arg: object) -> None:
    slot = d.k.slots[0]
    cid = slot.order_cid
    order = d.k.orders.get(cid)
    qty = str(order.quantity) if order else "0"
    filled = order.filled if order else D(0)
    if move == "enter":
        d.enter(0, "1.000", legs=("0.5", "0.5"), limit="100.0")
    elif move == "exit":
        d.exit(0)
    elif move == "exit_all":
        d.exit(0, close_all=True)
    elif move == "cancel":
        d.cancel(0)
    elif move == "ack":
        d.ack(cid)
    elif move in ("fill_all", "fill_half"):
        q = D(str(arg))
        d.fill(cid, str(q), "100.0", str(filled + q))
    elif move == "canceled":
        d.canceled(cid, str(filled))
    elif move == "cancel_rejected_open":
        d.cancel_rejected(cid, "X", still_open=True)
    elif move == "cancel_rejected_gone":
        d.cancel_rejected(cid, "ORDER_ALREADY_FILLED", still_open=None)
    elif move == "bad_fill":
        d.fill(cid, "0.001", "0", str(filled + D("0.001")))
    elif move == "report_not_found":
        d.report(cid, OrderStatus.NOT_FOUND, qty, "0", "0")
    elif move == "report_filled":
        d.report(cid, OrderStatus.FILLED, qty, qty, "100.0")
    elif move == "report_canceled":
        d.report(cid, OrderStatus.CANCELED, qty, str(filled), "100.0" if filled else "0")
    elif move == "report_open":
        d.report(cid, OrderStatus.NEW, qty, str(filled), "100.0" if filled else "0")
    elif move == "tick":
        d.k.tick(d.now + 10**15)


def _replay(path: list[tuple[str, object]]) -> Driver:
    d = Driver(slots=1)
    for move, arg in path:
        _do(d, move, arg)
    return d


def test_e08_state_space_of_a_real_kernel_always_returns_to_idle() -> None:
    """Breadth-first over abstract slot states reached by real messages; from each, IDLE is reachable."""
    start = _replay([])
    paths: dict[Abstract, list[tuple[str, object]]] = {_abstract(start): []}
    frontier = [[]]  # type: list[list[tuple[str, object]]]
    edges: dict[Abstract, set[Abstract]] = {}
    while frontier:
        nxt = []
        for path in frontier:
            d = _replay(path)
            src = _abstract(d)
            for move, arg in _moves(d):
                d2 = _replay([*path, (move, arg)])
                d2.assert_books_balance()
                dst = _abstract(d2)
                edges.setdefault(src, set()).add(dst)
                if dst not in paths and len(path) < 9:
                    paths[dst] = [*path, (move, arg)]
                    nxt.append(paths[dst])
        frontier = nxt
    states = set(paths)
    assert {s[0] for s in states} >= {
        "IDLE",
        "ENTRY_PENDING",
        "ENTRY_WORKING",
        "ENTRY_CANCELING",
        "POSITION_OPEN",
        "EXIT_PENDING",
        "EXIT_WORKING",
        "EXIT_CANCELING",
        "DESYNC",
    }
    idle = {s for s in states if s[0] == "IDLE"}
    can = set(idle)
    changed = True
    while changed:
        changed = False
        for src, dsts in edges.items():
            if src not in can and dsts & can:
                can.add(src)
                changed = True
    assert states <= can, sorted(states - can)


@pytest.mark.parametrize(("state", "trigger"), sorted(TRANSITIONS, key=lambda k: (k[0].value, k[1].value)))
def test_each_transition_of_the_table_is_a_function(state: SlotState, trigger: Trigger) -> None:
    dst = next_state(state, trigger)
    assert dst is TRANSITIONS[(state, trigger)]
    if state in IN_FLIGHT and dst is SlotState.IDLE:
        assert trigger in (Trigger.ORDER_DONE_FLAT,)


def test_transitions_not_in_the_table_are_refused_without_change() -> None:
    d = Driver(slots=1)
    out = d.exit(0)  # EXIT from IDLE is not in the table
    assert out.status is OutcomeStatus.REFUSED and d.state() == "IDLE"
    assert next_state(SlotState.IDLE, Trigger.EXIT) is None


def test_fill_after_cancel_request_and_fill_before_ack_are_real_world_rows() -> None:
    d = Driver(slots=1)
    p = place(d.enter(0, limit="100.0"))
    d.fill(p.client_order_id, "0.400", "100.0", "0.400")  # before its ack
    assert d.state() == "ENTRY_WORKING"
    d.cancel(0)
    d.fill(p.client_order_id, "0.100", "100.0", "0.500")  # after the cancel request
    assert d.state() == "ENTRY_CANCELING"
    d.canceled(p.client_order_id, "0.500")
    assert d.state() == "POSITION_OPEN" and d.k.slot_view(0).entry_qty == D("0.500")


def test_docs_state_diagram_is_generated_from_the_table() -> None:
    text = DOCS.read_text()
    assert mermaid() in text, "docs/states.md is stale: run python -m pink.kernel.states > docs/states.md"

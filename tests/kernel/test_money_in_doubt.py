"""``Kernel.money_in_doubt``: when the kernel itself knows its capital need not match the venue's
wallet now, so the running books check (pink.runtime.books) does not take that reading as settled."""

from __future__ import annotations

from decimal import Decimal as D

from pink.kernel.messages import OrderFilled
from tests.kernel.harness import Driver, place


def test_orders_sent_or_being_canceled_are_money_in_doubt_working_ones_are_not() -> None:
    d = Driver()
    assert d.k.money_in_doubt() == ""
    cid = place(d.enter(0, limit="100.0")).client_order_id
    assert d.k.money_in_doubt() == f"order {cid} pending"  # its fill may be on its way
    d.ack(cid)
    assert d.k.money_in_doubt() == ""  # resting: a fill would be booked before the reading
    d.cancel(0)
    assert d.k.money_in_doubt() == f"order {cid} canceling"  # a fill may race the cancel
    d.canceled(cid)
    assert d.k.money_in_doubt() == "" and d.state() == "IDLE"


def test_a_desync_slot_an_open_position_and_an_open_fee_check_are_money_in_doubt() -> None:
    d = Driver()
    cid = place(d.enter(0)).client_order_id
    d.ack(cid)
    d.fill(cid, "1.000", "0", "1.000")  # no price: quarantined, the slot is DESYNC
    assert d.state() == "DESYNC" and d.k.money_in_doubt() == "slot 0 DESYNC"
    d2 = Driver()
    cid2 = place(d2.enter(0)).client_order_id
    d2.ack(cid2)
    d2.apply(OrderFilled(cid2, f"v-{cid2}", "f1", D("1.000"), D("100.0"), D("1.000"), D("0.05"), "USDT",
                         d2.now, fee_final=False))  # fmt: skip
    # the venue prices a position at its average entry over every slot holding it
    assert d2.state() == "POSITION_OPEN" and d2.k.money_in_doubt() == "slot 0 holds a position"
    exit_cid = place(d2.exit(0, close_all=True)).client_order_id
    d2.ack(exit_cid)
    d2.fill(exit_cid, "1.000", "101.0", "1.000")
    assert d2.state() == "IDLE" and d2.k.money_in_doubt() == "1 fee check(s) open"  # the entry's fee

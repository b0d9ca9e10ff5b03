"""``Kernel.money_in_doubt``: when the kernel itself knows its capital need not match the venue's
wallet now, so the running books check (pink.runtime.books) does not take that reading as settled."""

from __future__ import annotations

from decimal import Decimal as D

from pink.kernel import Kernel
from pink.kernel.messages import FillBooked, OrderFilled, Side, TradeClosed
from tests.kernel.harness import BTC, Driver, place


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


def test_a_desync_slot_and_an_open_fee_check_are_money_in_doubt() -> None:
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
    # a position nothing closed yet is no doubt (neither side realized anything); the fee is
    assert d2.state() == "POSITION_OPEN" and d2.k.money_in_doubt() == "1 fee check(s) open"
    exit_cid = place(d2.exit(0, close_all=True)).client_order_id
    d2.ack(exit_cid)
    d2.fill(exit_cid, "1.000", "101.0", "1.000")
    assert d2.state() == "IDLE" and d2.k.money_in_doubt() == "1 fee check(s) open"  # the entry's fee


def _open(d: Driver, slot: int, px: str, **kw: object) -> None:
    cid = place(d.enter(slot, **kw)).client_order_id  # type: ignore[arg-type]
    d.ack(cid)
    d.fill(cid, "1.000", px, "1.000")


def test_a_position_its_own_leg_partly_closed_is_money_in_doubt_until_it_is_flat() -> None:
    """The venue releases a rounded share of the position's cost on a partial close: its profit
    and the kernel's leg differ until the close books the rest."""
    d = Driver()
    _open(d, 0, "100.0")
    assert d.k.money_in_doubt() == ""
    leg = place(d.exit(0))
    d.fill(leg.client_order_id, str(leg.quantity), "101.0", str(leg.quantity))
    assert d.k.money_in_doubt() == "slot 0 holds a position the venue has partly closed"
    last = place(d.exit(0))
    d.fill(last.client_order_id, str(last.quantity), "102.0", str(last.quantity))
    assert d.state() == "IDLE" and d.k.money_in_doubt() == ""


def test_another_slots_exit_on_the_same_venue_position_puts_the_one_still_open_in_doubt() -> None:
    """Slots 0 and 1 both hold BTC LONG: the venue realizes slot 0's exit at the average entry of
    both, so until slot 1 is flat too, the wallet and capital differ. Slot 2 (SHORT) is another
    venue position and slot 3, opened after the exit, saw no close."""
    d = Driver()
    _open(d, 0, "100.0")
    _open(d, 1, "104.0")
    _open(d, 2, "103.0", side=Side.SHORT)
    x = place(d.exit(0, close_all=True))
    d.fill(x.client_order_id, "1.000", "103.0", "1.000")
    assert d.state(0) == "IDLE"
    assert d.k.money_in_doubt() == "slot 1 holds a position the venue has partly closed"
    assert [s.trade.closed_in_part for s in d.k.slots[1:3] if s.trade] == [True, False]
    _open(d, 3, "105.0")
    assert d.k.slots[3].trade is not None and not d.k.slots[3].trade.closed_in_part
    y = place(d.exit(1, close_all=True))
    d.fill(y.client_order_id, "1.000", "103.5", "1.000")
    assert d.k.money_in_doubt() == "slot 3 holds a position the venue has partly closed"  # slot 1's exit


def test_a_trade_restored_from_a_snapshot_before_the_flag_existed_is_assumed_partly_closed() -> None:
    d = Driver()
    _open(d, 0, "100.0")
    old = d.k.snapshot()
    del old["slots"][0]["trade"]["closed_in_part"]
    restored = Kernel.restore(old)
    assert restored.money_in_doubt() == "slot 0 holds a position the venue has partly closed"
    assert Kernel.restore(d.k.snapshot()).money_in_doubt() == ""


def test_a_late_entry_fill_after_the_first_exit_counts_at_its_own_price() -> None:
    """Regression: the entry VWAP was frozen at the first exit fill, so an entry fill that came
    after it (the venue had canceled the entry at less, then filled the rest) was held at the old
    VWAP: ``partly_closed()`` understated the cost the venue holds, and later legs booked PnL
    against a price the position no longer had. The venue averages it in: so does the kernel."""
    d = Driver()
    entry = place(d.enter(0, "1.000", legs=("0.25", "0.25", "0.5"), limit="100.0")).client_order_id
    d.ack(entry)
    d.fill(entry, "0.500", "100.0", "0.500")
    d.cancel(0)
    d.canceled(entry, "0.500")  # canceled at 0.5 ...
    leg0 = place(d.exit(0))
    assert leg0.quantity == D("0.125")
    d.fill(leg0.client_order_id, "0.125", "110.0", "0.125")
    d.fill(entry, "0.500", "128.0", "1.000")  # ... then the rest filled after all, at 128
    # held: 0.375 at 100 and 0.5 at 128 = 101.5 over 0.875, an average entry of 116
    assert d.k.partly_closed() == {(BTC, Side.LONG): (D("0.875"), D("101.5"))}
    assert d.k.slot_view(0).entry_vwap == D("116")
    leg1 = place(d.exit(0))
    out = d.fill(leg1.client_order_id, str(leg1.quantity), "120.0", str(leg1.quantity))
    assert [r.realized_pnl for r in out.records if isinstance(r, FillBooked)] == [(D("120") - 116) * leg1.quantity]
    last = place(d.exit(0))
    out = d.fill(last.client_order_id, str(last.quantity), "120.0", str(last.quantity))
    closed = [r for r in out.records if isinstance(r, TradeClosed)]
    assert d.state() == "IDLE" and len(closed) == 1
    # what the round trip made, exactly; the trade's entry VWAP is its entry fills' (114)
    assert closed[0].gross_pnl == D("0.125") * 110 + D("0.875") * 120 - (50 + 64)
    assert closed[0].entry_vwap == D("114")
    d.assert_books_balance()


def test_the_cost_partly_closed_reports_is_what_the_trade_will_release_exactly_not_a_rounded_average() -> None:
    """An entry filled at 100.1 and 100.2 has an average of 100.1833333...; the kernel keeps it to
    1e-7 (the tick x 1e-6). ``partly_closed()`` priced what is held at that rounded average, so the
    books check saw a difference of up to half its unit times the quantity, larger than the
    venue's own rounding it allows for. The cost reported is what the trade's close will take off:
    its entry notional less what its exits took of it."""
    d = Driver()
    entry = place(d.enter(0, "0.600", legs=("0.5", "0.5"))).client_order_id
    d.fill(entry, "0.100", "100.1", "0.100")
    d.fill(entry, "0.500", "100.2", "0.600")
    leg0 = place(d.exit(0))
    d.fill(leg0.client_order_id, str(leg0.quantity), "101.0", str(leg0.quantity))
    held = D("0.600") - leg0.quantity
    trade = d.k.slots[0].trade
    assert trade is not None
    released = trade.exit_notional - trade.realized
    assert d.k.partly_closed() == {(BTC, Side.LONG): (held, D("60.11") - released)}
    last = place(d.exit(0))
    out = d.fill(last.client_order_id, str(held), "102.0", "0.600")
    # the close realizes what it sold for less exactly that cost
    assert [r.realized_pnl for r in out.records if isinstance(r, FillBooked)] == [held * 102 - (D("60.11") - released)]
    d.assert_books_balance()

"""A position closed outside PINK (by hand, or by a liquidation), booked on the operator's word
(E8: no slot held for ever by a trade whose position the venue no longer has)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from pink.journal import JournaledKernel, replay_records
from pink.kernel import (
    ClosedOutside,
    FillBooked,
    OrderRecorded,
    OrderRejected,
    OutcomeStatus,
    Reason,
    Settlement,
    TradeClosed,
)
from tests.kernel.harness import INSTRUMENTS, Driver, journaled_position, place


def _held(d: Driver, qty: str = "1.000", price: str = "100") -> str:
    p = place(d.enter(0, qty, legs=("0.5", "0.5")))
    d.fill(p.client_order_id, qty, price, qty)
    trade = d.k.slots[0].trade
    assert trade is not None
    return trade.trade_id


def test_e08_a_position_closed_by_hand_is_booked_at_its_price_and_frees_the_slot() -> None:
    d = Driver()
    tid = _held(d)
    leg = place(d.exit(0))
    d.fill(leg.client_order_id, "0.500", "104", "0.500")  # one leg by PINK: +2
    # the rest was closed on the venue by hand at 90 (fee 0.05): PINK's next exit finds nothing
    nxt = place(d.exit(0))
    d.apply(OrderRejected(nxt.client_order_id, "NO_POSITION", "101205: No position to close", d.now))
    out = d.apply(ClosedOutside(0, tid, D("90"), D("0.05"), d.now, note="closed by hand on BingX, ops"))
    assert out.status is OutcomeStatus.CONFIRMED, out
    assert out.detail == "0.500 BTC-USDT LONG booked closed outside PINK at 90, fee 0.05"
    assert d.state() == "IDLE" and d.k.slots[0].refusals == 0
    (order,) = [r for r in out.records if isinstance(r, OrderRecorded)]
    (fill,) = [r for r in out.records if isinstance(r, FillBooked)]
    (closed,) = [r for r in out.records if isinstance(r, TradeClosed)]
    assert order.client_order_id == fill.client_order_id == f"{tid}-out" and order.quantity == D("0.500")
    assert fill.last_price == D("90") and fill.commission == D("0.05")
    # the round trip: in at 100, out 0.5 at 104 and 0.5 at 90: -3 gross
    assert closed.exit_qty == D("1.000") and closed.gross_pnl == D("-3.000")
    d.assert_books_balance()
    assert d.k.account_view().capital == D("10000") - D("3") - D("0.01") * 2 - D("0.05")  # two fills by PINK
    place(d.enter(0))  # the slot takes a new trade


def test_a_closed_outside_word_that_does_not_fit_is_refused_naming_why_and_changes_nothing() -> None:
    d = Driver()
    tid = _held(d)
    before = d.k.snapshot()
    cases = [
        (ClosedOutside(9, tid, D("90"), D("0"), d.now), Reason.UNKNOWN_SLOT, "slot: 9 is not a slot number"),
        (ClosedOutside(0, "other", D("90"), D("0"), d.now), Reason.WRONG_TRADE, f"holds {tid!r}, not 'other'"),
        (ClosedOutside(1, tid, D("90"), D("0"), d.now), Reason.WRONG_TRADE, "slot 1 holds no trade"),
        (ClosedOutside(0, tid, D("-1"), D("0"), d.now), Reason.INVALID_FIELD, "price: must be > 0"),
        (ClosedOutside(0, tid, D("90"), D("-0.1"), d.now), Reason.INVALID_FIELD, "commission: must be >= 0"),
    ]
    for event, reason, text in cases:
        out = d.apply(event)
        assert out.status is OutcomeStatus.REFUSED and out.reason is reason and text in out.detail, out
    place(d.exit(0))  # an exit leg working: cancel it first
    busy = d.apply(ClosedOutside(0, tid, D("90"), D("0"), d.now))
    assert busy.reason is Reason.SLOT_BUSY and "EXIT_PENDING" in busy.detail and "cancel its order" in busy.detail
    assert d.k.snapshot()["account"] == before["account"]


def test_a_closed_outside_booking_is_journaled_and_replays_to_the_same_records(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    jk, cfg, live = journaled_position(path)
    live.extend(jk.apply(ClosedOutside(0, "t1", D("95"), D("0.001"), 3, note="liquidated"), 3).records)
    jk.close()
    assert list(replay_records(path)) == live
    assert [r.seq for r in live if isinstance(r, Settlement)] == [1, 2]
    again = JournaledKernel.open(path, cfg, INSTRUMENTS)
    try:
        assert again.kernel.slot_view(0).state == "IDLE"
        assert again.kernel.account_view().capital == D("10000") - D("0.5") - D("0.003")
    finally:
        again.close()

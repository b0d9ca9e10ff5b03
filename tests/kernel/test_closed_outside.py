"""A position closed outside PINK (by hand, or by a liquidation), booked on the operator's word
(E8: no slot held for ever by a trade whose position the venue no longer has)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from pink.journal import JournaledKernel, replay_records
from pink.kernel import (
    ClosedOutside,
    FillBooked,
    Kernel,
    OrderFilled,
    OrderRecorded,
    OrderRejected,
    OrderSide,
    OutcomeStatus,
    OutsideFillRecorded,
    Reason,
    Settlement,
    Side,
    TradeClosed,
    TradeCorrected,
)
from pink.runtime.stats import RunStats
from tests.kernel.harness import BTC, INSTRUMENTS, Driver, journaled_position, place


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


def _late_hand_fill(d: Driver, qty: str, price: str, fee: str, ts: int, position_side: Side | None,
                    fill_id: str = "h1") -> OrderFilled:  # fmt: skip
    """The venue's fill of the hand close itself, dated ``ts`` (read by a reconcile after the
    operator's word was booked)."""
    return OrderFilled("", f"v-{fill_id}", fill_id, D(qty), D(price), D(qty), D(fee), "USDT", ts, False, BTC,
                       OrderSide.SELL, position_side)  # fmt: skip


def test_e08_the_late_venue_fill_of_a_close_booked_on_the_word_trues_it_up_and_invents_no_position() -> None:
    """One way (no position side): the hand close's fill, found after the operator booked it
    closed, is no position held outside PINK on the other side (which would make PINK's position
    checks look for a short the venue never held): it trues the word's price and fee up."""
    d = Driver()
    tid = _held(d)
    closed_ts = d.now  # the hand close, on the venue, before the operator's word
    out = d.apply(ClosedOutside(0, tid, D("90"), D("0"), d.now, note="by hand"))
    assert out.status is OutcomeStatus.CONFIRMED and d.state() == "IDLE"
    capital = d.k.account_view().capital
    late = d.apply(_late_hand_fill(d, "1.000", "89.5", "0.045", closed_ts, None))
    assert late.status is OutcomeStatus.CONFIRMED, late
    assert d.k.held_outside() == {}, "a position held outside PINK that the venue never held"
    (fix,) = [r for r in late.records if isinstance(r, TradeCorrected)]
    assert (fix.trade_id, fix.exit_notional, fix.gross_pnl, fix.fees) == (tid, D("-0.5000"), D("-0.5000"), D("0.045"))
    assert d.k.account_view().capital == capital - D("0.5") - D("0.045")
    rows = [r for r in late.records if isinstance(r, FillBooked)]
    assert [(r.client_order_id, r.last_qty, r.last_price) for r in rows] == [
        (f"{tid}-out", D("-1.000"), D("90")), (f"{tid}-out", D("1.000"), D("89.5"))]
    (alert,) = [r for r in late.records if isinstance(r, OutsideFillRecorded)]
    assert f"trade {tid}" in alert.detail and "operator's word" in alert.detail
    d.assert_books_balance()
    assert d.apply(_late_hand_fill(d, "1.000", "89.5", "0.045", closed_ts, None)).status is OutcomeStatus.DUPLICATE
    assert Kernel.restore(d.k.snapshot()).snapshot() == d.k.snapshot()
    stats = RunStats(D(10000))
    stats.observe(late.records)  # type: ignore[arg-type]
    closes = [a for a in stats.alerts if a.startswith("slot ") and "booked closed outside PINK" in a]
    assert closes == [f"slot 0 trade {tid}: 1.000 BTC-USDT booked closed outside PINK at 89.5, fee 0.045"], \
        stats.alerts  # the real fill: not the reversal of the word's booking ("-1.000 ... at 90")


def test_e08_the_late_venue_fill_of_a_close_booked_on_the_word_is_not_booked_on_another_trade() -> None:
    """Hedge mode, another trade of PINK's long the same symbol: the late fill of the close the
    operator booked is that close's, not a close of the other trade (which the venue still holds)."""
    d = Driver()
    tid = _held(d)
    p = place(d.enter(1, "1.000", legs=("0.5", "0.5")))
    d.fill(p.client_order_id, "1.000", "100", "1.000")
    other = d.k.slots[1].trade.trade_id if d.k.slots[1].trade else ""
    closed_ts = d.now
    assert d.apply(ClosedOutside(0, tid, D("90"), D("0.05"), d.now)).status is OutcomeStatus.CONFIRMED
    late = d.apply(_late_hand_fill(d, "1.000", "90", "0.05", closed_ts, Side.LONG))
    assert late.status is OutcomeStatus.CONFIRMED, late
    view = d.k.slot_view(1)
    assert (view.trade_id, view.remaining_qty, view.state) == (other, D("1.000"), "POSITION_OPEN")
    (fix,) = [r for r in late.records if isinstance(r, TradeCorrected)]
    assert (fix.gross_pnl, fix.fees) == (0, 0)
    # a close by hand dated after the word is a new one: it closes the other trade
    after = d.apply(_late_hand_fill(d, "1.000", "91", "0.05", d.now, Side.LONG, fill_id="h2"))
    assert after.status is OutcomeStatus.CONFIRMED and d.state(1) == "IDLE"
    d.assert_books_balance()

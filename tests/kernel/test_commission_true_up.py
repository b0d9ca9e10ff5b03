"""Commission true-up: the venue's total for an ended order corrects the fees its fills booked."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from pink.journal import JournaledKernel, replay_records
from pink.kernel import (
    Action,
    Intent,
    Kernel,
    KernelConfig,
    OrderFilled,
    OrderStatus,
    OrderStatusReport,
    OrderType,
    OutcomeStatus,
    PlaceOrder,
    Side,
)
from pink.kernel.commission import FEE_CHECK_TRIES
from pink.kernel.messages import CommissionReported, ProtocolErrorRecorded, QueryOrder, Settlement
from tests.kernel.harness import BTC, INSTRUMENTS, Driver, journaled_entry, place


def _commission(cid: str, cum: str, total: str, asset: str = "USDT") -> CommissionReported:
    return CommissionReported(cid, f"v-{cid}", D(cum), D(total), asset, 0)


def _partly_filled_entry(d: Driver) -> str:
    """A 1.000 LIMIT entry filled in two pushes whose fee field carried the running total
    (0.02, then 0.05 where 0.03 was this fill's): 0.07 booked, 0.05 paid."""
    cid = place(d.enter(0, limit="100.0")).client_order_id
    d.ack(cid)
    d.fill(cid, "0.400", "100.0", "0.400", fee="0.02")
    d.fill(cid, "0.600", "100.0", "1.000", fee="0.05")
    return cid


def test_an_ended_orders_total_corrects_its_fees_once() -> None:
    d = Driver()
    cid = _partly_filled_entry(d)
    fees_before = d.k.account_view().fees
    out = d.apply(_commission(cid, "1.000", "0.05"))
    assert out.status is OutcomeStatus.CONFIRMED
    (entry,) = out.records
    assert isinstance(entry, Settlement) and entry.kind.value == "ADJUSTMENT"
    assert entry.fee == D("-0.02") and entry.amount == 0 and entry.cause == f"commission:{cid}"
    assert entry.trade_id == d.k.slots[0].trade.trade_id  # type: ignore[union-attr]
    acct = d.k.account_view()
    assert acct.fees == fees_before - D("0.02") == D("0.05")
    assert acct.capital == D(10000) - D("0.05")
    d.assert_books_balance()
    # the same total again, or reported twice by a restarted adapter: nothing more is booked
    assert d.apply(_commission(cid, "1.000", "0.05")).status is OutcomeStatus.DUPLICATE
    assert d.k.account_view().fees == D("0.05")


def test_a_retired_orders_total_is_booked_against_the_account_and_its_trade_id() -> None:
    d = Driver()
    cid = _partly_filled_entry(d)
    trade_id = d.k.slots[0].trade.trade_id  # type: ignore[union-attr]
    x = place(d.exit(0, close_all=True)).client_order_id
    d.fill(x, "1.000", "101.0", "1.000", fee="0.10")
    assert d.state() == "IDLE" and cid in d.k.retired
    out = d.apply(_commission(cid, "1.000", "0.05"))
    (entry,) = out.records
    assert isinstance(entry, Settlement) and entry.slot == -1 and entry.trade_id == trade_id
    assert d.k.account_view().fees == D("0.15")
    d.assert_books_balance()
    assert d.apply(_commission(cid, "1.000", "0.05")).status is OutcomeStatus.DUPLICATE
    # the corrected total survives a snapshot: after a restart the same report is a no-op
    restored = Kernel.restore(d.k.snapshot())
    assert restored.apply(_commission(cid, "1.000", "0.05"), d.now).status is OutcomeStatus.DUPLICATE
    assert restored.apply(_commission(cid, "1.000", "0.06"), d.now).records[0].fee == D("0.01")  # type: ignore[union-attr]


def test_a_working_order_or_one_with_fills_outstanding_is_left_alone() -> None:
    d = Driver()
    cid = place(d.enter(0, limit="100.0")).client_order_id
    d.ack(cid)
    d.fill(cid, "0.400", "100.0", "0.400", fee="0.02")
    working = d.apply(_commission(cid, "0.400", "0.01"))
    assert working.status is OutcomeStatus.UNKNOWN and not working.records  # a fill may still come
    d.canceled(cid, cum="0.700")  # ended, but 0.300 of its fills are still on their way
    behind = d.apply(_commission(cid, "0.700", "0.04"))
    assert behind.status is OutcomeStatus.UNKNOWN and not behind.records
    assert d.k.account_view().fees == D("0.02")


def test_refund_and_other_asset_and_bad_input() -> None:
    d = Driver()
    cid = _partly_filled_entry(d)
    other = d.apply(_commission(cid, "1.000", "0.0001", asset="BNB"))
    assert other.status is OutcomeStatus.DUPLICATE and "BNB" in other.detail and not other.records
    for bad, named in (
        (CommissionReported(cid, "", D("1.000"), D("NaN"), "USDT", 0), "commission"),
        (CommissionReported(cid, "", D("1.000"), 0.05, "USDT", 0), "commission"),  # type: ignore[arg-type]
        (CommissionReported(cid, "", D("-1"), D("0.05"), "USDT", 0), "cum_qty"),
        (CommissionReported("", "", D("1.000"), D("0.05"), "USDT", 0), "client_order_id"),
    ):
        out = d.apply(bad)
        assert out.status is OutcomeStatus.QUARANTINED and named in out.detail, out
    unknown = d.apply(_commission("nobody", "1.000", "0.05"))
    assert unknown.status is OutcomeStatus.QUARANTINED
    assert isinstance(unknown.records[0], ProtocolErrorRecorded)
    assert d.k.account_view().fees == D("0.07")  # nothing was booked by any of these
    # a negative total is a rebate: the whole booked fee comes back and more
    out = d.apply(_commission(cid, "1.000", "-0.01"))
    assert out.records[0].fee == D("-0.08")  # type: ignore[union-attr]
    assert d.k.account_view().fees == D("-0.01")
    d.assert_books_balance()


def test_a_true_up_is_journaled_and_replayed(tmp_path: Path) -> None:
    """Journal first: the report is written before it is applied, and a restart replays it."""
    path = tmp_path / "journal.sqlite"
    cfg = KernelConfig(slots=2, initial_capital=D(10000))
    jk = JournaledKernel.open(path, cfg, INSTRUMENTS)
    out = jk.submit(Intent(Action.ENTER, 0, "t1", "i1", asset=BTC, side=Side.LONG, quantity=D("1.000"),
                           order_type=OrderType.LIMIT, limit_price=D("100.0"), exit_legs=(D(1),)), 1)  # fmt: skip
    cid = next(e for e in out.effects if isinstance(e, PlaceOrder)).client_order_id
    jk.apply(OrderFilled(cid, "v1", "a", D("0.400"), D("100.0"), D("0.400"), D("0.02"), "USDT", 2), 2)
    jk.apply(OrderFilled(cid, "v1", "b", D("0.600"), D("100.0"), D("1.000"), D("0.05"), "USDT", 3), 3)
    jk.apply(CommissionReported(cid, "v1", D("1.000"), D("0.05"), "USDT", 4), 4)
    fees = jk.kernel.account_view().fees
    jk.journal.close()  # no final snapshot, as if the process had died: the restart must replay
    replayed = [r for r in replay_records(path) if isinstance(r, Settlement)]
    assert [s.kind.value for s in replayed] == ["FILL", "FILL", "ADJUSTMENT"]
    again = JournaledKernel.open(path, cfg, INSTRUMENTS)
    try:
        assert again.replayed == 4 and fees == D("0.05")
        assert again.kernel.account_view().fees == fees
        repeat = again.apply(CommissionReported(cid, "v1", D("1.000"), D("0.05"), "USDT", 5), 5)
        assert repeat.status is OutcomeStatus.DUPLICATE
    finally:
        again.close()


def _doubtful_fill(d: Driver, cid: str, qty: str, cum: str, fee: str) -> None:
    d.apply(OrderFilled(cid, f"v-{cid}", f"f{cum}", D(qty), D("100.0"), D(cum), D(fee), "USDT", d.now,
                        fee_final=False))  # fmt: skip


def test_an_order_with_a_doubtful_fee_is_asked_about_once_it_ends_until_answered() -> None:
    d = Driver()
    cid = place(d.enter(0, limit="100.0")).client_order_id
    d.ack(cid)
    d.fill(cid, "0.400", "100.0", "0.400", fee="0.02")
    assert not d.k.fee_checks and not d.k.tick(d.tick_clock()).effects
    _doubtful_fill(d, cid, "0.600", "1.000", "0.05")
    assert list(d.k.fee_checks) == [cid]  # ended with a doubtful fee: the check is kept
    asked = d.k.tick(d.tick_clock())
    (query,) = asked.effects
    assert isinstance(query, QueryOrder) and query.client_order_id == cid and query.symbol == BTC
    assert not d.k.tick(d.tick_clock()).effects  # backed off
    assert d.k.next_deadline() == d.k.fee_checks[cid].due
    # a restart keeps the obligation
    restored = Kernel.restore(d.k.snapshot())
    assert restored.snapshot() == d.k.snapshot()
    assert restored.tick(d.k.fee_checks[cid].due).effects
    d.apply(_commission(cid, "1.000", "0.05"))
    assert not d.k.fee_checks and d.k.account_view().fees == D("0.05")
    assert not d.k.tick(d.tick_clock(10**15)).effects


def test_an_unanswered_fee_check_gives_up_with_an_alert() -> None:
    d = Driver()
    cid = place(d.enter(0)).client_order_id
    _doubtful_fill(d, cid, "1.000", "1.000", "0")
    asks = 0
    for _ in range(FEE_CHECK_TRIES + 3):
        out = d.k.tick(d.tick_clock(10**13))
        asks += len(out.effects)
        alerts = [r for r in out.records if isinstance(r, ProtocolErrorRecorded)]
        if alerts:
            assert cid in alerts[0].detail and alerts[0].trade_id == d.k.slots[0].trade.trade_id  # type: ignore[union-attr]
            break
    assert asks == FEE_CHECK_TRIES and not d.k.fee_checks


def test_a_pending_fee_check_is_rebuilt_by_journal_replay(tmp_path: Path) -> None:
    """Killed before the venue answered: the restarted kernel still asks (fee_final is journaled)."""
    path = tmp_path / "journal.sqlite"
    jk, cfg, cid = journaled_entry(path)
    jk.apply(OrderFilled(cid, "v1", "a", D("1.000"), D("100.0"), D("1.000"), D("0"), "USDT", 2, fee_final=False), 2)
    assert list(jk.kernel.fee_checks) == [cid]
    jk.journal.close()  # no final snapshot, as if killed
    again = JournaledKernel.open(path, cfg, INSTRUMENTS)
    try:
        assert list(again.kernel.fee_checks) == [cid]
        (query,) = again.tick(3).effects
        assert isinstance(query, QueryOrder) and query.client_order_id == cid
    finally:
        again.close()


def test_a_fee_in_another_asset_is_not_booked_but_raises_an_alert() -> None:
    """Fail loudly: a venue whose fees come in an asset the account does not settle in
    (say a demo venue's own coin) must not make every fee vanish silently."""
    d = Driver()
    cid = place(d.enter(0)).client_order_id
    out = d.apply(OrderFilled(cid, f"v-{cid}", "f1", D("1.000"), D("100.0"), D("1.000"), D("0.05"), "VST", d.now))
    assert out.status is OutcomeStatus.CONFIRMED and d.state() == "POSITION_OPEN"
    alerts = [r for r in out.records if isinstance(r, ProtocolErrorRecorded)]
    assert len(alerts) == 1 and "0.05 VST not booked" in alerts[0].detail and "USDT" in alerts[0].detail
    assert d.k.account_view().fees == 0
    same_asset = d.apply(OrderFilled(cid, f"v-{cid}", "f1", D("1.000"), D("100.0"), D("1.000"), D("0.05"), "USDT",
                                     d.now))  # fmt: skip
    assert same_asset.status is OutcomeStatus.DUPLICATE


def test_fills_booked_from_a_report_without_a_commission_are_checked_at_the_end() -> None:
    """An order record that does not state its commission: its unseen fills carry no fee for
    now, and once the order has ended the kernel asks for the total."""
    d = Driver()
    cid = place(d.enter(0)).client_order_id
    d.ack(cid)
    out = d.apply(OrderStatusReport(cid, f"v-{cid}", OrderStatus.FILLED, D("1.000"), D("1.000"), D("100.0"),
                                    None, d.now))  # fmt: skip
    assert d.state() == "POSITION_OPEN" and d.k.account_view().fees == 0
    assert any(isinstance(r, Settlement) and r.fee == 0 for r in out.records)
    assert list(d.k.fee_checks) == [cid]
    (query,) = d.k.tick(d.tick_clock()).effects
    assert isinstance(query, QueryOrder) and query.client_order_id == cid
    d.apply(_commission(cid, "1.000", "0.05"))
    assert d.k.account_view().fees == D("0.05") and not d.k.fee_checks
    # a stated commission is final: no check
    d2 = Driver()
    cid2 = place(d2.enter(0)).client_order_id
    d2.apply(OrderStatusReport(cid2, f"v-{cid2}", OrderStatus.FILLED, D("1.000"), D("1.000"), D("100.0"),
                               D("0.05"), d2.now))  # fmt: skip
    assert d2.k.account_view().fees == D("0.05") and not d2.k.fee_checks


def test_a_total_that_matches_closes_the_fee_check_in_the_journal_too(tmp_path: Path) -> None:
    """Regression: a matching total closed the fee check but was reported DUPLICATE, so the
    journal skipped it and a restart replayed the check open again (state != before the crash)."""
    path = tmp_path / "journal.sqlite"
    jk, cfg, cid = journaled_entry(path)
    jk.apply(OrderFilled(cid, "v1", "a", D("1.000"), D("100.0"), D("1.000"), D("0.05"), "USDT", 2, fee_final=False), 2)
    answered = jk.apply(CommissionReported(cid, "v1", D("1.000"), D("0.05"), "USDT", 3), 3)
    assert answered.status is OutcomeStatus.CONFIRMED and not answered.records  # nothing to book
    assert not jk.kernel.fee_checks
    again_ = jk.apply(CommissionReported(cid, "v1", D("1.000"), D("0.05"), "USDT", 4), 4)
    assert again_.status is OutcomeStatus.DUPLICATE
    jk.journal.close()  # no final snapshot, as if killed
    again = JournaledKernel.open(path, cfg, INSTRUMENTS)
    try:
        assert not again.kernel.fee_checks
        assert not again.tick(10**15).effects  # nothing left to ask
    finally:
        again.close()


def test_f16_a_reports_stated_commission_below_what_was_booked_is_booked_exactly() -> None:
    """Regression: the fills a report books took ``max(total - booked, 0)`` as their fee, so a
    maker rebate on a fill PINK never saw (or a fee a push over-stated) was dropped: the venue's
    stated total was final (no fee check), and the account kept fees it never paid."""
    d = Driver()
    cid = place(d.enter(0, limit="100.0")).client_order_id
    d.ack(cid)
    d.fill(cid, "0.400", "100.0", "0.400", fee="0.02")
    # the venue's record: filled in full, 0.014 commission in all (the unseen 0.600 earned a 0.006 rebate)
    out = d.apply(OrderStatusReport(cid, f"v-{cid}", OrderStatus.FILLED, D("1.000"), D("1.000"), D("100.0"),
                                    D("0.014"), d.now))  # fmt: skip
    assert out.status is OutcomeStatus.CONFIRMED and d.state() == "POSITION_OPEN"
    (entry,) = [r for r in out.records if isinstance(r, Settlement)]
    assert entry.fee == D("-0.006")
    assert d.k.account_view().fees == D("0.014") and d.k.orders[cid].commission == D("0.014")
    assert d.k.account_view().capital == D(10000) - D("0.014")
    assert not d.k.fee_checks
    d.assert_books_balance()


def test_e18_a_fee_paid_in_another_asset_is_not_taken_as_booked_by_the_true_up() -> None:
    """Regression: an order's booked commission added the fee of a fill paid in another asset,
    which the account never booked, so the venue's total in the settle asset was compared with
    a sum of two assets: its true-up booked a 0.05 USDT refund that was never paid."""
    d = Driver()
    cid = place(d.enter(0)).client_order_id
    d.apply(OrderFilled(cid, f"v-{cid}", "f1", D("1.000"), D("100.0"), D("1.000"), D("0.05"), "BNB", d.now,
                        fee_final=False))  # fmt: skip
    assert d.state() == "POSITION_OPEN" and d.k.account_view().fees == 0
    assert list(d.k.fee_checks) == [cid]
    out = d.apply(_commission(cid, "1.000", "0"))  # nothing paid in USDT
    assert not [r for r in out.records if isinstance(r, Settlement)]
    assert d.k.account_view().fees == 0 and d.k.account_view().capital == D(10000)
    assert not d.k.fee_checks
    d.assert_books_balance()

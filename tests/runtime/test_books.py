"""The books against the venue's wallet: a money movement the kernel never booked is reported.

Kernel capital and the venue's wallet move together while every fill, fee,
funding payment and transfer is booked, so their difference (the offset) only
changes for good when something was missed. One reading proves nothing (a
payment may be in flight), so an offset counts once it has held for a while.
"""

from __future__ import annotations

import io
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from pink.errors import VenueError
from pink.kernel import SlotState
from pink.kernel.messages import Action, OrderSide, OrderType, PlaceOrder, PositionReport, Side, TimeInForce
from pink.plane.control import ControlWriter
from pink.policy.base import Decision
from pink.runtime.books import BooksCheck, BooksSighting
from pink.runtime.launcher import Launcher
from pink.runtime.view import render
from pink.venues.sim.account import Account
from pink.venues.sim.prices import MarketConfig
from tests.runtime.helpers import CAPITAL, Scripted, busy_faulted_config, make_venue, sim_runtime

D = Decimal


S = 1_000_000_000


def _see(check: BooksCheck, kernel: str, venue: str, t: float, *, in_doubt: bool = False) -> str:
    return check.see(BooksSighting(D(kernel), D(venue), int(t * S), in_doubt))


def test_the_baseline_is_the_first_offset_that_holds_for_the_settle_time_and_may_be_non_zero() -> None:
    check = BooksCheck(settle_ns=60 * S)
    assert _see(check, "100", "130", 0) == "" and check.baseline is None  # maybe in flight
    assert _see(check, "100", "150", 30) == "" and check.baseline is None  # changed
    assert _see(check, "90", "140", 60) == "" and check.baseline is None  # 50 since 30 s: too soon
    assert _see(check, "90", "140", 90) == "" and check.baseline == 50  # the wallet holds 50 more
    assert _see(check, "95", "145", 95) == "" and check.mismatch == ""  # both moved together


def test_an_amount_in_flight_for_a_while_is_not_a_mismatch_and_one_that_stays_is() -> None:
    check = BooksCheck(settle_ns=60 * S)
    _see(check, "100", "100", 0)
    _see(check, "100", "100", 60)
    assert check.baseline == 0
    for t, (kernel, venue) in enumerate((("100", "99.5"), ("100", "99.5"), ("99.5", "99.5"))):
        assert _see(check, kernel, venue, 100 + 30 * t) == ""  # a fee charged, its fill booked 60 s on
    assert check.mismatch == ""
    assert _see(check, "99.5", "97", 200) == ""  # 2.5 gone
    assert _see(check, "99", "96.5", 230) == ""  # still gone, not for long enough
    found = _see(check, "98", "95.5", 260)
    assert found == check.mismatch and check.moved == D("-2.5")
    assert "differ by -2.5, not 0 as before: -2.5 moved" in found
    assert _see(check, "97", "94.2", 270) == "" and check.mismatch == found  # in flight on top: still there
    assert _see(check, "97", "97", 280) == "" and check.mismatch == "" and check.moved is None  # agreed again


def test_readings_while_the_kernel_doubts_a_fee_never_settle_an_offset() -> None:
    check = BooksCheck(settle_ns=60 * S)
    _see(check, "100", "100", 0)
    _see(check, "100", "100", 60)
    _see(check, "100", "99.9", 100)  # a fill's fee missing: the kernel booked 0 and waits for the venue
    assert _see(check, "100", "99.9", 130, in_doubt=True) == ""
    assert _see(check, "100", "99.9", 170) == "" and check.mismatch == ""  # the run began again at 170
    assert "differ by -0.1" in _see(check, "100", "99.9", 230)


def test_the_start_up_reading_is_the_baseline_unless_the_kernel_doubts_it_then() -> None:
    check = BooksCheck(settle_ns=60 * S)
    check.see(BooksSighting(D(100), D(100), 0), at_start=True)
    assert check.baseline == 0  # a busy account may never hold still for the settle time later
    _see(check, "99", "97.5", 10)  # 1.5 lost early, before any stretch quiet for 60 s
    _see(check, "98", "96.5", 40)
    assert check.moved is None
    assert "differ by -1.5, not 0" in _see(check, "97", "95.5", 70) and check.moved == D("-1.5")
    doubted = BooksCheck(settle_ns=60 * S)
    doubted.see(BooksSighting(D(100), D(99), 0, in_doubt=True), at_start=True)  # an order in flight
    assert doubted.baseline is None


def test_a_wallet_shown_to_a_resolution_agrees_within_twice_it_and_a_larger_amount_still_shows() -> None:
    """BingX shows the wallet to 1e-4 while fees carry 8 decimals: readings of one offset differ
    by up to 2e-4, and that is no mismatch; 0.0005 missed is one."""
    check = BooksCheck(settle_ns=60 * S)
    res = D("0.0001")

    def see(kernel: str, venue: str, t: float) -> str:
        return check.see(BooksSighting(D(kernel), D(venue), int(t * S), False, res), at_start=t == 0)

    see("100", "100", 0)
    assert check.baseline == 0
    for t, (kernel, venue) in enumerate((("99.91230049", "99.9123"), ("99.81234999", "99.8124"),
                                         ("99.80005", "99.8"))):  # fmt: skip
        assert see(kernel, venue, 100 + 100 * t) == "" and check.mismatch == ""
    assert see("99.80005", "99.7995", 500) == ""  # 0.00055 gone: a run begins
    found = see("99.80005", "99.7995", 600)
    assert check.moved == D("-0.00055") and found.endswith("the venue shows its wallet to 0.0001")
    assert see("99.80005", "99.8", 700) == "" and check.mismatch == ""  # back within the band


def test_the_settle_time_must_be_positive() -> None:
    with pytest.raises(ValueError, match="books settle time: must be > 0 ns, got 0"):
        BooksCheck(settle_ns=0)


async def test_a_trade_made_by_hand_on_the_account_is_reported_by_the_slow_reconcile(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="pink.runtime.recovery")
    async with sim_runtime(reconcile_interval_s=5.0, books_settle_s=8.0) as (rt, venue, k):
        await rt.run(cycles=12)
        books = rt.reconciler.books
        assert books.baseline == 0 and books.mismatch == "" and books.sightings >= 3
        wallet = (await venue.balance()).balance
        for cid, side in (("manual-buy", OrderSide.BUY), ("manual-sell", OrderSide.SELL)):
            await venue.place(PlaceOrder(cid, 0, "BTC-USDT", side, Side.LONG, D("0.010"),
                                         OrderType.MARKET, None, TimeInForce.IOC,
                                         side is OrderSide.SELL, 5))
        await rt.run(cycles=20)
        moved = (await venue.balance()).balance - wallet
        assert moved < 0 and k.account_view().capital == CAPITAL  # the kernel never saw it
        assert books.moved == moved and f"differ by {moved.normalize():f}, not 0 as before" in books.mismatch
        assert rt.reconciler.last is not None and rt.reconciler.last.books_mismatch == books.mismatch
        assert [r.getMessage() for r in caplog.records].count(f"reconcile: books mismatch: {books.mismatch}") == 1
        console = Console(width=80, record=True, color_system=None, file=io.StringIO())
        console.print(render(rt, [], 80))
        shown = " ".join(console.export_text().split())
        assert f"BOOKS MISMATCH {books.mismatch}" in shown


async def test_a_fee_charged_twice_on_a_busy_faulted_run_is_reported_with_its_amount(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six slots trading every second under faults: almost no reading is quiet, so the start-up
    reading is the baseline, and the extra fee shows once the account calms down."""
    charged: list[Decimal] = []
    fill = Account.fill

    def overcharging(self: Account, symbol: str, side: Side, opens: bool, qty: Decimal, price: Decimal,
                     fee: Decimal) -> Decimal:
        charged.append(fee)
        return fill(self, symbol, side, opens, qty, price, fee * 2 if len(charged) == 300 else fee)

    monkeypatch.setattr(Account, "fill", overcharging)
    async with Launcher(busy_faulted_config(tmp_path)) as launcher:
        await launcher.run(cycles=1500)
        assert len(charged) > 300
        ControlWriter(tmp_path).apply("flatten", by="test", note="end of run")
        await launcher.run(cycles=300)
        assert launcher.runtime is not None
        books = launcher.runtime.reconciler.books
        assert books.baseline == 0 and books.moved == -charged[299], books.mismatch


async def test_money_moving_during_the_start_up_reconcile_never_becomes_the_baseline() -> None:
    """A deposit landing after the start-up reconcile read the transfers but before it read the
    wallet (no push): that one reading is off by the deposit, and must not be the baseline that
    every later, correct reading is held against."""
    venue = make_venue()
    positions = venue.positions

    async def deposit_then_positions() -> list[PositionReport]:
        if not venue.engine.transfers_since(0):
            venue.engine.transfer(D(100))  # at the venue only; the next slow reconcile books it
        return await positions()

    venue.positions = deposit_then_positions  # type: ignore[method-assign]
    async with sim_runtime(venue, reconcile_interval_s=5.0, books_settle_s=8.0) as (rt, _, k):
        await rt.run(cycles=30)
        books = rt.reconciler.books
        assert k.account_view().capital == CAPITAL + 100 == (await venue.balance()).balance
        assert books.baseline == 0 and books.mismatch == "" and books.sightings >= 5
    await venue.close()


async def test_two_slots_in_one_venue_position_are_priced_apart_and_that_is_no_mismatch() -> None:
    """The venue prices a (symbol, side) position at its average entry over both slots, so the
    profit it realizes on one slot's exit is not that slot's own: capital and wallet differ
    while the other slot still holds, and agree again once the position is flat."""
    entry = {"asset": "BTC-USDT", "side": Side.LONG, "quantity": D("0.010"), "exit_legs": (D(1),)}
    plan = {1: [Decision(Action.ENTER, 0, **entry)], 15: [Decision(Action.ENTER, 1, **entry)],
            30: [Decision(Action.EXIT, 0)], 90: [Decision(Action.EXIT, 1)]}
    policy = Scripted(lambda snap: plan.get(len(policy.snapshots), []))
    async with sim_runtime(decision=policy, reconcile_interval_s=5.0, books_settle_s=8.0) as (rt, venue, k):
        await rt.run(cycles=85)
        assert [s.state for s in k.slots[:2]] == [SlotState.IDLE, SlotState.POSITION_OPEN]
        apart = (await venue.balance()).balance - k.account_view().capital
        assert apart != 0  # the averaging at work: the test would prove nothing otherwise
        books = rt.reconciler.books
        assert books.baseline == 0 and books.mismatch == ""
        await rt.run(cycles=20)
        assert all(s.state is SlotState.IDLE for s in k.slots)
        assert (await venue.balance()).balance == k.account_view().capital
        assert books.mismatch == "" and books.sightings >= 15


async def test_a_wallet_the_venue_cannot_report_at_start_is_one_error_and_the_next_reading_is_taken() -> None:
    venue = make_venue()
    balance = venue.balance
    refused = 0

    async def refuse_twice() -> Any:
        nonlocal refused
        if refused < 2:
            refused += 1
            raise VenueError("100500", "balance service down")
        return await balance()

    venue.balance = refuse_twice  # type: ignore[method-assign]
    async with sim_runtime(venue, reconcile_interval_s=5.0, books_settle_s=8.0) as (rt, _, _k):
        start = rt.reconciler.last
        assert start is not None and refused == 2
        assert start.errors == ["balance: venue error 100500: balance service down"]
        assert start.books_mismatch == "" and rt.reconciler.books.sightings == 0
        await rt.run(cycles=30)
        assert rt.reconciler.books.sightings >= 5 and rt.reconciler.books.mismatch == ""
    await venue.close()


async def test_e10_an_entry_walking_the_book_leaves_capital_equal_to_the_wallet_to_the_last_digit() -> None:
    """A MARKET entry of 0.0031 BTC over levels of about 0.0011 fills at three prices, so its VWAP
    does not terminate. The venue books the closed position's profit exactly; so must the kernel,
    or the books check reports the difference (4e-11 here) as money that moved unbooked."""
    venue = make_venue(market=MarketConfig(level_notional=D("70")))
    entered: list[int] = []

    def once_then_exit(snap: Any) -> list[Decision]:
        out = []
        for v in snap.slots:
            if v.state == "IDLE" and not entered:
                entered.append(v.slot)
                out.append(Decision(Action.ENTER, v.slot, asset="BTC-USDT", side=Side.LONG,
                                    quantity=D("0.0031"), exit_legs=(D("1"),)))  # fmt: skip
            elif v.state == "POSITION_OPEN":
                out.append(Decision(Action.EXIT, v.slot))
        return out

    async with sim_runtime(venue, Scripted(once_then_exit), slots=1, reconcile_interval_s=5.0,
                           books_settle_s=8.0) as (rt, _, k):  # fmt: skip
        await rt.run(cycles=40)
        prices = {f.price for f in venue.engine.fills_since(0) if f.side is OrderSide.BUY}
        assert rt.stats.trades == 1 and len(prices) == 3
        assert k.account_view().capital == (await venue.balance()).balance
        assert rt.reconciler.books.sightings >= 5 and rt.reconciler.books.mismatch == ""
    await venue.close()


async def test_an_account_that_always_holds_a_position_still_has_its_books_checked() -> None:
    """A position nothing has closed yet realizes nothing on either side, so the books are held
    against the wallet while it is open: a fee the venue takes and never reports is found
    although the account is never flat."""
    entry = {"asset": "BTC-USDT", "side": Side.LONG, "quantity": D("0.010"), "exit_legs": (D(1),)}
    plan = {1: [Decision(Action.ENTER, 0, **entry)], 3: [Decision(Action.ENTER, 1, **entry)]}
    policy = Scripted(lambda snap: plan.get(len(policy.snapshots), []))
    async with sim_runtime(decision=policy, reconcile_interval_s=5.0, books_settle_s=8.0) as (rt, venue, k):
        await rt.run(cycles=30)
        assert [s.state for s in k.slots[:2]] == [SlotState.POSITION_OPEN] * 2
        books = rt.reconciler.books
        assert books.baseline == 0 and books.mismatch == "" and k.money_in_doubt() == ""
        readings = books.sightings
        venue.engine.account.fees += D("0.37")  # taken, never reported
        await rt.run(cycles=30)
        assert books.sightings >= readings + 5
        assert books.moved == D("-0.37") and "differ by -0.37, not 0 as before" in books.mismatch
        assert [s.state for s in k.slots[:2]] == [SlotState.POSITION_OPEN] * 2  # never flat


async def _hand_trade(venue: Any) -> None:
    """A round trip made by hand on the same account (ids the kernel never issued)."""
    for cid, side in (("hand-buy", OrderSide.BUY), ("hand-sell", OrderSide.SELL)):
        await venue.place(PlaceOrder(cid, 0, "BTC-USDT", side, Side.LONG, D("0.010"), OrderType.MARKET, None,
                                     TimeInForce.IOC, side is OrderSide.SELL, 5))  # fmt: skip


async def test_money_moved_by_hand_while_pink_was_down_is_found_at_the_next_start(tmp_path: Path) -> None:
    """The baseline is kept in the journal: a restart holds its readings against it instead of
    taking the wallet as it finds it. ``books_rebase`` accepts the difference once explained."""
    venue = make_venue()
    journal = tmp_path / "journal.sqlite"
    async with sim_runtime(venue, journal=journal, reconcile_interval_s=5.0, books_settle_s=8.0) as (rt, _, k):
        await rt.run(cycles=12)
        assert rt.reconciler.books.baseline == 0 and rt.reconciler.books.mismatch == ""
    wallet = (await venue.balance()).balance
    await _hand_trade(venue)  # while nothing runs
    moved = (await venue.balance()).balance - wallet
    assert moved < 0
    async with sim_runtime(venue, journal=journal, reconcile_interval_s=5.0, books_settle_s=8.0) as (rt, _, k):
        assert rt.reconciler.books.baseline == 0  # kept, not the start's reading
        await rt.run(cycles=20)
        assert k.account_view().capital == CAPITAL
        assert rt.reconciler.books.moved == moved and "not 0 as before" in rt.reconciler.books.mismatch
    async with sim_runtime(venue, journal=journal, reconcile_interval_s=5.0, books_settle_s=8.0,
                           books_rebase=True) as (rt, _, k):  # fmt: skip
        await rt.run(cycles=20)
        assert rt.reconciler.books.baseline == moved and rt.reconciler.books.mismatch == ""
    async with sim_runtime(venue, journal=journal, reconcile_interval_s=5.0, books_settle_s=8.0) as (rt, _, k):
        assert rt.reconciler.books.baseline == moved  # the accepted one, kept in turn
        await rt.run(cycles=20)
        assert rt.reconciler.books.mismatch == ""
    await venue.close()


class TwoEntriesOneLegOut:
    """Slots 0 and 1 enter long BTC some cycles apart (at different prices); slot 0 then sends
    the first of its two exit legs, and nothing more: the venue's position stays partly closed."""

    def __init__(self) -> None:
        self.sent: set[str] = set()

    def __call__(self, snap: Any) -> list[Decision]:
        out: list[Decision] = []
        for slot, when in ((0, 1), (1, 6)):
            if snap.cycle >= when and f"enter{slot}" not in self.sent:
                self.sent.add(f"enter{slot}")
                out.append(Decision(Action.ENTER, slot, asset="BTC-USDT", side=Side.LONG, quantity=D("0.010"),
                                    exit_legs=(D("0.5"), D("0.5"))))
        s0 = snap.slots[0]
        if snap.cycle >= 12 and s0.state == "POSITION_OPEN" and "leg" not in self.sent:
            self.sent.add("leg")
            out.append(Decision(Action.EXIT, 0, reason="first leg"))
        return out


@pytest.mark.parametrize("overcharge", [D(0), D("0.37")])
async def test_the_books_hold_while_the_venue_position_is_partly_closed_and_a_fee_missed_then_shows(
    monkeypatch: pytest.MonkeyPatch, overcharge: Decimal
) -> None:
    """While a position the venue pools over two slots was partly closed, every reading was in
    doubt: the venue realizes at its average entry, the kernel at each trade's own, so a fee
    charged twice on that leg showed only once the position was flat, if ever. The difference
    is corrected for from the venue's position report: the books hold, and the fee shows."""
    fill = Account.fill

    def charging(self: Account, symbol: str, side: Side, opens: bool, qty: Decimal, price: Decimal,
                 fee: Decimal) -> Decimal:
        return fill(self, symbol, side, opens, qty, price, fee + (overcharge if not opens else 0))

    monkeypatch.setattr(Account, "fill", charging)
    async with sim_runtime(None, Scripted(TwoEntriesOneLegOut()), reconcile_interval_s=5.0,
                           books_settle_s=20.0) as (rt, venue, k):
        await rt.run(cycles=80)
        books = rt.reconciler.books
        held = k.partly_closed()
        assert list(held) == [("BTC-USDT", Side.LONG)] and held[("BTC-USDT", Side.LONG)][0] == D("0.015")
        venue_pos = [p for p in await venue.positions() if p.quantity]
        assert len(venue_pos) == 1 and venue_pos[0].entry_price * D("0.015") != held[("BTC-USDT", Side.LONG)][1]
        assert k.money_in_doubt(partly_closed=False) == "" and books.sightings >= 10
        if overcharge:
            assert books.moved == -overcharge, books.mismatch
        else:
            assert books.baseline == 0 and books.mismatch == "" and books.moved is None


def test_the_venue_cost_gap_has_the_sign_of_the_side_and_the_venues_rounding_as_its_doubt() -> None:
    from pink.runtime.books import venue_cost_gap

    long_, short = ("BTC-USDT", Side.LONG), ("ETH-USDT", Side.SHORT)
    pos = [PositionReport("BTC-USDT", Side.LONG, D("0.015"), D("60010.35"), 0),
           PositionReport("ETH-USDT", Side.SHORT, D("2"), D("3000.5"), 0)]
    # long: the venue keeps 0.015 at 60010.35 = 900.15525 of cost, the kernel 900.1; short mirrors
    got = venue_cost_gap({long_: (D("0.015"), D("900.1")), short: (D("2"), D("6002"))}, pos)
    assert got == (D("0.05525") + D("1"), D("0.015") * D("0.01") + D("2") * D("0.1"))
    assert venue_cost_gap({long_: (D("0.020"), D("1200"))}, pos) is None  # not the kernel's quantity
    assert venue_cost_gap({long_: (D("0.015"), D("900"))}, pos[1:]) is None  # no venue position

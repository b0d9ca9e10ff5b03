"""One test per kernel flaw of the seed (FLAWS.md, "Kernel"): each fails if the flaw came back."""

from __future__ import annotations

import ast
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from pink.kernel import (
    Action,
    CancelOrder,
    ControlSnapshot,
    EnsureLeverage,
    FillBooked,
    FundingPaid,
    Intent,
    IntentRecorded,
    Kernel,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OutcomeStatus,
    PlaceOrder,
    ProtocolErrorRecorded,
    QueryOrder,
    Reason,
    Settlement,
    Side,
    SlotChanged,
    TradeClosed,
)
from tests.kernel.harness import BTC, Driver, place, round_trip

SRC = Path(__file__).resolve().parents[2] / "src" / "pink"


def test_e05_capital_is_exact_after_100k_fills() -> None:
    d = Driver(slots=1)
    k = d.k
    fee = D("0.0000001")
    sum_amount = sum_fee = D(0)
    for n in range(50_000):  # 50k round trips = 100k fills at prices that are not binary fractions
        t = f"r{n}"
        entry = place(
            k.submit(
                Intent(Action.ENTER, 0, t, f"e{n}", asset=BTC, side=Side.LONG, quantity=D("0.001"), exit_legs=(D(1),)),
                n,
            )
        )
        out1 = k.apply(
            OrderFilled(entry.client_order_id, "v", f"a{n}", D("0.001"), D("0.1"), D("0.001"), fee, "USDT", n), n
        )
        x = place(k.submit(Intent(Action.EXIT, 0, t, f"y{n}"), n))
        out2 = k.apply(
            OrderFilled(x.client_order_id, "v", f"b{n}", D("0.001"), D("0.3"), D("0.001"), fee, "USDT", n), n
        )
        for r in (*out1.records, *out2.records):
            if isinstance(r, Settlement):
                sum_amount += r.amount
                sum_fee += r.fee
    a = k.account_view()
    assert k.account.seq == 100_000
    assert a.capital == D(10000) + sum_amount - sum_fee  # ==, not approximately
    assert a.capital == D("10009.99")
    assert 10000 + sum(0.001 * 0.3 - 0.001 * 0.1 for _ in range(50_000)) - 1e-7 * 100_000 != 10009.99  # floats drift


def test_e06_f20_t7_journaled_kernel_close_is_explicit_idempotent_and_final(tmp_path: Path) -> None:
    """Flaws E6, F20, T7."""
    from pink.errors import ClosedError
    from pink.journal import JournaledKernel
    from pink.kernel import KernelConfig
    from tests.kernel.harness import INSTRUMENTS

    jk = JournaledKernel.open(tmp_path / "j.sqlite", KernelConfig(slots=1), INSTRUMENTS)
    jk.close()
    jk.close()  # idempotent
    with pytest.raises(ClosedError, match="closed"):
        jk.submit(Intent(Action.CANCEL, 0, "t1", "i1"), 1)
    assert not hasattr(JournaledKernel, "__del__")  # nothing relies on the garbage collector


def test_t1_e2_e4_exit_size_is_computed_on_current_state_not_a_stale_snapshot() -> None:
    """Flaws T1, E2, E4."""
    d = Driver()
    p = place(d.enter(0, "1.000", legs=("0.5", "0.5")))
    d.fill(p.client_order_id, "1.000", "100", "1.000")
    stale_view = d.k.slot_view(0)  # what a policy saw at the start of its cycle
    e = place(d.exit(0))
    d.fill(e.client_order_id, "0.500", "100", "0.500")
    # the policy decides from its stale view; the kernel sizes the leg from now
    second = place(d.exit(0))
    assert stale_view.remaining_qty == D("1.000")
    assert second.quantity == D("0.500") == d.k.slot_view(0).remaining_qty
    d.fill(second.client_order_id, "0.500", "100", "0.500")
    assert d.state() == "IDLE"


def test_e07_f26_trade_id_is_single_use_and_a_new_trade_starts_clean() -> None:
    """Flaws E7, F26."""
    d = Driver()
    round_trip(d, 0)
    again = d.enter(0, trade="t1")
    assert again.status is OutcomeStatus.REFUSED and again.reason is Reason.TRADE_ID_USED
    assert "t1" in again.detail
    # a new trade on the same slot has no stale order index or fill ids
    p = place(d.enter(0, trade="fresh"))
    trade = d.k.slots[0].trade
    assert trade is not None and trade.orders == [p.client_order_id]
    assert all(o.trade_id == "fresh" for o in d.k.orders.values())
    # a late event for the old trade's order cannot touch the new trade
    late = d.fill("t1-x0a1", "0.100", "100", "0.600", fill_id="late")
    assert late.slot == -1 and late.status is OutcomeStatus.QUARANTINED
    assert d.k.slot_view(0).entry_qty == 0


@pytest.mark.parametrize(
    ("legs", "qty"),
    [
        (("0.5", "0.5", "1.0"), "1.000"),
        (("0.3", "0.3", "0.3"), "1.000"),
        (("0.5",), "0.003"),
        (("0.9", "0.9"), "0.011"),
    ],
)
def test_e08_a1_exit_legs_never_strand_a_slot(legs: tuple[str, ...], qty: str) -> None:
    """Flaws E8, A1."""
    d = Driver()
    p = place(d.enter(0, qty, legs=legs))
    d.fill(p.client_order_id, qty, "100", qty)
    sizes = []
    for _ in range(10):
        if d.state() == "IDLE":
            break
        e = place(d.exit(0))
        sizes.append(e.quantity)
        assert e.quantity <= d.k.slot_view(0).remaining_qty
        d.fill(e.client_order_id, str(e.quantity), "101", str(e.quantity))
    assert d.state() == "IDLE", sizes
    assert sum(sizes) == D(qty)
    assert len(sizes) <= len(legs)


def test_e09_f1_cancel_outcome_says_what_is_known() -> None:
    """Flaws E9, F1."""
    d = Driver()
    idle = d.cancel(0)
    assert idle.status is OutcomeStatus.REFUSED and idle.reason is Reason.NOTHING_TO_CANCEL
    assert "idle" in idle.detail
    p = place(d.enter(0, limit="90.0"))
    d.ack(p.client_order_id)
    asked = d.cancel(0)
    assert asked.status is OutcomeStatus.PENDING  # admitted, not done
    assert isinstance(asked.effects[0], CancelOrder)
    assert d.state() == "ENTRY_CANCELING"
    again = d.cancel(0)
    assert again.reason is Reason.CANCEL_ALREADY_REQUESTED
    refused = d.cancel_rejected(p.client_order_id, "80012", still_open=True)
    assert refused.status is OutcomeStatus.CONFIRMED and refused.reason is Reason.VENUE_REJECTED
    assert "80012" in refused.detail and d.state() == "ENTRY_WORKING"
    d.cancel(0)
    done = d.canceled(p.client_order_id)
    assert done.status is OutcomeStatus.CONFIRMED and d.state() == "IDLE"
    d2 = Driver()
    p2 = place(d2.enter(0))
    d2.fill(p2.client_order_id, "1.000", "100", "1.000")
    open_pos = d2.cancel(0)
    assert open_pos.reason is Reason.NOTHING_TO_CANCEL and "EXIT" in open_pos.detail


def test_e10_entry_price_is_vwap_of_partial_fills_applied_once() -> None:
    d = Driver()
    p = place(d.enter(0, "1.000", limit="100.0"))
    d.ack(p.client_order_id)
    d.fill(p.client_order_id, "0.300", "100.0", "0.300", fill_id="a")
    d.fill(p.client_order_id, "0.300", "100.0", "0.300", fill_id="a")  # duplicate
    d.fill(p.client_order_id, "0.700", "101.0", "1.000", fill_id="b")
    v = d.k.slot_view(0)
    assert v.entry_qty == D("1.000")
    assert v.entry_vwap == (D("0.3") * 100 + D("0.7") * 101) / 1
    assert v.state == "POSITION_OPEN"


def test_e10_fills_out_of_order_and_cumulative_reports_reconcile() -> None:
    d = Driver()
    p = place(d.enter(0, "1.000", limit="100.0"))
    d.fill(p.client_order_id, "0.600", "100.2", "1.000", fill_id="second")  # before its ack, before fill 1
    assert d.state() == "ENTRY_WORKING"
    assert d.k.slots[0].deadline > 0  # a gap is known: it will be queried if fill 1 never comes
    rep = d.report(p.client_order_id, OrderStatus.FILLED, "1.000", "1.000", "100.12")
    assert rep.status is OutcomeStatus.CONFIRMED
    v = d.k.slot_view(0)
    assert v.entry_qty == D("1.000") and v.state == "POSITION_OPEN"
    assert v.entry_vwap * D("1.000") == D("100.12")  # the venue's average, exactly
    capital = d.k.account_view().capital
    late = d.fill(p.client_order_id, "0.400", "100.0", "0.400", fill_id="first")
    assert late.status is OutcomeStatus.CONFIRMED  # it replaces the report's gap, at its very price ...
    assert d.k.slot_view(0).entry_qty == D("1.000") and d.k.account_view().capital == capital  # not booked twice
    again = d.fill(p.client_order_id, "0.400", "100.0", "0.400", fill_id="first")
    assert again.status is OutcomeStatus.DUPLICATE  # ... once


def test_e10_a_round_trip_whose_entry_vwap_does_not_terminate_makes_exactly_exit_less_entry_notional() -> None:
    """Entry fills of 0.011, 0.011 and 0.009 at three ticks: the VWAP is 59997.0935483870967...,
    kept on tick / 1e6 for the legs. The close books the rest, so the trade makes what a venue
    books for the whole position, to the last digit: exit notional less entry notional."""
    d = Driver()
    p = place(d.enter(0, "0.031", legs=("0.5", "0.5")))
    for qty, px, cum in (("0.011", "59997.0", "0.011"), ("0.011", "59997.1", "0.022"),
                         ("0.009", "59997.2", "0.031")):  # fmt: skip
        d.fill(p.client_order_id, qty, px, cum, fee="0")
    entry = D("0.011") * D("59997.0") + D("0.011") * D("59997.1") + D("0.009") * D("59997.2")
    legs = []
    vwaps = []
    for px in ("60010.3", "59990.9"):
        e = place(d.exit(0))
        out = d.fill(e.client_order_id, str(e.quantity), px, str(e.quantity), fee="0")
        legs.append((e.quantity, D(px), next(r for r in out.records if isinstance(r, Settlement)).amount))
        trade = d.k.slots[0].trade
        vwaps.append(trade.entry_vwap if trade else None)
    (q1, px1, pnl1), (q2, px2, pnl2) = legs
    assert vwaps == [D("59997.0935484"), None]  # kept on tick / 1e6, frozen at the first exit fill
    assert D("59997.0935484") * D("0.031") != entry  # it does not terminate
    assert q1 + q2 == D("0.031") and pnl1 == (px1 - D("59997.0935484")) * q1  # a leg: against the VWAP
    assert pnl1 + pnl2 == q1 * px1 + q2 * px2 - entry  # exact: a venue's books for the position
    assert d.k.account_view().capital == D("10000") + q1 * px1 + q2 * px2 - entry
    d.assert_books_balance()


def test_e10_a_journal_begun_before_the_exact_close_replays_by_the_rule_it_was_written_by() -> None:
    """Nothing already recorded changes: a first snapshot without ``exact_round_trip`` restores a
    kernel that books the close against the VWAP, as the kernel that wrote the journal did."""
    old = Driver().k.snapshot()
    del old["config"]["exact_round_trip"]
    kernel = Kernel.restore(old)
    assert kernel.config.exact_round_trip is False and Driver().k.config.exact_round_trip is True
    now = 10
    out = kernel.submit(Intent(Action.ENTER, 0, "t1", "i1", asset=BTC, side=Side.LONG, quantity=D("0.031"),
                               exit_legs=(D("1"),)), now)  # fmt: skip
    cid = place(out).client_order_id
    for n, (qty, px, cum) in enumerate((("0.011", "59997.0", "0.011"), ("0.011", "59997.1", "0.022"),
                                        ("0.009", "59997.2", "0.031"))):  # fmt: skip
        kernel.apply(OrderFilled(cid, "v1", f"f{n}", D(qty), D(px), D(cum), D(0), "USDT", now), now)
    x = place(kernel.submit(Intent(Action.EXIT, 0, "t1", "x1"), now))
    closed = kernel.apply(OrderFilled(x.client_order_id, "v2", "g", D("0.031"), D("60010.3"), D("0.031"), D(0),
                                      "USDT", now), now)  # fmt: skip
    pnl = next(r for r in closed.records if isinstance(r, Settlement)).amount
    assert pnl == (D("60010.3") - D("59997.0935484")) * D("0.031")


def test_e12_fill_without_price_is_quarantined_and_queried_never_settled_at_zero() -> None:
    d = Driver()
    p = place(d.enter(0))
    before = d.k.account_view()
    out = d.fill(p.client_order_id, "1.000", "0", "1.000")
    assert out.status is OutcomeStatus.QUARANTINED and out.reason is Reason.PROTOCOL_ERROR
    assert "E12" in out.detail
    assert any(isinstance(e, QueryOrder) for e in out.effects)
    assert any(isinstance(r, ProtocolErrorRecorded) for r in out.records)
    assert d.state() == "DESYNC"
    assert d.k.account_view().capital == before.capital and d.k.slot_view(0).entry_qty == 0
    # the query's answer resolves it with the venue's real price
    resolved = d.report(p.client_order_id, OrderStatus.FILLED, "1.000", "1.000", "100.5", fee="0.05")
    moves = [(r.before, r.after) for r in resolved.records if isinstance(r, SlotChanged)]
    assert moves[0][0] == "DESYNC"  # leaving DESYNC is a recorded transition, like any other
    v = d.k.slot_view(0)
    assert v.state == "POSITION_OPEN" and v.entry_vwap == D("100.5")
    assert d.k.account_view().fees == D("0.05")


def test_e14_events_route_by_order_index_not_by_a_slot_number_they_carry() -> None:
    d = Driver(slots=3)
    p0 = place(d.enter(0))
    p2 = place(d.enter(2))
    out = d.fill(p2.client_order_id, "1.000", "100", "1.000")
    assert out.slot == 2
    assert d.state(2) == "POSITION_OPEN" and d.state(0) == "ENTRY_PENDING"
    # an event carrying only the venue order id is routed through the index too
    d.ack(p0.client_order_id)
    by_venue_id = d.apply(
        OrderFilled("", f"v-{p0.client_order_id}", "vf", D("1.000"), D("99"), D("1.000"), D(0), "USDT", 1)
    )
    assert by_venue_id.slot == 0 and d.state(0) == "POSITION_OPEN"


def test_e18_a7_every_fee_is_deducted_and_pnl_is_gross_and_net() -> None:
    """Flaws E18, A7."""
    d = Driver()
    round_trip(d, 0, "100.0", "101.0")
    a = d.k.account_view()
    fills = [r for r in d.records if isinstance(r, FillBooked)]
    assert [f.commission for f in fills] == [D("0.01")] * 3
    assert a.fees == D("0.03")
    assert a.gross_pnl == D("1.000")
    assert a.net_pnl == D("0.970")
    assert a.capital == D(10000) + a.gross_pnl - a.fees
    closed = [r for r in d.records if isinstance(r, TradeClosed)]
    assert closed[0].net_pnl == closed[0].gross_pnl - closed[0].fees == D("0.970")


def test_e18_funding_is_its_own_entry_never_folded_into_a_fill() -> None:
    d = Driver()
    round_trip(d)
    out = d.apply(FundingPaid("fund-1", BTC, D("-0.25"), 5))
    s = out.records[0]
    assert isinstance(s, Settlement) and s.kind.value == "FUNDING" and s.amount == D("-0.25") and s.fee == 0
    assert d.apply(FundingPaid("fund-1", BTC, D("-0.25"), 5)).status is OutcomeStatus.DUPLICATE
    a = d.k.account_view()
    assert a.funding == D("-0.25")
    assert a.capital == D(10000) + a.gross_pnl - a.fees + a.funding


def test_f02_each_fill_settles_exactly_once_by_fill_id() -> None:
    d = Driver()
    p = place(d.enter(0))
    for _ in range(3):
        d.fill(p.client_order_id, "1.000", "100", "1.000", fill_id="only")
    e = place(d.exit(0, close_all=True))
    for _ in range(3):
        d.fill(e.client_order_id, "1.000", "110", "1.000", fill_id="exit-only")
    sets = d.settlements()
    assert [s.cause for s in sets] == ["only", "exit-only"]
    assert d.k.account_view().gross_pnl == D("10.000")


@pytest.mark.parametrize(
    ("field", "changes", "reason"),
    [
        ("leverage", {"leverage": 0}, Reason.INVALID_FIELD),
        ("leverage", {"leverage": -3}, Reason.INVALID_FIELD),
        ("leverage", {"leverage": 500}, Reason.LEVERAGE_ABOVE_MAX),
        ("quantity", {"quantity": D(0)}, Reason.INVALID_FIELD),
        ("quantity", {"quantity": D("NaN")}, Reason.INVALID_FIELD),
        ("quantity", {"quantity": D("Infinity")}, Reason.INVALID_FIELD),
        ("quantity", {"quantity": 1.5}, Reason.INVALID_FIELD),
        ("quantity", {"quantity": D("0.0005")}, Reason.INVALID_FIELD),
        ("limit_price", {"order_type": "LIMIT"}, Reason.INVALID_FIELD),
        ("asset", {"asset": "NOPE-USDT"}, Reason.UNKNOWN_ASSET),
        ("exit_legs", {"exit_legs": (D("0.5"), D("-1"))}, Reason.INVALID_FIELD),
        ("exit_legs", {"exit_legs": ()}, Reason.INVALID_FIELD),
        ("slot", {"slot": 99}, Reason.UNKNOWN_SLOT),
        ("trade_id", {"trade_id": "Bad Id!"}, Reason.INVALID_FIELD),
        ("side", {"side": "UP"}, Reason.INVALID_FIELD),
    ],
)
def test_f03_invalid_intents_are_refused_naming_the_field_and_change_nothing(
    field: str, changes: dict[str, object], reason: Reason
) -> None:
    from pink.kernel import OrderType

    d = Driver()
    if changes.get("order_type") == "LIMIT":
        changes = {"order_type": OrderType.LIMIT}
    intent = Intent(Action.ENTER, 0, "t1", "i1", asset=BTC, side=Side.LONG, quantity=D("1.000"), leverage=5)
    bad = Intent(**{**{f: getattr(intent, f) for f in intent.__dataclass_fields__}, **changes})  # type: ignore[arg-type]
    before = d.k.snapshot()
    out = d.submit(bad)
    assert out.status is OutcomeStatus.REFUSED and out.reason is reason
    assert out.detail.startswith(field), out.detail
    assert out.effects == ()
    assert d.k.snapshot() == before


@pytest.mark.parametrize(("action", "reason"), [(Action.EXIT, Reason.NO_OPEN_POSITION),
                                                 (Action.CANCEL, Reason.NOTHING_TO_CANCEL)])
def test_f03_an_exit_or_cancel_of_an_idle_slot_says_the_slot_is_idle(action: Action, reason: Reason) -> None:
    """The runtime names the slot's trade on an EXIT or CANCEL: none on an idle slot. The refusal
    named the empty trade id's format, not what a trader did wrong."""
    d = Driver()
    before = d.k.snapshot()
    out = d.submit(Intent(action, 1, "", "i1", "d1", reason="take profit"))
    assert (out.status, out.reason, out.detail) == (OutcomeStatus.REFUSED, reason, "slot 1 is idle")
    assert d.k.snapshot() == before


def test_f04_f23_outcome_carries_every_effect_and_event_with_the_right_quantities() -> None:
    """Flaws F4, F23."""
    d = Driver()
    out = d.enter(0, "1.000", leverage=7)
    kinds = [type(e) for e in out.effects]
    assert kinds == [EnsureLeverage, PlaceOrder]
    assert {type(r) for r in out.records} >= {IntentRecorded, SlotChanged}
    p = place(out)
    f1 = d.fill(p.client_order_id, "0.400", "100", "0.400")
    booked = next(r for r in f1.records if isinstance(r, FillBooked))
    assert (booked.last_qty, booked.cum_qty) == (D("0.400"), D("0.400"))
    f2 = d.fill(p.client_order_id, "0.600", "100", "1.000")
    booked2 = next(r for r in f2.records if isinstance(r, FillBooked))
    assert (booked2.last_qty, booked2.cum_qty) == (D("0.600"), D("1.000"))
    e = place(d.exit(0))
    assert e.quantity == D("0.500")  # a leg of the entered size, not the intent's target


def test_f06_every_transition_and_settlement_names_its_cause() -> None:
    d = Driver()
    round_trip(d)
    changes = [r for r in d.records if isinstance(r, SlotChanged)]
    assert changes and all(c.cause for c in changes)
    intents = {r.intent.intent_id for r in d.records if isinstance(r, IntentRecorded)}
    assert changes[0].cause in intents  # IDLE -> ENTRY_PENDING caused by the intent
    assert all(s.cause for s in d.settlements())


def test_f15_a_failing_event_is_quarantined_atomically_and_the_rest_still_apply() -> None:
    d = Driver(slots=2)
    p0 = place(d.enter(0))
    p1 = place(d.enter(1))
    before = d.k.snapshot()
    garbage = OrderFilled(p0.client_order_id, "v", "g", "lots", D("100"), D("1"), D(0), "USDT", 1)  # type: ignore[arg-type]
    out = d.apply(garbage)
    assert out.status is OutcomeStatus.QUARANTINED
    after = d.k.snapshot()
    assert after["account"] == before["account"]
    assert d.k.slots[0].trade is not None and d.k.slots[0].trade.entry_qty == 0
    assert d.state(0) == "DESYNC"
    ok = d.fill(p1.client_order_id, "1.000", "100", "1.000")  # the next event is unaffected
    assert ok.status is OutcomeStatus.CONFIRMED and d.state(1) == "POSITION_OPEN"
    # an overfill in planning leaves no trace either
    overfill = d.fill(p1.client_order_id, "0.001", "100", "1.001")
    assert overfill.status is OutcomeStatus.QUARANTINED and d.k.slot_view(1).entry_qty == D("1.000")
    # the flagged slot recovers from the venue's report
    d.report(p0.client_order_id, OrderStatus.FILLED, "1.000", "1.000", "100")
    assert d.state(0) == "POSITION_OPEN"


def test_f15_nothing_raises_out_of_the_kernel() -> None:
    d = Driver()
    for junk in (None, 42, "fill", object(), OrderFilled(None, None, None, None, None, None, None, None, 0)):  # type: ignore[arg-type]
        out = d.apply(junk)
        assert out.status in (OutcomeStatus.QUARANTINED, OutcomeStatus.DUPLICATE)
    assert d.submit(None).status is OutcomeStatus.REFUSED  # type: ignore[arg-type]


@pytest.mark.parametrize("symbol", [["BTC-USDT"], {"BTC-USDT": 1}, None])
def test_f15_a_fill_by_hand_with_an_unreadable_symbol_is_quarantined_never_raised(symbol: object) -> None:
    """Regression: a fill of an order PINK never sent whose symbol was not a string (an adapter's
    garbage) raised TypeError out of apply()."""
    d = Driver()
    ev = OrderFilled("", "v9", "h1", D("0.1"), D("100.0"), D("0.1"), D(0), "USDT", d.now, True, symbol,  # type: ignore[arg-type]
                     OrderSide.SELL, None)  # fmt: skip
    before = d.k.snapshot()
    out = d.apply(ev)
    assert out.status is OutcomeStatus.QUARANTINED and "symbol" in out.detail
    assert {**d.k.snapshot(), "quarantined": 0} == {**before, "quarantined": 0}


@pytest.mark.parametrize(
    ("snap", "named"),
    [
        (ControlSnapshot("3"), "version"),  # type: ignore[arg-type]
        (ControlSnapshot(None), "version"),  # type: ignore[arg-type]
        (ControlSnapshot(-1), "version"),
        (ControlSnapshot(2, kill="yes"), "kill"),  # type: ignore[arg-type]
        (ControlSnapshot(2, pause_entries=1), "pause_entries"),  # type: ignore[arg-type]
        (ControlSnapshot(2, max_leverage=0), "max_leverage"),
        (ControlSnapshot(2, max_position_notional="5"), "max_position_notional"),  # type: ignore[arg-type]
        (ControlSnapshot(2, max_position_notional=D(0)), "max_position_notional"),
        (ControlSnapshot(2, note=None), "note"),  # type: ignore[arg-type]
    ],
)
def test_f15_f03_a_malformed_control_snapshot_is_refused_naming_the_field(snap: ControlSnapshot, named: str) -> None:
    """Regression: a version that was not an int raised TypeError out of set_control(), and a
    notional cap that was not an amount was adopted, after which every ENTER was refused with
    "TypeError: '>' not supported"."""
    d = Driver()
    before = d.k.snapshot()
    out = d.k.set_control(snap, d.tick_clock())
    assert out.status is OutcomeStatus.REFUSED and out.reason is Reason.INVALID_FIELD
    assert out.detail.startswith(f"control: {named}"), out.detail
    assert d.k.snapshot() == before
    assert d.enter(0, "0.100", reference_price=D("100")).status is OutcomeStatus.PENDING


def test_f15_a_flagged_slot_its_fills_move_on_no_longer_shows_why_it_was_flagged() -> None:
    """Regression: a DESYNC slot whose order then filled in full went back to POSITION_OPEN
    still showing the DESYNC reason (a fill without a price), in its view, status and live view."""
    d = Driver()
    cid = place(d.enter(0, "1.000")).client_order_id
    d.ack(cid)
    assert d.fill(cid, "0.500", "0", "0.500").status is OutcomeStatus.QUARANTINED and d.state() == "DESYNC"
    d.fill(cid, "0.500", "100.0", "0.500", fill_id="g1")
    d.fill(cid, "0.500", "100.0", "1.000", fill_id="g2")
    view = d.k.slot_view(0)
    assert view.state == "POSITION_OPEN" and view.entry_qty == D("1.000")
    assert view.desync_reason == ""


def test_f16_submit_without_reply_is_queried_at_its_deadline_and_resolved() -> None:
    d = Driver()
    p = place(d.enter(0))
    cfg = d.k.config
    assert d.k.tick(d.now + cfg.ack_timeout_ns - 10).effects == ()
    out = d.k.tick(d.now + cfg.ack_timeout_ns + 1)
    q = out.effects[0]
    assert isinstance(q, QueryOrder) and q.client_order_id == p.client_order_id
    # the venue never got it: believed after three answers at backed-off deadlines, then the slot is IDLE
    first = d.report(p.client_order_id, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    assert first.status is OutcomeStatus.UNKNOWN and d.state() == "ENTRY_PENDING"
    for _ in range(2):
        assert d.k.tick(d.tick_clock(10**15)).effects
        d.report(p.client_order_id, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    assert d.state() == "IDLE"
    # or it did, and filled
    d2 = Driver()
    p2 = place(d2.enter(0))
    d2.k.tick(d2.now + cfg.ack_timeout_ns + 1)
    d2.report(p2.client_order_id, OrderStatus.FILLED, "1.000", "1.000", "100.1")
    assert d2.state() == "POSITION_OPEN"


def test_e17_f16_a_canceled_entry_the_venue_never_got_ends_as_never_sent_not_as_a_desync() -> None:
    """Regression: an entry canceled before any ack (the kill switch cancels pending entries) whose
    request never reached the venue was taken for an order the venue had acknowledged and lost:
    every "not found" flagged the slot DESYNC ("which it acknowledged"), and it ended with a
    "lost by the venue" alert. It is the same as a pending order the venue never got."""
    d = Driver()
    cid = place(d.enter(0, "1.000")).client_order_id
    assert d.cancel(0).status is OutcomeStatus.PENDING and d.state() == "ENTRY_CANCELING"
    for _ in range(3):
        out = d.report(cid, OrderStatus.NOT_FOUND, "1.000", "0", "0")
        assert out.status is OutcomeStatus.UNKNOWN and d.state() == "ENTRY_CANCELING", out
        assert not any(isinstance(r, ProtocolErrorRecorded) for r in out.records)
        assert d.k.tick(d.tick_clock(10**15)).effects
    out = d.report(cid, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    assert d.state() == "IDLE" and not any(isinstance(r, ProtocolErrorRecorded) for r in out.records)
    assert d.k.quarantined == 0
    # acknowledged before the cancel: a venue that then denies it is still a contradiction
    d2 = Driver()
    cid2 = place(d2.enter(0, "1.000")).client_order_id
    d2.ack(cid2)
    d2.cancel(0)
    assert d2.report(cid2, OrderStatus.NOT_FOUND, "1.000", "0", "0").status is OutcomeStatus.UNKNOWN  # (lagging?)
    d2.tick_clock(d2.k.config.ack_timeout_ns)
    assert d2.report(cid2, OrderStatus.NOT_FOUND, "1.000", "0", "0").status is OutcomeStatus.QUARANTINED


def test_f16_retry_reuses_the_same_client_order_id_so_it_cannot_place_twice() -> None:
    d = Driver()
    p = place(d.enter(0))
    q1 = d.k.tick(d.now + d.k.config.ack_timeout_ns + 1).effects[0]
    q2 = d.k.tick(d.now + 10 * d.k.config.max_query_backoff_ns).effects[0]
    assert isinstance(q1, QueryOrder) and isinstance(q2, QueryOrder)
    assert q1.client_order_id == q2.client_order_id == p.client_order_id
    assert not any(isinstance(e, PlaceOrder) for e in (q1, q2))


def test_f13_kernel_holds_no_locks_and_calls_nothing_out() -> None:
    for path in (SRC / "kernel").glob("*.py"):
        text = path.read_text()
        assert "threading" not in text and "Lock(" not in text and "Condition(" not in text, path


def test_kernel_imports_only_the_standard_library_and_itself() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in (SRC / "kernel").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in stdlib or name.startswith("pink.kernel"), f"{path.name} imports {name}"


def test_kill_switch_refuses_entries_and_cancels_working_ones() -> None:
    d = Driver(slots=3)
    p = place(d.enter(0, limit="90.0"))
    d.ack(p.client_order_id)
    round_trip(d, 1)
    out = d.k.set_control(ControlSnapshot(version=1, kill=True, changed_by="ops"), d.tick_clock())
    assert [type(e) for e in out.effects] == [CancelOrder]
    assert d.state(0) == "ENTRY_CANCELING"
    refused = d.enter(2)
    assert refused.reason is Reason.KILL_SWITCH
    paused = d.k.set_control(ControlSnapshot(version=2, pause_entries=True), d.tick_clock())
    assert paused.status is OutcomeStatus.CONFIRMED
    assert d.enter(2).reason is Reason.ENTRIES_PAUSED
    assert d.k.set_control(ControlSnapshot(version=2), d.tick_clock()).status is OutcomeStatus.DUPLICATE


def test_e21_each_fill_links_to_the_intent_of_its_own_order() -> None:
    """Regression found by `pink audit` on a paper run: exit fills carried the ENTER intent's id."""
    d = Driver()
    entry = d.enter(0)
    p = place(entry)
    d.fill(p.client_order_id, "1.000", "100", "1.000")
    exit_out = d.exit(0)
    e = place(exit_out)
    d.fill(e.client_order_id, "0.500", "101", "0.500")
    fills = [r for r in d.records if isinstance(r, FillBooked)]
    entry_intent = next(r for r in entry.records if isinstance(r, IntentRecorded)).intent
    exit_intent = next(r for r in exit_out.records if isinstance(r, IntentRecorded)).intent
    assert fills[0].intent_id == entry_intent.intent_id
    assert fills[1].intent_id == exit_intent.intent_id and fills[1].client_order_id == e.client_order_id


def test_e08_an_acknowledged_order_the_venue_forgets_cannot_strand_its_slot() -> None:
    """A venue that denies an order it acknowledged: DESYNC and re-queries, then concluded lost, with an alert."""
    d = Driver()
    p = place(d.enter(0, limit="90.0"))
    d.ack(p.client_order_id)
    d.fill(p.client_order_id, "0.400", "90.0", "0.400")
    first = d.report(p.client_order_id, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    assert first.status is OutcomeStatus.UNKNOWN and d.state() == "ENTRY_WORKING"  # its lookup may lag
    d.tick_clock(d.k.config.ack_timeout_ns)
    again = d.report(p.client_order_id, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    assert again.status is OutcomeStatus.QUARANTINED and d.state() == "DESYNC"
    for _ in range(3):
        q = d.k.tick(d.tick_clock(10**15))
        assert any(isinstance(e, QueryOrder) for e in q.effects)
        out = d.report(p.client_order_id, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    assert out.reason is Reason.ORDER_NOT_FOUND and "lost by the venue" in out.detail
    assert any(isinstance(r, ProtocolErrorRecorded) for r in out.records)
    v = d.k.slot_view(0)
    assert v.state == "POSITION_OPEN" and v.remaining_qty == D("0.400")  # the fills we know of are kept
    x = place(d.exit(0, close_all=True))
    d.fill(x.client_order_id, "0.400", "91.0", "0.400")
    assert d.state() == "IDLE"


def test_f16_an_unexplainable_report_waits_for_the_deadline_instead_of_querying_in_a_loop() -> None:
    """Regression (found by chaos and a hung restart): quarantine -> query -> report -> quarantine spun forever."""
    d = Driver()
    p = place(d.enter(0, limit="90.0"))
    d.ack(p.client_order_id)
    d.report(p.client_order_id, OrderStatus.NOT_FOUND, "1.000", "0", "0")  # (its lookup may lag)
    d.tick_clock(d.k.config.ack_timeout_ns)
    out = d.report(p.client_order_id, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    assert out.status is OutcomeStatus.QUARANTINED
    assert not any(isinstance(e, QueryOrder) for e in out.effects)  # no immediate re-query
    assert d.k.slots[0].deadline > d.now  # the deadline asks again, counted and backed off
    ticks = [d.k.tick(d.tick_clock(10**15)) for _ in range(2)]
    assert all(len(t.effects) == 1 for t in ticks)


def test_f16_a_stale_not_found_does_not_orphan_the_fills_that_follow() -> None:
    """Regression (chaos seed 21000068): a venue that has not indexed the order yet says NOT_FOUND, then fills it."""
    d = Driver()
    p = place(d.enter(0))
    d.k.tick(d.tick_clock(10**12))
    out = d.report(p.client_order_id, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    assert out.status is OutcomeStatus.UNKNOWN and d.state() == "ENTRY_PENDING"
    d.fill(p.client_order_id, "1.000", "100", "1.000")
    assert d.state() == "POSITION_OPEN" and d.k.slot_view(0).entry_qty == D("1.000")


def test_one_way_position_mode_refuses_an_opposite_side_on_the_same_symbol() -> None:
    """Chaos finding: a one-way venue account nets LONG and SHORT slots, so kernel and venue positions diverged."""
    from pink.kernel import Kernel, KernelConfig
    from tests.kernel.harness import INSTRUMENTS

    d = Driver(slots=3)
    d.k = Kernel(KernelConfig(slots=3, hedge_mode=False), INSTRUMENTS)
    place(d.enter(0, side=Side.LONG))
    refused = d.enter(1, side=Side.SHORT)
    assert refused.status is OutcomeStatus.REFUSED and refused.reason is Reason.OPPOSITE_SIDE_ONE_WAY
    assert refused.detail.startswith("side:") and "slot 0" in refused.detail
    assert d.enter(1, side=Side.LONG).status is OutcomeStatus.PENDING  # the same side adds up: allowed
    assert d.enter(2, side=Side.SHORT, asset="DOGE-USDT", qty="10").status is OutcomeStatus.PENDING



def test_f16_one_early_not_found_of_an_acknowledged_order_is_asked_again_not_flagged() -> None:
    """Regression: the venue's order lookup may lag its ack; the kernel's own deadline query got
    NOT_FOUND for an order just acknowledged and flagged the slot DESYNC. One early NOT_FOUND is
    asked again at the deadline; only one repeated past the grace (the ack timeout) flags it."""
    d = Driver()
    p = place(d.enter(0, limit="90.0"))
    d.k.tick(d.tick_clock(d.k.config.ack_timeout_ns + 1))  # no ack in time: the kernel asks
    d.ack(p.client_order_id)  # the ack arrives, then the query's answer
    out = d.report(p.client_order_id, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    assert out.status is OutcomeStatus.UNKNOWN and d.state() == "ENTRY_WORKING", out
    assert not any(isinstance(r, ProtocolErrorRecorded) for r in out.records) and d.k.quarantined == 0
    deadline = d.k.slots[0].deadline
    assert d.now < deadline <= d.now + d.k.config.ack_timeout_ns
    q = d.k.tick(deadline)
    assert [e.client_order_id for e in q.effects if isinstance(e, QueryOrder)] == [p.client_order_id]
    d.now = deadline
    d.report(p.client_order_id, OrderStatus.NEW, "1.000", "0", "0")  # it was only lagging
    assert d.state() == "ENTRY_WORKING" and d.k.quarantined == 0
    # a venue that denies it again, past the grace: flagged
    d.report(p.client_order_id, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    assert d.state() == "ENTRY_WORKING"
    d.tick_clock(d.k.config.ack_timeout_ns)
    out = d.report(p.client_order_id, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    assert out.status is OutcomeStatus.QUARANTINED and d.state() == "DESYNC"

"""Exit legs and the venue's minimum notional (E8, A1): a leg too small to place takes the
rest, a leg the venue refuses as too small makes the next exit take the rest, and a rest the
venue refuses to close (too small, or no position left there) is tried again after a wait,
never once per cycle."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from pink.kernel import Action, Intent, Kernel, OrderRejected, OrderStatus, OrderType, OutcomeStatus, Reason
from tests.kernel.harness import Driver, place

S = 1_000_000_000


def _open(d: Driver, qty: str, price: str, legs: tuple[str, ...]) -> None:
    p = place(d.enter(0, qty, legs=legs))
    d.fill(p.client_order_id, qty, price, qty)
    assert d.state() == "POSITION_OPEN"


def _exits(d: Driver) -> list[D]:
    sizes = []
    for _ in range(5):
        if d.state() == "IDLE":
            break
        e = place(d.exit(0))
        sizes.append(e.quantity)
        d.fill(e.client_order_id, str(e.quantity), "100", str(e.quantity))
    assert d.state() == "IDLE", sizes
    return sizes


@pytest.mark.parametrize(
    ("qty", "legs", "sizes"),
    [
        # BTC here: minimum notional 5. 0.040 at 100 is 4: below it, so the first exit takes all
        ("0.080", ("0.5", "0.5"), ["0.080"]),
        # 0.070 is 7, but it would leave 0.030 (3) that no order could close: all at once
        ("0.100", ("0.7", "0.3"), ["0.100"]),
        # 0.060 and 0.060 are 6 each: the plan stands
        ("0.120", ("0.5", "0.5"), ["0.060", "0.060"]),
    ],
)
def test_e08_a1_a_leg_below_the_minimum_notional_or_leaving_less_takes_the_rest(
    qty: str, legs: tuple[str, ...], sizes: list[str]
) -> None:
    d = Driver()
    _open(d, qty, "100", legs)
    assert _exits(d) == [D(s) for s in sizes]
    d.assert_books_balance()


def test_e08_a_limit_exit_leg_is_held_to_the_minimum_at_its_own_price() -> None:
    d = Driver()
    _open(d, "0.100", "100", ("0.5", "0.5"))
    trade = d.k.slots[0].trade
    assert trade is not None

    def limit_exit(price: str) -> Intent:
        return Intent(Action.EXIT, 0, trade.trade_id, f"x{price}", order_type=OrderType.LIMIT, limit_price=D(price))

    # 0.050 at 90 is 4.5 (below 5): all of it; at 120 it is 6: the leg
    assert d.k.exit_size(trade, close_all=False, price=D("90")) == D("0.100")
    assert place(d.submit(limit_exit("120.0"))).quantity == D("0.050")


def test_e08_a_market_exit_leg_is_held_to_the_minimum_at_the_price_the_policy_saw() -> None:
    d = Driver()
    _open(d, "0.100", "100", ("0.5", "0.5"))
    trade = d.k.slots[0].trade
    assert trade is not None
    bad = d.submit(Intent(Action.EXIT, 0, trade.trade_id, "xnan", reference_price=D("NaN")))
    assert bad.reason is Reason.INVALID_FIELD and bad.detail.startswith("reference_price: must be finite")
    # at 100 (the entry) the leg is 5; the market has fallen to 90, where it is 4.5: all of it
    at_90 = Intent(Action.EXIT, 0, trade.trade_id, "x90", reference_price=D("90"))
    assert place(d.submit(at_90)).quantity == D("0.100")


def _reject_below_min(d: Driver, cid: str) -> None:
    out = d.apply(OrderRejected(cid, "NOTIONAL_BELOW_MIN", "101400: minimum nominal value 2u", d.now))
    assert out.reason is Reason.VENUE_REJECTED
    assert d.state() == "POSITION_OPEN"


def test_e08_a_leg_the_venue_refuses_as_too_small_makes_the_next_exit_take_the_rest() -> None:
    d = Driver()
    _open(d, "1.000", "100", ("0.5", "0.5"))
    first = place(d.exit(0))
    assert first.quantity == D("0.500")
    # another refusal (margin, say) keeps the plan: the same leg is sent again, after a second
    d.apply(OrderRejected(first.client_order_id, "101204", "Insufficient margin", d.now))
    d.now += S
    again = place(d.exit(0))
    assert again.quantity == D("0.500")
    # the venue's minimum is above what the kernel knew (or the price fell): never that leg again
    _reject_below_min(d, again.client_order_id)
    d.now += 2 * S  # the second refusal in a row: two seconds
    rest = place(d.exit(0))
    assert rest.quantity == D("1.000")
    d.fill(rest.client_order_id, "1.000", "100", "1.000")
    assert d.state() == "IDLE"
    d.assert_books_balance()


def test_e08_a_rest_the_venue_refuses_to_close_is_tried_again_after_a_wait_not_every_cycle() -> None:
    d = Driver()
    _open(d, "1.000", "100", ("1",))
    trade = d.k.slots[0].trade
    assert trade is not None
    close = place(d.exit(0))
    _reject_below_min(d, close.client_order_id)
    # restored from a snapshot, the kernel still waits
    for k in (d.k, Kernel.restore(d.k.snapshot())):
        refused = k.submit(Intent(Action.EXIT, 0, trade.trade_id, "x-soon", close_all=True), d.now + S)
        assert refused.status is OutcomeStatus.REFUSED and refused.reason is Reason.BELOW_VENUE_MINIMUM
        assert refused.effects == ()
        assert "refused to close the last 1.000 BTC-USDT LONG as below its minimum" in refused.detail
    d.now += d.k.config.refusal_wait_max_ns
    retry = place(d.exit(0))
    assert retry.quantity == D("1.000")
    d.fill(retry.client_order_id, "1.000", "100", "1.000")
    assert d.state() == "IDLE"
    d.assert_books_balance()


@pytest.mark.parametrize("code", ["NO_POSITION", "REDUCE_ONLY_EXCEEDS_POSITION"])
def test_e08_a_close_the_venue_finds_no_position_for_is_named_and_not_sent_every_cycle(code: str) -> None:
    d = Driver()
    _open(d, "1.000", "100", ("0.5", "0.5"))
    trade = d.k.slots[0].trade
    assert trade is not None
    leg = place(d.exit(0))
    # the position was closed on the venue by hand, or liquidated: the venue has nothing to close
    d.apply(OrderRejected(leg.client_order_id, code, "No position to close", d.now))
    refused = d.exit(0)
    assert refused.reason is Reason.NO_VENUE_POSITION and refused.effects == ()
    assert "holds no position to close the last 1.000 BTC-USDT LONG" in refused.detail
    assert "by hand or by liquidation" in refused.detail
    assert d.state() == "POSITION_OPEN"
    d.now += d.k.config.refusal_wait_max_ns
    assert place(d.exit(0)).quantity == D("0.500")  # tried again, as planned


def test_refusals_in_a_row_space_a_slot_s_orders_out_until_one_is_taken() -> None:
    """A policy entering every cycle into a venue that refuses (margin, say) must not become an
    order refused every cycle: the waits double (1, 2, 4 s ...) up to a minute; an ack resets them."""
    d = Driver()
    waits = []
    for n in range(8):
        p = place(d.enter(0))
        d.apply(OrderRejected(p.client_order_id, "INSUFFICIENT_MARGIN", "Insufficient margin", d.now))
        slot = d.k.slots[0]
        waits.append((slot.retry_ts - d.now) // S)
        early = d.enter(0)
        assert early.reason is Reason.VENUE_REFUSED_RECENTLY and early.effects == ()
        assert f"refused its last {n + 1} order(s) (INSUFFICIENT_MARGIN)" in early.detail
        assert Kernel.restore(d.k.snapshot()).slots[0].retry_ts == slot.retry_ts
        d.now = slot.retry_ts
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    p = place(d.enter(0))
    d.ack(p.client_order_id)
    assert d.k.slots[0].refusals == 0
    d.canceled(p.client_order_id)
    place(d.enter(0))  # at once: the refusals in a row ended with the ack


def test_a_refusal_found_by_a_query_counts_too_and_a_request_the_venue_never_got_does_not() -> None:
    d = Driver()
    p = place(d.enter(0))
    d.report(p.client_order_id, OrderStatus.REJECTED, "1.000", "0", "0")  # its reject event was lost
    assert d.state() == "IDLE" and d.k.slots[0].refusals == 1 and d.k.slots[0].refused == "REJECTED"
    assert d.enter(0).reason is Reason.VENUE_REFUSED_RECENTLY
    d.now = d.k.slots[0].retry_ts
    lost = place(d.enter(0))
    for _ in range(3):  # never acknowledged, unknown to the venue at three deadlines: never got there
        d.now += 200 * S
        d.k.tick(d.now)
        d.report(lost.client_order_id, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    assert d.state() == "IDLE" and d.k.slots[0].refusals == 1  # unchanged

"""The kernel's numbers do not depend on the thread's decimal context (exact money, replayable)."""

from __future__ import annotations

import decimal
from decimal import Decimal as D

from pink.kernel import FillBooked, OutcomeStatus
from tests.kernel.harness import Driver, place


def test_the_kernels_numbers_do_not_depend_on_the_decimal_context_a_library_leaves() -> None:
    """ccxt sets the thread's decimal rounding to ROUND_HALF_UP (found when its test ran before the
    runtime's): a policy importing it must not change what the kernel books, or a replay without it."""
    def pnl_of_a_leg() -> D:
        d = Driver()
        p = place(d.enter(0, "0.128", legs=("0.5", "0.5")))
        d.fill(p.client_order_id, "0.001", "100.1", "0.001")  # entry VWAP 100.00078125: a half at 1e-7
        d.fill(p.client_order_id, "0.127", "100.0", "0.128", fill_id="f2")
        trade = d.k.slots[0].trade
        assert trade is not None
        trade.entry_vwap = D(0)  # the leg's fill computes it
        leg = place(d.exit(0))
        out = d.fill(leg.client_order_id, str(leg.quantity), "101", str(leg.quantity), fill_id="f3")
        (fill,) = [r for r in out.records if isinstance(r, FillBooked)]
        return fill.realized_pnl

    usual = pnl_of_a_leg()
    with decimal.localcontext() as ctx:
        ctx.rounding = decimal.ROUND_HALF_UP
        assert pnl_of_a_leg() == usual


def _round_trip_snapshot() -> tuple[dict[str, object], object, object]:
    """A leg of 0.064 at 101.3 against an entry VWAP of 100.00078125: (snapshot, account, slot view)."""
    d = Driver()
    p = place(d.enter(0, "0.128", legs=("0.5", "0.5")))
    d.fill(p.client_order_id, "0.001", "100.1", "0.001")
    d.fill(p.client_order_id, "0.127", "100.0", "0.128", fill_id="f2")
    leg = place(d.exit(0))
    out = d.fill(leg.client_order_id, str(leg.quantity), "101.3", str(leg.quantity), fill_id="f3")
    assert out.status is OutcomeStatus.CONFIRMED, out
    return d.k.snapshot(), d.k.account_view(), d.k.slot_view(0)


def test_e05_the_kernel_books_exactly_whatever_precision_or_traps_the_thread_was_left_with() -> None:
    """A policy or library that lowers the thread's decimal precision (or traps inexact results) for
    its own sums must not round what the kernel books (capital 9999.98 instead of 10000.05315...),
    nor make it quarantine a good fill (its VWAP then could not be kept on tick / 1e6), nor make a
    replay without it differ."""
    usual = _round_trip_snapshot()
    with decimal.localcontext() as ctx:
        ctx.prec = 8
        assert _round_trip_snapshot() == usual
        assert ctx.prec == 8  # (the caller's context is left as it was)
    with decimal.localcontext() as ctx:
        ctx.traps[decimal.Inexact] = True
        assert _round_trip_snapshot() == usual

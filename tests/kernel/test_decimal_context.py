"""The kernel's numbers do not depend on the thread's decimal context (exact money, replayable)."""

from __future__ import annotations

import decimal
from decimal import Decimal as D

from pink.kernel import FillBooked
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

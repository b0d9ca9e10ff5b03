"""The books against a BingX wallet shown to 4 decimals, over loopback HTTP against the simulator server.

Fees and profits carry 8 decimals; the balance endpoint shows 4. A reading
of the wallet is therefore off by up to 1e-4 from what was booked, and the
books check (:mod:`pink.runtime.books`) must neither mistake that for money
moved unbooked nor let it hide an amount larger than that.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pink.runtime.recovery import Reconciler
from pink.venues.bingx.parse_rest import BALANCE_RESOLUTION
from tests.venues.bingx.e2e_kit import stack, until

D = Decimal
S = 1_000_000_000


async def test_a_wallet_shown_to_4_decimals_is_no_mismatch_and_a_fee_never_reported_still_is() -> None:
    async with stack() as st:
        p = st.pump

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        # settle in 1 ns: any two readings apart count as held (the rule's timing is tested elsewhere)
        rec = Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1)
        await rec.full(p.kernel, p.now() - 60 * S, 2)
        assert rec.books.baseline == 0

        await p.submit(st.enter("t1", "0.003"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "closed")
        await p.drain()
        shown = await st.venue.balance()
        capital = p.kernel.account_view().capital
        assert shown.resolution == BALANCE_RESOLUTION == D("0.0001")
        assert shown.balance != capital and abs(shown.balance - capital) <= shown.resolution / 2  # fees: 8 places
        assert shown.balance == st.engine.balance().balance.quantize(D("0.0001"), ROUND_HALF_UP)  # as shown
        for _ in range(3):
            rep = await rec.periodic(p.kernel, p.now() - 60 * S)
            assert rep.books_mismatch == "" and rep.errors == []

        st.engine.account.fees += D("0.0005")  # the venue takes a fee it never reports
        for _ in range(2):
            rep = await rec.periodic(p.kernel, p.now() - 60 * S)
        assert rec.books.moved is not None and abs(rec.books.moved + D("0.0005")) <= 2 * BALANCE_RESOLUTION
        assert "moved without being booked" in rep.books_mismatch
        assert rep.books_mismatch.endswith("the venue shows its wallet to 0.0001")
        st.pump.check_account()

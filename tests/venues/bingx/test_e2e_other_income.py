"""End to end: income of a type PINK does not book is named, not booked and not lost in silence.

BingX lists every wallet movement as an income row. Funding, transfers and liquidation fees
(``INSURANCE_CLEAR``, "Strong liquidation": not in the liquidating fill's commission) are
booked from theirs, a fill's realized PnL and fee from the fill; a ``SYSTEM_DEDUCTION``,
``TRIAL_FUND``, ``ADL`` or ``GTD_PRICE`` row moves the wallet too. Before, nothing read them:
the books check only saw an unexplained difference later.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from pink.kernel.messages import FeeCharged, OutcomeStatus, Settlement, SettlementKind
from pink.runtime.recovery import Reconciler
from pink.venues.bingx.reports import INCOME_PATH
from tests.venues.bingx.e2e_kit import SYMBOL, sim_transfer, stack, until

D = Decimal


async def _sim_income(base_url: str, kind: str, amount: str, symbol: str = "") -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.post(
        f"{base_url}/_sim/income", json={"incomeType": kind, "amount": amount, "symbol": symbol}
    ) as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def test_income_of_other_types_is_named_once_per_row_and_not_booked_but_liquidation_fees_are(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with stack() as st:
        p = st.pump
        since = p.now()
        await p.submit(st.enter("t1", "0.002"))  # a round trip: TRADING_FEE and REALIZED_PNL rows
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "closed")
        assert (await sim_transfer(st.server, "100"))[0] == 200
        wallet = st.engine.balance().balance
        clear = await _sim_income(st.server.base_url, "INSURANCE_CLEAR", "-3.5", "BTC-USDT")
        deduction = await _sim_income(st.server.base_url, "SYSTEM_DEDUCTION", "-1.25")
        assert st.engine.balance().balance == wallet - D("4.75")  # the venue's wallet moved
        await p.drain()

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        before = st.server.request_counts[INCOME_PATH]
        rec = Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1)
        caplog.set_level(logging.WARNING, logger="pink.venues.bingx")
        rep = await rec.full(p.kernel, since, 2)
        assert st.server.request_counts[INCOME_PATH] - before == 3  # funding, transfers, liquidation fees
        assert rep.errors == []
        named = [r.getMessage() for r in caplog.records if "PINK does not book" in r.getMessage()]
        assert len(named) == 1, named
        (text,) = named
        row = deduction
        assert row["incomeType"] in text and row["income"] in text and row["tranId"] in text
        assert datetime.fromtimestamp(row["time"] / 1000, tz=UTC).isoformat(timespec="milliseconds") in text
        assert " on " not in text
        assert st.venue.unbooked_income == Counter({"SYSTEM_DEDUCTION": 1})
        acct = p.kernel.account_view()
        assert acct.transfers == D(100) and acct.funding == 0  # neither booked as funding nor as a transfer
        assert [(c.charge_id, c.amount) for c in _charges(p)] == [(clear["tranId"], D("3.5"))]  # a fee, booked

        caplog.clear()
        await st.venue.funding_since(since)  # read again: already named
        assert not [r for r in caplog.records if "PINK does not book" in r.getMessage()]
        assert st.venue.unbooked_income == Counter({"SYSTEM_DEDUCTION": 1})
        st.check_against_venue()
        assert p.kernel.account_view().capital == st.engine.balance().balance + D("1.25")  # the deduction only


def _charges(p: Any) -> list[FeeCharged]:
    return [e for e in p.events if isinstance(e, FeeCharged)]


async def test_e18_a_liquidation_fee_is_booked_from_the_push_and_capital_equals_the_wallet() -> None:
    """BingX charges a liquidation's fee as its own income row (``INSURANCE_CLEAR``), the fill
    showing 0. Before, PINK booked only the fill: its capital stayed above the wallet by the fee."""
    async with stack() as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.002"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        state = st.server.state
        state.publish(st.engine.shock(SYMBOL, D("-0.5")), st.engine.now)  # the 5x long is liquidated
        (liq,) = [f for f in st.engine.fills_since(0) if not f.client_order_id]
        assert liq.commission > 0  # the fee, which BingX lists as INSURANCE_CLEAR, not on the fill
        await until(lambda: p.slot() == "IDLE" and bool(_charges(p)), "liquidation and its fee booked")
        await p.drain()
        (fee,) = _charges(p)
        assert (fee.amount, fee.asset, fee.symbol, fee.note) == (liq.commission, "USDT", SYMBOL, "Strong liquidation")
        acct = p.kernel.account_view()
        assert acct.capital == st.engine.balance().balance  # to the last digit
        assert acct.fees == sum((f.commission for f in st.engine.fills_since(0)), D(0))
        p.check_account()
        settled = [r for o in p.outcomes for r in o.records if isinstance(r, Settlement)]
        (entry,) = [s for s in settled if s.kind is SettlementKind.ADJUSTMENT]
        assert (entry.fee, entry.slot, entry.trade_id) == (liq.commission, -1, "")
        assert entry.cause == f"charge:{fee.charge_id}"

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        # the slow reconcile lists it again: booked once
        rep = await Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1).full(p.kernel, 0, 2)
        assert rep.errors == [] and rep.charges == 1 and "1 fee(s) charged outside fills" in rep.summary()
        assert p.outcomes[-1].status is OutcomeStatus.DUPLICATE
        assert p.kernel.account_view().capital == st.engine.balance().balance
        assert "INSURANCE_CLEAR" not in st.venue.unbooked_income


async def test_e18_a_liquidation_fee_whose_push_was_lost_is_booked_by_the_reconcile_and_a_credit_is_a_refund() -> None:
    """An ``INSURANCE_CLEAR`` no push announced (PINK was down, the stream dropped it) is booked by
    the reconcile; one that credits the wallet is booked as a refund: the wallet moved either way."""
    async with stack() as st:
        p = st.pump
        since = p.now()
        paid = await _sim_income(st.server.base_url, "INSURANCE_CLEAR", "-3.5", SYMBOL)
        back = await _sim_income(st.server.base_url, "INSURANCE_CLEAR", "1.25", SYMBOL)
        await p.drain()
        assert not _charges(p)  # no push: nothing read yet

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        rep = await Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1).full(p.kernel, since, 2)
        assert rep.errors == [] and rep.charges == 2
        assert [(c.charge_id, c.amount) for c in _charges(p)] == [
            (paid["tranId"], D("3.5")), (back["tranId"], D("-1.25"))]
        acct = p.kernel.account_view()
        assert acct.fees == D("2.25") and acct.capital == D(10000) - D("2.25") == st.engine.balance().balance
        p.check_account()

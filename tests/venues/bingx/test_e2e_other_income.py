"""End to end: income of a type PINK does not book is named, not booked and not lost in silence.

BingX lists every wallet movement as an income row. Funding and transfers are booked from
theirs, a fill's realized PnL and fee from the fill (a liquidation's loss is listed as
``INSURANCE_CLEAR``: its fill's too); a ``SYSTEM_DEDUCTION``, ``TRIAL_FUND``, ``ADL`` or
``GTD_PRICE`` row moves the wallet too. Before, nothing read them: the books check only saw an
unexplained difference later.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from pink.kernel import Kernel
from pink.kernel.messages import FundingPaid, Settlement, SettlementKind
from pink.runtime.recovery import Reconciler
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.reports import INCOME_PATH
from pink.venues.bingx.server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY
from pink.venues.bingx.venue import BingxVenue
from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.instruments import default_instruments
from pink.venues.sim.prices import MarketConfig
from tests.venues.bingx.e2e_kit import SYMBOL, Pump, sim_transfer, stack, until

D = Decimal


async def _sim_income(base_url: str, kind: str, amount: str, symbol: str = "") -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.post(
        f"{base_url}/_sim/income", json={"incomeType": kind, "amount": amount, "symbol": symbol}
    ) as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def test_income_of_other_types_is_named_once_per_row_and_not_booked(caplog: pytest.LogCaptureFixture) -> None:
    async with stack() as st:
        p = st.pump
        since = p.now()
        await p.submit(st.enter("t1", "0.002"))  # a round trip: TRADING_FEE and REALIZED_PNL rows
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "closed")
        assert (await sim_transfer(st.server, "100"))[0] == 200
        wallet = st.engine.balance().balance
        clear = await _sim_income(st.server.base_url, "ADL", "-3.5", "BTC-USDT")
        deduction = await _sim_income(st.server.base_url, "SYSTEM_DEDUCTION", "-1.25")
        assert st.engine.balance().balance == wallet - D("4.75")  # the venue's wallet moved
        await p.drain()

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        before = st.server.request_counts[INCOME_PATH]
        rec = Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1)
        caplog.set_level(logging.WARNING, logger="pink.venues.bingx")
        rep = await rec.full(p.kernel, since, 2)
        assert st.server.request_counts[INCOME_PATH] - before == 1  # every type at once
        assert rep.errors == []
        named = [r.getMessage() for r in caplog.records if "PINK does not book" in r.getMessage()]
        assert len(named) == 2, named
        for row, text in zip((clear, deduction), named, strict=True):
            assert row["incomeType"] in text and row["income"] in text and row["tranId"] in text
            assert datetime.fromtimestamp(row["time"] / 1000, tz=UTC).isoformat(timespec="milliseconds") in text
        assert "on BTC-USDT" in named[0] and " on " not in named[1]
        assert st.venue.unbooked_income == Counter({"ADL": 1, "SYSTEM_DEDUCTION": 1})
        acct = p.kernel.account_view()
        assert acct.transfers == D(100) and acct.funding == 0  # neither booked as funding nor as a transfer

        caplog.clear()
        await st.venue.funding_since(since)  # read again: already named
        assert not [r for r in caplog.records if "PINK does not book" in r.getMessage()]
        assert st.venue.unbooked_income == Counter({"ADL": 1, "SYSTEM_DEDUCTION": 1})
        st.check_against_venue()


async def test_e08_a_liquidation_is_booked_from_its_fill_and_capital_equals_the_wallet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """BingX lists a liquidation's fee as the fill's ``TRADING_FEE`` and its realized loss as
    ``INSURANCE_CLEAR`` (in place of ``REALIZED_PNL``): both are the fill's own. PINK books the
    liquidating fill, and neither books the loss row again nor warns of it as money it missed."""
    async with stack() as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.002"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        caplog.set_level(logging.WARNING, logger="pink.venues.bingx")
        state = st.server.state
        state.publish(st.engine.shock(SYMBOL, D("-0.5")), st.engine.now)  # the long is liquidated
        (liq,) = [f for f in st.engine.fills_since(0) if not f.client_order_id]
        assert liq.commission > 0 and liq.realized_pnl < 0
        await until(lambda: p.slot() == "IDLE", "liquidation booked")
        await p.drain()

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        rep = await Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1).full(p.kernel, 0, 2)
        await p.drain()
        assert rep.errors == [] and not rep.books_mismatch, rep.summary()
        assert p.kernel.account_view().capital == st.engine.balance().balance  # to the last digit
        assert not [r for r in caplog.records if "PINK does not book" in r.getMessage()]
        assert st.venue.unbooked_income == Counter()
        st.check_against_venue()


def _settled(p: Any, kind: SettlementKind) -> list[str]:
    """The ids the kernel booked as settlements of ``kind``, in order."""
    return [r.cause for o in p.outcomes for r in o.records if isinstance(r, Settlement) and r.kind is kind]


async def test_e1_one_reconcile_reads_the_income_once_for_funding_and_transfers() -> None:
    """BingX rate-limits ``user/income`` (5 a second per account). A reconcile read it twice
    (every type for funding, then TRANSFER again) although the first read held every row: one
    read now books both, each row once by ``tranId``; a read that fails books neither, and the
    next reconcile books them."""
    engine = MatchingEngine(default_instruments(), seed=5, start_ts=time.time_ns(),
                            market=MarketConfig(funding_rate=D("0.001")), funding_interval_s=1)
    async with stack(engine=engine) as st:
        p = st.pump
        since = p.now()
        await p.submit(st.enter("t1", "0.010"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        await until(lambda: any(isinstance(e, FundingPaid) for e in p.events), "a funding settlement")
        await p.submit(st.exit("t1", close_all=True))  # no position: no more funding
        await until(lambda: p.slot() == "IDLE", "closed")
        paid = engine.funding_since(0)
        await until(lambda: len(_settled(p, SettlementKind.FUNDING)) == len(paid), "funding read")
        await p.drain()
        engine.transfer(D(100))  # a deposit no push announced

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        rec = Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1)
        counts = st.server.request_counts
        before = counts[INCOME_PATH]
        rep = await rec.full(p.kernel, since, 2)
        assert counts[INCOME_PATH] - before == 1  # not 2
        assert rep.errors == [] and (rep.funding, rep.transfers) == (len(paid), 1)
        assert p.kernel.account_view().transfers == D(100)

        later = engine.transfer(D(50))
        st.server.faults.update("http5xx=1")  # every request fails: the income read too
        rep = await rec.periodic(p.kernel, since)
        st.server.faults.clear()
        assert [e for e in rep.errors if "transfers" in e]  # named, and nothing booked
        assert p.kernel.account_view().transfers == D(100)
        before = counts[INCOME_PATH]
        rep = await rec.periodic(p.kernel, since)  # the next one books it, the others once only
        assert counts[INCOME_PATH] - before == 1 and rep.errors == []
        assert _settled(p, SettlementKind.TRANSFER)[-1].endswith(later.transfer_id)
        acct = p.kernel.account_view()
        assert acct.funding == sum(f.amount for f in paid) and acct.transfers == D(150)
        assert sorted(_settled(p, SettlementKind.FUNDING)) == sorted(f.funding_id for f in paid)  # once each
        assert len(_settled(p, SettlementKind.TRANSFER)) == 2
        p.check_account()


async def test_e26_a_liquidation_while_pink_is_down_is_booked_from_its_fill_once_after_the_restart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PINK stopped with a position open; BingX liquidated it meanwhile (no push heard). The
    restart's reconcile, on a kernel restored from its snapshot, books the liquidating fill (its
    fee and its loss, from the fill) once: capital equals the wallet to the last digit, and the
    loss's own income row (``INSURANCE_CLEAR``) is neither booked again nor warned of. A second
    start reading the same rows books nothing more."""
    async with stack() as st:
        p = st.pump
        since = p.now()
        await p.submit(st.enter("t1", "0.002"))
        await until(lambda: p.slot() == "POSITION_OPEN", "entered")
        await p.drain()
        await st.venue.close()  # PINK stops
        snap = json.loads(json.dumps(p.kernel.snapshot()))
        st.server.state.publish(st.engine.shock(SYMBOL, D("-0.5")), st.engine.now)  # liquidated meanwhile
        (liq,) = [f for f in st.engine.fills_since(0) if not f.client_order_id]
        assert liq.commission > 0 and liq.realized_pnl < 0
        cfg = BingxConfig(base_url=st.server.base_url, ws_url=st.server.ws_url,
                          market_ws_url=st.server.market_ws_url, api_key=DEFAULT_API_KEY,
                          secret_key=DEFAULT_SECRET_KEY)  # fmt: skip
        caplog.set_level(logging.WARNING, logger="pink.venues.bingx")
        for start in range(2):
            venue = BingxVenue(cfg)
            pump = Pump(venue, Kernel.restore(snap))
            await venue.start(pump.sink)
            try:
                async def ask(fn: Callable[[], Any], pump: Pump = pump) -> Any:
                    return fn()

                rep = await Reconciler(venue, pump.sink, ask, pump.now, books_settle_ns=1).full(
                    pump.kernel, since, 2)
                await pump.drain()
                assert rep.errors == [] and not rep.books_mismatch, rep.summary()
                assert pump.slot() == "IDLE" and rep.outside_fills == (0 if start else 1)
                booked = [b for b in pump.booked() if b.fill_id.startswith(f"{liq.venue_order_id}:")]
                assert len(booked) == (0 if start else 1)  # once, at the first start
                acct = pump.kernel.account_view()
                assert acct.capital == st.engine.balance().balance  # to the last digit
                assert acct.fees == sum((f.commission for f in st.engine.fills_since(0)), D(0))
                assert acct.gross_pnl == sum((f.realized_pnl for f in st.engine.fills_since(0)), D(0))
                assert _settled(pump, SettlementKind.ADJUSTMENT) == []  # the loss row: not booked apart
                pump.check_account()
                snap = json.loads(json.dumps(pump.kernel.snapshot()))
            finally:
                await venue.close()
        assert not [r for r in caplog.records if "PINK does not book" in r.getMessage()]

"""Deposits, withdrawals and funding end to end: booked from income rows, each ``tranId`` once.

The real adapter over loopback against the simulator server, with a real
Kernel behind it (:mod:`e2e_kit`). A money push (``ACCOUNT_UPDATE`` with ``m``
``DEPOSIT``/``WITHDRAW``/``FUNDING_FEE``) only makes the adapter read the
income rows; the push itself carries no ``tranId`` and is never booked, so
a failed read books nothing and the reconcile books the row later, once.
"""

from __future__ import annotations

import logging
import time
from bisect import insort
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from pink.errors import VenueError
from pink.kernel.messages import (
    FundingPaid,
    FundsTransferred,
    OutcomeStatus,
    Settlement,
    SettlementKind,
)
from pink.runtime.recovery import Reconciler
from pink.venues.bingx.reports import INCOME_PATH
from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.instruments import default_instruments
from pink.venues.sim.prices import MarketConfig
from tests.venues.bingx.e2e_kit import Pump, S, Stack, sim_transfer, stack, until

D = Decimal
GET_INCOME = f"GET {INCOME_PATH}"
MS = 1_000_000


def _moved(p: Pump) -> list[FundsTransferred]:
    return [e for e in p.events if isinstance(e, FundsTransferred)]


def _settled(p: Pump, kind: SettlementKind) -> list[Settlement]:
    return [r for o in p.outcomes for r in o.records if isinstance(r, Settlement) and r.kind is kind]


def _capital(st: Stack) -> Decimal:
    return st.pump.kernel.account_view().capital


async def _reconcile_transfers(st: Stack) -> list[OutcomeStatus]:
    """What the runtime's reconciler does: every listed row to the kernel (it dedupes by id)."""
    statuses = []
    for row in await st.venue.transfers_since(0):
        st.pump.sink(row)
        statuses.append(st.pump.outcomes[-1].status)
    return statuses


async def test_deposit_push_books_the_income_row_once() -> None:
    async with stack() as st:
        p = st.pump
        before, venue_before = _capital(st), (await st.venue.balance()).balance
        status, body = await sim_transfer(st.server, "250.5")
        assert status == 200 and body["amount"] == "250.5" and body["asset"] == "USDT"
        await until(lambda: bool(_moved(p)), "the deposit delivered")
        (engine_row,) = st.engine.transfers_since(0)
        (moved,) = _moved(p)
        assert moved == FundsTransferred(body["tranId"], "USDT", D("250.5"), engine_row.ts // MS * MS,
                                         alt_id=moved.alt_id)
        assert moved.alt_id.startswith("notranid:TRANSFER:")  # (listed without its tranId, it is this)
        assert st.venue.calls[GET_INCOME] == 1  # the push triggered one income read
        assert _capital(st) == before + D("250.5") and p.kernel.account_view().transfers == D("250.5")
        (settled,) = _settled(p, SettlementKind.TRANSFER)
        assert (settled.amount, settled.cause) == (D("250.5"), f"transfer:{body['tranId']}")
        assert (await st.venue.balance()).balance == venue_before + D("250.5")
        p.check_account()


async def test_duplicated_push_and_a_reconcile_listing_it_again_book_the_deposit_once() -> None:
    async with stack(faults="dup_stream=1") as st:
        p = st.pump
        before = _capital(st)
        status, body = await sim_transfer(st.server, "100")
        assert status == 200
        await until(lambda: st.venue.calls[GET_INCOME] >= 2, "both copies of the push read the income")
        await until(lambda: bool(_moved(p)), "the deposit delivered")
        assert [t.transfer_id for t in _moved(p)] == [body["tranId"]]  # the adapter delivered it once
        assert await _reconcile_transfers(st) == [OutcomeStatus.DUPLICATE]  # startup / periodic reconcile
        assert await _reconcile_transfers(st) == [OutcomeStatus.DUPLICATE]
        assert _capital(st) == before + 100
        assert [s.amount for s in _settled(p, SettlementKind.TRANSFER)] == [D(100)]
        p.check_account()


async def test_a_burst_of_money_pushes_reads_the_income_once_more_not_once_each() -> None:
    """Funding settles with one push per isolated position: each read the whole income window
    again, so 8 positions made 8 reads at once of an endpoint BingX allows 5 a second. A push
    that comes while a read is on its way now asks for one more read after it (the row it
    announces may be missing from the first); every row is booked once."""
    async with stack() as st:
        p = st.pump
        before = st.venue.calls[GET_INCOME]
        moved = [st.server.state.transfer(D(i + 1)) for i in range(8)]  # 8 pushes in one burst
        await until(lambda: len(_moved(p)) == 8, "every deposit delivered")
        await p.drain()
        await until(lambda: not st.venue.income_reading, "the reads done")
        assert [t.transfer_id for t in _moved(p)] == [m.transfer_id for m in moved]  # once each, in order
        assert st.venue.calls[GET_INCOME] - before <= 2  # not 8
        assert _capital(st) == D(10000) + 36 and len(_settled(p, SettlementKind.TRANSFER)) == 8
        p.check_account()


async def test_a_deposit_listed_without_a_tran_id_is_booked_once_and_the_others_with_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One TRANSFER (or FUNDING_FEE) row without a ``tranId`` made the adapter refuse the whole
    income read: neither it nor any other row of the window was booked, and a start failed until
    it left the window. It is booked by a key made from its own fields, the same at each read."""
    async with stack(faults="income_no_tranid=#1") as st:  # the first row listed has none
        p = st.pump
        caplog.set_level(logging.WARNING, logger="pink.venues.bingx")
        before = _capital(st)
        assert (await sim_transfer(st.server, "40"))[0] == 200
        await until(lambda: len(_moved(p)) == 1, "the deposit without a tranId delivered")
        assert (await sim_transfer(st.server, "2.5"))[0] == 200
        await until(lambda: len(_moved(p)) == 2, "the next deposit delivered")
        first, second = (e.transfer_id for e in st.engine.transfers_since(0))
        keyless = _moved(p)[0].transfer_id
        assert keyless != first and [t.transfer_id for t in _moved(p)][1] == second
        assert await _reconcile_transfers(st) == [OutcomeStatus.DUPLICATE] * 2  # read again: known
        assert [t.transfer_id for t in await st.venue.transfers_since(_moved(p)[1].ts)] == [second]
        assert _capital(st) == before + D("42.5")
        assert [s.amount for s in _settled(p, SettlementKind.TRANSFER)] == [D(40), D("2.5")]
        named = [r.getMessage() for r in caplog.records if "without a tranId" in r.getMessage()]
        assert len(named) == 1 and keyless in named[0] and "40" in named[0], named
        # a restarted venue lists it with its tranId after all (a chaos trial booked it twice)
        st.server.state.keyless_income.clear()
        st.server.state.faults = None
        assert await _reconcile_transfers(st) == [OutcomeStatus.DUPLICATE] * 2
        assert [t.transfer_id for t in await st.venue.transfers_since(0)] == [first, second]
        assert _capital(st) == before + D("42.5")
        p.check_account()


async def test_withdrawal_lowers_capital_and_the_venue_balance_by_exactly_the_amount() -> None:
    async with stack() as st:
        p = st.pump
        before, venue_before = _capital(st), (await st.venue.balance()).balance
        assert (await sim_transfer(st.server, "500"))[0] == 200
        assert (await sim_transfer(st.server, "-120.75"))[0] == 200
        await until(lambda: len(_moved(p)) == 2, "deposit and withdrawal delivered")
        assert [t.amount for t in _moved(p)] == [D(500), D("-120.75")]
        assert _capital(st) == before + D("379.25")
        assert [s.amount for s in _settled(p, SettlementKind.TRANSFER)] == [D(500), D("-120.75")]
        assert (await st.venue.balance()).balance == venue_before + D("379.25")
        assert p.kernel.account_view().gross_pnl == 0  # capital, never PnL
        p.check_account()


async def test_transfers_since_lists_only_transfers_oldest_first_from_a_time() -> None:
    async with stack() as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.010"))  # a fill: TRADING_FEE income rows, never listed
        await until(lambda: p.slot() == "POSITION_OPEN", "market entry filled")
        for amount in ("10", "-2.5", "7"):
            assert (await sim_transfer(st.server, amount))[0] == 200
        listed = await st.venue.transfers_since(0)
        engine = st.engine.transfers_since(0)
        assert [(t.transfer_id, t.asset, t.amount) for t in listed] == [
            (e.transfer_id, e.asset, e.amount) for e in engine]
        assert [t.amount for t in listed] == [D(10), D("-2.5"), D(7)]
        assert [t.ts for t in listed] == [e.ts // MS * MS for e in engine]
        assert await st.venue.transfers_since(listed[1].ts) == listed[1:]  # at/after ts
        assert await st.venue.transfers_since(time.time_ns() + 3600 * 10**9) == []


async def test_transfers_of_one_instant_are_listed_in_the_order_they_happened() -> None:
    async with stack(realtime=False) as st:  # the venue clock stands still: one timestamp for all
        for amount in ("1", "2", "3", "4"):
            assert (await sim_transfer(st.server, amount))[0] == 200
        listed = await st.venue.transfers_since(0)
        assert len({t.ts for t in listed}) == 1
        assert [t.amount for t in listed] == [D(1), D(2), D(3), D(4)]
        assert [t.transfer_id for t in listed] == [e.transfer_id for e in st.engine.transfers_since(0)]


async def test_failed_income_read_after_a_deposit_push_books_nothing_until_the_reconcile(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="pink.venues.bingx.reports")
    async with stack(config={"max_retries": 0}) as st:
        p = st.pump
        before = _capital(st)
        st.server.faults.update("http5xx=#1")  # the next REST call (the push's income read) fails
        status, body = await sim_transfer(st.server, "42")
        assert status == 200
        await until(lambda: "DEPOSIT push" in caplog.text, "the failed read logged")
        assert st.venue.calls[GET_INCOME] == 1
        assert _moved(p) == [] and _capital(st) == before  # nothing booked from the push itself
        assert await _reconcile_transfers(st) == [OutcomeStatus.CONFIRMED]
        assert [t.transfer_id for t in _moved(p)] == [body["tranId"]]
        assert _capital(st) == before + 42 and len(_settled(p, SettlementKind.TRANSFER)) == 1
        p.check_account()


async def test_failed_income_read_after_a_funding_push_books_the_funding_once_by_tran_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Regression: a failed read used to book the push as ``ws:<ms>:<asset>``, then the reconcile
    booked the income row (its ``tranId``) as well: the funding counted twice."""
    caplog.set_level(logging.WARNING, logger="pink.venues.bingx.reports")
    engine = MatchingEngine(default_instruments(), seed=5, start_ts=time.time_ns(),
                            market=MarketConfig(funding_rate=D("0.001")), funding_interval_s=2)
    async with stack(engine=engine, config={"max_retries": 0}) as st:
        p = st.pump
        await p.submit(st.enter("t1", "0.010"))
        await until(lambda: p.slot() == "POSITION_OPEN", "market entry filled")
        st.server.faults.update("http5xx=#1")  # the funding push's income read fails
        await until(lambda: "FUNDING_FEE push" in caplog.text, "a settlement whose read failed")
        assert all(not f.funding_id.startswith("ws:") for f in p.events if isinstance(f, FundingPaid))
        await p.submit(st.exit("t1", close_all=True))  # no position: no more funding
        await until(lambda: p.slot() == "IDLE", "closed")
        for row in await st.venue.funding_since(0):  # the reconcile
            p.sink(row)
        paid = engine.funding_since(0)
        assert paid and all(f.amount for f in paid)
        await until(lambda: len(_settled(p, SettlementKind.FUNDING)) >= len(paid), "every settlement booked")
        assert sorted(s.cause for s in _settled(p, SettlementKind.FUNDING)) == sorted(f.funding_id for f in paid)
        assert p.kernel.account_view().funding == sum(f.amount for f in paid)
        p.check_account()


async def _deposits(st: Stack, n: int, per_ms: int) -> list[FundsTransferred]:
    """``n`` deposits of 1 straight into the engine (no push), ``per_ms`` per millisecond."""
    engine = st.engine
    for i in range(n):
        if i % per_ms == 0:
            engine.advance(engine.now + MS)
        engine.transfer(D(1))
    return engine.transfers_since(0)


async def test_more_transfers_than_one_income_page_are_all_listed_once_oldest_first() -> None:
    """Regression: one read of at most 1000 rows (the venue's newest) lost the older ones, so a
    restart after a long stop never booked them and capital stayed wrong."""
    async with stack(realtime=False) as st:
        made = await _deposits(st, 2_345, per_ms=7)  # pages end inside a millisecond's rows
        before = st.venue.calls[GET_INCOME]
        listed = await st.venue.transfers_since(0)
        assert [t.transfer_id for t in listed] == [e.transfer_id for e in made]
        assert [t.ts for t in listed] == [e.ts // MS * MS for e in made]
        assert st.venue.calls[GET_INCOME] - before == 3
        later = await st.venue.transfers_since(made[1500].ts)
        assert [t.transfer_id for t in later] == [e.transfer_id for e in made if e.ts >= made[1500].ts]
        st.pump.events.clear()
        for row in listed:
            st.pump.sink(row)
        assert st.pump.kernel.account_view().transfers == 2_345


async def test_more_income_rows_in_one_millisecond_than_a_page_is_an_error_not_a_short_list() -> None:
    async with stack(realtime=False) as st:
        await _deposits(st, 1_001, per_ms=1_001)
        with pytest.raises(VenueError, match=r"more than 1000 rows in the milliseconds"):
            await st.venue.transfers_since(0)


def _listed_late(st: Stack, amount: Decimal, ts: int) -> FundsTransferred:
    """A deposit stamped ``ts`` (in the past) that the venue lists only from now on, no push."""
    engine = st.engine
    moved = FundsTransferred(f"late{ts}", engine.account.asset, amount, ts)
    engine.account.transfers += amount
    insort(engine.records.transfers, moved, key=lambda t: t.ts)
    return moved


async def test_e1_an_income_row_listed_late_is_booked_by_the_next_slow_reconcile_never_one_before_the_book() -> None:
    """A slow reconcile reads from where the last complete one began. BingX may list a row a
    while after its time: one stamped before that start but listed after the run had read was
    behind every later window, never booked (capital short of the wallet for good). The money
    reads now look a few minutes further back (each row still booked once by its id), never to
    before what the start-up reconcile read from (money before the book is in its capital)."""
    async with stack() as st:
        p = st.pump

        async def ask(fn: Callable[[], Any]) -> Any:
            return fn()

        book = p.now() - 60 * S  # the start-up reconcile's money window begins here (a new journal's book)
        rec = Reconciler(st.venue, p.sink, ask, p.now, books_settle_ns=1)
        assert (await rec.full(p.kernel, book, 2, money_since_ns=book)).errors == []
        before_book = _listed_late(st, D(7), book - 10 * S)  # before the book: initial_capital holds it
        first = p.now()
        assert (await rec.periodic(p.kernel, book)).errors == []
        late = _listed_late(st, D(42), first - 2 * S)  # made before that run began, listed after it read
        rep = await rec.periodic(p.kernel, first)  # the next run reads from where the last began
        assert rep.errors == [] and rep.transfers >= 1
        assert [t.transfer_id for t in _moved(p)] == [late.transfer_id]  # once; never the one before the book
        assert before_book.transfer_id not in {t.transfer_id for t in _moved(p)}
        assert (await rec.periodic(p.kernel, p.now())).errors == []  # read again: booked once
        assert len(_settled(p, SettlementKind.TRANSFER)) == 1 and _capital(st) == D(10042)
        p.check_account()

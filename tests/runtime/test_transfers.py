"""Deposits and withdrawals reach the books through the stream, the slow reconcile or a restart."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from pink.kernel.messages import Settlement, SettlementKind
from pink.runtime.launcher import Launcher
from pink.runtime.view import summary_table
from pink.venues.sim.venue import SimVenue
from tests.runtime.helpers import CAPITAL, Recorder, Scripted, make_venue, quiet_config, sim_runtime


def transfers(rec: Recorder) -> list[Settlement]:
    return [r for r in rec.records if isinstance(r, Settlement) and r.kind is SettlementKind.TRANSFER]


@pytest.fixture
async def venue() -> AsyncIterator[SimVenue]:
    """A simulator that outlives the runtimes of a test (a restart keeps its venue)."""
    sim = make_venue()
    yield sim
    await sim.close()


async def test_a_deposit_and_a_withdrawal_mid_run_reach_capital_and_the_policy_not_pnl() -> None:
    policy = Scripted()
    rec = Recorder()
    async with sim_runtime(decision=policy, ledger=rec) as (rt, venue, k):
        await rt.run(cycles=2)
        await venue.transfer(Decimal("500"))
        await rt.run(cycles=2)
        assert k.account_view().capital == CAPITAL + 500
        assert policy.snapshots[-1].account.capital == CAPITAL + 500  # sizing sees the new money
        await venue.transfer(Decimal("-1200"))
        await rt.run(cycles=2)
        a = k.account_view()
        assert a.capital == CAPITAL - 700 == (await venue.balance()).balance
        assert a.transfers == -700 and a.net_pnl == 0 and a.gross_pnl == 0
        s = rt.stats.summary()
        assert s.transfers == -700 and s.net_pnl == 0
        assert s.max_drawdown == 0  # a withdrawal is not a loss
        assert [t.amount for t in transfers(rec)] == [Decimal(500), Decimal(-1200)]
        console = Console(width=100, record=True, color_system=None, file=io.StringIO())
        console.print(summary_table(s, a.capital, a.initial_capital))
        text = console.export_text()
        assert "deposits - withdrawals" in text and "-700" in text


async def test_a_transfer_whose_push_was_lost_is_booked_once_by_the_slow_reconcile() -> None:
    rec = Recorder()
    async with sim_runtime(ledger=rec, reconcile_interval_s=5.0) as (rt, venue, k):
        await rt.run(cycles=1)
        venue.engine.transfer(Decimal("42.5"))  # at the venue, never pushed on the stream
        await venue.transfer(Decimal("7"))  # pushed, and listed by the reconcile as well
        await rt.run(cycles=12)
        assert rt.reconciler.runs >= 2
        assert k.account_view().capital == CAPITAL + Decimal("49.5") == (await venue.balance()).balance
        assert sorted(t.amount for t in transfers(rec)) == [Decimal(7), Decimal("42.5")]


async def test_a_withdrawal_made_while_down_is_booked_before_the_first_cycle_after_restart(
    venue: SimVenue, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite"
    async with sim_runtime(venue, journal=journal) as (rt, _, _k):
        await rt.run(cycles=2)
    venue.engine.transfer(Decimal("-3000"))  # the trader withdrew while nothing ran
    policy = Scripted()
    async with sim_runtime(venue, policy, journal=journal) as (rt, _, k):
        await rt.run(cycles=1)
        assert policy.snapshots[0].account.capital == CAPITAL - 3000
        assert k.account_view().transfers == -3000


async def test_a_withdrawal_during_a_stop_longer_than_the_lookback_is_still_booked(
    venue: SimVenue, tmp_path: Path
) -> None:
    """Regression: the restart looked for funding and transfers one look-back (a day) back from
    now, so after a weekend's stop a Saturday withdrawal was never booked and every entry was
    sized on money no longer there. It now looks back to when the journal last saw anything."""
    journal = tmp_path / "journal.sqlite"
    day = 86_400 * 10**9
    async with sim_runtime(venue, journal=journal) as (rt, _, _k):
        await rt.run(cycles=2)
    last_seen = rt.clock.now_ns()
    await venue.advance_to(last_seen + day)
    venue.engine.transfer(Decimal("-3000"))  # a day into the stop
    await venue.advance_to(last_seen + 3 * day)  # restarted two days later
    policy = Scripted()
    async with sim_runtime(venue, policy, journal=journal, start=False) as (rt, _, k):
        report = await rt.start(resume_from_ns=last_seen)
        assert report.transfers == 1
        await rt.run(cycles=1)
        assert policy.snapshots[0].account.capital == CAPITAL - 3000
        assert k.account_view().transfers == -3000


async def test_the_launcher_resumes_money_reconciliation_from_its_journal(venue: SimVenue, tmp_path: Path) -> None:
    """The wiring of the regression above: a launcher restarted on a journal after a long stop."""
    cfg = quiet_config(tmp_path, cycles=3)
    async with Launcher(cfg, venue=venue) as first:
        await first.run()
    day = 86_400 * 10**9
    await venue.advance_to(venue.now + day)
    venue.engine.transfer(Decimal("-1500"))
    await venue.advance_to(venue.now + 2 * day)
    async with Launcher(cfg, venue=venue) as second:
        assert second.reconcile is not None and second.reconcile.transfers == 1
        assert second.kernel is not None
        a = second.kernel.kernel.account_view()
        assert a.transfers == -1500  # the sample policy traded: gross, fees and funding too
        assert a.capital == (await venue.balance()).balance


async def test_a_runtime_driven_one_cycle_at_a_time_still_reconciles_on_its_timer() -> None:
    """Each ``run()`` restarted the slow-reconcile timer: a caller driving cycles one at a time
    (a notebook, a test harness) never saw a slow reconcile, and a lost push stayed lost."""
    async with sim_runtime(reconcile_interval_s=5.0) as (rt, venue, k):
        at_start = rt.reconciler.runs
        venue.engine.transfer(Decimal("42.5"))  # at the venue, never pushed on the stream
        for _ in range(12):
            await rt.run(cycles=1)
        assert rt.reconciler.runs >= at_start + 2
        assert k.account_view().capital == CAPITAL + Decimal("42.5")


async def test_a_first_start_on_a_new_data_dir_books_no_money_moved_before_it(venue: SimVenue, tmp_path: Path) -> None:
    """A deposit made this morning is in the wallet the trader states as ``initial_capital``: the
    first start on a new journal booked it again (the last day's transfers and funding), and
    sized every entry on money that was never there (seen on BingX: 10,000 -> 15,000)."""
    venue.engine.transfer(Decimal("5000"))  # before PINK ever ran on this account
    await venue.advance_to(venue.now + 3_600 * 10**9)  # an hour later, the first start
    async with Launcher(quiet_config(tmp_path, cycles=1), venue=venue) as first:
        assert first.reconcile is not None and first.reconcile.transfers == 0
        assert first.kernel is not None
        a = first.kernel.kernel.account_view()
        assert a.transfers == 0 and a.capital == CAPITAL
    venue.engine.transfer(Decimal("-700"))  # while stopped: the journal's money now
    async with Launcher(quiet_config(tmp_path, cycles=1), venue=venue) as second:
        assert second.reconcile is not None and second.reconcile.transfers == 1
        assert second.kernel is not None and second.kernel.kernel.account_view().transfers == -700

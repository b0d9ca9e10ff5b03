"""A data dir belongs to the venue its journal was made on: a run on another venue is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pink.errors import StartupError
from pink.runtime.launcher import Launcher
from pink.venues.bingx.server import BingxSimServer
from tests.runtime.helpers import bingx_venue, quiet_config


def _messages(data: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(f"file:{data / 'journal.sqlite'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT * FROM messages ORDER BY seq").fetchall()
    finally:
        db.close()


async def _run_bingx(data: Path, server: BingxSimServer) -> Launcher:
    venue = bingx_venue(server)
    launcher = Launcher(quiet_config(data, venue="bingx", fast=False, cycle_s=0.05), venue=venue)
    try:
        await launcher.start()
        await launcher.run(cycles=2)
    finally:
        await launcher.close()
        await venue.close()
    return launcher


async def test_a_data_dir_made_on_one_venue_is_refused_on_another_naming_both(tmp_path: Path) -> None:
    server = await BingxSimServer(rate_limits=False, hedge=True).start()  # as the simulator: only the venue differs
    try:
        live, paper = tmp_path / "live", tmp_path / "paper"
        await _run_bingx(live, server)
        async with Launcher(quiet_config(paper)) as sim:
            await sim.run(cycles=20)
        before = {d: _messages(d) for d in (live, paper)}
        assert before[live] and before[paper]

        sim = Launcher(quiet_config(live))  # a simulated run would adopt the live book
        with pytest.raises(StartupError, match=r"made on venue 'bingx 127\.0\.0\.1', but this run is on 'sim'"):
            await sim.start()
        await sim.close()

        venue = bingx_venue(server)
        other = Launcher(quiet_config(paper, venue="bingx", fast=False), venue=venue)
        with pytest.raises(StartupError, match=r"made on venue 'sim', but this run is on 'bingx 127\.0\.0\.1'"):
            await other.start()
        await other.close()
        await venue.close()
        assert {d: _messages(d) for d in (live, paper)} == before  # nothing booked into either
    finally:
        await server.close()


async def test_a_journal_without_a_venue_record_takes_this_runs(tmp_path: Path) -> None:
    async with Launcher(quiet_config(tmp_path)) as first:
        await first.run(cycles=3)
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    db.execute("DELETE FROM meta WHERE key = 'venue'")  # as a journal written before the record
    db.commit()
    db.close()
    async with Launcher(quiet_config(tmp_path)) as second:
        await second.run(cycles=3)
        assert second.kernel is not None and second.kernel.journal.meta("venue") == "sim"


async def test_a_bingx_journal_survives_power_loss_by_default_a_paper_one_need_not(tmp_path: Path) -> None:
    """With synchronous=NORMAL a power cut or an OS crash can take back the last commits: an
    order already sent to a real venue then vanishes from the journal, and the next start finds
    an unknown order of its own. On a real venue the journal is fully synced by default."""
    server = await BingxSimServer(rate_limits=False, hedge=True).start()
    try:
        venue = bingx_venue(server)
        live = Launcher(quiet_config(tmp_path / "live", venue="bingx", fast=False, cycle_s=0.05), venue=venue)
        try:
            await live.start()
            assert live.kernel is not None
            assert live.kernel.journal._db is not None
            assert live.kernel.journal._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        finally:
            await live.close()
            await venue.close()
        async with Launcher(quiet_config(tmp_path / "paper")) as paper:
            assert paper.kernel is not None and paper.kernel.journal._db is not None
            assert paper.kernel.journal._db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    finally:
        await server.close()


async def test_a_data_dir_is_refused_to_another_venue_account_with_keys_of_its_own(tmp_path: Path) -> None:
    """The journal knew the venue's host only: the API keys of another BingX account on the same
    data dir went unnoticed, and that account's positions were reconciled against this book."""
    mine = await BingxSimServer(rate_limits=False, hedge=True).start()
    other = await BingxSimServer(rate_limits=False, hedge=True, user_id="2000000002").start()
    try:
        await _run_bingx(tmp_path, mine)
        before = _messages(tmp_path)
        venue = bingx_venue(other)
        launcher = Launcher(quiet_config(tmp_path, venue="bingx", fast=False), venue=venue)
        with pytest.raises(StartupError, match=r"made on the venue's account 1000000001, but this run's API keys "
                                               r"open account 2000000002"):
            await launcher.start()
        await launcher.close()
        await venue.close()
        assert _messages(tmp_path) == before
        await _run_bingx(tmp_path, mine)  # its own account's keys: as before
    finally:
        await mine.close()
        await other.close()


async def test_a_bingx_run_is_not_labelled_paper_and_an_old_journal_keeps_its_name(tmp_path: Path) -> None:
    """account_id defaulted to "paper" on every venue: a BingX run's journal, ledger rows and planes
    were labelled as paper trading. Unset, it is now the venue's (paper on the simulator, bingx-HOST
    on BingX: bingx-vst, bingx-live); a journal made under another name keeps it on restart."""
    server = await BingxSimServer(rate_limits=False, hedge=True).start()
    try:
        fresh = await _run_bingx(tmp_path / "new", server)
        assert fresh.cfg.account_id == "bingx-127.0.0.1"
        assert _meta(tmp_path / "new", "account_id") == "bingx-127.0.0.1"
        old = tmp_path / "old"  # made while the default was "paper" on every venue
        venue = bingx_venue(server)
        first = Launcher(quiet_config(old, venue="bingx", fast=False, cycle_s=0.05, account_id="paper"), venue=venue)
        try:
            await first.start()
            await first.run(cycles=2)
        finally:
            await first.close()
            await venue.close()
        before = _meta(old, "account_id")
        again = await _run_bingx(old, server)  # unset: the journal's name, not a refusal
        assert before == "paper" and again.cfg.account_id == "paper" and _meta(old, "account_id") == "paper"
        async with Launcher(quiet_config(tmp_path / "sim")) as sim:
            assert sim.cfg.account_id == "paper"
    finally:
        await server.close()


def _meta(data: Path, key: str) -> str | None:
    db = sqlite3.connect(f"file:{data / 'journal.sqlite'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])
    finally:
        db.close()


@pytest.mark.parametrize("key", ["account_id", "runtime_id"])
async def test_a_journal_of_another_account_or_runtime_is_refused_saying_what_to_run_with(
    tmp_path: Path, key: str
) -> None:
    async with Launcher(quiet_config(tmp_path, **{key: "first"})) as first:
        await first.run(cycles=3)
    before = _messages(tmp_path)
    other = Launcher(quiet_config(tmp_path, **{key: "second"}))
    with pytest.raises(StartupError, match=rf"it belongs to {key} 'first', not 'second'; run with {key} = "
                                           rf"\"first\" \(PINK_{key.upper()}\) or use a new data dir"):
        await other.start()
    await other.close()
    assert _messages(tmp_path) == before


async def test_a_new_data_dir_may_not_trade_more_capital_than_the_venues_wallet_holds(tmp_path: Path) -> None:
    """initial_capital is the money PINK may trade with: left at its default (10000) on a live
    account holding 500, every order was sized on twenty times the money there. A new data dir
    asking for more than the wallet holds is refused before its journal is made, naming both."""
    from decimal import Decimal

    server = await BingxSimServer(rate_limits=False, hedge=True).start()  # its wallet: 10000 USDT
    try:
        venue = bingx_venue(server)
        launcher = Launcher(quiet_config(tmp_path, venue="bingx", fast=False, initial_capital=Decimal("10000.01")),
                            venue=venue)
        with pytest.raises(StartupError, match=r"initial_capital 10000\.01 is more than the venue's wallet holds "
                                               r"\(10000[.0]* USDT\).*PINK_INITIAL_CAPITAL"):
            await launcher.start()
        await launcher.close()
        await venue.close()
        assert not (tmp_path / "journal.sqlite").exists()  # nothing made: the next start is a new data dir
        await _run_bingx(tmp_path, server)  # the default, 10000: all the wallet holds
    finally:
        await server.close()

"""Launcher: configuration, ordered close, startup errors, explicit close (F20-F22, F25)."""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

import pink.runtime as runtime_pkg
from pink.errors import ClosedError, ConfigError, StartupError, VenueError
from pink.kernel.messages import Side
from pink.plane.health import read_health
from pink.policy.base import Action, Decision, MarginSizer, PolicySnapshot
from pink.ports import Quote
from pink.runtime.config import RuntimeConfig, load_config
from pink.runtime.launcher import Launcher
from tests.projection.svc import HAZELCAST_ADDR, free_port, need
from tests.runtime.helpers import quiet_config

quiet = quiet_config




def test_config_precedence_flags_env_file_defaults(tmp_path: Path) -> None:
    f = tmp_path / "pink.toml"
    f.write_text('slots = 3\ncycle_s = 2.5\nseed = 4\ninitial_capital = "500.25"\n')
    env = {"PINK_SLOTS": "5", "PINK_SEED": "6", "PINK_BINGX_API_KEY": "x", "HOME": "/"}
    cfg = load_config(f, env, {"seed": 9, "faults": None})
    assert (cfg.slots, cfg.cycle_s, cfg.seed) == (5, 2.5, 9)
    assert cfg.initial_capital == Decimal("500.25") and cfg.venue == "sim"


def test_config_docs_list_every_setting_with_its_default(tmp_path: Path) -> None:
    """docs/config.md is the settings' reference (the README sent a trader to the source, and
    nothing said how to turn on the projection): every key is listed, with its real default."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", text, re.M))
    assert set(rows) == {f.name for f in dataclasses.fields(RuntimeConfig)}, sorted(rows)
    defaults = tmp_path / "defaults.toml"
    defaults.write_text("".join(f"{key} = {value}\n" for key, value in rows.items()))
    assert load_config(defaults) == RuntimeConfig()


def test_config_unknown_keys_are_named(tmp_path: Path) -> None:
    f = tmp_path / "pink.toml"
    f.write_text("slots = 3\nslotz = 4\ncycle = 1\n")
    with pytest.raises(ConfigError, match="cycle, slotz"):
        load_config(f)
    with pytest.raises(ConfigError, match="PINK_CYCLES_S"):
        load_config(None, {"PINK_CYCLES_S": "1"})
    with pytest.raises(ConfigError, match="slots"):
        load_config(None, {"PINK_SLOTS": "many"})
    with pytest.raises(ConfigError, match="fast"):
        load_config(None, {}, {"fast": True, "venue": "bingx"})
    with pytest.raises(ConfigError, match=r"books_settle_s.*must be > 0"):
        load_config(None, {"PINK_BOOKS_SETTLE_S": "0"})


def test_the_books_settle_time_reaches_the_runtime_loop(tmp_path: Path) -> None:
    cfg = load_config(None, {"PINK_BOOKS_SETTLE_S": "900", "PINK_DATA_DIR": str(tmp_path)})
    assert Launcher(cfg)._default_loop_config().books_settle_s == 900


def test_books_rebase_comes_from_the_flag_the_environment_or_the_file(tmp_path: Path) -> None:
    """``pink run --books-rebase`` (or PINK_BOOKS_REBASE, or the TOML key) reaches the loop;
    without it the baseline the last run kept stands."""
    from typer.testing import CliRunner

    from pink.cli.main import app

    assert not Launcher(load_config(None, {"PINK_DATA_DIR": str(tmp_path)}))._default_loop_config().books_rebase
    for flags, env in (({"books_rebase": True}, {}), ({}, {"PINK_BOOKS_REBASE": "yes"})):
        cfg = load_config(None, {"PINK_DATA_DIR": str(tmp_path), **env}, flags)
        assert Launcher(cfg)._default_loop_config().books_rebase is True
    with pytest.raises(ConfigError, match=r"books_rebase .*bad value 'maybe'"):
        load_config(None, {"PINK_BOOKS_REBASE": "maybe"})
    shown = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "--books-rebase" in shown.output


async def test_f21_close_order_is_recorded(tmp_path: Path) -> None:
    launcher = Launcher(quiet(tmp_path, plane="shm", control="file"))
    async with launcher:
        await launcher.run(cycles=20)
    report = await launcher.close()  # idempotent: the same report
    assert report.steps == [
        "stop_policy", "stop_intake", "finish_in_flight", "checkpoint_journal",
        "flush_persistence", "close_plane", "close_venue",
    ]
    assert report.errors == []


async def test_f20_explicit_close_no_del_and_use_after_close_is_clear(tmp_path: Path) -> None:
    for path in Path(runtime_pkg.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert "__del__" not in names, path
    launcher = Launcher(quiet(tmp_path))
    await launcher.start()
    await launcher.close()
    assert launcher.runtime is not None and launcher.kernel is not None
    with pytest.raises(ClosedError):
        await launcher.runtime.run(cycles=1)
    with pytest.raises(ClosedError):
        await launcher.start()
    with pytest.raises(ClosedError):
        launcher.kernel.journal.db  # noqa: B018 - the journal is closed too


async def test_f22_requested_ledger_that_cannot_start_is_a_startup_error(tmp_path: Path) -> None:
    cfg = quiet(tmp_path, ledger="url", ledger_url=f"http://127.0.0.1:{free_port()}")
    launcher = Launcher(cfg)
    with pytest.raises(StartupError, match="ledger"):
        await launcher.start()
    assert "close_venue" in (await launcher.close()).steps  # what had started was closed


async def test_f22_requested_projection_that_cannot_start_is_a_startup_error(
    tmp_path: Path,
) -> None:
    cfg = quiet(tmp_path, projection="redis", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    launcher = Launcher(cfg)
    with pytest.raises(StartupError, match=r"redis|projection"):
        await launcher.start()
    await launcher.close()


@pytest.mark.services
async def test_hazelcast_projection_joins_the_cluster_and_members_it_is_given(tmp_path: Path) -> None:
    """The sink's cluster was fixed at the test services' 'pink-test', and hazelcast_members was one
    address however many were listed: a trader's own cluster (Hazelcast names it 'dev' unless told)
    could not be joined. Now hazelcast_cluster names it, and every listed member is tried."""
    need(HAZELCAST_ADDR, "Hazelcast")
    members = f"127.0.0.1:{free_port()},{HAZELCAST_ADDR}"  # the first answers nothing
    cfg = quiet(tmp_path, projection="hazelcast", hazelcast_members=members, hazelcast_cluster="pink-test")
    async with Launcher(cfg) as launcher:
        assert launcher.backends["projection"] == f"hazelcast://{members}/pink-test"
    assert load_config(None, {}).hazelcast_cluster == "dev"  # Hazelcast's own default name


@pytest.mark.services
async def test_hazelcast_projection_of_another_cluster_is_refused_naming_it(tmp_path: Path) -> None:
    need(HAZELCAST_ADDR, "Hazelcast")
    cfg = quiet(tmp_path, projection="hazelcast", hazelcast_members=HAZELCAST_ADDR, hazelcast_cluster="prod")
    launcher = Launcher(cfg)
    with pytest.raises(StartupError, match=r"hazelcast.*prod"):
        await launcher.start()
    await launcher.close()


async def test_f22_health_names_the_backends_really_used(tmp_path: Path) -> None:
    async with Launcher(quiet(tmp_path, plane="shm")) as launcher:
        assert launcher.backends["ledger"] == "none (not requested)"
        assert launcher.backends["plane"].startswith("shared memory")
        assert launcher.backends["venue"] == "sim"
        assert launcher.backends["journal"].startswith("sqlite")


async def test_f25_fixtures_close_what_they_open(tmp_path: Path) -> None:
    launcher = Launcher(quiet(tmp_path))
    async with launcher:
        await launcher.run(cycles=5)
    assert launcher.venue is not None and launcher.venue._closed  # type: ignore[attr-defined]
    assert launcher.kernel is not None and launcher.kernel.journal._db is None


async def test_a_journal_refuses_a_run_with_other_slots_or_capital(tmp_path: Path) -> None:
    """Its trades depend on both: a different value is named at start, and nothing is changed."""
    async with Launcher(quiet(tmp_path, slots=2)) as launcher:
        await launcher.run(cycles=20)
        assert launcher.kernel is not None
        before = launcher.kernel.journal.seq
    for change, text in (({"slots": 3}, "slots = 2"),
                         ({"slots": 2, "initial_capital": Decimal(500)}, "initial_capital = 10000")):
        launcher = Launcher(quiet(tmp_path, **change))
        with pytest.raises(StartupError, match=text):
            await launcher.start()
        await launcher.close()
    async with Launcher(quiet(tmp_path, slots=2)) as launcher:  # the same values still start
        assert launcher.kernel is not None and launcher.kernel.journal.seq >= before


async def test_a_venue_whose_margin_asset_is_not_the_settle_asset_is_refused_at_start(tmp_path: Path) -> None:
    """Fail loudly at start, not with an alert on every fill: the venue's balance names its asset."""
    launcher = Launcher(quiet(tmp_path / "a", settle_asset="VST"))
    with pytest.raises(StartupError, match=r"margin asset is USDT, but this run settles in VST; "
                                           r"set settle_asset = \"USDT\""):
        await launcher.start()
    await launcher.close()
    assert not (tmp_path / "a" / "journal.sqlite").exists()  # refused before the journal was opened
    with pytest.raises(ConfigError, match="settle_asset"):
        quiet(tmp_path, settle_asset="US DT")


async def test_a_journal_refuses_a_run_with_another_settle_asset(tmp_path: Path) -> None:
    from pink.journal import Journal, JournaledKernel
    from pink.kernel import KernelConfig
    from pink.venues.sim.instruments import default_instruments

    listed = default_instruments()
    older = {s: i for s, i in listed.items() if s != "ETH-USDT"}  # the venue listed ETH since
    JournaledKernel.open(tmp_path / "journal.sqlite", KernelConfig(slots=2, settle_asset="USDC"),
                         older).close()  # fmt: skip
    launcher = Launcher(quiet(tmp_path, slots=2))
    with pytest.raises(StartupError, match="settle_asset = USDC"):
        await launcher.start()
    await launcher.close()
    journal = Journal(tmp_path / "journal.sqlite", read_only=True)
    try:
        assert journal.seq == 0  # refused as it was: not even the venue's new listing journaled
    finally:
        journal.close()


class _QuoteSwallowsItsCancel:
    """A venue whose quote call turns a cancel into its own timeout error, as an HTTP client's
    timeout meeting the cancel can (aiohttp on Python 3.11)."""

    def __init__(self) -> None:
        self.quotes = 0
        self.swallow = True

    async def quote(self, symbol: str) -> object:
        self.quotes += 1
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if self.swallow:
                raise VenueError("TIMEOUT", "the request timed out") from None
            raise
        raise AssertionError("never answered")


class _RuntimeStub:
    def __init__(self) -> None:
        self.instruments = {"BTC-USDT": None}  # what the quote loop reads
        self.steps: list[str] = []

    async def shutdown(self) -> list[object]:
        return []


async def test_f21_close_ends_the_quote_loop_even_when_a_venue_call_swallows_its_cancel(tmp_path: Path) -> None:
    """A chaos runner's close hung for ever on this (bingx-sim seed 266000810, task dump)."""
    venue = _QuoteSwallowsItsCancel()
    launcher = Launcher(quiet_config(tmp_path), venue=venue)  # type: ignore[arg-type]
    launcher.runtime = _RuntimeStub()  # type: ignore[assignment]
    launcher._quote_source()  # no simulator engine: the loop over the venue's quotes
    await asyncio.sleep(0.05)
    assert venue.quotes == 1  # in the call when the cancel comes
    closing = asyncio.create_task(launcher.close())
    done, _ = await asyncio.wait({closing}, timeout=5)
    if not done:  # it waited for ever before: end the loop for good, then fail
        venue.swallow = False
        for task in launcher._bg:
            task.cancel()
        await closing
        pytest.fail("close() did not end: the quote loop went on after its cancel was swallowed")
    assert closing.result().errors == [] and venue.quotes == 1


class _QuoteThenFails:
    """A venue whose market data stops after the first quote."""

    def __init__(self) -> None:
        self.quotes = 0

    async def quote(self, symbol: str) -> Quote:
        self.quotes += 1
        if self.quotes > 1:
            raise VenueError("NO_QUOTE", f"no book ticker for {symbol} (market stream down)", retryable=True)
        return Quote(symbol, Decimal(100), Decimal(101), Decimal(100), Decimal(100), Decimal(0), 1)


async def test_e1_a_symbol_whose_quote_fails_has_no_quote_rather_than_a_stale_one(tmp_path: Path) -> None:
    venue = _QuoteThenFails()
    launcher = Launcher(quiet_config(tmp_path, cycle_s=0.01), venue=venue)  # type: ignore[arg-type]
    launcher.runtime = _RuntimeStub()  # type: ignore[assignment]
    quotes = launcher._quote_source()
    while venue.quotes < 1:
        await asyncio.sleep(0.005)
    assert quotes("BTC-USDT") is not None
    while venue.quotes < 3:
        await asyncio.sleep(0.005)
    assert quotes("BTC-USDT") is None  # the policy sees none: nothing is priced on the old book
    await launcher.close()


async def test_e26_a_fast_run_after_a_wall_clock_run_on_the_same_data_dir_continues_from_the_journal(
    tmp_path: Path,
) -> None:
    """A fresh simulator used to start at its epoch and step its prices, one by one, up to the
    wall-clock time of the journal's last message: decades of steps, a start that never ended.
    It now starts right after that message."""
    async with Launcher(quiet_config(tmp_path, fast=False, cycle_s=0.1)) as first:
        await first.run(cycles=3)
        assert first.kernel is not None
        last = first.kernel.journal.last_ts()
    import signal

    def hung(signum: int, frame: object) -> None:  # the stepping holds the loop: only a signal stops it
        raise TimeoutError("the fast run's start never ended")

    before = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        async with Launcher(quiet_config(tmp_path)) as second:
            assert second.venue is not None and second.runtime is not None
            assert last < second.venue.now < last + 10**9 * 60  # type: ignore[attr-defined]
            await second.run(cycles=5)
            assert second.runtime.stats.cycles == 5
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)


async def test_e26_a_restarted_run_counts_its_drawdown_from_the_capital_it_starts_with(tmp_path: Path) -> None:
    """The summary's drawdown and capital are this run's: after a restart they used to start
    from the journal's initial capital, so earlier runs' losses showed as this run's drawdown."""
    async with Launcher(quiet_config(tmp_path, seed=3)) as first:
        await first.run(cycles=40)
        assert first.runtime is not None
        end = first.runtime.account.capital
    assert end != first.cfg.initial_capital  # the first run traded (fees at least)
    async with Launcher(quiet_config(tmp_path, seed=3)) as second:
        assert second.runtime is not None
        stats = second.runtime.stats
        assert stats.start_capital == end and stats.peak == end and stats.max_drawdown == 0


async def test_f21_the_close_leaves_a_health_report_that_says_the_run_closed(tmp_path: Path) -> None:
    async with Launcher(quiet_config(tmp_path, plane="shm", health_interval_s=0.05)) as launcher:
        await launcher.run(cycles=3)
        await asyncio.sleep(0.1)
        running = read_health(tmp_path)
        assert running is not None and running.closed_ts == 0
    closed = read_health(tmp_path)
    assert closed is not None and closed.closed_ts > 0
    assert closed.problems(check_pid=True)[0].startswith(f"the run (pid {os.getpid()}) closed at")


class OpenThenRaise:
    """Opens slot 0 in its first cycle, then raises in every cycle until ``healed``."""

    def __init__(self) -> None:
        self.calls = 0
        self.healed = False

    def decide(self, snap: PolicySnapshot) -> list[Decision]:
        self.calls += 1
        if self.calls == 1:
            return [Decision(Action.ENTER, 0, asset="BTC-USDT", side=Side.LONG, quantity=Decimal("0.010"))]
        if self.healed:
            return []
        raise RuntimeError("model file missing")


async def test_health_says_the_policy_fails_while_it_fails_and_not_after(tmp_path: Path) -> None:
    """A policy that raises in every cycle leaves its open slots with no exit or stop: health
    names it (cycles in a row, since when, the last error) until a clean cycle."""
    policy = OpenThenRaise()
    async with Launcher(quiet(tmp_path), decision=policy, intents=MarginSizer()) as launcher:
        await launcher.run(cycles=6)
        report = launcher.health()
        assert report.policy_failing_cycles == 5 and report.policy_errors == 5
        assert report.policy_last_error == "RuntimeError: model file missing"
        assert 0 < report.policy_failing_since <= report.ts
        text = "\n".join(report.problems(report.ts))
        assert "policy failed in its last 5 cycles" in text and "RuntimeError: model file missing" in text
        assert "1 open slot" in text
        policy.healed = True
        await launcher.run(cycles=1)
        report = launcher.health()
        assert report.policy_failing_cycles == 0 and report.policy_errors == 5
        assert report.awaiting_venue == 0  # the position is open: nothing asked of the venue
        assert report.problems(report.ts) == []


async def test_a_run_without_plane_ledger_or_projection_still_reports_its_health(tmp_path: Path) -> None:
    """health.json was written only when a plane, ledger or projection was on: such a run, going,
    read as not running to `pink health`, and `pink control` could not tell whether it read the
    switches."""
    from pink.plane.health import read_health

    async with Launcher(quiet_config(tmp_path)) as launcher:
        await launcher.run(cycles=3)
        report = read_health(tmp_path)
        assert report is not None and report.pid == os.getpid() and not report.closed_ts
    closed = read_health(tmp_path)
    assert closed is not None and closed.closed_ts


async def test_f27_health_says_which_control_version_and_switches_the_run_holds(tmp_path: Path) -> None:
    """`pink status` showed control.json, not what the run holds: an operator could not tell
    whether `pink control kill` (or a new cap, or a flatten) had been taken."""
    from pink.plane.control import ControlWriter

    ControlWriter(tmp_path).apply("kill", by="ops")  # v1, before the run starts
    async with Launcher(quiet_config(tmp_path, control="file")) as launcher:
        await launcher.run(cycles=2)
        held = launcher.health().control_held
        assert held is not None and (held.version, held.file_version, held.kill) == (1, 1, True)
        assert held.max_position_notional == "none" and held.flatten_seq == 0 and not held.flattening
        ControlWriter(tmp_path).apply("set-max-notional", "0.0000001", by="ops")
        ControlWriter(tmp_path).apply("flatten", by="ops")  # v3
        await launcher.run(cycles=2)
        held = launcher.health().control_held
        assert held is not None and (held.version, held.file_version) == (3, 3)
        assert held.pause_entries and held.kill and held.max_position_notional == "0.0000001"
        assert held.flatten_seq == 1 and held.flatten_ns == ControlWriter(tmp_path).read().flatten_ns
    async with Launcher(quiet_config(tmp_path)) as launcher:  # control = none: the file is not read
        await launcher.run(cycles=1)
        held = launcher.health().control_held
        assert held is not None and held.file_version == -1


async def test_the_control_change_log_line_shows_a_tiny_cap_in_plain_notation(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`pink control set-max-notional 0.0000001` was logged as `max_position_notional=1E-7`."""
    from pink.plane.control import ControlWriter

    ControlWriter(tmp_path).apply("set-max-notional", "0.0000001", by="ops")
    with caplog.at_level("INFO", logger="pink.runtime.loop"):
        async with Launcher(quiet_config(tmp_path, control="file")) as launcher:
            await launcher.run(cycles=1)
    said = [r.getMessage() for r in caplog.records if "control v1 in force" in r.getMessage()]
    assert said and "max_position_notional=0.0000001" in said[0], said

"""Nothing waits for ever on a kernel owner task that is gone.

``Runtime.ask`` runs a read on the owner task. When that task died (a journal that cannot write
during the start-up reconcile) or was stopped (close), an ask used to sit on a queue nobody
reads, and ``Launcher.start`` hung: it must fail at once, with the owner's error."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pink.errors import ClosedError, JournalWriteError
from pink.policy.base import MarginSizer
from pink.runtime.launcher import Launcher
from tests.runtime.helpers import Scripted, make_venue, quiet_config, sim_runtime
from tests.runtime.test_journal_full import _trade_every_cycle


async def test_a_journal_that_fails_during_the_start_up_reconcile_fails_the_start_without_hanging(
    tmp_path: Path,
) -> None:
    venue = make_venue()
    cfg = quiet_config(tmp_path)
    async with Launcher(cfg, venue=venue, decision=Scripted(_trade_every_cycle), intents=MarginSizer()) as first:
        await first.run(cycles=6)  # leaves orders in flight: the restart queries them
        assert first.kernel is not None and first.kernel.kernel.working_orders()
    second = Launcher(cfg, venue=venue, decision=Scripted(), intents=MarginSizer())
    open_orders = venue.open_orders

    async def disk_full_meanwhile() -> Any:
        def full(*_a: Any, **_k: Any) -> None:
            raise JournalWriteError("journal: database or disk is full (injected)")

        assert second.kernel is not None
        second.kernel.journal.append = full  # type: ignore[method-assign]
        return await open_orders()

    venue.open_orders = disk_full_meanwhile  # type: ignore[method-assign]
    with pytest.raises(JournalWriteError, match="disk is full"):
        async with asyncio.timeout(20):  # (it hung for ever)
            await second.start()
    assert second.runtime is not None
    with pytest.raises(JournalWriteError):
        await second.runtime.ask(lambda: None)  # the owner's error, at once
    await venue.close()


async def test_an_ask_after_shutdown_fails_at_once() -> None:
    async with sim_runtime() as (rt, _venue, _views):
        assert await rt.ask(lambda: 42) == 42
    with pytest.raises(ClosedError, match="runtime"):
        async with asyncio.timeout(5):
            await rt.ask(lambda: 42)


async def test_an_ask_whose_batch_is_not_committed_fails_and_never_returns_its_result(tmp_path: Path) -> None:
    """An asked function ran inside a journal batch and its answer was handed over before the
    batch committed: when the commit failed (a full disk), the caller had already been told
    'done' (a close booked outside PINK, a flatten recorded) of something the journal never kept."""
    venue = make_venue()
    async with Launcher(quiet_config(tmp_path), venue=venue, decision=Scripted(), intents=MarginSizer()) as launcher:
        rt, jk = launcher.runtime, launcher.kernel
        assert rt is not None and jk is not None
        batch = jk.journal.batch

        @contextlib.contextmanager
        def commit_fails() -> Iterator[None]:
            with batch():
                yield
            raise JournalWriteError("journal: database or disk is full (at the commit)")

        jk.journal.batch = commit_fails  # type: ignore[method-assign]
        with pytest.raises(JournalWriteError, match="at the commit"):
            await rt.ask(lambda: "booked")

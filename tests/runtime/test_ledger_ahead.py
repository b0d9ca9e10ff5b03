"""A data dir whose journal is gone but whose ledger remains is refused, not started as a new account."""

from __future__ import annotations

from pathlib import Path

import pytest

from pink.errors import StartupError
from pink.runtime.launcher import Launcher
from tests.runtime.helpers import quiet_config


async def test_a_ledger_ahead_of_the_journal_is_refused_naming_both_positions(tmp_path: Path) -> None:
    async with Launcher(quiet_config(tmp_path, ledger="chdb")) as first:
        await first.run(cycles=30)
        assert first.kernel is not None
        written = first.kernel.journal.seq
    assert written > 0
    for name in ("journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    second = Launcher(quiet_config(tmp_path, ledger="chdb"))
    with pytest.raises(StartupError, match=rf"up to journal position {written}, but the journal .* is at position "
                                           r"0 .*put that journal back, or start this account on a new data dir"):
        await second.start()
    await second.close()
    assert second.runtime is None  # no cycle ran on it

"""`--cycles N` runs N cycles, in real time as with a simulated clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from pink.runtime.launcher import Launcher
from tests.runtime.helpers import quiet_config


@pytest.mark.parametrize("fast", [False, True], ids=["real time", "fast"])
async def test_cycles_n_runs_exactly_n_cycles(tmp_path: Path, fast: bool) -> None:
    """In real time the scheduler counted cycles handled, so it queued one more before it saw N."""
    async with Launcher(quiet_config(tmp_path, fast=fast, cycle_s=0.05)) as launcher:
        await launcher.run(cycles=3)
        assert launcher.runtime is not None and launcher.runtime.stats.cycles == 3
        await launcher.run(cycles=2)  # a further run counts from where the last ended
        assert launcher.runtime.stats.cycles == 5

"""The policy guide's example (docs/policy.md) runs as written and trades in the simulator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pink.policy.base import MarginSizer
from pink.runtime.launcher import Launcher
from tests.runtime.helpers import quiet_config

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "policy.md"


def example() -> dict[str, Any]:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    assert blocks, "docs/policy.md has no python example"
    namespace: dict[str, Any] = {}
    exec(blocks[0], namespace)  # the guide's code, verbatim
    return namespace


async def test_the_guides_dip_buyer_trades_in_the_simulator(tmp_path: Path) -> None:
    ns = example()
    cfg = quiet_config(tmp_path, slots=4, seed=2)
    async with Launcher(cfg, decision=ns["DipBuyer"](), intents=MarginSizer()) as launcher:
        rt = launcher.runtime
        assert rt is not None
        await launcher.run(cycles=1500)
        assert rt.policy_errors == 0
        assert rt.stats.intents > 0 and rt.stats.fills > 0, rt.stats.summary()

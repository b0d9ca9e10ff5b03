"""The policy guide's examples (docs/policy.md) run as written, and what it lists is what there is."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from pink.kernel import AccountView, Instrument, SlotView
from pink.kernel.states import SlotState
from pink.kernel.views import OrderView
from pink.policy.base import MarginSizer
from pink.ports import Quote
from pink.runtime.launcher import Launcher
from tests.runtime.helpers import quiet_config

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "policy.md"


def example(defines: str = "class DipBuyer") -> dict[str, Any]:
    blocks = [b for b in re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S) if defines in b]
    assert blocks, f"docs/policy.md has no python example with {defines}"
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


async def test_the_guides_stop_over_a_resting_take_profit_is_never_refused_busy(tmp_path: Path) -> None:
    """The guide's one-order-per-slot example: its stops (close all) over a resting leg are never refused."""
    ns = example("class RestingTakeProfit")
    cfg = quiet_config(tmp_path, slots=3, seed=4)
    async with Launcher(cfg, decision=ns["RestingTakeProfit"]()) as launcher:
        rt = launcher.runtime
        assert rt is not None
        await launcher.run(cycles=600)
        s = rt.stats.summary()
        assert rt.policy_errors == 0 and rt.policy_dropped == 0
        assert s.trades > 5 and 0 < s.wins < s.trades, s  # take-profits and stops both
        assert "SLOT_BUSY" not in s.refusals, s


GUIDE_LISTS = {"`SlotView`": SlotView, "`AccountView`": AccountView, "`Quote`": Quote,
               "`Instrument`": Instrument, "`OrderView`": OrderView}


@pytest.mark.parametrize("name", list(GUIDE_LISTS))
def test_the_guide_lists_every_field_of_what_the_snapshot_holds(name: str) -> None:
    text = " ".join(GUIDE.read_text().split())
    listed = re.search(rf"{re.escape(name)}(?: per slot, index = slot number| per order in flight)?: (.*?)\.", text)
    assert listed, f"docs/policy.md does not list the fields of {name}"
    fields = re.findall(r"`(\w+)`", listed.group(1))
    assert fields == [f.name for f in dataclasses.fields(GUIDE_LISTS[name])]


def test_the_guide_names_every_slot_state() -> None:
    text = GUIDE.read_text()
    assert all(f"`{state.value}`" in text for state in SlotState)

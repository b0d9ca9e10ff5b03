"""A flatten asked for while the runtime is down is carried out when it starts, once."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pink.kernel import Action, Side
from pink.kernel.messages import ControlSnapshot
from pink.plane.control import ControlWriter
from pink.policy.base import Decision, MarginSizer, PolicySnapshot
from pink.runtime.config import RuntimeConfig
from pink.runtime.launcher import Launcher
from pink.runtime.ports_ext import FlattenMark
from tests.runtime.helpers import quiet_config


class OpenSlotZero:
    """Opens one position on slot 0, then does nothing."""

    def __init__(self) -> None:
        self.cycles_seen = 0
        self.sent = False

    def decide(self, snap: PolicySnapshot) -> list[Decision]:
        self.cycles_seen += 1
        if self.sent or snap.slots[0].state != "IDLE":
            return []
        self.sent = True
        return [Decision(Action.ENTER, 0, asset="BTC-USDT", side=Side.LONG, quantity=Decimal("0.010"))]


def config(tmp: Path) -> RuntimeConfig:
    return quiet_config(tmp, control="file")


async def run_once(tmp: Path, policy: OpenSlotZero, cycles: int) -> tuple[str, str, int | None]:
    """(slot 0 state right after start, after the cycles, the journal's handled flatten_seq)."""
    async with Launcher(config(tmp), decision=policy, intents=MarginSizer()) as launcher:
        assert launcher.kernel is not None
        at_start = launcher.kernel.kernel.slot_view(0).state
        await launcher.run(cycles=cycles)
        mark = launcher.kernel.flatten_handled()
        return at_start, launcher.kernel.kernel.slot_view(0).state, None if mark is None else mark.seq


async def test_flatten_asked_while_down_runs_at_start_and_only_once(tmp_path: Path) -> None:
    ControlWriter(tmp_path).apply("resume", by="ops")  # a control file from the start
    _, state, handled = await run_once(tmp_path, OpenSlotZero(), cycles=5)
    assert state == "POSITION_OPEN" and handled == 0  # this journal's baseline

    ControlWriter(tmp_path).apply("flatten", by="ops", note="while nothing runs")  # flatten_seq 1

    policy = OpenSlotZero()
    policy.sent = True  # it would not re-open anyway: flatten pauses entries
    at_start, state, handled = await run_once(tmp_path, policy, cycles=5)
    assert at_start in ("EXIT_PENDING", "EXIT_WORKING")  # sent before the first policy cycle
    assert state == "IDLE" and handled == 1

    ControlWriter(tmp_path).apply("resume", by="ops")
    _, state, handled = await run_once(tmp_path, OpenSlotZero(), cycles=5)
    assert state == "POSITION_OPEN" and handled == 1  # the old flatten is not carried out again


async def _control_in_force(tmp: Path) -> ControlSnapshot:
    async with Launcher(config(tmp), decision=OpenSlotZero(), intents=MarginSizer()) as launcher:
        await launcher.run(cycles=3)
        assert launcher.kernel is not None
        return launcher.kernel.kernel.control


async def test_f27_a_switch_written_after_the_control_file_was_reset_takes_effect(tmp_path: Path) -> None:
    """A reset control file numbers from v1 again; the kernel took only newer versions, so an
    'unkill' (or worse, a 'kill') written after the reset was dropped without a word."""
    ControlWriter(tmp_path).apply("kill", by="ops")
    ControlWriter(tmp_path).apply("set-max-leverage", "3", by="ops")  # v2
    held = await _control_in_force(tmp_path)
    assert held.kill and held.max_leverage == 3 and held.version == 2
    (tmp_path / "control.json").unlink()  # reset: the next command is v1 again
    ControlWriter(tmp_path).apply("unkill", by="ops")
    held = await _control_in_force(tmp_path)
    assert not held.kill and held.version == 3 and held.changed_by == "ops"
    (tmp_path / "control.json").unlink()
    ControlWriter(tmp_path).apply("kill", by="ops", note="after a second reset")
    held = await _control_in_force(tmp_path)
    assert held.kill and held.version == 4 and held.note == "after a second reset"


class ResetsControlThenPauses(OpenSlotZero):
    """Opens slot 0, then, while running, resets the control file and pauses entries."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir

    def decide(self, snap: PolicySnapshot) -> list[Decision]:
        if self.cycles_seen == 3:
            (self.data_dir / "control.json").unlink()
            ControlWriter(self.data_dir).apply("pause-entries", by="ops", note="after a reset")
        return super().decide(snap)


async def test_f27_a_reset_control_file_never_flattens_by_itself(tmp_path: Path) -> None:
    """A control file reset while running numbers its flatten count from 0 again: that is no
    operator's flatten, and it must not close the trader's positions at market."""
    ControlWriter(tmp_path).apply("flatten", by="ops")  # flatten #1, carried out on an empty book
    ControlWriter(tmp_path).apply("resume", by="ops")
    _, state, handled = await run_once(tmp_path, OpenSlotZero(), cycles=3)
    assert handled == 1 and state == "POSITION_OPEN"
    _, state, _ = await run_once(tmp_path, ResetsControlThenPauses(tmp_path), cycles=8)
    assert state == "POSITION_OPEN"


async def test_f27_a_flatten_asked_after_a_reset_while_down_runs_at_start(tmp_path: Path) -> None:
    """After a reset the file's flatten count restarts at 1, at or below the journal's: the
    flatten asked for while nothing ran was taken for one already done, and never ran."""
    ControlWriter(tmp_path).apply("flatten", by="ops")
    ControlWriter(tmp_path).apply("resume", by="ops")
    _, state, handled = await run_once(tmp_path, OpenSlotZero(), cycles=3)
    assert handled == 1 and state == "POSITION_OPEN"
    (tmp_path / "control.json").unlink()
    ControlWriter(tmp_path).apply("flatten", by="ops", note="after a reset, while down")  # #1 again
    policy = OpenSlotZero()
    policy.sent = True
    at_start, state, _ = await run_once(tmp_path, policy, cycles=5)
    assert at_start in ("EXIT_PENDING", "EXIT_WORKING")
    assert state == "IDLE"
    _, state, _ = await run_once(tmp_path, OpenSlotZero(), cycles=3)  # paused by the flatten
    ControlWriter(tmp_path).apply("resume", by="ops")
    _, state, _ = await run_once(tmp_path, OpenSlotZero(), cycles=5)
    assert state == "POSITION_OPEN"  # and that flatten is not carried out again


@pytest.mark.parametrize(
    ("handled", "later", "again"),
    [
        (FlattenMark(3, 100), FlattenMark(1, 200), True),  # asked after a reset: a lower count
        (FlattenMark(3, 100), FlattenMark(0, 0), False),  # a reset file that never asked
        (FlattenMark(3, 100), FlattenMark(3, 100), False),  # the one carried out
        (FlattenMark(1, 0), FlattenMark(2, 50), True),  # a journal from before times were kept
        (FlattenMark(2, 0), FlattenMark(2, 50), False),
        (FlattenMark(2, 100), FlattenMark(3, 0), True),  # a file from before times were kept
    ],
)
def test_f27_a_flatten_is_new_when_asked_later(handled: FlattenMark, later: FlattenMark, again: bool) -> None:
    assert handled.asks_again(later) is again


async def test_f27_a_kill_switch_is_in_force_within_a_second_however_long_the_cycle_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A real-time run read the control file only when its loop woke, at most once a cycle
    (5 s by default): a kill took up to a cycle to engage. And nothing logged it when it did."""
    import asyncio
    import logging

    caplog.set_level(logging.INFO, logger="pink.runtime.loop")
    cfg = quiet_config(tmp_path, control="file", fast=False, cycle_s=30.0)
    async with Launcher(cfg, decision=OpenSlotZero(), intents=MarginSizer()) as launcher:
        assert launcher.kernel is not None and launcher.runtime is not None
        task = asyncio.create_task(launcher.run())
        try:
            await asyncio.sleep(0.2)
            ControlWriter(tmp_path).apply("kill", by="ops", note="stop it")
            for _ in range(30):
                if launcher.kernel.kernel.control.kill:
                    break
                await asyncio.sleep(0.05)
            assert launcher.kernel.kernel.control.kill  # within 1.5 s, not 30
        finally:
            launcher.runtime.request_stop()
            await task
    assert any("in force (ops: stop it)" in r.getMessage() and "kill=True" in r.getMessage()
               for r in caplog.records)


class ResetsKilledControlThenUnkills(OpenSlotZero):
    """While running: removes the control file (its kill, v1, in force) and writes an unkill, v1 again."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir

    def decide(self, snap: PolicySnapshot) -> list[Decision]:
        if self.cycles_seen == 2:
            (self.data_dir / "control.json").unlink()
            ControlWriter(self.data_dir).apply("unkill", by="ops", note="after a reset")
        return super().decide(snap)


async def test_f27_a_switch_written_after_a_reset_under_the_version_read_last_is_taken(tmp_path: Path) -> None:
    """The run took a control file only when its version moved: `kill` (v1), the file removed, then
    `unkill` (v1 again) was never taken, and a `kill` after a reset of a v1 `pause` would not be either."""
    ControlWriter(tmp_path).apply("kill", by="ops")  # v1
    async with Launcher(config(tmp_path), decision=ResetsKilledControlThenUnkills(tmp_path),
                        intents=MarginSizer()) as launcher:
        await launcher.run(cycles=6)
        assert launcher.kernel is not None
        held = launcher.kernel.kernel.control
    assert not held.kill and held.version == 2 and held.note == "after a reset", held

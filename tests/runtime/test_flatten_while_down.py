"""A flatten asked for while the runtime is down is carried out when it starts, once."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pink.kernel import Action, Side
from pink.kernel.messages import ControlSnapshot
from pink.plane.control import ControlWriter
from pink.policy.base import Decision, MarginSizer, PolicySnapshot
from pink.runtime.config import RuntimeConfig
from pink.runtime.launcher import Launcher
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
        return at_start, launcher.kernel.kernel.slot_view(0).state, launcher.kernel.flatten_handled()


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

from __future__ import annotations

import os
import stat
from decimal import Decimal
from pathlib import Path

import pytest

from pink.errors import ConfigError
from pink.kernel.messages import ControlSnapshot
from pink.plane.control import ControlReader, ControlState, ControlWriter


def test_commands_change_the_snapshot_with_who_and_why(tmp_path: Path) -> None:
    writer = ControlWriter(tmp_path)
    reader = ControlReader(tmp_path)
    assert reader.current() == ControlState()
    writer.apply("pause-entries", by="alice", note="news at 14:00")
    state = reader.current()
    assert state.snapshot.pause_entries and state.version == 1
    assert (state.snapshot.changed_by, state.snapshot.note) == ("alice", "news at 14:00")
    assert state.changed_ns > 0
    writer.apply("set-max-leverage", "10", by="bob")
    writer.apply("set-max-notional", "2500.50", by="bob")
    writer.apply("kill", by="bob")
    writer.apply("resume", by="bob")
    snap = reader.current().snapshot
    assert snap == ControlSnapshot(
        version=5, pause_entries=False, kill=True, max_leverage=10,
        max_position_notional=Decimal("2500.50"), changed_by="bob", note="",
    )
    writer.apply("unkill", by="bob")
    writer.apply("set-max-notional", "none", by="bob")
    snap = reader.current().snapshot
    assert not snap.kill and snap.max_position_notional is None and snap.version == 7


def test_flatten_is_a_command_counter_not_a_state(tmp_path: Path) -> None:
    writer = ControlWriter(tmp_path)
    reader = ControlReader(tmp_path)
    handled = reader.current().flatten_seq
    writer.apply("flatten", by="ops")
    state = reader.current()
    assert state.flatten_seq == handled + 1 and state.snapshot.pause_entries
    handled = state.flatten_seq  # the runtime acted on it
    writer.apply("resume", by="ops")
    assert reader.current().flatten_seq == handled  # no new flatten: nothing to do
    writer.apply("flatten", by="ops")
    assert reader.current().flatten_seq == handled + 1


@pytest.mark.parametrize(
    ("command", "value", "message"),
    [
        ("set-max-leverage", "abc", "must be an integer"),
        ("set-max-leverage", "0", r"must be in 1\.\.125"),
        ("set-max-leverage", "500", r"must be in 1\.\.125"),
        ("set-max-notional", "-5", "must be > 0"),
        ("set-max-notional", "NaN", "is not a number"),
        ("set-max-notional", "lots", "must be a number"),
        ("explode", None, "unknown command 'explode'"),
    ],
)
def test_malformed_write_is_refused_and_previous_stays_in_force(
    tmp_path: Path, command: str, value: str | None, message: str
) -> None:
    writer = ControlWriter(tmp_path)
    reader = ControlReader(tmp_path)
    writer.apply("set-max-leverage", "20", by="ops")
    before = (tmp_path / "control.json").read_bytes()
    with pytest.raises(ConfigError, match=message):
        writer.apply(command, value, by="ops")
    assert (tmp_path / "control.json").read_bytes() == before
    assert reader.current().snapshot.max_leverage == 20
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_stale_or_invalid_state_write_is_refused(tmp_path: Path) -> None:
    writer = ControlWriter(tmp_path)
    writer.apply("kill", by="ops")
    current = writer.read()
    with pytest.raises(ConfigError, match="not newer"):
        writer.write(current)
    bad = ControlState(snapshot=ControlSnapshot(version=9, max_leverage=20, changed_by=""))
    with pytest.raises(ConfigError, match="changed_by"):
        writer.write(bad)
    assert writer.read() == current


def test_hand_edited_garbage_keeps_previous_in_force(tmp_path: Path) -> None:
    writer = ControlWriter(tmp_path)
    reader = ControlReader(tmp_path)
    writer.apply("pause-entries", by="ops")
    good = reader.current()
    (tmp_path / "control.json").write_text('{"snapshot": {"version": 2, "kil": true}}')
    assert reader.current() == good
    assert "unknown field `kil`" in reader.last_error and "version 1 stays in force" in reader.last_error
    with pytest.raises(ConfigError, match="malformed"):
        writer.apply("resume", by="ops")


def test_control_file_is_owner_only(tmp_path: Path) -> None:
    ControlWriter(tmp_path).apply("kill", by="ops")
    assert stat.S_IMODE(os.stat(tmp_path / "control.json").st_mode) == 0o600


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give the file to another user")
def test_control_file_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    writer = ControlWriter(tmp_path)
    reader = ControlReader(tmp_path)
    writer.apply("kill", by="ops")
    assert reader.current().snapshot.kill
    path = tmp_path / "control.json"
    data = path.read_bytes().replace(b'"kill":true', b'"kill":false')
    path.write_bytes(data)
    os.chown(path, 65534, 65534)  # nobody
    assert reader.current().snapshot.kill  # refused: the previous stays in force
    assert "owned by uid 65534" in reader.last_error
    with pytest.raises(ConfigError, match="owned by uid 65534"):
        writer.apply("unkill", by="ops")


def test_f27_control_snapshot_cached_by_version(tmp_path: Path) -> None:
    writer = ControlWriter(tmp_path)
    reader = ControlReader(tmp_path)
    writer.apply("pause-entries", by="ops")
    first = reader.current()
    assert reader.parses == 1
    for _ in range(10_000):
        assert reader.current() is first
    assert reader.parses == 1  # unchanged file: one stat per call, no parse
    writer.apply("resume", by="ops")
    second = reader.current()
    assert reader.parses == 2 and second.version == 2 and not second.snapshot.pause_entries
    assert reader.current() is second and reader.parses == 2


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1e400", "at most 1000000000000"),
        ("1e13", "at most 1000000000000"),
        ("NaN", "not a number"),
        ("inf", "not finite"),
        ("-Infinity", "not finite"),
        ("-5", "must be > 0"),
        ("0", "must be > 0"),
        ("-0", "must be > 0"),
        ("0.0000000000001", "more than 12 decimal places"),
    ],
)
def test_absurd_max_notional_is_refused_naming_the_switch_and_the_value(
    tmp_path: Path, value: str, why: str
) -> None:
    writer = ControlWriter(tmp_path)
    writer.apply("set-max-notional", "1000", by="ops")
    before = (tmp_path / "control.json").read_bytes()
    with pytest.raises(ConfigError) as caught:
        writer.apply("set-max-notional", value, by="ops")
    message = str(caught.value)
    assert "max notional" in message and repr(value) in message and why in message, message
    assert "\n" not in message
    assert (tmp_path / "control.json").read_bytes() == before


def test_max_notional_is_kept_and_shown_in_plain_notation(tmp_path: Path) -> None:
    writer = ControlWriter(tmp_path)
    reader = ControlReader(tmp_path)
    state = writer.apply("set-max-notional", "1e3", by="ops")
    assert str(state.snapshot.max_position_notional) == "1000"
    assert b'"max_position_notional":"1000"' in (tmp_path / "control.json").read_bytes()
    assert str(reader.current().snapshot.max_position_notional) == "1000"
    writer.apply("set-max-notional", "2.5E+2", by="ops")
    assert str(reader.current().snapshot.max_position_notional) == "250"
    writer.apply("set-max-notional", "0.000000000001", by="ops")  # 12 places: a cap, if a small one
    assert f"{reader.current().snapshot.max_position_notional:f}" == "0.000000000001"


def test_a_hand_edited_absurd_cap_is_refused_on_read_and_a_plain_one_shown_plain(tmp_path: Path) -> None:
    writer = ControlWriter(tmp_path)
    reader = ControlReader(tmp_path)
    writer.apply("set-max-notional", "500", by="ops")
    good = reader.current()
    path = tmp_path / "control.json"
    path.write_bytes(path.read_bytes().replace(b'"500"', b'"1E+400"').replace(b'"version":1', b'"version":2'))
    assert reader.current() == good
    assert "max_position_notional" in reader.last_error and "1E+400" in reader.last_error
    assert "version 1 stays in force" in reader.last_error
    with pytest.raises(ConfigError, match="1E"):
        writer.apply("resume", by="ops")
    path.write_bytes(path.read_bytes().replace(b'"1E+400"', b'"5E+2"'))
    assert str(reader.current().snapshot.max_position_notional) == "500"
    assert writer.read().snapshot.max_position_notional == Decimal(500)


def test_a_refused_control_file_is_logged_once_and_status_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A hand-edited control.json the reader refuses left the run on the previous switches and
    said nothing anywhere (``last_error`` was read by no one): a kill typed as "kil" did nothing."""
    writer = ControlWriter(tmp_path)
    reader = ControlReader(tmp_path)
    writer.apply("pause-entries", by="ops")
    reader.current()
    (tmp_path / "control.json").write_text('{"snapshot": {"version": 2, "kil": true}}')
    with caplog.at_level("WARNING", logger="pink.plane"):
        reader.current()
        reader.current()  # the same file again: not logged again
    refused = [r.getMessage() for r in caplog.records if "control.json" in r.getMessage()]
    assert len(refused) == 1, refused
    assert "unknown field `kil`" in refused[0] and "version 1 stays in force" in refused[0]

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner, Result

from pink.cli.plane_cmd import _newer_plane, _slots_table, register
from pink.plane.control import ControlReader, ControlWriter
from pink.plane.health import ControlHeld, HealthReport, SinkHealth, write_health
from pink.plane.shm import PlaneGoneError, PlaneReader, StatePlane

from .helpers import account_view, slot_view

APP = typer.Typer()
register(APP)
RUN = ("import typer; from pink.cli.plane_cmd import register; "
       "app = typer.Typer(); register(app); app()")


def _env(columns: int) -> dict[str, str]:
    """A bare environment of ``columns``, with the PYTHONPATH (if any) that imports the code under test."""
    path = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
    return {"COLUMNS": str(columns), "PATH": "", **path}


def _report(connected: bool) -> HealthReport:
    return HealthReport(ts=time.time_ns(), sinks=(
        SinkHealth("redis", "redis://127.0.0.1:6390/0", connected=connected,
                   last_error="" if connected else "Connection refused"),))


def _status_of_a_running_plane(runner: CliRunner, data_dir: Path) -> Result:
    """`pink status` (250 columns) while a plane is open in ``data_dir``."""
    plane = StatePlane.create(data_dir, "acc-9", "run-9", 3)
    try:
        return runner.invoke(APP, ["status", "--data-dir", str(data_dir)], env={"COLUMNS": "250"})
    finally:
        plane.close()


def test_status_from_another_process(tmp_path: Path) -> None:
    plane = StatePlane.create(tmp_path, "acc-9", "run-9", 3)
    try:
        plane.write_slot(slot_view(1, 1234))
        plane.write_account(account_view(250))
        write_health(tmp_path, _report(connected=False))
        out = subprocess.run(
            [sys.executable, "-c", RUN, "status", "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=60, env=_env(250),
        )
    finally:
        plane.close()
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "acc-9 / run-9" in text and "t1234" in text and "c1234" in text
    assert "10,002.5" in text  # capital, formatted for a person
    assert "projection sink redis" in text and "not connected" in text


def test_status_at_80_columns_shows_the_capital_whole(tmp_path: Path) -> None:
    plane = StatePlane.create(tmp_path, "acc-9", "run-9", 3)
    try:
        plane.write_account(account_view(250))
        out = subprocess.run(
            [sys.executable, "-c", RUN, "status", "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=60, env=_env(80),
        )
    finally:
        plane.close()
    assert out.returncode == 0, out.stderr
    capital = next(line for line in out.stdout.splitlines() if "capital" in line)
    assert "10,002.5" in capital and "…" not in capital


def test_status_without_a_running_plane_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(APP, ["status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "is `pink run` running" in result.output


def test_health_exit_code(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(APP, ["health", "--data-dir", str(tmp_path)]).exit_code == 2
    write_health(tmp_path, _report(connected=True))
    assert runner.invoke(APP, ["health", "--data-dir", str(tmp_path)]).exit_code == 0
    write_health(tmp_path, _report(connected=False))
    result = runner.invoke(APP, ["health", "--data-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "Connection refused" in result.output


def test_health_of_a_sink_that_dropped_updates_says_when(tmp_path: Path) -> None:
    """Drops long ago: healthy, the total and the time of the last one still shown."""
    then = time.time_ns() - 3600 * 10**9
    sink = SinkHealth("redis", "redis://127.0.0.1:6390/0", connected=True, drops=42, last_drop_ts=then)
    write_health(tmp_path, HealthReport(ts=time.time_ns(), sinks=(sink,)))
    result = CliRunner().invoke(APP, ["health", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(then / 1e9))
    assert f"drops 42 (the last at {when})" in result.output


def test_health_shows_the_ledger_rows_lost_in_an_outage(tmp_path: Path) -> None:
    """Refused intents' rows let go in a long ledger outage are in neither the ledger nor the
    journal: health shows how many, and the rows that could not be stored exactly."""
    report = HealthReport(ts=time.time_ns(), ledger_backend="embedded chdb /d/ledger", ledger_requested=True,
                          ledger_refusals_dropped=17, ledger_rejected=2)  # fmt: skip
    write_health(tmp_path, report)
    result = CliRunner().invoke(APP, ["health", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert "17 refused intents' rows lost in an outage (not in the journal either)" in result.output
    assert "2 rows could not be stored exactly" in result.output


def test_health_says_whose_report_it_is_and_how_old(tmp_path: Path) -> None:
    """The table named no run and no time: a report of a dead run read like a live one."""
    written = time.time_ns() - 42 * 10**9
    write_health(tmp_path, HealthReport(ts=written, account_id="acc-9", runtime_id="run-9", pid=4321))
    result = CliRunner().invoke(APP, ["health", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(written / 1e9))
    assert f"health of acc-9 / run-9 (pid 4321), written {when} (42 s ago)" in result.output, result.output


def test_health_shows_every_drop_count(tmp_path: Path) -> None:
    """The runtime's drops are named by what was dropped, not by a queue: 'queue kernel ... drops 0'
    showed while the count it has was never shown."""
    write_health(tmp_path, HealthReport(ts=time.time_ns(), queue_depths={"kernel": 3, "in_flight": 1},
                                        drops={"events_after_close": 5}))  # fmt: skip
    result = CliRunner().invoke(APP, ["health", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert "depth 3" in result.output and "drops 0" not in result.output
    assert "dropped events_after_close" in result.output and "5" in result.output


def test_health_of_a_run_whose_process_is_gone_or_that_closed_is_not_healthy(tmp_path: Path) -> None:
    runner = CliRunner()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)  # fmt: skip
    write_health(tmp_path, replace(_report(connected=True), pid=int(gone.stdout)))
    result = runner.invoke(APP, ["health", "--data-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "is gone: it was killed or crashed" in result.output
    write_health(tmp_path, replace(_report(connected=True), pid=os.getpid(), closed_ts=time.time_ns()))
    result = runner.invoke(APP, ["health", "--data-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "closed at" in result.output
    write_health(tmp_path, replace(_report(connected=True), pid=os.getpid()))
    assert runner.invoke(APP, ["health", "--data-dir", str(tmp_path)]).exit_code == 0  # alive, running


def test_health_and_status_say_the_policy_fails(tmp_path: Path) -> None:
    """A policy raising in every cycle leaves open slots unmanaged: `pink health` is not healthy
    and names it, and `pink status` says it above everything else."""
    failing = replace(_report(connected=True), pid=os.getpid(), policy_errors=9, policy_failing_cycles=7,
                      policy_failing_since=time.time_ns() - 70 * 10**9, policy_failing_open_slots=2,
                      policy_last_error="KeyError: 'ETH-USDT'")  # fmt: skip
    write_health(tmp_path, failing)
    runner = CliRunner()
    result = runner.invoke(APP, ["health", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert "policy failed in its last 7 cycles" in result.output and "KeyError: 'ETH-USDT'" in result.output
    assert "no exit or stop goes out for 2 open slots" in result.output
    result = _status_of_a_running_plane(runner, tmp_path)
    assert result.exit_code == 0, result.output
    first = result.output.lstrip().splitlines()[0]
    assert "policy failed in its last 7 cycles" in first, result.output
    write_health(tmp_path, replace(failing, policy_failing_cycles=0))  # a clean cycle since
    result = runner.invoke(APP, ["health", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert result.exit_code == 0 and "9 cycles skipped" in result.output


def test_control_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    d = ["--data-dir", str(tmp_path)]
    (tmp_path / "journal.sqlite").touch()  # a data dir a run has used
    ok = runner.invoke(APP, ["control", "pause-entries", *d, "--by", "ann", "--note", "CPI"])
    assert ok.exit_code == 0, ok.output
    assert runner.invoke(APP, ["control", "set-max-leverage", "7", *d]).exit_code == 0
    bad = runner.invoke(APP, ["control", "set-max-leverage", "0", *d])
    assert bad.exit_code == 1 and "refused" in bad.output
    assert runner.invoke(APP, ["control", "flatten", *d, "--by", "ann"]).exit_code == 0
    state = ControlReader(tmp_path).current()
    assert state.snapshot.max_leverage == 7 and state.flatten_seq == 1
    assert state.snapshot.changed_by == "ann" and state.version == 3


def test_control_of_a_run_that_does_not_read_the_switches_is_refused(tmp_path: Path) -> None:
    """A run started with control = none never reads control.json: `pink control kill` said
    it was done, and the kill switch was never on."""
    (tmp_path / "journal.sqlite").touch()
    (tmp_path / "run.lock").write_text(f"{os.getpid()}\n")  # a run holds the dir
    write_health(tmp_path, replace(_report(connected=True), pid=os.getpid(), control="none"))
    result = CliRunner().invoke(APP, ["control", "kill", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert f"the run (pid {os.getpid()}) was started with control = none" in result.output
    assert ControlReader(tmp_path).current().snapshot.version == 0  # nothing written


def test_control_with_no_run_running_says_the_next_run_applies_it(tmp_path: Path) -> None:
    (tmp_path / "journal.sqlite").touch()
    (tmp_path / "run.lock").write_text("")  # the last run closed
    result = CliRunner().invoke(APP, ["control", "flatten", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert result.exit_code == 0 and ControlReader(tmp_path).current().flatten_seq == 1
    assert "no `pink run` is running on this data dir now: the next one applies it when it starts" in result.output
    (tmp_path / "run.lock").write_text(f"{os.getpid()}\n")
    write_health(tmp_path, replace(_report(connected=True), pid=os.getpid(), control="file"))
    result = CliRunner().invoke(APP, ["control", "resume", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert result.exit_code == 0 and f"the running `pink run` (pid {os.getpid()}) takes it up" in result.output
    assert "`pink status` says once it has" in result.output, result.output  # it had no way to tell


def test_status_and_health_show_notes_and_errors_as_written(tmp_path: Path) -> None:
    """A note, a name or an error with square brackets crashed `pink status` with a markup error."""
    (tmp_path / "journal.sqlite").touch()
    runner = CliRunner()
    note = "[/x] oops [bold]CPI"
    result = runner.invoke(APP, ["control", "pause-entries", "--data-dir", str(tmp_path), "--by", "[/ann]",
                                 "--note", note], env={"COLUMNS": "250"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "by [/ann]" in result.output
    sink = SinkHealth("redis", "redis://h", connected=False, last_error="Boom: [/red] [Errno 111]")
    write_health(tmp_path, replace(_report(connected=True), sinks=(sink,), policy_failing_cycles=1,
                                   policy_last_error="KeyError: '[/p]'", pid=os.getpid()))  # fmt: skip
    result = runner.invoke(APP, ["health", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert result.exit_code == 1 and "Boom: [/red] [Errno 111]" in result.output, result.output
    assert "KeyError: '[/p]'" in result.output
    result = _status_of_a_running_plane(runner, tmp_path)
    assert result.exit_code == 0, result.output
    assert f"(by [/ann]: {note})" in result.output and "Boom: [/red] [Errno 111]" in result.output


def test_status_fits_80_columns_and_shows_everything_from_130(tmp_path: Path) -> None:
    plane = StatePlane.create(tmp_path, "paper", "rt1", 3)
    busy = replace(
        slot_view(0, 7), state="EXIT_CANCELING", trade_id="tmwubls44bk7", symbol="DOGE-USDT",
        entry_qty=Decimal("18740"), remaining_qty=Decimal("9370"), entry_vwap=Decimal("3000.6312"),
        realized_pnl=Decimal("-1234.5637"), fees=Decimal("11.3093"), working_order="tmwubls44bk7-x1a2",
    )  # fmt: skip
    plane.write_slot(busy)
    reader = PlaneReader.open(tmp_path)
    try:
        for width in (80, 130):
            console = Console(width=width, record=True, color_system=None)
            console.print(_slots_table(reader, width))
            text = console.export_text()
            assert "…" not in text, text  # nothing cut
            assert "exit canceling" in text and "-1,234.5637" in text and "3,000.6312" in text
            if width == 80:
                assert "x1a2" in text and "tmwubls44bk7" not in text  # the order by its suffix
            else:
                assert "tmwubls44bk7-x1a2" in text and "9,370" in text
    finally:
        reader.close()
        plane.close()


def test_control_refuses_a_data_dir_no_run_has_used(tmp_path: Path) -> None:
    """`pink control kill --data-dir typo` made the dir and reported success: no run would ever read it."""
    typo = tmp_path / "typo"
    result = CliRunner().invoke(APP, ["control", "kill", "--data-dir", str(typo)], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert f"no `pink run` has used the data dir {typo}" in " ".join(result.output.split())
    assert not typo.exists()


def _killed_writer(data_dir: Path) -> None:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).parent / "crash_writer.py"), str(data_dir)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    proc.kill()
    proc.communicate(timeout=10)


def test_status_of_a_killed_run_says_its_values_are_not_current(tmp_path: Path) -> None:
    _killed_writer(tmp_path)
    out = subprocess.run([sys.executable, "-c", RUN, "status", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60, env=_env(250))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "is gone, killed or crashed: below are its last values, not current" in out.stdout


def test_a_watching_reader_moves_to_the_plane_of_the_run_that_restarted(tmp_path: Path) -> None:
    """`pink status --watch` kept showing a killed run's frozen values after the restart."""
    _killed_writer(tmp_path)
    old = PlaneReader.open(tmp_path)
    assert not old.writer_alive and old.read_slot(0) is not None  # its last values, readable (F10)
    plane = StatePlane.create(tmp_path, "acc", "crash", 2)  # the restart cleans the dead run's plane up
    try:
        plane.write_slot(slot_view(1, 7))
        with pytest.raises(PlaneGoneError):  # marked closed before it was unlinked
            old.read_slot(0)
        reader = _newer_plane(old, tmp_path)
        try:
            assert reader is not old and reader.writer_alive and reader.read_slot(1) is not None
        finally:
            reader.close()
    finally:
        plane.close()


def _wait_printed(proc: subprocess.Popen[bytes], needle: str, out: list[str], timeout: float = 30.0) -> None:
    """Read ``proc``'s output into ``out`` until ``needle`` is in it, waiting at most ``timeout`` seconds."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    while needle not in "".join(out):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0] or not (chunk := os.read(fd, 65536)):
            raise AssertionError(f"{needle!r} not printed within {timeout} s; output was:\n{''.join(out)}")
        out.append(chunk.decode())


def test_status_watch_into_a_pipe_prints_each_change(tmp_path: Path) -> None:
    """`pink status --watch | tee status.log` printed nothing until it ended: a log of the run's state was empty."""
    plane = StatePlane.create(tmp_path, "acc-9", "run-9", 3)
    proc = None
    try:
        plane.write_account(account_view(250))
        proc = subprocess.Popen([sys.executable, "-c", RUN, "status", "--data-dir", str(tmp_path), "--watch"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(250))  # fmt: skip
        out: list[str] = []
        _wait_printed(proc, "10,002.5", out)
        plane.write_account(account_view(300))
        _wait_printed(proc, "10,003", out)
    finally:
        plane.close()
        if proc is not None:
            proc.kill()
            proc.communicate(timeout=10)


def test_control_shows_the_notional_cap_in_plain_notation(tmp_path: Path) -> None:
    """`pink control set-max-notional 1e3` answered `max_notional=1E+3`; a tiny cap `1E-12`."""
    runner = CliRunner()
    (tmp_path / "journal.sqlite").touch()
    d = ["--data-dir", str(tmp_path)]
    ok = runner.invoke(APP, ["control", "set-max-notional", "1e3", *d], env={"COLUMNS": "250"})
    assert ok.exit_code == 0 and "max_notional=1000 " in ok.output, ok.output
    ok = runner.invoke(APP, ["control", "set-max-notional", "0.000000000001", *d], env={"COLUMNS": "250"})
    assert ok.exit_code == 0 and "max_notional=0.000000000001 " in ok.output, ok.output
    assert "max_notional=0.000000000001 " in _status_of_a_running_plane(runner, tmp_path).output
    bad = runner.invoke(APP, ["control", "set-max-notional", "1e400", *d], env={"COLUMNS": "250"})
    assert bad.exit_code == 1 and "max notional '1e400' must be at most 1000000000000" in bad.output, bad.output
    ok = runner.invoke(APP, ["control", "set-max-notional", "none", *d], env={"COLUMNS": "250"})
    assert ok.exit_code == 0 and "max_notional=none " in ok.output, ok.output


def test_status_says_a_refused_control_file_is_not_in_force(tmp_path: Path) -> None:
    (tmp_path / "control.json").write_text('{"snapshot": {"version": 2, "kil": true}}')
    os.chmod(tmp_path / "control.json", 0o600)
    out = _status_of_a_running_plane(CliRunner(), tmp_path).output
    assert "control.json refused" in out and "unknown field `kil`" in out, out


def test_a_negative_limit_is_refused_as_a_value_not_taken_for_an_option(tmp_path: Path) -> None:
    """`pink control set-max-notional -5` answered "No such option: -5"."""
    (tmp_path / "journal.sqlite").touch()
    for command, why in (("set-max-notional", "max notional '-5' must be > 0"),
                         ("set-max-leverage", "max leverage must be in 1..125, got -5")):
        bad = CliRunner().invoke(APP, ["control", command, "-5", "--data-dir", str(tmp_path)],
                                 env={"COLUMNS": "250"})
        assert bad.exit_code == 1 and why in bad.output, bad.output
    assert ControlReader(tmp_path).current().snapshot.version == 0


def _status_with_held(tmp_path: Path, held: ControlHeld | None, **report: Any) -> str:
    """`pink status` (250 columns) of a running plane whose run's health report holds ``held``."""
    write_health(tmp_path, replace(_report(connected=True), pid=os.getpid(), control="file", control_held=held,
                                   **report))
    return _status_of_a_running_plane(CliRunner(), tmp_path).output


def test_f27_status_says_whether_the_run_has_taken_the_control_change(tmp_path: Path) -> None:
    """`pink status` showed control.json only: whether the run had taken `pink control kill` (or
    a cap, or a flatten) the operator could not tell."""
    ControlWriter(tmp_path).apply("kill", by="ops")  # v1
    state = ControlWriter(tmp_path).apply("flatten", by="ops")  # v2
    taken = ControlHeld(version=2, file_version=2, pause_entries=True, kill=True,
                        flatten_seq=1, flatten_ns=state.flatten_ns)
    out = _status_with_held(tmp_path, taken)
    assert f"control v2: taken by the run (pid {os.getpid()})" in out, out
    assert "flatten #1: carried out" in out, out
    out = _status_with_held(tmp_path, replace(taken, flattening=True))
    assert "flatten #1: being carried out: the run closes every open slot" in out, out
    older = ControlHeld(version=1, file_version=1, kill=True)
    out = _status_with_held(tmp_path, older, ts=state.changed_ns + 1)
    assert ("control v2: NOT YET TAKEN (the run holds version 1: pause_entries=False kill=True max_leverage=125 "
            "max_notional=none)") in out, out
    assert "flatten #1: not yet taken" in out, out
    out = _status_with_held(tmp_path, older, ts=state.changed_ns - 1)  # a report from before the change
    assert "its health report is older than this change: look again in a few seconds" in out, out
    adopted = replace(taken, version=7)  # a reset control file's switches, held under a newer number
    assert "control v2: taken by the run (pid" in _status_with_held(tmp_path, adopted)
    out = _status_with_held(tmp_path, taken, closed_ts=time.time_ns())
    assert "no run is up: the next `pink run` applies control v2 when it starts" in out, out
    out = _status_with_held(tmp_path, older, closed_ts=time.time_ns())
    assert "no run is up: the next `pink run` applies control v2 and flatten #1 when it starts" in out, out


def test_f27_status_with_no_control_file_says_what_the_run_holds(tmp_path: Path) -> None:
    """A removed control.json showed v0, kill=False, while the run held kill=True from its journal."""
    out = _status_with_held(tmp_path, ControlHeld(version=3, file_version=0, kill=True))
    assert ("no control file: the run holds version 3 (pause_entries=False kill=True max_leverage=125 "
            "max_notional=none); the next `pink control` command is adopted over it") in out, out
    out = _status_with_held(tmp_path, ControlHeld(version=0, file_version=0))
    assert "taken" not in out and "no control file" not in out, out


def test_status_of_a_tiny_cap_the_run_holds_is_in_plain_notation(tmp_path: Path) -> None:
    ControlWriter(tmp_path).apply("set-max-notional", "0.0000001", by="ops")  # v1
    ControlWriter(tmp_path).apply("set-max-notional", "0.00000001", by="ops")  # v2
    out = _status_with_held(tmp_path, ControlHeld(version=1, file_version=1, max_position_notional="0.0000001"))
    assert "max_notional=0.0000001)" in out and "E-" not in out, out


def test_the_kill_switch_help_says_exits_go_on(tmp_path: Path) -> None:
    """`pink control kill --help` said "the kernel refuses every intent": an operator with open
    positions could not tell that exits and stops still go out (it refuses entries and cancels
    working ones), nor that `flatten` closes the positions."""
    out = CliRunner().invoke(APP, ["control", "--help"], env={"COLUMNS": "250"}).output
    line = next(x for x in out.splitlines() if " kill " in x)
    assert "refuses every intent" not in line, line
    assert "refuse new entries, cancel working entries; exits and stops go on" in line, line


def test_status_of_a_run_with_no_state_plane_shows_its_switches_and_health(tmp_path: Path) -> None:
    """A run started with plane = none: `pink status` said "plane.json missing: is `pink run`
    running?" while it ran, and an operator could not see whether it took `pink control kill`."""
    (tmp_path / "journal.sqlite").touch()
    (tmp_path / "run.lock").write_text(f"{os.getpid()}\n")  # a run holds the dir
    ControlWriter(tmp_path).apply("kill", by="ops")
    write_health(tmp_path, replace(_report(connected=True), pid=os.getpid(), control="file",
                                   control_held=ControlHeld(version=1, file_version=1, kill=True)))
    out = CliRunner().invoke(APP, ["status", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert (f"the `pink run` (pid {os.getpid()}) on {tmp_path} has no state plane (started with plane = none, "
            "or still starting): no slots or account to show; its switches and health:") in text, text
    assert f"control v1: taken by the run (pid {os.getpid()})" in text and "sink redis" in text, text
    (tmp_path / "run.lock").write_text("")  # the run closed
    out = CliRunner().invoke(APP, ["status", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert out.exit_code == 2 and "plane.json missing" in out.output, out.output


def test_f27_a_refused_control_file_says_what_the_run_keeps_and_how_to_go_on(tmp_path: Path) -> None:
    """A hand-broken control.json: `pink status` said "version 0 stays in force" (its own reader's,
    while the run kept kill=True, v1), and `pink control kill` was refused with no way out."""
    (tmp_path / "journal.sqlite").touch()
    (tmp_path / "control.json").write_text('{"snapshot": {"version": 2, "kil": true}}')
    os.chmod(tmp_path / "control.json", 0o600)
    out = " ".join(_status_with_held(tmp_path, ControlHeld(version=1, file_version=1, kill=True)).split())
    assert "control.json refused" in out and "unknown field `kil`" in out, out
    assert "version 0 stays in force" not in out, out
    assert ("the run keeps version 1 in force (pause_entries=False kill=True max_leverage=125 "
            "max_notional=none)") in out, out
    bad = CliRunner().invoke(APP, ["control", "kill", "--data-dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert bad.exit_code == 1 and "unknown field `kil`" in bad.output, bad.output
    assert (f"fix or remove {tmp_path / 'control.json'}, then give the command again (a run keeps its switches "
            "in force meanwhile, and takes the next command over them)") in " ".join(bad.output.split()), bad.output


def test_status_of_a_run_with_control_none_says_the_switches_it_holds(tmp_path: Path) -> None:
    """Such a run keeps the switches of its journal (a kill set under an earlier run): status said only
    that it does not read control.json."""
    ControlWriter(tmp_path).apply("resume", by="ops")
    write_health(tmp_path, replace(_report(connected=True), pid=os.getpid(), control="none",
                                   control_held=ControlHeld(version=3, kill=True)))
    out = " ".join(_status_of_a_running_plane(CliRunner(), tmp_path).output.split())
    assert ("the run was started with control = none: it does not read these switches; it holds version 3 "
            "(pause_entries=False kill=True max_leverage=125 max_notional=none) from its journal") in out, out

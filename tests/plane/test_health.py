from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from pink.errors import CodecError
from pink.plane.health import HealthReport, SinkHealth, pid_alive, read_health, write_health


def _healthy(now: int) -> HealthReport:
    return HealthReport(
        ts=now, account_id="a", runtime_id="r", pid=1,
        ledger_backend="chdb:///tmp/x", ledger_requested=True, ledger_ok=True,
        sinks=(SinkHealth("redis", "redis://127.0.0.1:6390/0", connected=True),
               SinkHealth("hazelcast", "none", requested=False)),
        venue="sim", venue_connected=True, stream_connected=True, last_venue_event_age_ms=50,
    )


def test_round_trip_and_healthy_has_no_problems(tmp_path: Path) -> None:
    now = time.time_ns()
    assert read_health(tmp_path) is None
    write_health(tmp_path, _healthy(now))
    report = read_health(tmp_path)
    assert report == _healthy(now)
    assert report.problems(now) == []


def test_problems_name_what_was_asked_for_and_is_not_working() -> None:
    now = time.time_ns()
    report = HealthReport(
        ts=now - 60 * 10**9, ledger_backend="chdb:///x", ledger_requested=True,
        ledger_ok=False, ledger_error="disk full", ledger_backlog=20_000,
        sinks=(SinkHealth("redis", "redis://h", connected=False, last_error="refused"),
               SinkHealth("hz", "hazelcast://h", connected=True, drops=3, last_drop_ts=now - 10**9),
               SinkHealth("off", "none", requested=False)),
        venue="bingx", venue_connected=False, stream_connected=True,
        last_venue_event_age_ms=600_000, awaiting_venue=2, desync_slots=(2, 5),
    )
    problems = report.problems(now)
    text = "\n".join(problems)
    assert "60.0 s old" in text
    assert "ledger chdb:///x is not working: disk full" in text
    assert "ledger backlog 20000" in text
    assert "projection sink redis (redis://h) is not connected: refused" in text
    assert "projection sink hz dropped updates, the last 1 s ago (3 in this run)" in text
    assert "off" not in text
    assert "venue bingx is not connected" in text
    assert "no venue event for 600 s while 2 orders or requests wait for its answer" in text
    assert "slots in DESYNC: 2, 5" in text


def test_malformed_health_file_is_a_codec_error(tmp_path: Path) -> None:
    (tmp_path / "health.json").write_text('{"ts": 1, "mystery": 2}')
    with pytest.raises(CodecError, match="unknown field `mystery`"):
        read_health(tmp_path)


def test_a_killed_run_not_yet_reaped_is_gone() -> None:
    """kill -9 leaves a zombie until its parent reaps it (for ever under a parent that does
    not): `pink health` and `pink status` must call that run gone, not alive."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert pid_alive(proc.pid)
        proc.kill()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the killed child never became a zombie"
            time.sleep(0.01)  # (polling for the state, not an assertion)
        assert not pid_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_drops_are_a_problem_while_recent_and_stay_counted_after() -> None:
    """A sink that dropped updates in an outage and has been back for a while reads healthy
    again; while the drops are recent they are a problem that says when the last one was."""
    now = time.time_ns()
    sink = SinkHealth("hz", "hazelcast://h", connected=True, drops=3, last_drop_ts=now - 20 * 10**9)
    recent = replace(_healthy(now), sinks=(sink,))
    assert recent.problems(now) == ["projection sink hz dropped updates, the last 20 s ago (3 in this run)"]
    old = replace(recent, sinks=(replace(sink, last_drop_ts=now - recent.drop_window_ms * 10**6 - 1),))
    assert old.problems(now) == []


def test_a_quiet_account_with_nothing_asked_of_the_venue_is_healthy() -> None:
    """The private stream says nothing while nothing is asked of the venue: a policy that
    trades a few times a day made health fail every night, 2 minutes after its last fill."""
    now = time.time_ns()
    quiet = replace(_healthy(now), last_venue_event_age_ms=3_600_000)
    assert quiet.problems(now) == []
    waiting = replace(quiet, awaiting_venue=1)
    assert waiting.problems(now) == ["no venue event for 3600 s while 1 order or request waits for its answer"]

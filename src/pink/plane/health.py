"""Health of a running ``pink run``, readable from another process.

The runtime fills a :class:`HealthReport` every few seconds and writes it
atomically (temp + rename, mode 0600) to ``<data_dir>/health.json``;
``pink health`` reads it. :meth:`HealthReport.problems` names every part that
was asked for and is not working (F8, F22): an empty list means healthy.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from pink.plane.codec import codec_for

__all__ = [
    "HEALTH_FILE",
    "ControlHeld",
    "HealthReport",
    "SinkHealth",
    "pid_alive",
    "read_health",
    "write_health",
]

HEALTH_FILE = "health.json"


@dataclass(frozen=True, slots=True)
class SinkHealth:
    """One projection sink. ``requested`` False means it is absent by configuration."""

    name: str
    backend: str  # e.g. "redis://127.0.0.1:6390/0", "hazelcast://127.0.0.1:5710"
    requested: bool = True
    optional: bool = False
    connected: bool = False
    queue_depth: int = 0
    published: int = 0
    failures: int = 0
    drops: int = 0  # trade events dropped since the run started (its queue was full in an outage)
    last_drop_ts: int = 0  # ns since the epoch of the last of them (0: none)
    reconnects: int = 0
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class ControlHeld:
    """The operator switches a run holds (its kernel's), and the control file it last read: what
    ``pink status`` compares control.json with, to say whether a ``pink control`` was taken."""

    version: int = 0  # the kernel's (a reset control file's switches are held under a newer number)
    file_version: int = -1  # of the control file the run last read (-1: it reads none, control = none)
    pause_entries: bool = False
    kill: bool = False
    max_leverage: int = 125
    max_position_notional: str = "none"  # in plain notation
    flatten_seq: int = 0  # the control file's last flatten the run took up (0: none)
    flatten_ns: int = 0  # when that one was asked
    flattening: bool = False  # a flatten is being carried out: open slots are being closed


@dataclass(frozen=True, slots=True)
class HealthReport:
    ts: int  # ns since the epoch, when the runtime wrote it
    account_id: str = ""
    runtime_id: str = ""
    pid: int = 0
    ledger_backend: str = ""  # "chdb:///path", "clickhouse+http://...", "" when none
    ledger_requested: bool = False
    ledger_ok: bool = True
    ledger_backlog: int = 0  # rows in the outbox not yet in the ledger
    ledger_error: str = ""
    ledger_rejected: int = 0  # rows that could not be stored exactly (never retried)
    ledger_refusals_dropped: int = 0  # refused intents' rows let go in an outage, of a run with no journal
    sinks: tuple[SinkHealth, ...] = ()
    control: str = ""  # where the run reads its switches: "file" (control.json), "none"; "" not known
    control_held: ControlHeld | None = None  # None: not started (or a report from before it was kept)
    venue: str = ""
    venue_connected: bool = False
    stream_connected: bool = False
    last_venue_event_age_ms: int | None = None
    awaiting_venue: int = 0  # requests in flight and slots waiting for the venue's ack or cancel
    queue_depths: dict[str, int] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)
    desync_slots: tuple[int, ...] = ()
    max_ledger_backlog: int = 10_000
    max_event_age_ms: int = 120_000  # no venue event for longer is a problem
    interval_ms: int = 5_000  # how often the runtime rewrites the report
    drop_window_ms: int = 300_000  # a sink's drops are a problem until this long after the last one
    closed_ts: int = 0  # ns since the epoch when the run closed (its last report); 0 while it runs
    policy_errors: int = 0  # cycles skipped since the run started: the policy raised
    policy_failing_cycles: int = 0  # of them, the last cycles in a row (0: the last cycle was clean)
    policy_failing_since: int = 0  # ns since the epoch of the first of those
    policy_failing_open_slots: int = 0  # open slots in the last of those: nothing manages them
    policy_last_error: str = ""  # the policy's last exception, "Type: message"

    def problems(self, now_ns: int | None = None, *, check_pid: bool = False) -> list[str]:
        """What was asked for and is not working, one sentence each. ``check_pid`` (from another
        process): a run that closed, or whose process is gone, is one."""
        if self.closed_ts:
            return [f"the run (pid {self.pid}) closed at {_when(self.closed_ts)}: nothing is running"]
        if check_pid and self.pid and not pid_alive(self.pid):
            return [f"the run's process (pid {self.pid}) is gone: it was killed or crashed"]
        out: list[str] = []
        if now_ns is not None:
            age_ms = (now_ns - self.ts) // 1_000_000
            if age_ms > 3 * self.interval_ms:
                out.append(f"health report is {age_ms / 1000:.1f} s old: is the runtime running?")
        if self.ledger_requested:
            if not self.ledger_ok:
                out.append(f"ledger {self.ledger_backend} is not working: {self.ledger_error}")
            if self.ledger_backlog > self.max_ledger_backlog:
                out.append(
                    f"ledger backlog {self.ledger_backlog} rows exceeds {self.max_ledger_backlog}"
                )
        for sink in self.sinks:
            if not sink.requested:
                continue
            if not sink.connected:
                why = f": {sink.last_error}" if sink.last_error else ""
                out.append(f"projection sink {sink.name} ({sink.backend}) is not connected{why}")
            elif sink.drops and (ago := self._ago_ms(sink.last_drop_ts, now_ns)) < self.drop_window_ms:
                out.append(f"projection sink {sink.name} dropped updates, the last {ago / 1000:.0f} s ago "
                           f"({sink.drops} in this run)")
        if self.venue:
            if not self.venue_connected:
                out.append(f"venue {self.venue} is not connected")
            if not self.stream_connected:
                out.append(f"venue {self.venue} event stream is not connected")
            age = self.last_venue_event_age_ms
            waiting = self.awaiting_venue  # (a quiet account's stream says nothing, rightly)
            if self.stream_connected and waiting and age is not None and age > self.max_event_age_ms:
                out.append(f"no venue event for {age / 1000:.0f} s while {waiting} "
                           f"{'orders or requests wait' if waiting != 1 else 'order or request waits'} for its answer")
        if self.desync_slots:
            out.append(f"slots in DESYNC: {', '.join(map(str, self.desync_slots))}")
        if failing := self.policy_failing():
            out.append(failing)
        return out

    def _ago_ms(self, ts_ns: int, now_ns: int | None) -> int:
        """How long before ``now_ns`` (else this report's time) ``ts_ns`` was, in ms."""
        return max(0, ((self.ts if now_ns is None else now_ns) - ts_ns) // 1_000_000)

    def policy_failing(self) -> str:
        """The policy raising in every cycle, in one sentence ("" when its last cycle was clean)."""
        n = self.policy_failing_cycles
        if not n:
            return ""
        held = self.policy_failing_open_slots
        return (f"policy failed in its last {n} cycle{'s' if n != 1 else ''} (since "
                f"{_when(self.policy_failing_since)}; {self.policy_last_error}): its cycles are skipped, and no "
                f"exit or stop goes out for {held} open slot{'s' if held != 1 else ''}")


def _when(ts_ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts_ns / 1e9))


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (on this machine). A zombie does not: a run killed outright
    stays one until its parent reaps it, and for ever under a parent that never does."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: it exists
        pass
    try:  # Linux: the state is the first field after the command's closing parenthesis
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:  # reaped since, or no /proc here (then os.kill's word stands)
        return not Path("/proc/self/stat").exists()
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def write_health(data_dir: str | os.PathLike[str], report: HealthReport) -> Path:
    """Write ``report`` atomically to ``<data_dir>/health.json``."""
    ddir = Path(data_dir)
    ddir.mkdir(parents=True, exist_ok=True)
    path = ddir / HEALTH_FILE
    tmp = ddir / f".{HEALTH_FILE}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, codec_for(HealthReport).encode(report))
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def read_health(data_dir: str | os.PathLike[str]) -> HealthReport | None:
    """The last report, or None when there is none. Raises CodecError if malformed."""
    try:
        data = (Path(data_dir) / HEALTH_FILE).read_bytes()
    except FileNotFoundError:
        return None
    return codec_for(HealthReport).decode(data)

"""Crash, lock and outage: the ledger across processes and failures."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_front import Front
from ledger_records import Book, trade

from pink.errors import StartupError
from pink.kernel.messages import KernelRecord, Side
from pink.ledger import JournalRecords, LedgerOutbox, LedgerWriter, audit, resolve_target
from pink.ledger.queries import fetch

HERE = Path(__file__).parent
WORKER = HERE / "ledger_worker.py"
ENV = {**os.environ, "PYTHONPATH": str(HERE)}
CLI = ("import typer; from pink.cli.ledger_cmd import register; app = typer.Typer(); "
       "register(app); app()")


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def test_crash_kill_9_during_flush_then_restart_every_row_exactly_once(tmp_path: Path) -> None:
    proc = _spawn(str(WORKER), "write", str(tmp_path))
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith("flushing")
    assert proc.stdout.readline().strip() == "a quarter written"  # the rest in flight or queued
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    out = subprocess.run([sys.executable, str(WORKER), "resume", str(tmp_path)],
                         capture_output=True, text=True, env=ENV, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert 0 < result["resumed_from"] < result["records"], result  # killed mid-way
    assert result["audit_ok"], result["differences"]
    total_final = sum(final for _raw, final, _ids in result["counts"].values())
    assert total_final == result["records"]  # every row exactly once
    for raw, final, ids in result["counts"].values():
        assert final == ids <= raw


def test_locked_directory_is_explained_and_freed_after_the_run(tmp_path: Path) -> None:
    holder = _spawn(str(WORKER), "hold", str(tmp_path))
    assert holder.stdout is not None and holder.stderr is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        out = subprocess.run([sys.executable, "-c", CLI, "audit", "--data-dir", str(tmp_path)],
                             capture_output=True, text=True, env=ENV, timeout=120)
        text = " ".join(out.stdout.split())
        assert out.returncode == 2, out
        assert f"in use by another process (pid {holder.pid})" in text
        assert "stop that run" in text and "--ledger-url" in text
        assert "Code: 76" not in out.stderr, out.stderr  # chDB's own lock message, on top of ours
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        holder.stderr.close()
    out = subprocess.run([sys.executable, "-c", CLI, "audit", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, env=ENV, timeout=120)
    assert out.returncode == 0, out
    assert "audit passed" in out.stdout and "capital chain" not in out.stderr


def test_requested_server_that_cannot_start_is_a_startup_error_naming_it() -> None:
    with pytest.raises(StartupError, match=r"ledger \(server http://127.0.0.1:9\)"):
        LedgerWriter.open(resolve_target(url="http://127.0.0.1:9"), connect_timeout=0.5)


async def test_outage_put_never_blocks_backlog_drains_nothing_lost_health_clears(tmp_path: Path) -> None:
    front = Front(tmp_path / "ch").start()
    try:
        writer = await asyncio.to_thread(LedgerWriter.open, resolve_target(url=front.url),
                                         database="outage", send_receive_timeout=2.0)
        outbox = LedgerOutbox(writer, account_id="a", runtime_id="r", batch_records=10,
                              linger_s=0, backoff_initial_s=0.02, backoff_max_s=0.2)
        outbox.start()
        recs = trade(Book(), slot=0, trade_id="U", side=Side.LONG,
                     entry=[("1", "10", "0.01"), ("1", "10.5", "0.01")],
                     exits=[[("1", "11", "0.01")], [("1", "12", "0.01")]])
        half = len(recs) // 2
        for n, rec in enumerate(recs[:half], start=1):
            outbox.put((rec,), n)
        assert await outbox.flush(10)
        front.stop()  # outage
        for n, rec in enumerate(recs[half:], start=half + 1):
            outbox.put((rec,), n)
            await asyncio.sleep(0.02)
        # put never waits for the database: it returned for every record while the front was down
        assert not await outbox.flush(0.3)
        health = outbox.health()
        assert health.backlog == len(recs) - half and health.failures > 0 and health.last_error
        front.start()  # same port, same directory
        assert await outbox.flush(20)
        assert outbox.health().backlog == 0 and outbox.health().watermark == len(recs)
        # back and caught up: no error left to report (`pink health` would fail for ever on it)
        assert outbox.health().last_error == "" and outbox.health().failures > 0
        report = audit(writer.client, JournalRecords("a", "r", recs), database="outage")
        assert report.ok, report.differences
        assert len(fetch(writer.client, "account_events", database="outage")) == 4
        await outbox.close()
    finally:
        front.stop()


async def test_f21_close_is_bounded_by_its_timeout_when_the_ledger_server_hangs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A ledger server that takes the connection and never answers (frozen, overloaded): close()
    waited for the insert in flight until the client's read timeout (30 s by default), whatever
    its own timeout, so Ctrl-C hung at flush_ledger. It now gives up on it within its bound and
    says so; the journal holds the records (re-put on restart)."""
    front = Front(tmp_path / "ch").start()
    assert front.proc is not None
    try:
        writer = await asyncio.to_thread(LedgerWriter.open, resolve_target(url=front.url),
                                         database="hang", send_receive_timeout=60.0)
        outbox = LedgerOutbox(writer, account_id="a", runtime_id="r", linger_s=0)
        outbox.start()
        recs = trade(Book(), slot=0, trade_id="H", side=Side.LONG, entry=[("1", "10", "0.01")],
                     exits=[[("1", "11", "0.01")]])
        outbox.put(recs[:2], 1)
        assert await outbox.flush(10)
        os.kill(front.proc.pid, signal.SIGSTOP)  # the server hangs
        outbox.put(recs[2:], 2)
        await asyncio.sleep(0)
        await asyncio.wait_for(outbox.close(timeout=0.5), 10)  # not the 60 s read timeout
        assert outbox.health().closed and outbox.health().backlog == len(recs) - 2
        assert any("in flight" in r.getMessage() and "journal" in r.getMessage() for r in caplog.records)
    finally:
        if front.proc is not None:
            os.kill(front.proc.pid, signal.SIGCONT)
        front.stop()


async def test_f8_outage_memory_is_bounded_and_the_journal_fills_the_gap(tmp_path: Path) -> None:
    """A long outage: past ``max_backlog`` the outbox lets go of what the journal holds (memory
    stays bounded while trading goes on) and, once the ledger is back, reads it again from the
    journal: every row exactly once, the capital chain whole."""
    front = Front(tmp_path / "ch").start()
    try:
        writer = await asyncio.to_thread(LedgerWriter.open, resolve_target(url=front.url),
                                         database="bounded", send_receive_timeout=2.0)
        book = Book()
        recs = [r for t in range(12) for r in trade(
            book, slot=t % 3, trade_id=f"B{t}", side=Side.LONG if t % 2 else Side.SHORT,
            entry=[("1", "10", "0.01")], exits=[[("0.5", "11", "0.01")], [("0.5", "9", "0.01")]])]
        journal = dict(enumerate(((r,) for r in recs), start=1))  # position -> its records
        reads: list[tuple[int, int]] = []

        def from_journal(after: int, upto: int) -> Iterator[tuple[int, tuple[KernelRecord, ...]]]:
            reads.append((after, upto))
            for seq in range(after + 1, upto + 1):
                yield seq, journal[seq]

        outbox = LedgerOutbox(writer, account_id="a", runtime_id="r", batch_records=10, linger_s=0,
                              backoff_initial_s=0.02, backoff_max_s=0.1, max_backlog=20, journal=from_journal)
        outbox.start()
        for seq in range(1, 6):
            outbox.put(journal[seq], seq)
        assert await outbox.flush(10)
        front.stop()  # outage
        for seq in range(6, len(recs) - 9):
            outbox.put(journal[seq], seq)
        while outbox.health().failures < 3:
            await asyncio.sleep(0.02)
        health = outbox.health()
        assert health.backlog <= 20 and health.from_journal == len(recs) - 15  # let go: in the journal
        for seq in range(len(recs) - 9, len(recs) + 1):  # trading goes on
            outbox.put(journal[seq], seq)
        assert outbox.health().backlog <= 20
        assert not await outbox.flush(0.2)  # not in the ledger yet: flush says so
        front.start()
        assert await outbox.flush(30)
        health = outbox.health()
        assert health.backlog == 0 and health.from_journal == 0 and health.watermark == len(recs)
        assert health.last_error == "" and reads and reads[0][0] == 5
        report = audit(writer.client, JournalRecords("a", "r", recs), database="bounded")
        assert report.ok, report.differences
        assert len(fetch(writer.client, "account_events", database="bounded")) == 12 * 3
        await outbox.close()
    finally:
        front.stop()

"""Crash, lock and outage: the ledger across processes and failures."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ledger_front import Front
from ledger_records import Book, trade

from pink.errors import StartupError
from pink.kernel.messages import Side
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

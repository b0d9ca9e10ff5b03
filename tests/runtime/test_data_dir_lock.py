"""One `pink run` per data dir: a second is refused, naming the pid that holds it (real processes)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pink.errors import StartupError
from pink.runtime.datadir import LOCK_FILE, DataDirLock

PINK = [sys.executable, "-m", "pink.cli.main"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINK_")}
    return {**env, "PINK_LEDGER": "none", "PINK_PLANE": "none", "COLUMNS": "160"}


def _messages(data: Path) -> int:
    db = sqlite3.connect(f"file:{data / 'journal.sqlite'}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def test_a_second_run_on_a_data_dir_in_use_is_refused_naming_the_pid(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = subprocess.Popen([*PINK, "run", "--fast", "--no-view", "--data-dir", str(data)], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 60
        while not (data / "journal.sqlite").exists() or _messages(data) < 10:  # running, and trading
            assert first.poll() is None and time.monotonic() < end, first.communicate()
            time.sleep(0.1)
        second = subprocess.run([*PINK, "run", "--fast", "--no-view", "--cycles", "50", "--data-dir", str(data)],
                                env=_env(), capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"another `pink run` uses it (pid {first.pid})" in second.stdout
        assert "Traceback" not in second.stdout + second.stderr
        assert first.poll() is None  # the first goes on, undisturbed
    finally:
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert "close error" not in out and "UNIQUE" not in out + err
    again = subprocess.run([*PINK, "run", "--fast", "--no-view", "--cycles", "5", "--data-dir", str(data)],
                           env=_env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr  # released at close


def test_the_lock_is_released_and_taken_again(tmp_path: Path) -> None:
    lock = DataDirLock.acquire(tmp_path)
    assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
    with pytest.raises(StartupError, match=f"pid {os.getpid()}"):
        DataDirLock.acquire(tmp_path)
    lock.release()
    lock.release()
    DataDirLock.acquire(tmp_path).release()

"""Bad input to the command line gets a clear error naming what was wrong: no traceback, a non-zero
exit, and nothing already recorded changed (every command runs as a real process)."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.projection.svc import free_port

PINK = [sys.executable, "-m", "pink.cli.main"]


def pink(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PINK_")}
    return subprocess.run([*PINK, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**base, "COLUMNS": "250", "PINK_LEDGER": "none", **env})


def refused(out: subprocess.CompletedProcess[str], text: str) -> None:
    both = out.stdout + out.stderr
    assert out.returncode != 0, both
    assert "Traceback" not in both, both  # plain or rich
    assert text in " ".join(both.split()), both


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _non_utf8_config(d: Path) -> list[str]:
    (d / "bad.toml").write_bytes(b'account_id = "\xff\xfe"\n')
    return ["run", "--no-view", "--config", "bad.toml"]


def _data_dir_is_a_file(d: Path) -> list[str]:
    (d / "afile").write_text("x")
    return ["run", "--fast", "--no-view", "--cycles", "2", "--data-dir", "afile"]


def _data_dir_below_a_file(d: Path) -> list[str]:
    (d / "afile").write_text("x")
    return ["run", "--fast", "--no-view", "--cycles", "2", "--data-dir", "afile/sub"]


def _garbled_journal(d: Path) -> None:
    (d / "data").mkdir()
    (d / "data" / "journal.sqlite").write_bytes(bytes(range(256)) * 16)


def _run_garbled_journal(d: Path) -> list[str]:
    _garbled_journal(d)
    return ["run", "--fast", "--no-view", "--cycles", "2", "--data-dir", "data"]


def _audit_garbled_journal(d: Path) -> list[str]:
    _garbled_journal(d)
    return ["audit", "--data-dir", "data"]


def _garbled_plane(d: Path) -> None:
    (d / "data").mkdir()
    (d / "data" / "plane.json").write_text("{garbled")


def _status_garbled_plane(d: Path) -> list[str]:
    _garbled_plane(d)
    return ["status", "--data-dir", "data"]


def _report_out_a_file(d: Path) -> list[str]:
    (d / "report.html").write_text("mine")
    return ["report", "--data-dir", ".", "--out", "report.html"]


def _sim_bingx_port_out_of_range(d: Path) -> list[str]:
    return ["sim-bingx", "--port", "99999"]


CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("non-UTF-8 config", _non_utf8_config, "config file bad.toml: not UTF-8 text"),
    ("data dir is a file", _data_dir_is_a_file, "data dir (afile) could not start: it exists and is not a directory"),
    ("data dir below a file", _data_dir_below_a_file, "a part of its path is a file, not a directory"),
    ("run on a garbled journal", _run_garbled_journal, "journal data/journal.sqlite cannot be read"),
    ("audit of a garbled journal", _audit_garbled_journal, "journal data/journal.sqlite cannot be read"),
    ("status of a garbled plane.json", _status_garbled_plane, "data/plane.json is not a state plane manifest"),
    ("report --out a file", _report_out_a_file, "--out report.html is a file: give a directory"),
    ("sim-bingx --port 99999", _sim_bingx_port_out_of_range, "--port"),
]


@pytest.mark.parametrize(("make", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_named_without_a_traceback(tmp_path: Path, make: Callable[[Path], list[str]],
                                                text: str) -> None:
    args = make(tmp_path)
    before = {p: _digest(p) for p in tmp_path.rglob("*") if p.is_file()}
    refused(pink(tmp_path, *args), text)
    assert {p: _digest(p) for p in before} == before  # what was there is as it was


def test_a_run_over_a_garbled_plane_json_replaces_it(tmp_path: Path) -> None:
    _garbled_plane(tmp_path)
    out = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "3", "--data-dir", "data")
    assert out.returncode == 0 and "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr


def test_sim_bingx_on_a_port_in_use_says_so(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        refused(pink(tmp_path, "sim-bingx", "--port", str(port)), "address already in use")


def test_audit_never_writes_the_journal_it_reads(tmp_path: Path) -> None:
    """A 0-byte journal.sqlite was opened read-write: made a WAL database with tables."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "journal.sqlite").touch()
    refused(pink(tmp_path, "audit", "--data-dir", "data"), "journal data/journal.sqlite is empty or not a PINK journal")
    assert sorted(p.name for p in data.iterdir()) == ["journal.sqlite"]
    assert (data / "journal.sqlite").stat().st_size == 0


def test_a_real_journal_is_read_byte_for_byte_unchanged(tmp_path: Path) -> None:
    from pink.journal import read_journal_records

    assert pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "30", "--data-dir", "data",
                PINK_PLANE="none").returncode == 0
    journal = tmp_path / "data" / "journal.sqlite"
    before = _digest(journal)
    records = read_journal_records(journal)
    assert records is not None and records.messages is not None and list(records.messages())  # (read lazily)
    assert _digest(journal) == before
    wal = journal.with_name("journal.sqlite-wal")  # SQLite's own, for a reader of a WAL database: empty
    assert not wal.exists() or wal.stat().st_size == 0


def test_control_that_cannot_write_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "2", "--data-dir", "data",
                PINK_PLANE="none").returncode == 0
    (data / "control.json").unlink(missing_ok=True)
    (data / "control.json").mkdir()  # a path that cannot be written (as root, a read-only mode is no bar)
    refused(pink(tmp_path, "control", "kill", "--data-dir", "data"), "cannot write the control switches in data")


def test_no_fast_on_the_command_line_turns_off_fast_from_a_config_file(tmp_path: Path) -> None:
    (tmp_path / "f.toml").write_text('venue = "bingx"\nfast = true\n')
    refused(pink(tmp_path, "run", "--no-view", "--config", "f.toml"), "config fast: needs venue=sim")
    out = pink(tmp_path, "run", "--no-view", "--config", "f.toml", "--no-fast")
    assert "config fast" not in out.stdout + out.stderr  # it goes on to the next check (BingX keys)
    refused(out, "BingX API key and secret are required")


SIM = {"PINK_BINGX_BASE_URL": "http://127.0.0.1:9", "PINK_BINGX_WS_URL": "ws://127.0.0.1:9/swap-market",
       "PINK_BINGX_API_KEY": "k", "PINK_BINGX_SECRET_KEY": "s"}


@pytest.mark.parametrize(("env", "text"), [
    ({**SIM, "PINK_BINGX_API_KEY": "k\n"}, "PINK_BINGX_API_KEY has a space or a control character"),
    ({**SIM, "PINK_BINGX_PRESET": "demo"}, "PINK_BINGX_PRESET='demo' is not a BingX preset"),
    ({**SIM, "PINK_BINGX_BASE_URL": "127.0.0.1:9"}, "PINK_BINGX_BASE_URL='127.0.0.1:9' is not an http(s) URL"),
    ({"PINK_BINGX_WS_URL": "ws://127.0.0.1:9/swap-market", "PINK_BINGX_API_KEY": "k", "PINK_BINGX_SECRET_KEY": "s"},
     "PINK_BINGX_WS_URL is set without PINK_BINGX_BASE_URL"),
], ids=["key with a line end", "preset misspelt", "URL without a scheme", "stream without REST"])
def test_a_bingx_setting_a_trader_gets_wrong_is_named_without_a_traceback(tmp_path: Path, env: dict[str, str],
                                                                          text: str) -> None:
    """A key pasted with its line end reached the HTTP client's header check: a traceback."""
    assert pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "3", "--data-dir", "data").returncode == 0
    before = {p: _digest(p) for p in (tmp_path / "data").rglob("*") if p.is_file() and p.name != "pink.log"}
    refused(pink(tmp_path, "run", "--venue", "bingx", "--no-view", "--cycles", "1", "--data-dir", "data", **env), text)
    assert {p: _digest(p) for p in before} == before


@pytest.fixture(scope="module")
def sim_bingx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real `pink sim-bingx` on a free loopback port."""
    port = free_port()
    server = subprocess.Popen([*PINK, "sim-bingx", "--port", str(port)], cwd=tmp_path_factory.mktemp("sim"),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        assert f"127.0.0.1:{port}" in server.stdout.readline()
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
        assert server.stdout is not None
        server.stdout.close()


def _at(port: int, **more: str) -> dict[str, str]:
    return {"PINK_BINGX_BASE_URL": f"http://127.0.0.1:{port}", "PINK_BINGX_WS_URL": f"ws://127.0.0.1:{port}/swap-market",
            "PINK_BINGX_API_KEY": "pink-sim-api-key", "PINK_BINGX_SECRET_KEY": "pink-sim-secret-key", **more}


@pytest.mark.parametrize(("env", "texts"), [
    (lambda port: _at(free_port()),
     ["nothing answered at http://127.0.0.1:", "PINK_BINGX_BASE_URL", "is `pink sim-bingx` running"]),
    (lambda port: _at(port, PINK_BINGX_SECRET_KEY="not-the-secret"),
     ["BingX refused the API key", "PINK_BINGX_API_KEY and PINK_BINGX_SECRET_KEY"]),
    (lambda port: _at(port, PINK_BINGX_API_KEY="not-the-key"),
     ["BingX refused the API key", "PINK_BINGX_API_KEY and PINK_BINGX_SECRET_KEY"]),
], ids=["no network", "wrong secret", "wrong key"])
def test_a_bingx_venue_that_cannot_start_names_the_setting_to_check(
    tmp_path: Path, sim_bingx: int, env: Callable[[int], dict[str, str]], texts: list[str]
) -> None:
    """It said only 'venue error NETWORK: NETWORK: ClientConnectorError', or BingX's own text."""
    out = pink(tmp_path, "run", "--venue", "bingx", "--no-view", "--cycles", "1", "--data-dir", "data",
               **env(sim_bingx))
    for text in texts:
        refused(out, text)
    assert "not-the-secret" not in out.stdout + out.stderr
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["pink.log", "run.lock"]  # nothing recorded

"""The whole system as a user runs it: `pink run`, `pink status`, `pink control`, `pink audit`, `pink report`.

Every command runs as a real process (each opens its own chDB ledger: one chDB path per process).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.projection.svc import free_port

ROOT = Path(__file__).resolve().parents[1]
PINK = [sys.executable, "-m", "pink.cli.main"]
TABLES = ("policy_events", "trade_events", "account_events", "position_state", "trade_reconstruction")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINK_")}
    env.update(COLUMNS="160", **extra)
    return env


def pink(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PINK, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=_env(**env))


def _count_rows(data: Path) -> dict[str, int]:
    code = (
        "import json, sys, clickhouse_connect\n"
        "c = clickhouse_connect.get_client(dsn='chdb:///' + sys.argv[1])\n"
        "q = lambda t: c.query(f'SELECT count() FROM pink.{t} FINAL').result_rows[0][0]\n"
        f"print(json.dumps({{t: q(t) for t in {TABLES!r}}}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(data / "ledger")], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _tamper(data: Path) -> None:
    code = (
        "import sys, clickhouse_connect\n"
        "c = clickhouse_connect.get_client(dsn='chdb:///' + sys.argv[1])\n"
        "c.command('ALTER TABLE pink.account_events UPDATE capital_after = capital_after + 1 WHERE seq = 3 "
        "SETTINGS mutations_sync = 1')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(data / "ledger")], timeout=120, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-2000:]


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("paper")
    res = pink("run", "--fast", "--cycles", "400", "--seed", "3", "--data-dir", str(data), "--no-view")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "run summary" in res.stdout and "win rate" in res.stdout
    return data


def test_paper_run_fills_all_five_tables_and_audit_passes(paper_run: Path) -> None:
    counts = _count_rows(paper_run)
    assert all(counts[t] > 0 for t in TABLES), counts
    res = pink("audit", "--data-dir", str(paper_run))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "audit passed" in res.stdout and "compared with the ledger" in res.stdout


def test_report_renders_charts_and_headline_figures(paper_run: Path, tmp_path: Path) -> None:
    res = pink("report", "--data-dir", str(paper_run), "--out", str(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    html = next(tmp_path.glob("*.html")).read_text()
    assert html.count("data:image/png;base64,") >= 4
    for words in ("net PnL", "win rate", "max drawdown"):
        assert words.lower() in html.lower(), words


def test_audit_fails_on_a_tampered_row_naming_it(paper_run: Path) -> None:
    """Runs after the other paper_run tests (file order): it tampers the run's ledger in place."""
    _tamper(paper_run)
    res = pink("audit", "--data-dir", str(paper_run))
    assert res.returncode != 0
    assert "account_events" in res.stdout and "seq 3" in res.stdout.replace("seq=3", "seq 3"), res.stdout[-2000:]


def test_e26_killed_run_restarts_on_its_journal_and_the_ledger_has_every_row_once(tmp_path: Path) -> None:
    data = tmp_path / "crash"
    proc = subprocess.Popen(
        [*PINK, "run", "--fast", "--cycles", "100000", "--data-dir", str(data), "--no-view"],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            journal = data / "journal.sqlite"
            if journal.exists():
                with sqlite3.connect(journal) as db:
                    try:
                        n = db.execute("SELECT count(*) FROM messages").fetchone()[0]
                    except sqlite3.OperationalError:
                        n = 0
                if n > 300:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the run never journaled 300 messages")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    res = pink("run", "--fast", "--cycles", "30", "--data-dir", str(data), "--no-view")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    audit = pink("audit", "--data-dir", str(data))
    assert audit.returncode == 0, audit.stdout[-3000:]


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} never appeared")
        time.sleep(0.1)


@pytest.fixture
def live_run(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    data = tmp_path / "live"
    cfg = tmp_path / "pink.toml"
    cfg.write_text("cycle_s = 0.2\nhealth_interval_s = 0.5\n")
    proc = subprocess.Popen(
        [*PINK, "run", "--data-dir", str(data), "--config", str(cfg), "--no-view"],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(data / "plane.json")
        _wait_for(data / "health.json")
        yield data, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()


def test_status_health_and_control_work_against_a_running_pink_run(
    live_run: tuple[Path, subprocess.Popen[str]],
) -> None:
    data, proc = live_run
    status = pink("status", "--data-dir", str(data))
    assert status.returncode == 0, status.stdout + status.stderr
    assert "slots of paper / rt1" in status.stdout and "capital" in status.stdout
    health = pink("health", "--data-dir", str(data))
    assert health.returncode == 0, health.stdout
    assert "embedded chdb" in health.stdout
    ctl = pink("control", "kill", "--data-dir", str(data), "--by", "ops", "--note", "drill")
    assert ctl.returncode == 0, ctl.stdout + ctl.stderr
    bad = pink("control", "set-max-leverage", "-3", "--data-dir", str(data))
    assert bad.returncode != 0 and "leverage" in (bad.stdout + bad.stderr).lower()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = pink("status", "--data-dir", str(data))
        if "kill=True" in status.stdout and "by ops" in status.stdout:
            break
        time.sleep(0.3)
    else:
        pytest.fail("status never showed the kill switch: " + status.stdout[-2000:])
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-3000:]
    assert "close_plane" in out and out.index("flush_ledger") < out.index("close_venue")
    audit = pink("audit", "--data-dir", str(data))
    assert audit.returncode == 0, audit.stdout[-2000:]
    code = (
        "import sys, clickhouse_connect\n"
        "c = clickhouse_connect.get_client(dsn='chdb:///' + sys.argv[1])\n"
        "print(c.query(\"SELECT cause FROM pink.position_state FINAL WHERE kind = 'CONTROL'\").result_rows)\n"
    )
    rows = subprocess.run(
        [sys.executable, "-c", code, str(data / "ledger")], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "by ops" in rows  # the control change is in the ledger, with who made it


@pytest.mark.services
def test_projection_reaches_real_redis_and_hazelcast_from_a_paper_run(tmp_path: Path) -> None:
    if os.environ.get("PINK_SERVICES") != "1":
        pytest.skip("needs scripts/services.sh (PINK_SERVICES=1)")
    import redis

    redis_url = os.environ.get("PINK_REDIS_URL", "redis://127.0.0.1:6390/0")
    members = os.environ.get("PINK_HAZELCAST_ADDR", "127.0.0.1:5710")
    res = pink(
        "run",
        "--fast",
        "--cycles",
        "200",
        "--data-dir",
        str(tmp_path / "p"),
        "--no-view",
        PINK_PROJECTION="redis,hazelcast",
        PINK_REDIS_URL=redis_url,
        PINK_HAZELCAST_MEMBERS=members,
        PINK_HAZELCAST_CLUSTER="pink-test",  # the test member's cluster (scripts/services.sh)
        PINK_ACCOUNT_ID="e2e",
        PINK_RUNTIME_ID=f"r{os.getpid()}",
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    client = redis.Redis.from_url(redis_url)
    try:
        keys = {k.decode() for k in client.keys(f"pink:e2e:r{os.getpid()}:*")}
        assert any(":slot:" in k for k in keys) and any("account" in k for k in keys), keys
        stream = next(k for k in keys if "events" in k)
        assert client.xlen(stream) > 0
    finally:
        client.close()
    from pink.projection.sinks import load_hazelcast

    hz = load_hazelcast().HazelcastClient(
        cluster_members=[members], cluster_name="pink-test", cluster_connect_timeout=5.0
    )
    try:
        state = hz.get_map(f"pink:e2e:r{os.getpid()}:state").blocking()
        entries = set(state.key_set())
        assert "account" in entries and any(str(k).startswith("slot:") for k in entries), entries
    finally:
        hz.shutdown()


def _readme_bingx_env(port: int) -> dict[str, str]:
    """The PINK_BINGX_* variables of the README's "point the adapter at the simulator" snippet."""
    text = (ROOT / "README.md").read_text()
    snippet = text.split("pink sim-bingx --port 8765 &", 1)[1].split("```", 1)[0]
    env = dict(re.findall(r"(PINK_BINGX_\w+)=(\S+)", snippet))
    assert set(env) == {"PINK_BINGX_BASE_URL", "PINK_BINGX_WS_URL", "PINK_BINGX_MARKET_WS_URL",
                        "PINK_BINGX_API_KEY", "PINK_BINGX_SECRET_KEY"}, env  # fmt: skip
    return {k: v.replace(":8765", f":{port}") for k, v in env.items()}


def test_readme_runs_on_bingx_each_name_a_data_dir_of_their_own() -> None:
    """The quickstart's paper run fills the default data dir (./data) with a simulator journal, and a
    journal is refused to another venue: the README's BingX commands, copied as written after it,
    stopped at "it was made on venue 'sim'". Each names a data dir, and no two venues share one."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    runs = [line for b in blocks for line in b.replace("\\\n", " ").splitlines()
            if "pink run" in line and "--venue bingx" in line]
    assert len(runs) >= 3, runs  # the demo, live, and the simulator server
    dirs = []
    for line in runs:
        m = re.search(r"--data-dir (\S+)", line)
        assert m is not None, f"no --data-dir: {line}"
        dirs.append(Path(m[1]))
    assert Path("data") not in dirs and len(set(dirs)) == len(dirs), dirs


def test_pink_run_on_bingx_adapter_against_pink_sim_bingx_paper_trades_end_to_end(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [*PINK, "sim-bingx", "--port", str(port), "--seed", "5"],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert f"127.0.0.1:{port}" in banner, banner
        cfg = tmp_path / "pink.toml"
        cfg.write_text("cycle_s = 0.3\n")
        res = pink(
            "run",
            "--venue",
            "bingx",
            "--cycles",
            "40",
            "--data-dir",
            str(tmp_path / "bx"),
            "--config",
            str(cfg),
            "--no-view",
            **_readme_bingx_env(port),  # the README's own snippet: it must work as written
        )
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        fills = int(res.stdout.split("fills / intents")[1].split("│")[1].split("/")[0])
        assert fills > 0, res.stdout[-2000:]
        assert "pink-sim-secret-key" not in res.stdout + res.stderr
        audit = pink("audit", "--data-dir", str(tmp_path / "bx"))
        assert audit.returncode == 0, audit.stdout[-2000:]
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout:
            server.stdout.close()


def test_audit_of_a_data_dir_without_a_ledger_says_so_and_creates_nothing(tmp_path: Path) -> None:
    res = pink("audit", "--data-dir", str(tmp_path / "nothing"))
    assert res.returncode == 2
    assert "no ledger at" in res.stdout and "pink run" in res.stdout
    assert not (tmp_path / "nothing").exists()


def test_f21_a_second_ctrl_c_while_closing_never_cuts_the_ordered_close_short(
    live_run: tuple[Path, subprocess.Popen[str]],
) -> None:
    """An impatient trader presses Ctrl-C twice (or a supervisor signals the whole process group
    and the process itself). The second used to reach Python's default handler once the first
    had stopped the run: the close was cut short (venue sessions left open, no summary, exit 130)."""
    data, proc = live_run
    for pause in (0.0, 0.0, 0.05):  # (two at once may arrive as one: a third a moment later)
        time.sleep(pause)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-3000:]
    assert "run summary" in out and "close_venue" in out, out[-3000:]
    assert "Unclosed" not in out and "Traceback" not in out
    audit = pink("audit", "--data-dir", str(data))
    assert audit.returncode == 0, audit.stdout[-2000:]


def test_f21_ctrl_c_while_starting_stops_the_start_and_closes_what_started(tmp_path: Path) -> None:
    """A venue that never answers (its REST calls hang until their timeout): Ctrl-C stops the start
    at once, closes what had started, and exits 0 with no traceback."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    env = _env(PINK_BINGX_BASE_URL=url, PINK_BINGX_WS_URL=url.replace("http", "ws"),
               PINK_BINGX_MARKET_WS_URL=url.replace("http", "ws"), PINK_BINGX_API_KEY="k",
               PINK_BINGX_SECRET_KEY="s")  # fmt: skip
    proc = subprocess.Popen(
        [*PINK, "run", "--venue", "bingx", "--data-dir", str(tmp_path / "d"), "--no-view"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        time.sleep(3)  # well into the start: the first REST call hangs
        assert proc.poll() is None, proc.communicate()[0][-2000:]
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out[-3000:]
        assert "stopped while starting" in out and "Traceback" not in out, out[-3000:]
        assert time.monotonic() - started < 20  # not after the calls' own timeouts ran out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        silent.close()


def test_e26_a_journal_out_of_room_stops_pink_run_loudly_with_its_summary_and_the_next_run_continues(
    live_run: tuple[Path, subprocess.Popen[str]],
) -> None:
    """The disk fills under a running `pink run` (for real: the process's file size limit, set from
    outside, makes the journal's next write fail with SQLite's own "database or disk is full").
    The run stops at once, says why, still prints what it did and how it closed, and a new run on
    the same data dir continues the account from what the journal holds."""
    import resource

    data, proc = live_run
    journal = data / "journal.sqlite"
    _wait_for(journal.with_name("journal.sqlite-wal"))
    time.sleep(2)  # some trading first
    sizes = [p.stat().st_size for p in (journal, journal.with_name("journal.sqlite-wal"))]
    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (max(sizes) + 4096, max(sizes) + 4096))
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, out[-3000:]
    assert "error: journal" in out and "not written" in out, out[-3000:]
    assert "run summary" in out and "no final snapshot" in out, out[-3000:]
    again = pink("run", "--fast", "--cycles", "20", "--data-dir", str(data), "--no-view")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "run summary" in again.stdout

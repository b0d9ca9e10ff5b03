"""``pink run`` as a user runs it (a real process): what it prints around a run."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_bad_input import PINK, pink, refused


def run_pink(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real ``pink`` process with its ledger (chDB): for ``pink audit``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINK_")}
    return subprocess.run([*PINK, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**env, "COLUMNS": "200", "PINK_PLANE": "none"})


def test_a_refused_start_prints_its_error_and_no_summary(tmp_path: Path) -> None:
    out = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "2", "--data-dir", "data",
               "--closed-outside", "nosuch=100", PINK_PLANE="none")
    refused(out, "trade 'nosuch' is not open on any slot")
    assert out.returncode == 2
    assert "run summary" not in out.stdout, out.stdout  # no run: nothing to sum up


def _guide_example() -> str:
    guide = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
    return next(b for b in re.findall(r"```python\n(.*?)```", guide.read_text(), re.S) if "class DipBuyer" in b)


def test_the_guides_policy_file_runs_with_the_guides_command_and_its_run_passes_audit(tmp_path: Path) -> None:
    (tmp_path / "dip.py").write_text(_guide_example())  # copied into a file, as the guide says
    (tmp_path / "helper.py").write_text("def make():\n    from dip import DipBuyer\n    from pink.policy.base "
                                        "import MarginSizer\n    return DipBuyer('ETH-USDT'), MarginSizer()\n")
    for spec, data in (("dip.py:DipBuyer", "data/dip"), ("helper:make", "data/eth")):
        out = run_pink(tmp_path, "run", "--policy", spec, "--fast", "--cycles", "2000", "--no-view",
                       "--data-dir", data)
        assert out.returncode == 0 and "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr
        text = " ".join(out.stdout.replace("│", " ").split())
        assert f"policy {spec}" in text, text
        fills = int(re.search(r"fills / intents (\d+) / \d+", text).group(1))  # type: ignore[union-attr]
        assert fills > 0, text
        audit = run_pink(tmp_path, "audit", "--data-dir", data)
        assert audit.returncode == 0 and "audit passed" in audit.stdout, audit.stdout + audit.stderr


def test_the_sample_policy_is_named_in_the_summary(tmp_path: Path) -> None:
    out = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "3", "--data-dir", "data", PINK_PLANE="none")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "policy SAMPLE" in " ".join(out.stdout.replace("│", " ").split()), out.stdout


def test_a_start_says_what_trades_where_before_the_first_cycle(tmp_path: Path) -> None:
    """Which policy, on which venue (the demo or live: its host) and under which account: said
    only at the end, in the summary, after the run had traded."""
    out = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "3", "--data-dir", "data", PINK_PLANE="none")
    assert out.returncode == 0, out.stdout + out.stderr
    first = out.stdout.splitlines()[0]
    assert first == ("trading: policy SAMPLE on venue sim, account paper / runtime rt1, 8 slots, "
                     "symbols BTC-USDT, DOGE-USDT, ETH-USDT"), out.stdout


BAD_POLICIES: list[tuple[str, str, str]] = [
    # (--policy, what the error says, a file to write first: "name=source")
    ("nosuch:Policy", "policy nosuch:Policy: no module nosuch", ""),
    ("nosuch.py:Policy", "policy nosuch.py:Policy: no file nosuch.py", ""),
    ("pol.py:Missing", "policy pol.py:Missing: pol.py has no Missing", "pol.py=class P:\n    pass\n"),
    ("pol.py:DipByer", "policy pol.py:DipByer: pol.py has no DipByer (DipBuyer?)", "pol.py=class DipBuyer: pass\n"),
    ("pol.py:P", "policy pol.py:P: P() gave a P, not a decision engine", "pol.py=class P:\n    pass\n"),
    ("pol.py:x", "policy pol.py:x: x is of type int, not a class or a zero-argument factory", "pol.py=x = 1\n"),
    ("pol.py:P", "policy pol.py:P: importing pol.py failed: SyntaxError", "pol.py=class P(\n"),
    ("pol.py:P", "policy pol.py:P: importing pol.py failed: ModuleNotFoundError: No module named 'nothere'",
     "pol.py=import nothere\n"),
    ("pol:P", "policy pol:P: P() failed: TypeError", "pol.py=class P:\n    def __init__(self, a):\n"
     "        pass\n    def decide(self, snap):\n        return []\n"),
    ("pol.py", "policy 'pol.py': give MODULE:NAME", ""),
    ("pol.py:P", "policy pol.py:P: P().decide is async (async def): the runtime calls decide(snapshot) and "
     "uses the list it returns", "pol.py=class P:\n    async def decide(self, snap):\n        return []\n"),
    ("pol.py:make", "policy pol.py:make: make is async (async def): give a class or a plain function",
     "pol.py=async def make():\n    pass\n"),
]


@pytest.mark.parametrize(("spec", "text", "source"), BAD_POLICIES, ids=[f"{c[0]} {c[1][-30:]}" for c in BAD_POLICIES])
def test_a_bad_policy_is_named_and_nothing_starts(tmp_path: Path, spec: str, text: str, source: str) -> None:
    if source:
        name, _, code = source.partition("=")
        (tmp_path / name).write_text(code)
    for how in (("--policy", spec), ()):
        env = {} if how else {"PINK_POLICY": spec}
        out = pink(tmp_path, "run", *how, "--fast", "--no-view", "--cycles", "2", "--data-dir", "data", **env)
        refused(out, text)
        assert out.returncode == 2
        assert "run summary" not in out.stdout
        assert not (tmp_path / "data").exists()  # nothing started


SLOPPY_POLICY = """\
from decimal import Decimal
from pink.kernel import Action, Side
from pink.policy.base import Decision


class Sloppy:
    def decide(self, snap):
        if snap.cycle != 2:
            return []
        return [Decision(Action.ENTER, 0, asset="BTC-USDT", side=Side.LONG, margin=Decimal(100), reason=None),
                Decision(Action.ENTER, 1, asset="BTC-USDT", side=Side.LONG, margin=Decimal(100))]
"""


def test_e11_a_decision_the_journal_could_not_hold_is_named_counted_and_the_data_dir_restarts(
    tmp_path: Path,
) -> None:
    """Flaw E11: a reason of None once left a journal that no later run could restore."""
    (tmp_path / "sloppy.py").write_text(SLOPPY_POLICY)
    out = pink(tmp_path, "run", "--policy", "sloppy.py:Sloppy", "--fast", "--no-view", "--cycles", "4",
               "--data-dir", "data", PINK_PLANE="none")
    assert out.returncode == 0, out.stdout + out.stderr
    text = " ".join(out.stdout.replace("│", " ").split())
    assert "policy output dropped (see the log) 1" in text and "fills / intents 1 / 1" in text, text
    named = "policy cycle 2: decision 0 (ENTER slot 0): reason: must be a str, got NoneType None"
    assert named in (tmp_path / "data" / "pink.log").read_text() and named in text
    again = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "2", "--data-dir", "data", PINK_PLANE="none")
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_run_logs_to_its_data_dir_with_times_and_warns_on_the_terminal(tmp_path: Path) -> None:
    """Nothing set logging up: PINK's INFO lines went nowhere, and its warnings reached the
    terminal bare, without a time, through Python's last-resort handler."""
    for _ in range(2):
        out = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "20", "--data-dir", "data",
                   PINK_PLANE="none", PINK_LEDGER="none")
        assert out.returncode == 0, out.stdout + out.stderr
    log = (tmp_path / "data" / "pink.log").read_text()
    line = next(x for x in log.splitlines() if "simulator restarted from the journal's book" in x)
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO pink\.runtime\.paper: ", line), line
    assert "simulator restarted" not in out.stdout + out.stderr  # INFO: the file only
    db = sqlite3.connect(tmp_path / "data" / "journal.sqlite")
    with db:
        db.execute("DELETE FROM meta WHERE key = 'sim_prices'")  # (a journal from before they were kept)
    db.close()
    out = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "3", "--data-dir", "data",
               PINK_PLANE="none", PINK_LEDGER="none")
    said = "the journal kept no last prices"
    assert any(" WARNING pink.runtime.paper: simulator: " + said in x
               for x in (tmp_path / "data" / "pink.log").read_text().splitlines())
    shown = " ".join(out.stdout.split())
    assert "WARNING" in shown and said in shown, out.stdout


def test_e26_positions_the_venue_no_longer_holds_are_named_with_how_to_book_them(tmp_path: Path) -> None:
    """A restarted `pink sim-bingx` is a new, empty account (as a position closed at BingX whose
    fills PINK cannot find): the start said only 'position mismatch ... kernel 0.03 venue 0', and
    the slots stayed open for ever, every exit refused NO_VENUE_POSITION."""
    from tests.cli.test_bad_input import _at
    from tests.projection.svc import free_port

    port = free_port()
    env = {**_at(port), "PINK_CYCLE_S": "0.3"}
    for cycles in ("15", "1"):  # the first run leaves positions open (a stop does not flatten)
        server = subprocess.Popen([*PINK, "sim-bingx", "--port", str(port)], cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert server.stdout is not None
            assert f"127.0.0.1:{port}" in server.stdout.readline()
            out = pink(tmp_path, "run", "--venue", "bingx", "--no-view", "--cycles", cycles, "--data-dir", "data",
                       **env)
            assert out.returncode == 0, out.stdout + out.stderr
        finally:
            server.terminate()
            server.wait(timeout=30)
            assert server.stdout is not None
            server.stdout.close()
    text = " ".join(out.stdout.split())
    assert "position mismatch" in text, text
    hint = re.search(r"not held at the venue: trade\(s\) ([\w, -]+) on (.*?)\. If they were closed outside PINK", text)
    assert hint is not None, text
    assert "--closed-outside TRADE_ID=PRICE[:FEE]" in text, text


def test_a_start_says_which_operator_switches_are_still_in_force(tmp_path: Path) -> None:
    """A switch stays in control.json for every later run: a run started the next day under a pause
    set the day before entered nothing, and said so only as refusals in its summary at the end."""
    first = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "2", "--data-dir", "data", PINK_PLANE="none")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "in force" not in first.stdout  # nothing set: nothing to say
    for switch in ("pause-entries", "kill"):
        ctl = pink(tmp_path, "control", switch, "--data-dir", "data", "--by", "ops", "--note", "lunch")
        assert ctl.returncode == 0, ctl.stdout + ctl.stderr
    out = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "2", "--data-dir", "data", PINK_PLANE="none")
    assert out.returncode == 0, out.stdout + out.stderr
    text = " ".join(out.stdout.split())
    assert "operator switches in force (v2 by ops: lunch): entries paused, kill switch on" in text, text
    assert "pink control resume" in text and "pink control unkill" in text, text


REPLAY = Path(__file__).resolve().parents[1] / "fixtures" / "sim" / "btc_replay_trades.csv"
ONE_ENTRY = '''from decimal import Decimal
from pink.kernel import Action, Side
from pink.policy.base import Decision


class One:
    def __init__(self):
        self.sent = False

    def decide(self, snap):
        if self.sent:
            return []
        self.sent = True
        return [Decision(Action.ENTER, 0, asset="BTC-USDT", side=Side.LONG, quantity=Decimal("0.01"))]
'''


def test_a_paper_run_from_a_config_file_trades_at_its_fees_on_its_replayed_prices(tmp_path: Path) -> None:
    """`pink run --config` with the simulated market's settings: the fee tier, the spread and a
    CSV replay of BTC-USDT are what the run trades on."""
    import json

    (tmp_path / "one.py").write_text(ONE_ENTRY)
    (tmp_path / "pink.toml").write_text(
        f'fast = true\ncycles = 60\ncycle_s = 5.0\nsim_maker_fee = 0.0001\nsim_taker_fee = "0.0004"\n'
        f'sim_spread_ticks = 2\n\n[sim_replay]\nBTC-USDT = "{REPLAY}"\n')
    out = pink(tmp_path, "run", "--config", "pink.toml", "--policy", "one.py:One", "--no-view", "--data-dir", "data",
               PINK_PLANE="none")
    assert out.returncode == 0 and "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr
    text = " ".join(out.stdout.replace("│", " ").split())
    # one taker BUY of 0.01 at the file's 42050.0 at +5 s, on an ask 2 ticks above the bid (42049.9):
    # 0.01 x 42050.1 x 0.0004 = 0.16820040 (0.2102505 at the default 0.05 %)
    assert "fees (all fills) 0.1682" in text and "fills / intents 1 / 1" in text, text
    db = sqlite3.connect(tmp_path / "data" / "journal.sqlite")
    meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('sim_prices', 'sim_time')").fetchall())
    db.close()
    rows = [line.split(",") for line in REPLAY.read_text().splitlines()[1:]]
    at = [r[1] for r in rows if int(r[0]) * 1_000_000 <= int(meta["sim_time"])][-1]
    assert json.loads(meta["sim_prices"])["BTC-USDT"] == at  # the market the run ended on: the file's


def test_a_malformed_replay_file_is_refused_naming_its_line_before_anything_trades(tmp_path: Path) -> None:
    (tmp_path / "btc.csv").write_text("ts_ms,price\n1704067200000,42000\n1704067205000,42x\n")
    (tmp_path / "pink.toml").write_text('fast = true\ncycles = 5\n[sim_replay]\nBTC-USDT = "btc.csv"\n')
    out = pink(tmp_path, "run", "--config", "pink.toml", "--no-view", "--data-dir", "data", PINK_PLANE="none")
    refused(out, "config sim_replay: BTC-USDT: btc.csv:3: price: not a number: '42x'")
    assert out.returncode == 2 and not (tmp_path / "data" / "journal.sqlite").exists()


def test_audit_of_a_journal_with_a_message_deleted_fails_naming_it(tmp_path: Path) -> None:
    """`pink audit` read the journal's records and compared them with the ledger, which had the
    deleted message's rows: "ledger row ... is not in the journal", never that the journal itself
    has a hole (nor, for a snapshot that disagrees with the messages, anything at all)."""
    out = run_pink(tmp_path, "run", "--fast", "--cycles", "60", "--no-view", "--data-dir", "data")
    assert out.returncode == 0, out.stdout + out.stderr
    with sqlite3.connect(tmp_path / "data" / "journal.sqlite") as db:
        db.execute("DELETE FROM messages WHERE seq = 20")
    db.close()
    audit = run_pink(tmp_path, "audit", "--data-dir", "data")
    text = " ".join(audit.stdout.split())
    assert audit.returncode == 1 and "Traceback" not in text + audit.stderr, text + audit.stderr
    assert "journal data/journal.sqlite is damaged: message 20 is missing (the one after message 19 is 21); " \
           "the ledger was not compared with it" in text, text  # fmt: skip
    assert "audit failed: 1 differences" in text, text


def _journaled(data: Path) -> int:
    """Messages in a running run's journal (0 before it has any)."""
    journal = data / "journal.sqlite"
    if not journal.exists():
        return 0
    with sqlite3.connect(journal) as db:
        try:
            return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def _wait_journaled(proc: subprocess.Popen[str], data: Path, at_least: int) -> int:
    """Wait (at most two minutes) until the run's journal holds ``at_least`` messages."""
    import time

    deadline = time.monotonic() + 120
    while (n := _journaled(data)) < at_least:
        assert proc.poll() is None, "the run ended before it journaled enough"
        assert time.monotonic() < deadline, f"the run journaled only {n} messages"
        time.sleep(0.1)
    return n


@contextmanager
def _spawn(cwd: Path, data: Path, *args: str, preexec_fn: Any = None, **env: str) -> Iterator[subprocess.Popen[str]]:
    """A real `pink run --fast --no-view` on ``data`` in its own process (no plane, no ledger
    unless ``env`` says), its output piped; ``env`` beside the caller's non-PINK variables. Killed
    after the block if it still runs then (a test that failed before it ended)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PINK_")}
    proc = subprocess.Popen([*PINK, "run", "--fast", "--no-view", "--data-dir", str(data), *args], cwd=cwd,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=preexec_fn,
                            env={**base, "COLUMNS": "250", "PINK_PLANE": "none", "PINK_LEDGER": "none", **env})
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_f21_a_close_step_that_fails_makes_pink_run_exit_non_zero_naming_it(tmp_path: Path) -> None:
    """A ledger server gone before the close: its records could not be written, the close said
    so only in the log and `pink run` exited 0, so a trader's script took the run as clean. It
    exits 1 with a last line naming the step; the journal keeps the records (re-put on restart)."""
    import signal

    from tests.ledger.ledger_front import Front

    front = Front(tmp_path / "ch").start()
    data = tmp_path / "data"
    try:
        with _spawn(tmp_path, data, "--ledger-url", front.url, COLUMNS="80", PINK_LEDGER="chdb",
                    PINK_CLOSE_TIMEOUT_S="1") as proc:
            n = _wait_journaled(proc, data, 200)
            front.stop()  # the ledger server is gone
            _wait_journaled(proc, data, n + 200)  # and the run went on: records it could not write
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=120)
    finally:
        front.stop()
    assert proc.returncode == 1, out[-3000:]
    last = out.strip().splitlines()[-1]
    assert "close failed at flush_ledger" in last and "journal" in last, out[-3000:]
    assert "close: stop_policy" in out and "close_venue" in out  # every later step still ran


@pytest.mark.parametrize("signals", [("SIGTERM",), ("SIGTERM", "SIGINT")])
def test_f21_signals_repeated_through_the_close_and_after_it_never_kill_pink_run(
    tmp_path: Path, signals: tuple[str, ...]
) -> None:
    """A supervisor sends SIGTERM again (and again) until the process is gone. Only SIGINT was
    ignored once the close was over: a SIGTERM then, while the process was still shutting down,
    killed it (exit 143). Every one, from the first until the process ends, is now taken in."""
    import signal
    import time

    data = tmp_path / "data"
    with _spawn(tmp_path, data) as proc:
        _wait_journaled(proc, data, 200)
        sent = 0
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:  # from the first to the process's end
            proc.send_signal(getattr(signal, signals[sent % len(signals)]))
            sent += 1
            time.sleep(0.002)
        out, _ = proc.communicate(timeout=60)
    assert sent > 2 and proc.returncode == 0, (sent, proc.returncode, out[-3000:])
    assert "run summary" in out and "close_venue" in out and "Traceback" not in out, out[-3000:]
    assert out.count("closing in order") <= 1  # said once, however often signalled


def test_f21_a_hangup_closes_the_run_in_order(tmp_path: Path) -> None:
    """The terminal (or the ssh session) that ran `pink run` goes away: SIGHUP killed the process
    where it stood, with no ordered close (venue calls in flight unrecorded, the ledger not
    flushed, no summary). It now closes in order, as SIGTERM does."""
    import signal

    data = tmp_path / "data"
    with _spawn(tmp_path, data) as proc:
        _wait_journaled(proc, data, 200)
        proc.send_signal(signal.SIGHUP)
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, (proc.returncode, out[-3000:])
    assert "run summary" in out and "close_venue" in out and "Traceback" not in out, out[-3000:]


def test_a_run_started_under_nohup_goes_on_through_a_hangup(tmp_path: Path) -> None:
    """Under nohup (SIGHUP ignored) a hangup is not the run's: it goes on trading."""
    import signal

    data = tmp_path / "data"
    with _spawn(tmp_path, data, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)) as proc:
        n = _wait_journaled(proc, data, 200)
        proc.send_signal(signal.SIGHUP)
        _wait_journaled(proc, data, n + 500)  # (it would have ended: asserted there)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "run summary" in out, out[-3000:]


def test_a_start_shows_a_tiny_notional_cap_in_plain_notation(tmp_path: Path) -> None:
    """The start-up line said `max position notional 1E-7` for `set-max-notional 0.0000001`."""
    first = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "1", "--data-dir", "data", PINK_PLANE="none")
    assert first.returncode == 0, first.stdout + first.stderr
    ctl = pink(tmp_path, "control", "set-max-notional", "0.0000001", "--data-dir", "data", "--by", "ops")
    assert ctl.returncode == 0, ctl.stdout + ctl.stderr
    out = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "1", "--data-dir", "data", PINK_PLANE="none")
    assert out.returncode == 0, out.stdout + out.stderr
    text = " ".join(out.stdout.split())
    assert "operator switches in force (v1 by ops): max position notional 0.0000001" in text, text


def test_a_start_with_control_none_names_the_switches_its_journal_keeps_in_force(tmp_path: Path) -> None:
    """A kill set under an earlier run stays in the journal: a run started with control = none
    refused every entry (KILL_SWITCH), said nothing at its start, and `pink control unkill` is
    refused for such a run."""
    first = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "1", "--data-dir", "data", PINK_PLANE="none")
    assert first.returncode == 0, first.stdout + first.stderr
    ctl = pink(tmp_path, "control", "kill", "--data-dir", "data", "--by", "ops", "--note", "lunch")
    assert ctl.returncode == 0, ctl.stdout + ctl.stderr
    held = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "1", "--data-dir", "data", PINK_PLANE="none")
    assert held.returncode == 0, held.stdout + held.stderr  # (the kill is now in the journal)
    out = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "1", "--data-dir", "data", PINK_PLANE="none",
               PINK_CONTROL="none")
    assert out.returncode == 0, out.stdout + out.stderr
    text = " ".join(out.stdout.split())
    assert ("operator switches in force (v1 by ops: lunch): kill switch on; this run does not read control.json "
            "(control = none): to undo, restart it with control = file and pink control unkill") in text, text


def test_f21_a_run_whose_output_is_closed_trades_on_and_closes_in_order(tmp_path: Path) -> None:
    """`pink run | head`, or a `tee` that died: the terminal's pipe closed, and the next write of
    the live view raised in the kernel's task: the run stopped where it stood, exit 1, no word
    of why, no final snapshot, the ledger behind. Output to a closed pipe is dropped; the run goes
    on to its end and closes in order (its log file says the output was closed)."""
    data = tmp_path / "data"
    proc = subprocess.Popen([*PINK, "run", "--fast", "--cycles", "400", "--data-dir", str(data)], cwd=tmp_path,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**{k: v for k, v in os.environ.items() if not k.startswith("PINK_")},
                                 "COLUMNS": "120", "PINK_PLANE": "none"})
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("trading:"), first
        proc.stdout.close()  # as `head -1` does
        assert proc.wait(timeout=300) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (data / "pink.log").read_text()
    assert "terminal output closed" in log, log[-2000:]
    audit = run_pink(tmp_path, "audit", "--data-dir", "data")
    text = " ".join(audit.stdout.split())
    assert audit.returncode == 0 and "audit passed" in text and "not yet in the ledger" not in text, text

"""``pink chaos``: trials of random trading under every simulator fault, with SIGKILLed runtimes.

One trial: a fresh venue (a :class:`~pink.chaos.simhost.SimHost` around a
faulty :class:`~pink.venues.sim.venue.SimVenue`, or a BingX simulator server
with a random fault spec, both living here in the harness), a fresh data
directory, and 2-4 phases of :mod:`pink.chaos.runner` processes on the same
journal. A phase ends by itself (clean close) or by SIGKILL at a kill point.
Then faults are switched off and a last runner flattens and drains; the
invariants (:mod:`pink.chaos.invariants`) compare kernel, venue and ledger.
The ledger is a ClickHouse-HTTP front over chDB (:mod:`pink.ledger.chfront`)
in its own process, replaced every ``ledger_batch`` trials.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pink.chaos import invariants
from pink.chaos.trial_venues import BingxTrialVenue, SimTrialVenue, liquidations

__all__ = ["ChaosConfig", "ChaosResult", "TrialResult", "run_chaos", "trial_seed"]

SIM_POINTS = ("submit", "fill", "ledger", "recover", "external")
BINGX_POINTS = (*SIM_POINTS, "reconnect")
RUNNER_RSS_BOUND_MB = 400.0  # a runner process (journal, kernel, ledger client, venue client)
HARNESS_RSS_SLACK_MB = 150.0  # harness RSS at the end may exceed its start by at most this
_START_REFUSED = 3  # the runner's exit code for a StartupError (a venue fault at start)
#: what asyncio reports when its child watcher finds the child already reaped ("Unknown child
#: process pid ..., will report returncode 255": CPython issues 86276 and 127049); a runner
#: that printed DONE finished, whatever status was lost
_STATUS_LOST = 255
_HANG_S = 180.0  # a runner that says nothing for this long is killed and reported (hang guard)


def trial_seed(seed: int, trial: int) -> int:
    return seed * 1_000_003 + trial


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True, slots=True)
class ChaosConfig:
    trials: int = 20
    seed: int = 1
    venues: tuple[str, ...] = ("sim", "bingx")
    kill_rate: float = 0.5
    duration_s: float = 0.0  # > 0: soak until the time is up (trials is then a minimum of 0)
    workers: int = 2
    slots: int = 3
    workdir: Path = Path("./data/chaos")
    keep: bool = False
    ledger_batch: int = 25
    only_seed: int | None = None  # replay one trial by its seed


@dataclass
class TrialResult:
    trial: int
    venue: str
    seed: int
    trades: int = 0
    fills: int = 0
    kills: list[str] = field(default_factory=list)
    recoveries: list[float] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    liquidations: int = 0  # positions the venue liquidated (price shocks), while runtimes traded or were killed
    violations: list[tuple[str, str]] = field(default_factory=list)
    explained: list[str] = field(default_factory=list)
    runner_rss_mb: float = 0.0
    books_readings: int = 0  # the running books check's readings, over every runtime process
    books_baselined: int = 0  # runtime processes whose books check had a baseline
    seconds: float = 0.0
    ended: float = 0.0


@dataclass
class ChaosResult:
    config: ChaosConfig
    trials: list[TrialResult] = field(default_factory=list)
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_trend: list[tuple[float, float]] = field(default_factory=list)  # (elapsed s, MB)
    seconds: float = 0.0
    extra_violations: list[tuple[str, str, int]] = field(default_factory=list)


class _Front:
    """A chfront process serving up to ``budget`` trials."""

    def __init__(self, directory: Path, budget: int) -> None:
        self.directory, self.budget, self.users = directory, budget, 0
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self) -> _Front:
        # always empty: a ledger left by an earlier run in this workdir would hold the same seeds'
        # rows, and the audit would report every fill of a rerun as stored twice
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pink.ledger.chfront", str(self.directory), "0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 60)).decode()
        if not line.startswith("ready"):
            raise RuntimeError(f"chfront did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        return self

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


class _Ledgers:
    def __init__(self, root: Path, batch: int) -> None:
        self.root, self.batch, self.n = root, batch, 0
        self.current: _Front | None = None
        self._lock = asyncio.Lock()
        self._all: list[_Front] = []

    async def acquire(self) -> _Front:
        async with self._lock:
            if self.current is None or self.current.budget <= 0:
                self.n += 1
                self.current = await _Front(self.root / f"ledger-{os.getpid()}-{self.n}", self.batch).start()
                self._all.append(self.current)
            front = self.current
            front.budget -= 1
            front.users += 1
            return front

    async def release(self, front: _Front) -> None:
        front.users -= 1
        if front.users == 0 and front is not self.current:
            await front.stop()
            shutil.rmtree(front.directory, ignore_errors=True)

    async def close(self) -> None:
        for f in self._all:
            await f.stop()
            shutil.rmtree(f.directory, ignore_errors=True)


# ------------------------------------------------------------------- trials


async def _phase(args: dict[str, Any], log: Path, rng: random.Random, venue: Any,
                 external_after: float | None) -> tuple[int, float | None, list[str]]:
    """Run one runner process; returns (returncode, seconds to READY, its output lines)."""
    t0 = time.monotonic()
    with log.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pink.chaos.runner", json.dumps(args),
            stdout=asyncio.subprocess.PIPE, stderr=err)
    assert proc.stdout is not None
    lines: list[str] = []
    ready: float | None = None
    side: asyncio.Task[None] | None = None
    killer: asyncio.Task[None] | None = None

    async def kill_later(delay: float) -> None:
        await asyncio.sleep(delay)
        if proc.returncode is None:
            lines.append("KILL external")
            proc.send_signal(signal.SIGKILL)

    try:
        while True:
            try:
                raw = await asyncio.wait_for(proc.stdout.readline(), _HANG_S)
            except TimeoutError:
                lines.append("HANG")
                proc.send_signal(signal.SIGUSR1)  # its tasks' stacks, to the log, for the reader
                await asyncio.sleep(2.0)
                proc.send_signal(signal.SIGKILL)
                break
            if not raw:
                break
            line = raw.decode().strip()
            lines.append(line)
            if line.startswith("READY") and ready is None:
                ready = time.monotonic() - t0
                if not args.get("final"):
                    side = asyncio.create_task(venue.during_phase(rng))
                if external_after is not None:
                    killer = asyncio.create_task(kill_later(external_after))
        rc = await proc.wait()
        if rc == _STATUS_LOST and any(line.startswith("DONE") for line in lines):
            rc = 0  # it said it finished: asyncio's child watcher lost its status (see _STATUS_LOST)
        if rc not in (0, -signal.SIGKILL, _START_REFUSED) or "HANG" in lines:
            with log.open("a") as said:  # what it said, for the violation's reader
                said.write(f"--- exit {rc}; its output:\n" + "\n".join(lines) + "\n")
    finally:
        for t in (side, killer):
            if t is not None:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
    return rc, ready, lines


async def _start_phase(args: dict[str, Any], log: Path, rng: random.Random, venue: Any,
                       external_after: float | None, res: TrialResult) -> tuple[int, float | None, list[str]]:
    """A phase; a start refused by an injected venue fault (exit 3, StartupError) is retried."""
    for _ in range(5):
        rc, ready, lines = await _phase(args, log, rng, venue, external_after)
        if rc != _START_REFUSED:
            break
        res.faults["start_refused"] += 1
    return rc, ready, lines


def _json_line(lines: list[str], prefix: str) -> dict[str, Any] | None:
    for line in lines:
        if line.startswith(prefix + " "):
            parsed: dict[str, Any] = json.loads(line[len(prefix) + 1:])
            return parsed
    return None


def _books(res: TrialResult, done: dict[str, Any], where: str) -> None:
    """A runtime process's running books check: counted, and a mismatch is a violation."""
    res.books_readings += int(done["books_readings"])
    res.books_baselined += bool(done["books_baselined"])
    if done["books_mismatch"]:
        res.violations.append(("books_mismatch", f"{where}: {done['books_mismatch']}"))


async def run_trial(cfg: ChaosConfig, trial: int, kind: str, seed: int, ledgers: _Ledgers) -> TrialResult:
    rng = random.Random(seed)
    res = TrialResult(trial, kind, seed)
    t0 = time.monotonic()
    data = cfg.workdir / f"trial-{trial:05d}-{kind}-{seed}"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    log = data / "runner.log"
    venue: Any = SimTrialVenue(rng, seed) if kind == "sim" else BingxTrialVenue(rng, seed)
    front = await ledgers.acquire()
    runtime_id = f"c{seed}"
    points = SIM_POINTS if kind == "sim" else BINGX_POINTS
    try:
        await venue.start()
        base = {**venue.runner_args(), "data_dir": str(data), "seed": seed, "slots": cfg.slots,
                "runtime_id": runtime_id, "ledger_url": front.url}
        killed_before = False
        for phase in range(rng.randint(2, 4)):
            kill: dict[str, Any] | None = None
            external: float | None = None
            if rng.random() < cfg.kill_rate:
                point = rng.choice(points)
                if point == "external":
                    external = rng.uniform(0.05, 1.5)
                else:
                    kill = {"point": point, "n": 1 if point == "recover" else rng.randint(1, 4)}
            args = {**base, "cycles": venue.cycles(rng), "kill": kill, "seed": seed * 10 + phase}
            rc, ready, lines = await _start_phase(args, log, rng, venue, external, res)
            if killed_before and ready is not None:
                res.recoveries.append(ready)
            killed = rc == -signal.SIGKILL
            if "HANG" in lines:
                res.violations.append(("hang", f"phase {phase}: no output for {_HANG_S} s"))
            elif killed:
                point = next((ln.split()[1] for ln in lines if ln.startswith("KILL")), "unknown")
                res.kills.append(point)
            elif rc != 0:
                res.violations.append(("runner_failed", f"phase {phase}: exit {rc}; see {log}"))
            done = _json_line(lines, "DONE")
            if done:
                res.trades += int(done["trades"])
                res.runner_rss_mb = max(res.runner_rss_mb, float(done["rss_mb"]))
                _books(res, done, f"phase {phase}")
            killed_before = killed
        await venue.faults_off()
        args = {**base, "final": True, "kill": None, "cycles": 0, "seed": seed * 10 + 9}
        rc, ready, lines = await _start_phase(args, log, rng, venue, None, res)
        if killed_before and ready is not None:
            res.recoveries.append(ready)
        final, done = _json_line(lines, "FINAL"), _json_line(lines, "DONE")
        if rc != 0 or final is None or done is None:
            res.violations.append(("final_run_failed", f"exit {rc}; see {log}"))
        else:
            res.trades += int(done["trades"])
            res.runner_rss_mb = max(res.runner_rss_mb, float(done["rss_mb"]))
            if done["close_errors"]:
                res.violations.append(("close_errors", "; ".join(done["close_errors"])))
            _books(res, done, "final run")
            bad, res.explained = invariants.check_slots(final)
            res.violations += bad
            res.violations += invariants.check_positions(final, venue.engine)
            res.violations += invariants.check_capital(final, venue.engine)
            res.violations += invariants.check_orders(venue.engine, venue.places)
            loop = asyncio.get_running_loop()
            ledger_bad, res.fills = await loop.run_in_executor(
                None, invariants.check_ledger, front.url, runtime_id, data / "journal.sqlite", venue.engine,
                frozenset(getattr(venue, "by_hand", ())))
            res.violations += ledger_bad
        if res.runner_rss_mb > RUNNER_RSS_BOUND_MB:
            res.violations.append(("runner_memory", f"{res.runner_rss_mb:.0f} MB > {RUNNER_RSS_BOUND_MB:.0f} MB"))
    except Exception as exc:  # a harness failure is reported, never hidden
        res.violations.append(("harness_error", f"{type(exc).__name__}: {exc}"))
    finally:
        res.faults.update(venue.faults_total())
        res.liquidations = liquidations(venue.engine)
        await venue.close()
        await ledgers.release(front)
    if not res.violations and not cfg.keep:
        shutil.rmtree(data, ignore_errors=True)
    res.seconds = time.monotonic() - t0
    return res


async def run_chaos(cfg: ChaosConfig, progress: Callable[[TrialResult], None] | None = None) -> ChaosResult:
    cfg.workdir.mkdir(parents=True, exist_ok=True)
    out = ChaosResult(cfg, rss_start_mb=rss_mb())
    t0 = time.monotonic()
    ledgers = _Ledgers(cfg.workdir, cfg.ledger_batch)
    sem = asyncio.Semaphore(max(cfg.workers, 1))
    next_trial = 0
    end = t0 + cfg.duration_s if cfg.duration_s > 0 else None

    def more() -> bool:
        if cfg.only_seed is not None:
            return next_trial < 1
        if end is not None:
            return time.monotonic() < end
        return next_trial < cfg.trials

    async def one(i: int) -> None:
        try:
            kind = cfg.venues[i % len(cfg.venues)]
            seed = cfg.only_seed if cfg.only_seed is not None else trial_seed(cfg.seed, i)
            r = await run_trial(cfg, i, kind, seed, ledgers)
            r.ended = time.monotonic() - t0
            out.trials.append(r)
            out.rss_trend.append((r.ended, rss_mb()))
            if progress is not None:
                progress(r)
        finally:
            sem.release()

    tasks: list[asyncio.Task[None]] = []
    try:
        while more():
            await sem.acquire()
            if not more():
                sem.release()
                break
            tasks.append(asyncio.create_task(one(next_trial)))
            next_trial += 1
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ledgers.close()
    out.seconds = time.monotonic() - t0
    out.rss_end_mb = rss_mb()
    if len(out.trials) >= 4:
        warm = out.rss_trend[min(len(out.rss_trend) - 1, max(cfg.workers, 2))][1]
        if out.rss_end_mb > warm + HARNESS_RSS_SLACK_MB:
            out.extra_violations.append(("harness_memory", f"RSS {out.rss_end_mb:.0f} MB > warm {warm:.0f} MB + "
                                                           f"{HARNESS_RSS_SLACK_MB:.0f} MB", cfg.seed))
    return out

"""The runtime process a chaos trial starts, kills with SIGKILL, and restarts on the same journal.

``python -m pink.chaos.runner '<json>'`` runs the real :class:`~pink.runtime.launcher.Launcher`
(journal, ledger by URL, reconciliation, the one-writer loop) with the
random :class:`~pink.chaos.policy.ChaosPolicy`, against the trial's venue:
the harness's :class:`~pink.chaos.simhost.SimHost` (``venue=sim``) or a
BingX simulator server over loopback (``venue=bingx``). Both outlive it.

Kill points (``kill = {"point": P, "n": N}``): at the N-th occurrence of P
the process sends itself SIGKILL, a real ``kill -9`` at a known place:

* ``submit``: a place request has reached the venue, its reply is not yet handled;
* ``fill``: a fill has arrived from the venue, the kernel has not settled it;
* ``ledger``: a ledger batch was inserted, the outbox has not recorded it;
* ``recover``: mid start-up reconciliation (in-flight orders queried, fills not yet);
* ``reconnect``: the BingX user stream reconnected, its gap-fill is running.

The harness also kills at random wall-clock moments (``external``). Output
lines: ``READY <seconds to start and reconcile>``, ``KILL <point>`` just
before dying, ``FINAL <json>`` (final mode) and ``DONE <json>``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pink.chaos.policy import ChaosPolicy
from pink.chaos.simhost import RemoteSimVenue, sigkill_self
from pink.errors import StartupError
from pink.journal import JournaledKernel
from pink.kernel import Instrument
from pink.policy.base import MarginSizer
from pink.runtime.config import RuntimeConfig
from pink.runtime.journal_guard import open_journal
from pink.runtime.launcher import Launcher
from pink.runtime.loop import LoopConfig
from pink.runtime.recovery import exposure

__all__ = ["main"]


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class _Killer:
    def __init__(self, spec: dict[str, Any] | None) -> None:
        self.point = spec["point"] if spec else ""
        self.n = int(spec["n"]) if spec else 0
        self.seen: Counter[str] = Counter()

    def __call__(self, point: str, _detail: Any = None) -> None:
        self.seen[point] += 1
        if point == self.point and self.seen[point] >= self.n:
            say(f"KILL {point}")
            sigkill_self()


def _install_hooks(kill: _Killer, venue_kind: str) -> None:
    """Kill points in this process only (it is the runner's own process to break)."""
    from pink.ledger.writer import LedgerWriter
    from pink.runtime.recovery import Reconciler

    insert = LedgerWriter.insert

    def hooked_insert(self: LedgerWriter, rows: Any) -> int:
        n = insert(self, rows)
        kill("ledger")
        return n

    LedgerWriter.insert = hooked_insert  # type: ignore[method-assign]
    common = Reconciler._common

    async def hooked_common(self: Reconciler, rep: Any, known: Any, since_ns: int,
                            money_since_ns: int | None = None, *, orders: set[str] | None = None,
                            gapped: dict[str, str] | None = None) -> None:
        if known is not None:  # the start-up reconciliation, not the periodic one
            kill("recover")
        await common(self, rep, known, since_ns, money_since_ns, orders=orders, gapped=gapped)

    Reconciler._common = hooked_common  # type: ignore[method-assign]
    if venue_kind != "bingx":
        return
    from pink.venues.bingx.venue import BingxVenue

    place, start, gap = BingxVenue.place, BingxVenue.start, BingxVenue._gap_fill

    async def hooked_place(self: BingxVenue, order: Any) -> None:
        try:
            await place(self, order)
        finally:
            kill("submit")

    async def hooked_start(self: BingxVenue, sink: Any) -> None:
        def hooked_sink(event: Any) -> None:
            if type(event).__name__ == "OrderFilled":
                kill("fill")
            sink(event)

        await start(self, hooked_sink)

    async def hooked_gap(self: BingxVenue) -> None:
        kill("reconnect")
        await gap(self)

    BingxVenue.place = hooked_place  # type: ignore[method-assign]
    BingxVenue.start = hooked_start  # type: ignore[method-assign]
    BingxVenue._gap_fill = hooked_gap  # type: ignore[method-assign]


class _ChaosLauncher(Launcher):
    """The launcher with short kernel deadlines (wall-clock BingX trials must not wait 10 s).

    The deadlines go into the :class:`KernelConfig` the journal is created
    with: a config changed after opening would not be in the journal, and a
    replay (restart, audit) would diverge from what the live kernel did.
    """

    ack_timeout_ns = 10_000_000_000

    def _check_new_capital(self, data: Path) -> None:
        """Not held to the wallet: a trial killed before its journal was made, then a withdrawal,
        starts again on the capital the trial began with (the invariants count the transfer)."""

    def _open_kernel(self, data: Path, instruments: dict[str, Instrument]) -> JournaledKernel:
        """The launcher's own (every check of the journal against the run), with short deadlines."""
        assert self.venue is not None
        return open_journal(self.cfg, self.venue, self._venue_account, data, instruments, self.backends,
                            self.ack_timeout_ns)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dump_tasks() -> None:
    """SIGUSR1 (the harness, before it kills a runner that hangs): every task's stack to stderr."""
    tasks = asyncio.all_tasks()
    print(f"--- {len(tasks)} tasks at the hang", file=sys.stderr)
    for task in tasks:
        task.print_stack(limit=12, file=sys.stderr)
    sys.stderr.flush()


async def run(args: dict[str, Any]) -> None:
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _dump_tasks)
    kill = _Killer(args.get("kill"))
    kind = args["venue"]
    _install_hooks(kill, kind)
    venue: Any
    if kind == "sim":
        venue = await RemoteSimVenue(int(args["port"]), hook=kill).connect()
    else:
        from pink.venues.bingx.config import BingxConfig
        from pink.venues.bingx.server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY
        from pink.venues.bingx.venue import BingxVenue

        venue = BingxVenue(BingxConfig(DEFAULT_API_KEY, DEFAULT_SECRET_KEY, args["base_url"], args["ws_url"],
                                       args["ws_url"], reconnect_min_s=0.05, reconnect_max_s=0.5,
                                       request_timeout_s=3.0, max_retries=1))
    fast = kind == "sim"
    cfg = RuntimeConfig(venue="sim" if fast else "bingx", fast=fast, seed=int(args["seed"]),
                        data_dir=Path(args["data_dir"]), slots=int(args["slots"]), view=False,
                        account_id="chaos", runtime_id=args["runtime_id"],
                        ledger="url" if args.get("ledger_url") else "none", ledger_url=args.get("ledger_url", ""),
                        plane="none", control="none", cycle_s=float(args["cycle_s"]))
    loop_cfg = LoopConfig(cycle_s=cfg.cycle_s, max_in_flight=8, call_timeout_s=5.0, close_timeout_s=3.0,
                          reconcile_interval_s=float(args.get("reconcile_s", 30.0)),
                          books_settle_s=float(args.get("books_settle_s", 600.0)))
    final = bool(args.get("final"))
    launcher = _ChaosLauncher(cfg, venue=venue, decision=ChaosPolicy(int(args["seed"]), final=final),
                              intents=MarginSizer(), loop_config=loop_cfg)
    launcher.ack_timeout_ns = int(float(args.get("ack_timeout_s", 10.0)) * 1e9)
    t0 = time.monotonic()
    try:
        await launcher.start()
        say(f"READY {time.monotonic() - t0:.4f}")
        rt = launcher.runtime
        assert rt is not None and launcher.kernel is not None
        if not final:
            await launcher.run(int(args["cycles"]))
        else:
            rt.flatten()
            for _ in range(int(args.get("drain_rounds", 60))):
                await launcher.run(5)
                await rt.quiesce()
                slots = [launcher.kernel.kernel.slot_view(i) for i in range(cfg.slots)]
                if all(s.state == "IDLE" for s in slots) and not launcher.kernel.kernel.fee_checks:
                    break  # flat, and every doubtful fee confirmed by the venue
                if all(s.state in ("IDLE", "POSITION_OPEN") for s in slots):
                    rt.flatten()
            k = launcher.kernel.kernel
            acct = k.account_view()
            now = launcher.clock.now_ns() if launcher.clock is not None else time.time_ns()  # type: ignore[union-attr]
            say("FINAL " + json.dumps({
                "slots": [{"state": s.state, "desync_reason": s.desync_reason, "deadline": s.deadline,
                           "working_order": s.working_order, "trade_id": s.trade_id}
                          for s in (k.slot_view(i) for i in range(cfg.slots))],
                "exposure": {f"{sym}|{side.value}": str(q) for (sym, side), q in exposure(k, cfg.slots).items()},
                "capital": str(acct.capital), "initial": str(acct.initial_capital),
                "gross": str(acct.gross_pnl), "fees": str(acct.fees), "funding": str(acct.funding),
                "transfers": str(acct.transfers),
                "now": now, "trades": rt.stats.trades, "quarantined": k.quarantined,
                "fee_checks": len(k.fee_checks),
            }))
    finally:
        report = await launcher.close()
        await venue.close()
    say("DONE " + json.dumps({"rss_mb": round(_rss_mb(), 1), "close_errors": report.errors,
                              "trades": launcher.runtime.stats.trades if launcher.runtime else 0,
                              **_books(launcher),
                              "seen": dict(kill.seen)}))


def _books(launcher: _ChaosLauncher) -> dict[str, Any]:
    """What the running books check saw: readings, whether it had a baseline, any mismatch."""
    books = launcher.runtime.reconciler.books if launcher.runtime else None
    return {"books_readings": books.sightings if books else 0,
            "books_baselined": books is not None and books.baseline is not None,
            "books_mismatch": books.mismatch if books else ""}


def main() -> None:
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    try:
        asyncio.run(run(json.loads(sys.argv[1])))
    except StartupError as exc:  # a venue fault at start: loud, and the harness starts it again
        say(f"STARTFAIL {exc}")
        sys.exit(3)


if __name__ == "__main__":
    main()

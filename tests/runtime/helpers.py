"""Shared helpers for runtime tests: a real kernel + simulator + runtime, closed by the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from pink.journal import JournaledKernel
from pink.kernel import Kernel, KernelConfig
from pink.policy.base import Decision, MarginSizer, PolicySnapshot
from pink.runtime.clock import SimClock
from pink.runtime.config import RuntimeConfig
from pink.runtime.loop import LoopConfig, Runtime
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, BingxSimServer
from pink.venues.bingx.venue import BingxVenue
from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.faults import FaultConfig
from pink.venues.sim.instruments import default_instruments
from pink.venues.sim.prices import MarketConfig
from pink.venues.sim.venue import SimVenue

T0 = 1_700_000_000 * 1_000_000_000
CAPITAL = Decimal("10000")
#: every simulator fault at once, for the busy faulted paper runs
FAULTS = ("reject=0.03,no_response=0.03,delayed_ack=0.05,duplicate_event=0.05,"
          "reorder_events=0.05,fill_races_cancel=0.2,rate_limit=0.02,stream_drop=0.002")


class Scripted:
    """A decision engine that plays ``script(snapshot) -> decisions`` and keeps every snapshot."""

    def __init__(self, script: Callable[[PolicySnapshot], Sequence[Decision]] | None = None):
        self.script = script or (lambda _s: [])
        self.snapshots: list[PolicySnapshot] = []

    def decide(self, snapshot: PolicySnapshot) -> Sequence[Decision]:
        self.snapshots.append(snapshot)
        return list(self.script(snapshot))


class Recorder:
    """A ledger stand-in for runtime tests: keeps every kernel record it is handed."""

    def __init__(self) -> None:
        self.records: list[object] = []

    def put(self, records: object, position: object = None) -> None:
        self.records.extend(records)  # type: ignore[call-overload]


def quiet_config(data_dir: Path, **overrides: Any) -> RuntimeConfig:
    """A fast paper run with nothing around it (no ledger, planes, control or view)."""
    base: dict[str, Any] = dict(fast=True, data_dir=data_dir, slots=2, cycle_s=1.0, ledger="none",
                                plane="none", control="none", view=False)
    return RuntimeConfig(**{**base, **overrides})


def make_venue(seed: int = 1, faults: str = "", market: MarketConfig | None = None) -> SimVenue:
    engine = MatchingEngine(default_instruments(), seed=seed, start_ts=T0,
                            market=market or MarketConfig())
    return SimVenue(engine, faults=FaultConfig.parse(faults) if faults else None, seed=seed)


@asynccontextmanager
async def sim_runtime(
    venue: SimVenue | None = None,
    decision: Any = None,
    intents: Any = None,
    *,
    journal: Path | None = None,
    slots: int = 4,
    cycle_s: float = 1.0,
    start: bool = True,
    ledger: Any = None,
    **loop: Any,
) -> AsyncIterator[tuple[Runtime, SimVenue, Any]]:
    """A runtime on a SimClock over a real kernel (journaled if ``journal``) and SimVenue."""
    own_venue = venue is None
    venue = venue or make_venue()
    inst = default_instruments()
    cfg = KernelConfig(slots=slots, initial_capital=CAPITAL, account_id="acct")
    jk: JournaledKernel | None = None
    if journal is not None:
        jk = JournaledKernel.open(journal, cfg, inst)
        ops: Any = jk
        views: Any = jk.kernel
    else:
        ops = views = Kernel(cfg, inst)
    clock = SimClock(max(venue.now, T0))
    rt = Runtime(
        ops, views, venue, clock, decision or Scripted(), intents or MarginSizer(),
        instruments=inst, slots=slots,
        config=LoopConfig(cycle_s=cycle_s, **loop), quotes=venue.engine.quote, ledger=ledger,
        books_log=jk,
    )
    await venue.start(rt.sink)
    try:
        if start:
            await rt.start()
        yield rt, venue, views
    finally:
        await rt.shutdown()
        if jk is not None:
            jk.close()
        if own_venue:
            await venue.close()


def busy_faulted_config(data_dir: Path, **overrides: Any) -> RuntimeConfig:
    """Six slots of the sample policy trading every (simulated) second under every fault, with
    the books held against the wallet every minute; control by file (for the flatten)."""
    base: dict[str, Any] = dict(fast=True, data_dir=data_dir, slots=6, cycle_s=1.0, seed=3, faults=FAULTS,
                                ledger="none", plane="none", control="file", view=False,
                                reconcile_interval_s=60.0, books_settle_s=100.0)
    return RuntimeConfig(**{**base, **overrides})


def bingx_venue(server: BingxSimServer) -> BingxVenue:
    """A BingX adapter on the simulator server ``server`` (its keys, its URLs), not yet started."""
    return BingxVenue(BingxConfig(DEFAULT_API_KEY, DEFAULT_SECRET_KEY, server.base_url, server.ws_url,
                                  server.market_ws_url))

"""The launcher: builds, starts and closes a runtime bundle, in order.

Start: venue -> journaled kernel (restored from its journal) -> ledger ->
state plane -> control -> projection -> runtime (reconciles with the venue
before the first cycle, E26). A backend that was asked for and cannot start
is a :class:`StartupError` naming it (F22); whatever had started is closed.

Close (F21): stop policy -> stop intake -> finish or record in-flight venue
calls (bounded) -> flush persistence (journal checkpoint, ledger) -> close
projection and plane -> close venue. ``close()`` is explicit and idempotent;
nothing relies on ``__del__`` (F20). Use as ``async with Launcher(cfg) as l:``.

Which journal a run may go on with is :mod:`pink.runtime.journal_guard`; the ledger, plane,
control and projection are started by :mod:`pink.runtime.backends`; the health report is
built by :mod:`pink.runtime.run_health`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pink.errors import ClosedError, PinkError, StartupError
from pink.journal import JournaledKernel
from pink.kernel import ClosedOutside, Instrument, OutcomeStatus, VenueEvent
from pink.kernel.exact import kernel_context
from pink.policy.base import DecisionEngine, IntentEngine, MarginSizer
from pink.policy.loader import load_policy
from pink.policy.sample import sample_engines
from pink.ports import Clock, Quote, Venue
from pink.runtime.backends import (
    build_projection,
    catch_up_ledger,
    start_control,
    start_ledger,
    start_plane,
    start_projection,
)
from pink.runtime.clock import SimClock, WallClock
from pink.runtime.config import RuntimeConfig
from pink.runtime.datadir import DataDirLock, make_data_dir
from pink.runtime.decimals import PolicyDecimals
from pink.runtime.executor import InFlight
from pink.runtime.journal_guard import book_since, open_journal, venue_identity
from pink.runtime.loop import LoopConfig, Runtime
from pink.runtime.paper import SIM_EPOCH_NS, adopt_book, build_sim, keep_prices
from pink.runtime.paper_funding import keep_funding_at_checkpoints
from pink.runtime.ports_ext import SimDriver
from pink.runtime.recovery import ReconcileReport
from pink.runtime.symbols import quoted_symbols

__all__ = ["SIM_EPOCH_NS", "CloseReport", "Launcher", "SinkRelay", "venue_identity"]

log = logging.getLogger(__name__)


def _venue_start_error(venue: Venue, exc: PinkError) -> StartupError:
    """The venue could not start: what it said, and what to check (a BingX venue names the setting)."""
    cause = exc.cause if isinstance(exc, StartupError) else str(exc)
    said = (exc.__cause__ or exc.__context__) if isinstance(exc, StartupError) else exc  # (the venue's own error)
    hint = getattr(getattr(venue, "config", None), "start_hint", lambda _e: "")(said)
    return StartupError(f"venue ({venue_identity(venue)})", f"{cause}; {hint}" if hint else cause)


class SinkRelay:
    """The venue's sink before the runtime exists: buffers, then forwards."""

    def __init__(self) -> None:
        self._target: Callable[[VenueEvent], None] | None = None
        self._buffer: list[VenueEvent] = []

    def __call__(self, event: VenueEvent) -> None:
        if self._target is None:
            self._buffer.append(event)
        else:
            self._target(event)

    def attach(self, target: Callable[[VenueEvent], None]) -> None:
        self._target = target
        buffered, self._buffer = self._buffer, []
        for ev in buffered:
            target(ev)


@dataclass
class CloseReport:
    steps: list[str] = field(default_factory=list)
    in_flight: list[InFlight] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Launcher:
    """Wires a runtime from a :class:`RuntimeConfig`; see the module docstring.

    ``venue``/``decision``/``intents`` may be given (tests, custom policies);
    a venue given here is not owned, so it is not closed by :meth:`close`. With no
    ``decision``, the config's ``policy`` (``MODULE:NAME``) is loaded here, before anything
    starts, else the SAMPLE policy runs; ``intents`` defaults to a :class:`MarginSizer`.
    ``policy_name`` says which policy runs.
    """

    def __init__(
        self,
        config: RuntimeConfig,
        *,
        venue: Venue | None = None,
        decision: DecisionEngine | None = None,
        intents: IntentEngine | None = None,
        loop_config: LoopConfig | None = None,
    ) -> None:
        self.cfg = config
        self.policy_name = type(decision).__name__ if decision is not None else config.policy or "SAMPLE"
        if decision is None and config.policy:
            decision, intents = load_policy(config.policy)
        self._policy_decimals = PolicyDecimals()  # (what the policy's module set on import stays the policy's)
        self._venue_given = venue
        self._decision = decision
        self._intents = intents
        self._loop_cfg = loop_config
        self.venue: Venue | None = venue
        self.kernel: JournaledKernel | None = None
        self.ledger: Any = None
        self.plane: Any = None
        self.control: Any = None
        self.projection: Any = None
        self.runtime: Runtime | None = None
        self.symbols: tuple[str, ...] = ()  # what the run quotes and its policy sees (pink.runtime.symbols)
        self.clock: Clock | _PendingSimClock | None = None
        self.reconcile: ReconcileReport | None = None
        self.closed_outside: list[str] = []  # what this start booked as closed outside PINK
        self._bg: list[asyncio.Task[None]] = []
        self._closing = False  # the background loops stop on it, not only on their cancel
        self._venue_account = ""  # the venue's id of the account its keys open ("" if it gives none)
        self._wallet = Decimal(0)  # the venue's wallet balance when it started
        self._health_written = False  # health.json kept by this run (its close writes a last one)
        self._keeping_prices = False  # a paper run's prices go to the journal every few seconds
        self._started = False
        self._close_report: CloseReport | None = None
        self.backends: dict[str, str] = {}
        self._lock: DataDirLock | None = None  # held from the start of start() to the end of close()

    async def __aenter__(self) -> Launcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ start

    async def start(self) -> Launcher:
        if self._close_report is not None:
            raise ClosedError("launcher")
        if self._started:
            return self
        self._started = True
        try:
            with kernel_context():  # the runtime's money, whatever context the policy left (and its tasks)
                await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def _start(self) -> None:
        cfg = self.cfg
        data = Path(cfg.data_dir)
        self._lock = DataDirLock.acquire(make_data_dir(data))  # before anything in it is opened: one run per data dir
        relay = SinkRelay()
        instruments = await self._start_venue(relay)
        assert self.venue is not None
        quoted = quoted_symbols(cfg, instruments, venue_identity(self.venue))
        self._check_new_capital(data)
        self.kernel = self._open_kernel(data, instruments)
        held = sorted({t.symbol for s in self.kernel.kernel.slots if (t := s.trade) is not None} - set(quoted))
        if held:  # its exits need quotes whatever the run trades now
            log.info("quoting %s too: open trades hold them", ", ".join(held))
        self.symbols = (*quoted, *held)
        self._take_account_id(self.kernel)
        last = self.kernel.journal.last_ts()  # 0 for a new journal
        if isinstance(self.clock, _PendingSimClock):
            self.clock = SimClock(max(self.clock.start, last + 1))
            await self._align_sim_venue(self.clock.now_ns())
        if (sim := self._paper_sim()) is not None:
            adopt_book(sim, self.kernel)  # after the alignment: the book lives on from now
            keep_funding_at_checkpoints(self.kernel)  # (the next start reads only what follows)
        assert isinstance(self.clock, (SimClock, WallClock))
        await self._start_ledger(data)
        self._start_plane(data)
        await self._start_projection()
        decision, intents = self._decision, self._intents
        if decision is None:
            decision, intents = sample_engines(cfg.seed)
        assert self.venue is not None
        self.runtime = Runtime(
            self.kernel,
            self.kernel.kernel,
            self.venue,
            self.clock,
            decision,
            intents or MarginSizer(),
            instruments={s: instruments[s] for s in self.symbols},  # the kernel knows them all
            slots=cfg.slots,
            config=self._loop_cfg or self._default_loop_config(),
            ledger=self.ledger,
            plane=self.plane,
            projection=self.projection,
            control=self.control,
            quotes=self._quote_source(),
            flatten_log=self.kernel,
            books_log=self.kernel,
            policy_decimals=self._policy_decimals,
        )
        relay.attach(self.runtime.sink)
        self.reconcile = await self.runtime.start(resume_from_ns=last or None, book_since_ns=self._book_since(last))
        for trade_id, price, fee in cfg.closed_outside_entries:
            await self._check_not_held(self.runtime, trade_id)
            self.closed_outside.append(await self._book_closed_outside(self.runtime, trade_id, price, fee))

    def _book_since(self, last: int) -> int:
        """When this journal's book began (:func:`~pink.runtime.journal_guard.book_since`)."""
        assert self.kernel is not None and self.clock is not None and not isinstance(self.clock, _PendingSimClock)
        return book_since(self.kernel.journal, last, self.clock.now_ns())

    async def _check_not_held(self, rt: Runtime, trade_id: str) -> None:
        """A trade to book as closed outside PINK must be gone from the venue: booked while the
        venue still holds it, its position would stay there with nothing in PINK to exit it."""
        view = next((v for v in rt.slots if v.trade_id == trade_id), None)
        if view is None or view.side is None or self.venue is None:
            return  # (not open: the booking names it)
        key = (view.symbol, view.side)
        try:
            held = sum((abs(p.quantity) for p in await self.venue.positions() if (p.symbol, p.side) == key),
                       Decimal(0))
        except PinkError as exc:
            raise StartupError("closed_outside", f"trade {trade_id!r}: the venue's positions could not be read to "
                               f"check it is closed there: {exc}") from exc
        assert self.kernel is not None  # (what orders it never sent opened, as their fills told it, counts too)
        by_hand = (await rt.ask(self.kernel.kernel.held_outside)).get(key, Decimal(0))
        ours = sum((v.remaining_qty for v in rt.slots if (v.symbol, v.side) == key), by_hand)
        if held > ours - view.remaining_qty:
            raise StartupError("closed_outside", f"trade {trade_id!r}: the venue still holds {view.symbol} "
                               f"{view.side.value} {held} (PINK's trades there: {ours}, this one "
                               f"{view.remaining_qty}): it was not closed outside PINK. Booked, that position would "
                               f"stay at the venue with nothing to exit it; check the trade id, or close it on the "
                               f"venue first")

    @staticmethod
    async def _book_closed_outside(rt: Runtime, trade_id: str, price: Decimal, fee: Decimal) -> str:
        """Book a position the operator closed outside PINK, before any cycle; one that does not
        fit (no such open trade, an order working) stops the start, named."""
        slot = next((v.slot for v in rt.slots if v.trade_id == trade_id), None)
        if slot is None:
            raise StartupError("closed_outside", f"trade {trade_id!r} is not open on any slot (booked already? "
                               f"then drop it from closed_outside)")
        event = ClosedOutside(slot, trade_id, price, fee, rt.clock.now_ns(), note="closed_outside at start")
        outcome = await rt.book_closed_outside(event)
        if outcome.status is not OutcomeStatus.CONFIRMED:
            raise StartupError("closed_outside", f"trade {trade_id!r}: {outcome.detail}")
        log.warning("closed outside PINK: slot %d trade %s: %s", slot, trade_id, outcome.detail)
        return f"slot {slot} trade {trade_id}: {outcome.detail}"

    async def _start_venue(self, relay: SinkRelay) -> dict[str, Instrument]:
        cfg = self.cfg
        if self.venue is None:
            if cfg.venue == "sim":
                self.venue = build_sim(cfg, Path(cfg.data_dir) / "journal.sqlite", time.time_ns())
            else:
                from pink.venues.bingx.config import BingxConfig
                from pink.venues.bingx.venue import BingxVenue

                self.venue = BingxVenue(BingxConfig.from_env(), asset=cfg.settle_asset)
        venue = self.venue
        if cfg.fast:
            start = getattr(venue, "now", SIM_EPOCH_NS)
            self.clock = _PendingSimClock(int(start))
        else:
            self.clock = WallClock()
        try:
            await venue.start(relay)
            instruments = await venue.instruments()
            wallet = await venue.balance()
            asset, self._venue_account, self._wallet = wallet.asset, wallet.account, wallet.balance
        except PinkError as exc:
            raise _venue_start_error(venue, exc) from exc
        if asset != cfg.settle_asset:  # else every fee would be in an asset the account does not book
            raise StartupError(f"venue ({venue.name})", f"the account's margin asset is {asset}, but this run "
                               f"settles in {cfg.settle_asset}; set settle_asset = \"{asset}\" "
                               "(PINK_SETTLE_ASSET) on a new data dir")
        self.backends["venue"] = venue.name
        return instruments

    def _check_new_capital(self, data: Path) -> None:
        """A new data dir on a venue may not trade more than its wallet holds: ``initial_capital`` is
        the money PINK sizes orders on (the simulator's wallet is made from it). Refused before
        the journal is made, so the next start, with the right value, is a new data dir too."""
        cap = self.cfg.initial_capital
        assert self.venue is not None
        if self.venue.name == "sim" or (data / "journal.sqlite").exists() or cap <= self._wallet:
            return
        raise StartupError(f"data dir ({data})", f"initial_capital {cap} is more than the venue's wallet holds "
                           f"({self._wallet} {self.cfg.settle_asset}): PINK would size its orders on money the "
                           f"account does not have; set initial_capital (PINK_INITIAL_CAPITAL) to the money PINK "
                           f"may trade with, at most {self._wallet}")

    async def _align_sim_venue(self, now: int) -> None:
        """A restarted simulated clock continues after the journal; so does the simulator."""
        if isinstance(self.venue, SimDriver) and getattr(self.venue, "now", now) < now:
            await self.venue.advance_to(now)  # its events go to the relay's buffer

    def _paper_sim(self) -> Any:
        """The simulator this launcher built for a paper run (None: a venue given, or BingX)."""
        from pink.venues.sim.venue import SimVenue

        if not isinstance(self.venue, SimVenue) or self._venue_given is not None:
            return None
        return self.venue

    def _open_kernel(self, data: Path, instruments: dict[str, Instrument]) -> JournaledKernel:
        """The journaled kernel, held to what made its journal (:mod:`pink.runtime.journal_guard`)."""
        assert self.venue is not None
        return open_journal(self.cfg, self.venue, self._venue_account, data, instruments, self.backends)

    def _take_account_id(self, jk: JournaledKernel) -> None:
        """An unset ``account_id`` is the journal's (:func:`~pink.runtime.journal_guard.open_journal`
        kept it): the ledger, planes and projection started after it use that name."""
        if not self.cfg.account_id:
            self.cfg = dataclasses.replace(self.cfg, account_id=jk.journal.meta("account_id") or "")

    async def _start_ledger(self, data: Path) -> None:
        assert self.kernel is not None
        self.ledger = await start_ledger(self.cfg, data, self.kernel.journal, self.backends)
        if self.ledger is not None:
            await catch_up_ledger(self.cfg, self.ledger, self.kernel.journal, self.backends["ledger"])

    def _start_plane(self, data: Path) -> None:
        self.plane = start_plane(self.cfg, data, self.backends)
        self.control = start_control(self.cfg, data, self.backends)

    async def _start_projection(self) -> None:
        self.projection, described = build_projection(self.cfg, self.backends)
        if self.projection is not None:
            await start_projection(self.cfg, self.projection, described, self.backends)

    def _default_loop_config(self) -> LoopConfig:
        c = self.cfg
        return LoopConfig(cycle_s=c.cycle_s, max_in_flight=c.max_in_flight,
                          call_timeout_s=c.call_timeout_s, close_timeout_s=c.close_timeout_s,
                          reconcile_interval_s=c.reconcile_interval_s, books_settle_s=c.books_settle_s,
                          books_rebase=c.books_rebase)

    def _quote_source(self) -> Callable[[str], Quote | None]:
        engine = getattr(self.venue, "engine", None)
        if engine is not None and hasattr(engine, "quote"):
            return engine.quote  # type: ignore[no-any-return]  # the simulator's own book
        cache: dict[str, Quote] = {}
        self._bg.append(asyncio.create_task(self._refresh_quotes(cache)))
        return cache.get

    async def _refresh_quotes(self, cache: dict[str, Quote]) -> None:
        """Quotes from the venue's market stream cache, refreshed once per cycle.

        It stops on ``_closing`` too: a cancel that meets a venue call's own timeout can come
        back as that call's timeout error (aiohttp on Python 3.11), which is suppressed here.
        A chaos runner's close hung on it: the loop went on, and close() waited for it."""
        assert self.venue is not None
        while not self._closing:
            for symbol in list(getattr(self.runtime, "instruments", {})):
                try:
                    async with asyncio.timeout(self.cfg.call_timeout_s):
                        cache[symbol] = await self.venue.quote(symbol)
                except (PinkError, TimeoutError):
                    cache.pop(symbol, None)  # no quote rather than a stale one: nothing is priced on it
            await asyncio.sleep(self.cfg.cycle_s)

    # -------------------------------------------------------------------- run

    async def run(self, cycles: int | None = None) -> None:
        if self.runtime is None:
            raise ClosedError("launcher (not started)")
        with kernel_context():  # (and the tasks started here)
            await self._run(self.runtime, cycles)

    async def _run(self, rt: Runtime, cycles: int | None) -> None:
        if not self._health_written:  # one loop, however often run() is called (and whatever backends:
            # pink health and pink control tell a run that is going from one that is not by it)
            self._health_written = True
            self._bg.append(asyncio.create_task(self._health_loop()))
        if (sim := self._paper_sim()) is not None and not self._keeping_prices:
            self._keeping_prices = True
            self._bg.append(asyncio.create_task(self._keep_sim_prices(sim)))
        await rt.run(cycles if cycles is not None else (self.cfg.cycles or None))

    def health(self) -> Any:
        from pink.runtime.run_health import health_report

        return health_report(self.cfg, self.runtime, self.ledger, self.projection, self.venue, self.backends)

    async def _health_loop(self) -> None:
        from pink.plane.health import write_health

        while not self._closing:
            with contextlib.suppress(OSError, PinkError):
                write_health(self.cfg.data_dir, self.health())
            await asyncio.sleep(self.cfg.health_interval_s)

    # ------------------------------------------------------------------ close

    async def close(self) -> CloseReport:
        """The ordered close (F21); idempotent; returns what it did."""
        if self._close_report is not None:
            return self._close_report
        with kernel_context():
            return await self._close()

    async def _close(self) -> CloseReport:
        rep = self._close_report = CloseReport()
        if self.runtime is not None:
            rep.in_flight = await self.runtime.shutdown()
            rep.steps.extend(self.runtime.steps)
        else:
            rep.steps.extend(["stop_policy", "stop_intake", "finish_in_flight"])
        self._closing = True
        for t in self._bg:
            t.cancel()
        await asyncio.gather(*self._bg, return_exceptions=True)
        if self.kernel is not None:
            await self._step(rep, "checkpoint_journal", self._close_journal, self.kernel)
        if self.ledger is not None:
            await self._step(rep, "flush_ledger", self._flush_ledger, self.ledger)
        rep.steps.append("flush_persistence")
        if self.projection is not None:
            await self._step(rep, "close_projection", self.projection.close)
        if self.plane is not None:
            await self._step(rep, "close_plane", self.plane.close)
        if self.venue is not None and self._venue_given is None:
            await self._step(rep, "close_venue", self.venue.close)
        if self._health_written:  # its last report says so: `pink health` must not call it healthy
            from pink.plane.health import write_health

            with contextlib.suppress(OSError, PinkError):
                write_health(self.cfg.data_dir, dataclasses.replace(self.health(), closed_ts=time.time_ns()))
        if self._lock is not None:
            self._lock.release()  # last: the dir is the next run's only once everything here is closed
        return rep

    async def _flush_ledger(self, ledger: Any) -> None:
        """Close the ledger; records it could not write (its server gone, hung) fail the step:
        its close only logged them, and the run looked clean."""
        await ledger.close(self.cfg.close_timeout_s)
        health = getattr(ledger, "health", None)
        h = health() if health is not None else None
        if h is not None and (h.backlog or h.from_journal):
            left = f"{h.backlog} record(s)" + (f" and {h.from_journal} journal message(s)" if h.from_journal else "")
            why = f" ({h.last_error})" if h.last_error else ""
            raise PinkError(f"{left} not written to the ledger {h.backend}{why}; the journal keeps them and the "
                            f"next start re-puts them")

    def _close_journal(self, jk: JournaledKernel) -> None:
        if (sim := self._paper_sim()) is not None and jk.failed is None and not jk.journal.closed:
            try:
                keep_prices(sim, jk.journal)  # the next paper run goes on from them
            except Exception as exc:  # the journal's own close says what is wrong with it
                log.warning("close: the simulator's last prices not kept: %s", exc)
        jk.close()

    async def _keep_sim_prices(self, sim: Any) -> None:
        """Every few seconds, the simulator's prices into the journal: a run killed goes on from
        where its market was, within that time."""
        while not self._closing and self.runtime is not None and self.kernel is not None:
            with contextlib.suppress(PinkError):
                await self.runtime.ask(functools.partial(keep_prices, sim, self.kernel.journal))
            await asyncio.sleep(self.cfg.health_interval_s)

    @staticmethod
    async def _step(rep: CloseReport, name: str, fn: Callable[..., Any], *args: Any) -> None:
        try:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                await result
        except Exception as exc:  # keep closing the rest; say what failed
            rep.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            log.error("close step %s failed: %s", name, exc)
        rep.steps.append(name)


class _PendingSimClock:
    """Start time of a simulated clock, decided once the journal is open."""

    def __init__(self, start: int) -> None:
        self.start = start

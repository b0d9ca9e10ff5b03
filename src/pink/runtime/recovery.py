"""Reconciliation against the venue: at start (E26) and on a slow timer (E1).

Everything learned goes back into the runtime's queue as venue events
(``OrderStatusReport``, ``OrderFilled``, ``FundingPaid``, ``FundsTransferred``), so that only the
owner task applies it to the kernel; the kernel's dedup (fill ids, funding
and transfer ids) makes repeats no-ops. Kernel reads happen through ``ask`` (on the
owner task). Positions and the books against the venue's wallet
(:mod:`pink.runtime.books`) are compared, not "fixed": a difference is reported.

At start every read that books something must succeed (after retries,
:mod:`pink.runtime.retry`) or the start stops: no cycle runs on a kernel that missed
what moved while PINK was down. A slow run reads each part on its own; one that fails
is in ``ReconcileReport.errors``, and the runtime reads from as far back again at its
next run.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from pink.errors import ReconcileError, VenueError
from pink.kernel.events import is_pinks_own
from pink.kernel.messages import BalanceReport, PositionReport, QueryOrder, Side, VenueEvent
from pink.kernel.views import OrderView
from pink.ports import OneIncomeRead, OrderFillsRead, Venue
from pink.runtime.books import BooksCheck, BooksSighting, venue_cost_gap
from pink.runtime.ports_ext import BooksLog, KernelViews
from pink.runtime.retry import read_or_fail

__all__ = ["GAPPED_READS_PER_RUN", "MONEY_LOOKBACK_NS", "ReconcileReport", "Reconciler", "exposure"]

log = logging.getLogger(__name__)

T = TypeVar("T")
_OUTSIDE_MARGIN_NS = 60_000_000_000  # a close PINK missed is looked for from a minute before the run before
_OUTSIDE_LOOK_EVERY = 32  # runs, at most, between looks for it while none found it (see _missed_outside_fills)
#: a slow run's money reads look this much further back than its window: a venue may list an income
#: row a while after its time, so one stamped before the last run began may be listed only after it read
MONEY_LOOKBACK_NS = 300 * 1_000_000_000
#: the orders holding a report's gap whose fills one reconcile asks about, at most (the least recently
#: asked first, so each in turn): the kernel keeps up to 200, and each may cost BingX a request on two
#: endpoints it allows 5 a second each, which the executor's queries of orders in flight share. A venue
#: that lists a fill late, stamped when made (:class:`~pink.ports.OrderFillsRead`), is asked each one's
#: fills by the order, over its whole life: over the reconcile's window they may never be seen
GAPPED_READS_PER_RUN = 10


@dataclass
class ReconcileReport:
    """What a reconciliation did and found."""

    queried: list[str] = field(default_factory=list)  # in-flight orders asked about
    open_orders: int = 0
    outside_orders: list[str] = field(default_factory=list)  # open at the venue, placed outside PINK: left alone
    #: open at the venue with a client id of PINK's form that this journal never placed: another PINK
    #: run on the account, or a data dir other than the one that placed them (left alone; told at start)
    unknown_own_orders: list[str] = field(default_factory=list)
    fills: int = 0
    outside_fills: int = 0  # fills of orders placed outside PINK, asked for when a position differed
    funding: int = 0
    transfers: int = 0
    position_mismatches: list[str] = field(default_factory=list)
    books_mismatch: str = ""  # kernel capital against the venue's wallet (see BooksCheck)
    #: reads that failed: at start only the wallet's (it books nothing); any other stops the start
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for a person: what was asked and booked, what differs."""
        parts = [f"{len(self.queried)} order(s) in flight asked about", f"{self.open_orders} open at the venue",
                 f"{self.fills} fill(s), {self.funding} funding payment(s) and {self.transfers} transfer(s) read"]
        if self.outside_fills:
            parts.append(f"{self.outside_fills} fill(s) of orders placed outside PINK")
        if self.outside_orders:
            parts.append(f"left alone, placed outside PINK: {', '.join(self.outside_orders)}")
        if self.position_mismatches:
            parts.append(f"positions differ: {'; '.join(self.position_mismatches)}")
        return "; ".join(parts)


def exposure(views: KernelViews, n_slots: int) -> dict[tuple[str, Side], Decimal]:
    """What the venue should hold per (symbol, side): the kernel's open quantity summed over
    slots, and what orders it never sent (by hand) opened, as their fills told it."""
    out: dict[tuple[str, Side], Decimal] = defaultdict(Decimal)
    for i in range(n_slots):
        v = views.slot_view(i)
        if v.side is not None and v.remaining_qty > 0:
            out[(v.symbol, v.side)] += v.remaining_qty
    for key, qty in views.held_outside().items():
        out[key] += qty
    return dict(out)


class Reconciler:
    def __init__(
        self,
        venue: Venue,
        emit: Callable[[VenueEvent], None],
        ask: Callable[[Callable[[], Any]], Awaitable[Any]],
        now: Callable[[], int],
        books_settle_ns: int,
        *,
        books_log: BooksLog | None = None,
        books_rebase: bool = False,
        start_attempts: int = 3,
        start_backoff_s: float = 0.5,
    ) -> None:
        self._venue = venue
        self._emit = emit
        self._ask = ask
        self._now = now
        self.last: ReconcileReport | None = None
        self.runs = 0
        self.books = BooksCheck(books_settle_ns)
        self._books_log = books_log  # where the baseline is kept between runs (the journal)
        self._books_rebase = books_rebase
        self._start_attempts = start_attempts  # each start-up read, before the start fails
        self._start_backoff_s = start_backoff_s
        self._position_differences: set[str] = set()  # seen by the last periodic run
        self._venue_positions: list[PositionReport] | None = None  # this run's positions read
        self.position_alerts = 0  # runs that reported a position differing from the venue's
        # positions the venue holds more or less of than the kernel: since when to look for the
        # orders placed outside PINK that did it (from the run before the first that saw one),
        # and when to look again: (looks that found nothing, the run of the next look), None once
        # one found fills
        self._differ_since: dict[tuple[str, Side], int] = {}
        self._differ_asked: dict[tuple[str, Side], tuple[int, int] | None] = {}
        # open orders that are not among the kernel's working ones, already shown to it (or named
        # at start): their status goes to the kernel once, not at every slow run while they rest
        self._shown_open: set[str] = set()
        # where the start-up reconcile read money from (never before the journal's book): a slow
        # run's look-back stops there (money before the book is in initial_capital)
        self._money_floor: int | None = None
        self._gaps_asked: dict[str, int] = {}  # an order holding a report's gap: the run that last asked about it

    async def full(
        self, views: KernelViews, since_ns: int, n_slots: int, *, money_since_ns: int | None = None
    ) -> ReconcileReport:
        """Start-up reconciliation: every in-flight order's status, open orders,
        fills since ``since_ns``, funding and transfers since ``money_since_ns`` (default
        ``since_ns``), then positions (E26), then the books against the venue's wallet.

        A read the venue still fails after retries raises :class:`~pink.errors.ReconcileError`."""
        rep = ReconcileReport()
        self._money_floor = since_ns if money_since_ns is None else money_since_ns
        await self._kept_baseline()
        wallet_before = await self._wallet(rep)  # unchanged at the end: nothing moved meanwhile
        working = await self._ask(views.working_orders)
        for order in working:
            query = QueryOrder(order.client_order_id, order.symbol, "restart reconcile")
            report = await self._read(rep, f"the status of order {order.client_order_id}",
                                      partial(self._venue.query, query), at_start=True)
            assert report is not None  # (at start a failed read raises)
            rep.queried.append(order.client_order_id)
            self._emit(report)
        known = {o.client_order_id for o in working}
        # the orders holding a report's gap, in turn: their real fills true their gaps up
        gapped = await self._gapped(views, working)
        await self._common(rep, known, since_ns, money_since_ns, orders=known | set(gapped), gapped=gapped)
        differ = await self._positions(rep, views, n_slots, at_start=True)
        money_since = since_ns if money_since_ns is None else money_since_ns
        if differ and await self._outside_fills(rep, money_since, differ, at_start=True):
            await self._positions(rep, views, n_slots, at_start=True)
        await self._books(rep, views, wallet_before)
        self._finish(rep)
        return rep

    async def periodic(self, views: KernelViews, since_ns: int, n_slots: int | None = None) -> ReconcileReport:
        """Slow-timer reconciliation: open orders, fills, funding and transfers since the last
        run, then (given ``n_slots``) positions, then the books against the venue's wallet.

        Funding and transfers are read from :data:`MONEY_LOOKBACK_NS` before ``since_ns`` (a row
        the venue listed late; each is booked once by its id), never from before where the
        start-up reconcile read them (without one, from ``since_ns``).

        A position that differs is reported once the same difference is seen by two runs in a
        row: one reading may fall between a fill at the venue and its event here. Such a
        difference is first looked for in the fills of orders placed outside PINK."""
        rep = ReconcileReport()
        working = await self._ask(views.working_orders)
        ids = {o.client_order_id for o in working}
        # the orders holding a report's gap (ended ones too), in turn: their real fills true them up
        gapped = await self._gapped(views, working)
        floor = self._money_floor
        money_since = since_ns if floor is None else min(since_ns, max(since_ns - MONEY_LOOKBACK_NS, floor))
        await self._common(rep, None, since_ns, money_since, orders=ids | set(gapped), gapped=gapped)
        if n_slots is not None:
            seen = self._position_differences
            differ = await self._positions(rep, views, n_slots)
            if await self._missed_outside_fills(rep, differ, since_ns):
                await self._positions(rep, views, n_slots)
            self._position_differences = set(rep.position_mismatches)
            rep.position_mismatches = [m for m in rep.position_mismatches if m in seen]
        await self._books(rep, views)
        self._finish(rep)
        return rep

    async def _gapped(self, views: KernelViews, working: list[OrderView]) -> dict[str, str]:
        """This run's turn of the orders holding a report's gap (:meth:`_gapped_turn`), each with its
        symbol (the kernel keeps it, a finished trade's order's too).
        Asked by the order (:class:`OrderFillsRead`), the working ones take their turn too: their
        fills over the window may not be the ones that true the gap up."""
        by_order = isinstance(self._venue, OrderFillsRead)
        ids = set() if by_order else {o.client_order_id for o in working}
        gapped = await self._ask(views.orders_with_open_gaps)
        return {cid: gapped[cid] for cid in self._gapped_turn(list(gapped), ids)}

    def _gapped_turn(self, gapped: list[str], working: set[str]) -> set[str]:
        """This run's turn of the orders holding a report's gap (``gapped``, oldest first; the
        ``working`` ones are asked about anyway): at most :data:`GAPPED_READS_PER_RUN`, those asked
        longest ago (or never) first, so that each is asked in turn however many there are."""
        last, self._gaps_asked = self._gaps_asked, {}
        waiting = [cid for cid in gapped if cid not in working]
        turn = sorted(range(len(waiting)), key=lambda i: (last.get(waiting[i], -1), i))[:GAPPED_READS_PER_RUN]
        self._gaps_asked = {cid: last[cid] for cid in waiting if cid in last}  # (those trued up go)
        for i in turn:
            self._gaps_asked[waiting[i]] = self.runs
        return {waiting[i] for i in turn}

    async def _common(
        self, rep: ReconcileReport, known: set[str] | None, since_ns: int, money_since_ns: int | None = None,
        *, orders: set[str] | None = None, gapped: dict[str, str] | None = None,
    ) -> None:
        """Open orders (``known``: the kernel's working orders at start; others are foreign),
        then the fills of ``orders`` (default ``known``: an order the kernel has finished has
        all its fills, unless a report's gap stands for some; those of ``gapped`` by the order
        where the venue can: :meth:`_gapped_fills`), funding and transfers. Each is read on its
        own: at start one that fails stops the start; later it is reported and the others are
        still read."""
        at_start = known is not None
        money_since = since_ns if money_since_ns is None else money_since_ns
        venue = self._venue
        open_orders = await self._read(rep, "open orders", venue.open_orders, at_start=at_start)
        if open_orders is not None:
            rep.open_orders = len(open_orders)
            shown, self._shown_open = self._shown_open, set()  # (kept for the orders still open)
            for r in open_orders:
                name = r.client_order_id or f"venue order {r.venue_order_id}"
                ours = orders is None or r.client_order_id in orders
                named_at_start = known is not None and r.client_order_id not in known
                if named_at_start:
                    if is_pinks_own(r.client_order_id):
                        rep.unknown_own_orders.append(r.client_order_id)
                    else:
                        rep.outside_orders.append(name)
                elif known is None and (ours or name not in shown):  # ours, or another's the first time
                    self._emit(r)
                if named_at_start or not ours:
                    self._shown_open.add(name)
        by_order = await self._gapped_fills(rep, gapped or {}, at_start=at_start)
        asked = known if orders is None else orders
        asked = None if asked is None else asked - by_order
        fills = await self._read(rep, "fills", lambda: venue.fills_since(since_ns, asked), at_start=at_start)
        if fills is not None:
            rep.fills += len(fills)
            for f in fills:
                self._emit(f)
        await self._money(rep, money_since, at_start=at_start)

    async def _gapped_fills(self, rep: ReconcileReport, gapped: dict[str, str], *, at_start: bool) -> set[str]:
        """The fills of the orders holding a report's gap (each with its symbol, "" if not known),
        from a venue that lists a fill late, stamped when made (:class:`OrderFillsRead`): each read
        by the order, over its own life, for a window from the last run on may start after them and
        the gap would never be trued up. Returns those read; the others (the venue cannot ask one by
        order, or its read failed: asked first at the next run) are read over the window. They only
        true up the price of what a gap booked: one that fails does not stop the start (every
        start would stop on the same order), it is in ``rep.errors``."""
        venue = self._venue
        read: set[str] = set()
        if not isinstance(venue, OrderFillsRead):
            return read
        for cid, symbol in sorted(gapped.items()):
            errors = len(rep.errors)
            what = f"the fills of order {cid}"
            try:
                fills = await self._read(rep, what, partial(venue.fills_of_order, cid, symbol), at_start=at_start)
            except ReconcileError as exc:
                rep.errors.append(f"{what}: {exc.__cause__ or exc}")
                fills = None
            if fills is None:
                if len(rep.errors) > errors:
                    self._gaps_asked.pop(cid, None)
                continue
            read.add(cid)
            rep.fills += len(fills)
            for f in fills:
                self._emit(f)
        return read

    async def _money(self, rep: ReconcileReport, since: int, *, at_start: bool) -> None:
        """Funding and transfers since ``since``: in one read from a venue that lists them
        together (BingX's income: rate-limited, so not read twice), else one read each."""
        venue = self._venue
        if isinstance(venue, OneIncomeRead):
            moved = await self._read(rep, "income (funding payments and transfers)",
                                     partial(venue.money_since, since), at_start=at_start)
            funding, transfers = (None, None) if moved is None else (moved.funding, moved.transfers)
        else:
            funding = await self._read(rep, "funding payments", partial(venue.funding_since, since),
                                       at_start=at_start)
            transfers = await self._read(rep, "transfers (deposits, withdrawals)",
                                         partial(venue.transfers_since, since), at_start=at_start)
        if funding is not None:
            rep.funding = len(funding)
            for p in funding:
                self._emit(p)
        if transfers is not None:
            rep.transfers = len(transfers)
            for t in transfers:
                self._emit(t)

    async def _read(
        self, rep: ReconcileReport, what: str, call: Callable[[], Awaitable[T]], *, at_start: bool
    ) -> T | None:
        """One read of the venue. At start it is retried, then stops the start (ReconcileError);
        in a slow run a failure goes to ``rep.errors`` (None), and the next run reads it again."""
        if at_start:
            return await read_or_fail(what, call, self._start_attempts, self._start_backoff_s)
        try:
            return await call()
        except VenueError as exc:
            rep.errors.append(f"{what}: {exc}")
            return None

    async def _missed_outside_fills(
        self, rep: ReconcileReport, differ: set[tuple[str, Side]], since_ns: int
    ) -> bool:
        """Positions the venue holds more or less of than the kernel (``differ``) in two runs in a
        row (so no fill in flight): look, from a minute before the run before the first of them,
        for fills of orders placed outside PINK that it never heard of (a lost push). Once fills
        came, not again while it differs; a look that found none (the venue may list a fill late,
        stamped when made) is made again at the next run, then after 2, 4... runs (at most
        :data:`_OUTSIDE_LOOK_EVERY`). True if any came."""
        for key in list(self._differ_since):
            if key not in differ:
                del self._differ_since[key]
                self._differ_asked.pop(key, None)
        asked = self._differ_asked
        held = {key for key in differ if key in self._differ_since
                and (key not in asked or ((then := asked[key]) is not None and then[1] <= self.runs))}  # fmt: skip
        for key in differ:
            self._differ_since.setdefault(key, since_ns - _OUTSIDE_MARGIN_NS)
        if not held:
            return False
        found = await self._outside_fills(rep, min(self._differ_since[key] for key in held), held)
        for key in held:
            looks = 0 if found or (then := asked.get(key)) is None else then[0]
            asked[key] = None if found else (looks + 1, self.runs + min(2**looks, _OUTSIDE_LOOK_EVERY))
        return found

    async def _outside_fills(
        self, rep: ReconcileReport, since_ns: int, differ: set[tuple[str, Side]], *, at_start: bool = False
    ) -> bool:
        """The venue's positions in ``differ`` differ from the kernel's: ask for the fills of
        their symbols' orders placed outside PINK (no client id: by hand, a liquidation; or
        another program's) whose push PINK never heard (it was down, or the stream dropped it)
        and hand them to the kernel. It books a close of its positions, counts an opening one as
        held outside PINK (so that its close is not taken for one of PINK's) and ignores what it
        has seen. True if there were any."""
        symbols = sorted({symbol for symbol, _ in differ})
        fills = await self._read(rep, f"fills of orders placed outside PINK ({', '.join(symbols)})",
                                 lambda: self._venue.fills_since(since_ns, (), outside=True, symbols=symbols),
                                 at_start=at_start)
        if fills is None:
            return False
        rep.outside_fills += len(fills)
        for f in fills:
            self._emit(f)
        return bool(fills)

    async def _positions(
        self, rep: ReconcileReport, views: KernelViews, n_slots: int, *, at_start: bool = False
    ) -> set[tuple[str, Side]]:
        """Compare (``rep.position_mismatches``, replaced); return where they differ."""
        rep.position_mismatches = []
        self._venue_positions = None
        positions = await self._read(rep, "positions", self._venue.positions, at_start=at_start)
        if positions is None:
            return set()
        self._venue_positions = positions  # for this run's books reading
        ours = await self._ask(lambda: exposure(views, n_slots))
        theirs: dict[tuple[str, Side], Decimal] = defaultdict(Decimal)
        for p in positions:
            if p.quantity != 0:
                theirs[(p.symbol, p.side)] += abs(p.quantity)
        differ: set[tuple[str, Side]] = set()
        for key in sorted(set(ours) | set(theirs)):
            a, b = ours.get(key, Decimal(0)), theirs.get(key, Decimal(0))
            if a != b:
                rep.position_mismatches.append(f"{key[0]} {key[1].value}: kernel {a} venue {b}")
                differ.add(key)
        return differ

    async def _wallet(self, rep: ReconcileReport) -> BalanceReport | None:
        """The venue's wallet. It books nothing (the books check only compares it with capital),
        so even at start a failure is reported, not fatal: a later reading is taken instead."""
        try:
            return await self._venue.balance()
        except VenueError as exc:
            error = f"balance: {exc}"
            if error not in rep.errors:  # the start-up reconcile reads it twice: one failure, one line
                rep.errors.append(error)
            return None

    async def _books(
        self, rep: ReconcileReport, views: KernelViews, start_wallet: BalanceReport | None = None
    ) -> None:
        """One reading of the venue's wallet and, after everything emitted so far, the kernel's
        capital. ``start_wallet``: the wallet before the start-up reconcile read anything; if it
        did not move meanwhile, this reading may set the baseline (see BooksCheck)."""
        wallet = await self._wallet(rep)
        if wallet is None:
            return
        unmoved = start_wallet is not None and wallet.balance == start_wallet.balance
        capital, doubt, held = await self._ask(
            lambda: (views.account_view().capital, views.money_in_doubt(partly_closed=False), views.partly_closed()))
        fuzz = Decimal(0)
        if held and not doubt:  # what the venue realized beyond the kernel on them (venue_cost_gap)
            positions, self._venue_positions = self._venue_positions, None  # (this run's only)
            gap = None if positions is None else venue_cost_gap(held, positions)
            if gap is None:
                doubt = "a position the venue has partly closed, not paired with its report"
            else:
                capital, fuzz = capital + gap[0], gap[1]
        moved, baseline = self.books.moved, self.books.baseline
        sighting = BooksSighting(capital, wallet.balance, self._now(), bool(doubt), wallet.resolution + fuzz)
        rep.books_mismatch = self.books.see(sighting, at_start=unmoved)
        keep, new = self._books_log, self.books.baseline
        if keep is not None and baseline is None and new is not None:
            await self._ask(lambda: keep.record_books_baseline(new))
        if self.books.moved != moved:
            if self.books.moved is not None:
                log.error("reconcile: books mismatch: %s", rep.books_mismatch)
            else:
                log.warning("reconcile: the books agree with the venue's wallet again")

    async def _kept_baseline(self) -> None:
        """At start: the baseline the last run kept, so that this run's readings are held against
        it (money moved unbooked while down is found), unless asked to start from a new one."""
        keep = self._books_log
        if keep is None:
            return
        if self._books_rebase:
            await self._ask(lambda: keep.record_books_baseline(None))
            log.warning("books: the last run's baseline dropped as asked; this start's reading sets a new one")
        else:
            self.books.baseline = await self._ask(keep.books_baseline)

    def _finish(self, rep: ReconcileReport) -> None:
        self.runs += 1
        self.last = rep
        self.position_alerts += bool(rep.position_mismatches)
        for m in rep.position_mismatches:
            log.warning("reconcile: position mismatch %s", m)
        for o in rep.outside_orders:
            log.info("reconcile: open order %s was placed outside PINK: left alone", o)
        for o in rep.unknown_own_orders:
            log.warning("reconcile: open order %s has the form of PINK's own but this journal never placed it: "
                        "left alone", o)  # fmt: skip


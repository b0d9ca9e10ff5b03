"""A live terminal view of a runtime (rich) and the end-of-run summary.

The view asks the owner task for the slots and the working orders, both taken
at the same moment (a frame never shows an order its slots table has moved
past); it never calls the kernel itself. It refreshes on a wall clock timer a
few times per second, whatever the speed of the run, and once more at close.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pink.kernel.views import OrderView, SlotView
from pink.runtime.loop import Runtime
from pink.runtime.stats import Summary

__all__ = ["STATE_LABELS", "WIDE", "LiveView", "num", "read_frame", "render", "slots_table", "summary_table"]


WIDE = 130  # from this many columns the tables show trade ids and full order ids
_ORDERS_SHOWN = 12  # working orders listed in the live view

STATE_LABELS = {
    "IDLE": "idle",
    "ENTRY_PENDING": "entry sent",
    "ENTRY_WORKING": "entry working",
    "ENTRY_CANCELING": "entry canceling",
    "POSITION_OPEN": "open",
    "EXIT_PENDING": "exit sent",
    "EXIT_WORKING": "exit working",
    "EXIT_CANCELING": "exit canceling",
    "DESYNC": "DESYNC",
}


def num(value: Decimal, places: int = 4) -> str:
    """A Decimal for a person: at most ``places`` decimals, no exponent (the ledger keeps exact values)."""
    text = f"{value.quantize(Decimal(1).scaleb(-places)):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _money(x: Decimal) -> str:
    return f"{x:,.4f}"


def _table(title: str, columns: list[tuple[str, bool]], wide: bool) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=wide,
                  padding=(0, 1) if wide else (0, 0))  # narrow: the column separator is the only space
    for col, right in columns:
        table.add_column(col, justify="right" if right else "left", no_wrap=True)
    return table


# header, right-aligned, shown when ("both", "wide" or "narrow"), cell
_SLOT_COLUMNS: tuple[tuple[str, bool, str, Callable[[SlotView], str]], ...] = (
    ("state", False, "both", lambda v: STATE_LABELS.get(v.state, v.state)),
    ("trade", False, "wide", lambda v: v.trade_id),
    ("symbol", False, "both", lambda v: v.symbol.removesuffix("-USDT")),
    ("side", False, "both", lambda v: v.side.value.lower() if v.side else ""),
    ("qty", True, "wide", lambda v: num(v.entry_qty)),
    ("open", True, "both", lambda v: num(v.remaining_qty)),
    ("vwap", True, "both", lambda v: num(v.entry_vwap) if v.entry_vwap else ""),
    ("realized", True, "both", lambda v: num(v.realized_pnl)),  # (by its exits: no mark price in it)
    ("fees", True, "both", lambda v: num(v.fees)),
    ("working order", False, "wide", lambda v: v.working_order or "-"),
    ("order", False, "narrow", lambda v: v.working_order.removeprefix(f"{v.trade_id}-") or "-"),
)


def slots_table(title: str, views: Iterable[tuple[int, SlotView | None]], width: int = WIDE) -> Table:
    """One row per slot (``None``: not readable), for the live view and ``pink status``.
    Narrower than :data:`WIDE` it leaves out the trade id and the entered quantity, and
    names the working order by its suffix (``e1``, ``x0a1``)."""
    wide = width >= WIDE
    columns = [c for c in _SLOT_COLUMNS if c[2] in ("both", "wide" if wide else "narrow")]
    table = _table(title, [("#", True), *((h, right) for h, right, _, _ in columns)], wide)
    desync: list[str] = []
    for i, v in views:
        if v is None or (v.state == "IDLE" and not v.trade_id):
            table.add_row(str(i), "idle" if v else "-", *[""] * (len(columns) - 1))
            continue
        table.add_row(str(i), *(cell(v) for _, _, _, cell in columns))
        if v.desync_reason:
            desync.append(f"slot {i}: {v.desync_reason}")
    if desync:
        table.caption = Text("DESYNC " + "; ".join(desync))  # (a venue's words: not markup)
    return table


Frame = tuple[list[SlotView], list[OrderView]]


async def read_frame(rt: Runtime) -> Frame:
    """The slots and the working orders at one moment, read on the owner task (the views of
    the slots touched since its last batch rebuilt first, as for a policy snapshot)."""

    def read() -> Frame:
        out = rt.outputs
        out.refresh()
        return list(out.slots), list(out.working_orders())

    frame: Frame = await rt.ask(read)
    return frame


def render(
    rt: Runtime, working: list[OrderView] | None = None, width: int = WIDE, slots: Sequence[SlotView] | None = None
) -> Group:
    """One frame: account, slots, working orders (``slots`` and ``working``: read together by
    :func:`read_frame`; else the runtime's copies, the working orders from its last cycle).
    Fits 80 columns; from :data:`WIDE` columns it adds trade ids and full order ids."""
    wide = width >= WIDE
    a, st = rt.account, rt.stats
    acct = _table("account", [("cycle", True), ("capital", True), ("gross", True), ("fees", True),
                              ("funding", True), ("net", True), ("trades", True), ("fills", True),
                              ("max dd", True)], wide)
    acct.add_row(str(st.cycles), num(a.capital), num(a.gross_pnl), num(a.fees), num(a.funding),
                 num(a.net_pnl), str(st.trades), str(st.fills), num(st.max_drawdown))
    if rt.reconciler.books.mismatch:
        acct.caption = Text(f"BOOKS MISMATCH {rt.reconciler.books.mismatch}")
    slots_shown = slots_table("slots", ((s.slot, s) for s in (rt.slots if slots is None else slots)), width)
    orders = _table("working orders", [("order", False), ("slot", True), ("role", False), ("side", False),
                                       ("type", False), ("qty", True), ("price", True), ("filled", True),
                                       ("state", False)], wide)
    shown = rt.working if working is None else working
    if len(shown) > _ORDERS_SHOWN:  # (a trader counting what rests at the venue must know some are not here)
        orders.caption = Text(f"{_ORDERS_SHOWN} of {len(shown)} shown")
    for o in shown[:_ORDERS_SHOWN]:
        cid = o.client_order_id if wide else o.client_order_id.removeprefix(f"{o.trade_id}-")
        orders.add_row(cid, str(o.slot), f"{o.role.lower()}{o.leg if o.role == 'EXIT' else ''}",
                       o.side.value.lower(), o.order_type.value.lower(), num(o.quantity),
                       num(o.limit_price) if o.limit_price else "", num(o.filled_qty), o.state.lower())
    parts: list[Table | Text] = [acct, slots_shown, orders]
    if (pol := rt.policy).failing:  # for as long as it lasts: later alerts push its own out
        n, held = pol.failing, pol.failing_held
        parts.insert(0, Text(f"POLICY FAILING: its last {n} cycle{'s' if n != 1 else ''} raised ({pol.last_error}): "
                             f"no exit or stop goes out for {held} open slot{'s' if held != 1 else ''}",
                             style="bold red"))
    if st.alerts:
        alerts = _table("alerts (the last three)", [("", False)], wide)
        for text in st.alerts[-3:]:
            alerts.add_row(Text(text))  # as written (an error's brackets are not markup); cut to the width
        parts.append(alerts)
    return Group(*parts)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"


def summary_table(
    s: Summary,
    capital: Decimal,
    initial: Decimal,
    *,
    policy: str = "",
    policy_errors: int = 0,
    policy_dropped: int = 0,
    policy_slow: int = 0,
) -> Table:
    """The end-of-run summary: what the run made, in rows that make its capital change (the
    caption says how; see :mod:`pink.runtime.stats`), then its counts."""
    t = Table(title="run summary", caption="capital change = net PnL of closed trades (less what earlier runs "
              "booked of them) and of open trades + venue fee corrections + funding + deposits - withdrawals "
              "(the rows above it); funding: positive received, negative paid")  # fmt: skip
    t.add_column("metric")
    t.add_column("value", justify="right")
    rows: list[tuple[str, str | Text]] = [
        *([("policy", Text(policy))] if policy else []),  # (as written: no markup, no emoji)
        ("cycles", str(s.cycles)),
        ("trades", str(s.trades)),
        ("win rate", f"{s.win_rate:.1%}" if s.trades else "- (no trade closed)"),  # (0.0% read as all lost)
        ("gross PnL (closed trades)", _money(s.gross_pnl)),
        ("fees (closed trades)", _money(s.closed_fees)),
        ("net PnL (closed trades)", _money(s.net_pnl)),
        *([("  less: booked in earlier runs", _money(s.earlier_net))] if s.earlier_net else []),  # (taken away)
        ("realized on open trades", _money(s.open_realized)),
        ("fees on open trades", _money(s.open_fees)),
        ("net PnL (open trades)", _money(s.open_net)),
        *([("venue fee corrections", _money(-s.fee_corrections))] if s.fee_corrections else []),
        ("funding (+ received, - paid)", _money(s.funding)),
        *([("deposits - withdrawals", _money(s.transfers))] if s.transfers else []),
        ("capital change", _money(s.capital_change)),
        ("capital", f"{_money(initial)} -> {_money(capital)}"),
        ("fees (all fills)", _money(s.fees)),
        *([("  of which venue corrections", _money(s.fee_corrections))] if s.fee_corrections else []),
        ("max drawdown", _money(s.max_drawdown)),
        ("fills / intents", f"{s.fills} / {s.intents}"),
        ("refusals (by PINK)", _counts(s.refusals)),
        ("venue rejections", _counts(s.venue_rejections)),
        ("protocol errors", str(s.protocol_errors)),
        *([("policy errors (cycles skipped)", str(policy_errors))] if policy_errors else []),
        *([("policy output dropped (see the log)", str(policy_dropped))] if policy_dropped else []),
        *([("policy cycles longer than cycle_s", str(policy_slow))] if policy_slow else []),
        *([("fills outside PINK, not booked", str(s.outside_fills))] if s.outside_fills else []),
    ]
    for k, v in rows:
        t.add_row(k, v)
    return t


class LiveView:
    """Refreshes :func:`render` every ``period_s`` of wall time until closed."""

    def __init__(self, rt: Runtime, console: Console | None = None, period_s: float = 0.25):
        self._rt = rt
        self._console = console or Console()
        self._period = period_s
        self._task: asyncio.Task[None] | None = None
        self._live: Live | None = None
        self._shown: Frame | None = None  # the slots and working orders of the last read
        self._running = True

    def _frame(self) -> Group:
        slots, working = self._shown or (None, None)
        return render(self._rt, working, self._console.width, slots)

    async def _read(self) -> None:
        """Read the slots and working orders together; a busy owner leaves the last frame's
        (a stopped or dead one too: the frame keeps the last pair read, never a mix; the
        view never stops a run nor its close)."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._period):
                self._shown = await read_frame(self._rt)

    def start(self) -> None:
        self._live = Live(self._frame(), console=self._console, auto_refresh=False)
        self._live.start()
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # meets its inner call's completion (CPython gh-86296), and close() waited for ever
        while self._running:
            await asyncio.sleep(self._period)
            await self._read()
            if self._live is not None:
                self._live.update(self._frame(), refresh=True)

    async def close(self) -> None:
        self._running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._live is not None:
            await self._read()  # the last frame as the run left it, not as of the last timer
            self._live.update(self._frame(), refresh=True)
            self._live.stop()
            self._live = None
            if not self._console.is_terminal:
                self._console.line()  # a non-terminal Live leaves its one frame without a newline

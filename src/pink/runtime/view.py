"""A live terminal view of a runtime (rich) and the end-of-run summary.

The view reads the runtime's cached views (refreshed by the owner task for
the touched slot only); it never calls the kernel. It refreshes on a wall
clock timer a few times per second, whatever the speed of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from pink.runtime.loop import Runtime
from pink.runtime.stats import Summary

__all__ = ["LiveView", "render", "summary_table"]


def _money(x: Decimal) -> str:
    return f"{x:,.4f}"


def render(rt: Runtime) -> Group:
    """One frame: slots, working orders, account."""
    slots = Table(title="slots", expand=True)
    for col in ("#", "state", "trade", "symbol", "side", "remaining", "entry vwap", "legs",
                "realized", "fees"):
        slots.add_column(col)
    for s in rt.slots:
        slots.add_row(
            str(s.slot), s.state, s.trade_id, s.symbol, s.side.value if s.side else "",
            str(s.remaining_qty), str(s.entry_vwap) if s.entry_vwap else "", str(s.legs_done),
            _money(s.realized_pnl), _money(s.fees),
        )
    orders = Table(title="working orders", expand=True)
    for col in ("client order id", "slot", "role", "side", "type", "qty", "price", "filled",
                "state"):
        orders.add_column(col)
    for o in rt.working[:12]:
        orders.add_row(
            o.client_order_id, str(o.slot), f"{o.role}{o.leg if o.role == 'EXIT' else ''}",
            o.side.value, o.order_type.value, str(o.quantity), str(o.limit_price or ""),
            str(o.filled_qty), o.state,
        )
    a, st = rt.account, rt.stats
    acct = Table(title="account", expand=True)
    for col in ("cycle", "capital", "realized (gross)", "fees", "funding", "net", "trades",
                "fills", "max drawdown"):
        acct.add_column(col)
    acct.add_row(
        str(st.cycles), _money(a.capital), _money(a.gross_pnl), _money(a.fees),
        _money(a.funding), _money(a.net_pnl), str(st.trades), str(st.fills),
        _money(st.max_drawdown),
    )
    return Group(acct, slots, orders)


def summary_table(s: Summary, capital: Decimal, initial: Decimal) -> Table:
    t = Table(title="run summary")
    t.add_column("metric")
    t.add_column("value", justify="right")
    rows = [
        ("cycles", str(s.cycles)),
        ("trades", str(s.trades)),
        ("win rate", f"{s.win_rate:.1%}"),
        ("gross PnL (closed trades)", _money(s.gross_pnl)),
        ("fees (all fills)", _money(s.fees)),
        ("funding", _money(s.funding)),
        ("net PnL (closed trades)", _money(s.net_pnl)),
        ("max drawdown", _money(s.max_drawdown)),
        ("capital", f"{_money(initial)} -> {_money(capital)}"),
        ("fills / intents", f"{s.fills} / {s.intents}"),
        ("refusals", ", ".join(f"{k}={v}" for k, v in sorted(s.refusals.items())) or "none"),
        ("protocol errors", str(s.protocol_errors)),
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

    def start(self) -> None:
        self._live = Live(render(self._rt), console=self._console, auto_refresh=False)
        self._live.start()
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            if self._live is not None:
                self._live.update(render(self._rt), refresh=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._live is not None:
            self._live.update(render(self._rt), refresh=True)
            self._live.stop()
            self._live = None

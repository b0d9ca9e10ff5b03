"""The live view of `pink run`: readable at 80 columns, complete from 130, working orders fresh."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path
from typing import Any

from rich.console import Console

from pink.runtime.config import RuntimeConfig
from pink.runtime.launcher import Launcher
from pink.runtime.view import LiveView, render
from tests.runtime.helpers import quiet_config


def config(tmp: Path) -> RuntimeConfig:
    return quiet_config(tmp, slots=8)


async def test_view_fits_80_columns_and_shows_the_working_orders(tmp_path: Path) -> None:
    async with Launcher(config(tmp_path)) as launcher:
        rt = launcher.runtime
        assert rt is not None
        await launcher.run(cycles=40)
        working = await rt.read_working_orders()
        assert working, "the sample policy leaves orders in flight at a cycle's end"
        for width in (80, 130):
            console = Console(width=width, record=True, color_system=None, file=io.StringIO())
            console.print(render(rt, working, width))
            text = console.export_text()
            assert "…" not in text, text
            assert all(len(line) <= width for line in text.splitlines())
            assert f"{rt.stats.cycles}" in text and "working orders" in text
            for order in working:
                suffix = order.client_order_id.removeprefix(f"{order.trade_id}-")
                assert (order.client_order_id if width == 130 else suffix) in text


async def test_live_view_refreshes_with_orders_read_on_the_owner_task(tmp_path: Path) -> None:
    async with Launcher(config(tmp_path)) as launcher:
        rt = launcher.runtime
        assert rt is not None
        out = io.StringIO()
        view = LiveView(rt, Console(width=100, file=out, color_system=None, force_terminal=False), period_s=0.01)
        view.start()
        await launcher.run(cycles=40)
        await asyncio.sleep(0.05)  # a few refreshes
        await view.close()
        assert view._shown is not None  # fetched through rt.ask, not read off the kernel
        assert "slots" in out.getvalue() and "working orders" in out.getvalue()


def test_summary_shows_fee_corrections_only_when_there_are_some() -> None:
    from decimal import Decimal

    from pink.kernel.messages import Settlement, SettlementKind
    from pink.runtime.stats import RunStats
    from pink.runtime.view import summary_table

    def text(stats: RunStats) -> str:
        console = Console(width=80, record=True, color_system=None, file=io.StringIO())
        console.print(summary_table(stats.summary(), Decimal(10000), Decimal(10000)))
        return console.export_text()

    stats = RunStats(Decimal(10000))
    stats.observe([Settlement(1, SettlementKind.FILL, 0, "t1", "f1", Decimal(0), Decimal("0.30"),
                              Decimal(10000), Decimal("9999.70"), 1)])  # fmt: skip
    assert "venue corrections" not in text(stats)
    stats.observe([Settlement(2, SettlementKind.ADJUSTMENT, -1, "t1", "commission:t1-e1", Decimal(0),
                              Decimal("-0.10"), Decimal("9999.70"), Decimal("9999.80"), 2)])  # fmt: skip
    shown = text(stats)
    assert "0.2000" in shown and "venue corrections" in shown and "-0.1000" in shown


async def test_closing_the_view_ends_it_when_the_cancel_meets_a_read_completing(monkeypatch: Any) -> None:
    """A CI run hung here: on Python 3.11, asyncio.wait_for swallows a cancellation that meets its
    inner call's completion (CPython gh-86296), so close() waited for ever on a view that kept
    refreshing. The read below asks for the close while it completes: exactly that meeting."""
    from rich.console import Group

    from pink.runtime import view as view_module

    monkeypatch.setattr(view_module, "render", lambda *_args: Group())
    closing: list[asyncio.Task[None]] = []

    class Rt:
        async def ask(self, _fn: Any) -> tuple[list[Any], list[Any]]:
            if not closing:
                closing.append(asyncio.create_task(live.close()))
            return [], []

    live = LiveView(Rt(), Console(file=io.StringIO()), period_s=0.001)  # type: ignore[arg-type]
    live.start()
    refreshing = live._task
    assert refreshing is not None
    while not closing:
        await asyncio.sleep(0.001)
    await asyncio.wait_for(asyncio.shield(closing[0]), 5)  # a hang guard: without the fix it never ends
    assert refreshing.done()


def _frame_order_ids(text: str) -> tuple[set[str], set[str]]:
    """From a frame at 130 columns: the working orders its slots table names, and those of its
    working orders table."""
    slots_part, _, orders_part = text.partition("working orders")
    ids = re.compile(r"\b(t[0-9A-Za-z]+-[ex][0-9a-z]+)\b")
    return set(ids.findall(slots_part)), set(ids.findall(orders_part))


async def test_the_last_frame_shows_the_working_orders_of_its_slots(tmp_path: Path) -> None:
    """With --fast the view's last read of the working orders (on its wall-clock timer) was
    hundreds of cycles behind when the run ended: the last frame listed orders long done next to
    slots that had moved on. The slots and the working orders are read together."""
    async with Launcher(config(tmp_path)) as launcher:
        rt = launcher.runtime
        assert rt is not None
        seen = 0
        for period in [1000.0, 0.01] * 8:  # no refresh before the close; refreshes while it runs
            out = io.StringIO()
            view = LiveView(rt, Console(width=130, file=out, color_system=None, force_terminal=False),
                            period_s=period)
            view.start()
            await launcher.run(cycles=7)
            await view.close()
            in_slots, in_orders = _frame_order_ids(out.getvalue())
            assert in_slots == in_orders, out.getvalue()
            assert in_orders == {o.client_order_id for o in await rt.read_working_orders()}
            seen += bool(in_orders)
        assert seen >= 3  # the sample policy often leaves orders working at a cycle's end


async def test_the_view_says_the_policy_fails_while_it_fails(tmp_path: Path) -> None:
    """The policy's failure was one alert among the last three: later alerts pushed it out of
    the view while its cycles were still skipped and its open slot unmanaged."""
    from pink.policy.base import MarginSizer
    from tests.runtime.test_launcher import OpenThenRaise

    async with Launcher(config(tmp_path), decision=OpenThenRaise(), intents=MarginSizer()) as launcher:
        rt = launcher.runtime
        assert rt is not None
        await launcher.run(cycles=4)
        for n in range(3):
            rt.stats.alert(f"something else {n}")
        console = Console(width=130, record=True, color_system=None, file=io.StringIO())
        console.print(render(rt))
        text = " ".join(console.export_text().split())
        assert "POLICY FAILING: its last 3 cycles raised (RuntimeError: model file missing)" in text, text


async def test_alerts_and_desync_reasons_are_shown_as_written(tmp_path: Path) -> None:
    """An alert with square brackets (a venue's or a policy's error text) is not rich markup:
    '[/x]' made the view raise, and the live view stopped refreshing."""
    async with Launcher(config(tmp_path)) as launcher:
        rt = launcher.runtime
        assert rt is not None
        await launcher.run(cycles=2)
        rt.stats.alert("policy failed in cycle 2 (KeyError: '[/x]')")
        console = Console(width=130, record=True, color_system=None, file=io.StringIO())
        console.print(render(rt))
        assert "KeyError: '[/x]'" in console.export_text()


async def test_the_view_says_how_many_working_orders_it_leaves_out(tmp_path: Path) -> None:
    """The view lists twelve working orders: a thirteenth and more were left out without a word,
    and a trader counting what rests at the venue counted too few."""
    async with Launcher(config(tmp_path)) as launcher:
        rt = launcher.runtime
        assert rt is not None
        await launcher.run(cycles=40)
        working = await rt.read_working_orders()
        assert working
        many = (working * 20)[:15]  # (as many rows as fifteen orders make)
        console = Console(width=80, record=True, color_system=None, file=io.StringIO())
        console.print(render(rt, many, 80))
        assert "12 of 15 shown" in console.export_text()
        console = Console(width=80, record=True, color_system=None, file=io.StringIO())
        console.print(render(rt, many[:12], 80))
        assert "shown" not in console.export_text()


def test_the_slots_pnl_column_says_it_is_realized() -> None:
    """An open trade showed "pnl 0" while its price had moved: the column is the PnL its exits
    realized (no mark price in it), and its header says so."""
    from pink.runtime.view import slots_table

    for width in (80, 130):
        console = Console(width=width, record=True, color_system=None, file=io.StringIO())
        console.print(slots_table("slots", [(0, None)], width))
        header = next(line.split() for line in console.export_text().splitlines() if "state" in line)
        assert "realized" in header and "pnl" not in header, header

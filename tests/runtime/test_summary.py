"""The run summary adds up: its rows make the run's capital change exactly, and it counts what
the venue refused (a trader reading it found fees, PnL and capital that did not agree)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from pink.runtime.launcher import Launcher
from pink.runtime.stats import Summary
from pink.runtime.view import summary_table
from tests.runtime.helpers import quiet_config


def _text(s: Summary, capital: object, initial: object) -> str:
    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(summary_table(s, capital, initial, policy="SAMPLE", policy_errors=2))  # type: ignore[arg-type]
    return " ".join(console.export_text().replace("│", " ").split())  # rows as "metric value"


async def test_the_summary_rows_add_up_to_the_capital_change_also_after_a_restart(tmp_path: Path) -> None:
    for run in range(2):  # the second run closes trades the first one opened (and exited in part)
        cfg = quiet_config(tmp_path, slots=6, seed=5, faults="reject=0.05")
        async with Launcher(cfg) as launcher:
            rt = launcher.runtime
            assert rt is not None
            await launcher.run(cycles=300)
            s = rt.stats.summary()
            change = rt.account.capital - rt.stats.start_capital
            assert s.trades > 0 and s.open_fees > 0, s  # closed trades, and trades open at the end
            parts = (s.gross_pnl - s.closed_fees - s.earlier_net + s.open_realized - s.open_fees
                     - s.fee_corrections + s.funding + s.transfers)  # fmt: skip
            assert parts == s.capital_change == change, (s, change)
            assert sum(s.venue_rejections.values()) > 0, s  # reject=0.05: the venue refused orders
            text = _text(s, rt.account.capital, rt.stats.start_capital)
            for row in ("realized on open trades", "fees on open trades", "net PnL (open trades)",
                        "funding (+ received, - paid)", "capital change", "policy errors (cycles skipped) 2",
                        "venue rejections", "SIM_REJECT=", "policy SAMPLE", f"{change:,.4f}"):
                assert row in text, text
            if run:
                assert s.earlier_net, s  # trades closed here had booked fees (entries) in the first run
                # "less: X" takes X away: the PnL the earlier runs booked, signed as booked (it showed
                # negated, so a reader taking it away from the closed trades' net was off by twice it)
                assert f"less: booked in earlier runs {s.earlier_net:,.4f}" in text, text


def test_e10_a_closed_trades_late_true_up_is_counted_with_the_closed_trades_not_as_open() -> None:
    """The real fills of a report's gap that closed the trade, arriving after the close, move its
    PnL: the summary counts that with the closed trades (no trade left "open" for ever)."""
    from decimal import Decimal as D

    from pink.kernel.messages import OrderStatus, OrderStatusReport
    from pink.runtime.stats import RunStats
    from tests.kernel.harness import Driver, place

    d = Driver()
    entry = place(d.enter(0, "1.000", trade="t", legs=("1",))).client_order_id
    d.fill(entry, "1.000", "100", "1.000", fee="0.01")
    ex = place(d.exit(0, close_all=True)).client_order_id
    d.apply(OrderStatusReport(ex, f"v-{ex}", OrderStatus.FILLED, D("1.000"), D("1.000"), D("101.2"), D("0.05"), d.now))
    d.fill(ex, "0.500", "101.0", "0.500", fill_id="a")
    d.fill(ex, "0.500", "101.3", "1.000", fill_id="b")
    stats = RunStats(D(10000))
    stats.observe(d.records)  # type: ignore[arg-type]
    s = stats.summary()
    assert (s.trades, s.gross_pnl, s.closed_fees) == (1, D("1.15"), D("0.06"))
    assert s.fills == 3  # the entry's and the exit's two real ones: not the report's gap, nor its reversals
    assert (s.open_realized, s.open_fees, s.earlier_net) == (0, 0, 0), s
    assert s.capital_change == d.k.account_view().capital - D(10000) == D("1.09")


def test_e10_a_late_true_up_that_turns_a_loss_into_a_win_moves_the_win_count() -> None:
    """A trade closed at the report's rounded average books a loss; its real fills, arriving after
    the close, make it a win: the summary's wins and win rate follow the corrected net PnL."""
    from decimal import Decimal as D

    from pink.kernel.messages import OrderStatus, OrderStatusReport, TradeClosed, TradeCorrected
    from pink.runtime.stats import RunStats
    from tests.kernel.harness import Driver, place

    d = Driver()
    entry = place(d.enter(0, "1.000", trade="t", legs=("1",))).client_order_id
    d.fill(entry, "1.000", "100", "1.000", fee="0.01")
    ex = place(d.exit(0, close_all=True)).client_order_id
    d.apply(OrderStatusReport(ex, f"v-{ex}", OrderStatus.FILLED, D("1.000"), D("1.000"), D("100.0"), D("0.05"), d.now))
    closed = [r for r in d.records if isinstance(r, TradeClosed)]
    assert [c.net_pnl for c in closed] == [D("-0.06")]  # booked at the rounded average: a loss
    stats = RunStats(D(10000))
    stats.observe(d.records)  # type: ignore[arg-type]
    assert (stats.summary().wins, stats.summary().win_rate) == (0, 0.0)
    seen = len(d.records)
    d.fill(ex, "0.500", "100.0", "0.500", fill_id="a")
    d.fill(ex, "0.500", "100.2", "1.000", fill_id="b")
    assert any(isinstance(r, TradeCorrected) for r in d.records[seen:])
    stats.observe(d.records[seen:])  # type: ignore[arg-type]
    s = stats.summary()
    assert (s.trades, s.net_pnl) == (1, D("0.04")), s  # 0.1 gross, 0.06 fees: a win after all
    assert (s.wins, s.win_rate) == (1, 1.0), s


def test_a_run_that_closed_no_trade_shows_no_win_rate_not_zero() -> None:
    """A BingX run of a few cycles, its trades still open, said "win rate 0.0%": as if every trade
    had lost."""
    from decimal import Decimal as D

    from pink.runtime.stats import RunStats

    s = RunStats(D(10000)).summary()
    assert s.trades == 0
    text = _text(s, D(10000), D(10000))
    assert "win rate - (no trade closed)" in text, text

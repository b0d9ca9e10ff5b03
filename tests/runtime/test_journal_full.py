"""A journal that cannot write (a full disk) stops the run loudly, hands out nothing it did not
make durable, and the next start restores what it holds and reconciles with the venue (E26).

The disk is filled for real: SQLite's ``max_page_count`` caps the journal's file, so its writes
fail with SQLite's own "database or disk is full"."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pink.errors import JournalWriteError
from pink.journal import JournaledKernel
from pink.kernel import Action, OrderAccepted, Side
from pink.policy.base import Decision, MarginSizer, PolicySnapshot
from pink.runtime.launcher import Launcher
from tests.runtime.helpers import Scripted, make_venue, quiet_config


def _trade_every_cycle(snap: PolicySnapshot) -> list[Decision]:
    out: list[Decision] = []
    for s in snap.slots:
        if s.state == "IDLE":
            out.append(Decision(Action.ENTER, s.slot, asset="BTC-USDT", side=Side.LONG, quantity=Decimal("0.010"),
                                exit_legs=(Decimal("0.5"), Decimal("0.5"))))  # fmt: skip
        elif s.state == "POSITION_OPEN":
            out.append(Decision(Action.EXIT, s.slot))
    return out


def _fill_the_disk(jk: JournaledKernel) -> None:
    db = jk.journal.db
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")


async def test_e26_a_journal_that_cannot_write_stops_the_run_and_the_next_start_restores_what_it_holds(
    tmp_path: Path,
) -> None:
    venue = make_venue()
    cfg = quiet_config(tmp_path)
    async with Launcher(cfg, venue=venue, decision=Scripted(_trade_every_cycle), intents=MarginSizer()) as first:
        await first.run(cycles=5)
        jk = first.kernel
        assert jk is not None and first.runtime is not None and first.runtime.stats.fills > 0
        _fill_the_disk(jk)
        with pytest.raises(JournalWriteError, match="database or disk is full"):
            await first.run(cycles=500)  # loudly: the run stops, it does not trade on unjournaled state
        assert jk.failed is not None
        with pytest.raises(JournalWriteError, match="restart to restore it from the journal"):
            jk.apply(OrderAccepted("x-e1", "1", 0), 0)  # the kernel in memory is used no more
        report = await first.close()
        assert any("no final snapshot: a write failed" in e for e in report.errors), report.errors
    sent = {o.client_order_id for o in venue.engine.orders_since(0)}

    idle = Scripted(lambda snap: [])
    async with Launcher(cfg, venue=venue, decision=idle, intents=MarginSizer()) as second:
        assert second.kernel is not None and second.runtime is not None
        k = second.kernel.kernel
        known = set(k.orders) | set(k.retired)
        assert sent <= known, sorted(sent - known)  # journal first: every order sent was durable before
        await second.run(cycles=30)
        assert second.runtime.reconciler.position_alerts == 0  # what the venue filled meanwhile is booked
        assert (await venue.balance()).balance == k.account_view().capital  # to the last digit

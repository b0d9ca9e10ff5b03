"""Bugs `pink chaos` found, each a test named after what it was."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from pink.kernel import Kernel, KernelConfig
from pink.kernel.messages import (
    Action,
    Intent,
    KernelRecord,
    OrderStatus,
    OrderStatusReport,
    OutcomeStatus,
    QueryOrder,
    Side,
)
from pink.policy.base import MarginSizer
from pink.runtime.launcher import Launcher
from pink.venues.sim.instruments import default_instruments
from tests.runtime.helpers import make_venue, quiet_config

S = 1_000_000_000


def test_not_found_report_for_a_quarantined_order_does_not_requery_at_once() -> None:
    """Found by chaos seed 1000004 (sim): a canceled, never-acked order the venue does not know.

    Each NOT_FOUND report quarantined the slot and asked for another query at
    once; the answer was NOT_FOUND again: a query loop without end (300k
    queries in a few seconds, the slot never resolved). Now the deadline asks
    again, counted, and the order is concluded lost after a few queries.
    """
    k = Kernel(KernelConfig(slots=1), default_instruments())
    t = S
    k.submit(Intent(Action.ENTER, 0, "t1", "i1", asset="BTC-USDT", side=Side.LONG, quantity=Decimal("0.01")), t)
    k.submit(Intent(Action.CANCEL, 0, "t1", "i2"), t + 1)
    report = OrderStatusReport("t1-e1", "", OrderStatus.NOT_FOUND, Decimal(0), Decimal(0), Decimal(0), Decimal(0), t)
    first = k.apply(report, t + 2)
    assert first.status is OutcomeStatus.UNKNOWN  # never acknowledged: not known yet, not a contradiction
    assert not [e for e in first.effects if isinstance(e, QueryOrder)]  # no immediate re-query
    for _ in range(10):  # the deadline drives the queries
        t += 600 * S
        queried = [e for e in k.tick(t).effects if isinstance(e, QueryOrder)]
        if not queried:
            break
        k.apply(report, t)
    assert k.slot_view(0).state == "IDLE"


class _JournalFirstLedger:
    """A ledger sink that checks each batch it receives is already committed in the journal."""

    def __init__(self, journal: Path) -> None:
        self.db = sqlite3.connect(journal)
        self.puts = 0
        self.ahead: list[tuple[int | None, int]] = []

    def put(self, records: Sequence[KernelRecord], position: int | None = None) -> None:
        self.puts += 1
        committed = self.db.execute("SELECT coalesce(max(seq), 0) FROM messages").fetchone()[0]
        if position is not None and position > committed:
            self.ahead.append((position, committed))


class _Trader:
    def __init__(self) -> None:
        self.n = 0

    def decide(self, snap: Any) -> list[Any]:
        from pink.policy.base import Decision

        out = []
        for s in snap.slots:
            if s.state == "IDLE":
                out.append(Decision(Action.ENTER, s.slot, asset="BTC-USDT", side=Side.LONG, quantity=Decimal("0.01")))
            elif s.state == "POSITION_OPEN":
                out.append(Decision(Action.EXIT, s.slot, close_all=True))
        return out


async def test_ledger_gets_records_only_after_the_journal_committed_them(tmp_path: Path) -> None:
    """Found by chaos seed 2000009 (bingx-sim, external SIGKILL): ledger rows the journal never had.

    The runtime handed a batch's records to the ledger outbox before the
    batch's journal transaction committed; the outbox thread could write them
    to ClickHouse, and a kill before the commit left ledger rows that no
    journal has ("ledger row ... is not in the journal"). Journal first.
    """
    cfg = quiet_config(tmp_path)
    venue = make_venue(seed=3)
    try:
        launcher = Launcher(cfg, venue=venue, decision=_Trader(), intents=MarginSizer())
        async with launcher:
            assert launcher.runtime is not None
            sink = _JournalFirstLedger(tmp_path / "journal.sqlite")
            launcher.runtime.outputs.ledger = sink
            await launcher.run(cycles=20)
            sink.db.close()
        assert sink.puts > 20
        assert sink.ahead == []
    finally:
        await venue.close()



def test_a_runtime_reporting_a_books_mismatch_is_a_chaos_violation_and_readings_are_counted() -> None:
    from pink.chaos.harness import TrialResult, _books

    res = TrialResult(0, "sim", 1)
    _books(res, {"books_readings": 7, "books_baselined": True, "books_mismatch": ""}, "phase 0")
    assert res.violations == [] and (res.books_readings, res.books_baselined) == (7, 1)
    _books(res, {"books_readings": 3, "books_baselined": True, "books_mismatch": "differ by -2.5"}, "final run")
    assert res.violations == [("books_mismatch", "final run: differ by -2.5")]
    assert (res.books_readings, res.books_baselined) == (10, 2)


class _NoVenue:
    async def during_phase(self, rng: object) -> None:
        return None


async def test_a_runner_that_said_done_is_not_failed_by_an_exit_status_asyncio_lost(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Chaos run seed 51, trial 248: a runner exited 255 with nothing on stderr, and the harness
    logged "Unknown child process pid ..., will report returncode 255": asyncio's child watcher
    had lost its status. A runner that printed DONE finished; one that did not is still a failure."""
    import random

    from pink.chaos import harness

    for said, expected in (("DONE {}", 0), ("", 255)):
        fake = tmp_path / "fake_python.sh"
        fake.write_text(f"#!/bin/sh\necho READY 0.1\necho '{said}'\nexit 255\n")
        fake.chmod(0o755)
        monkeypatch.setattr(harness.sys, "executable", str(fake))
        log = tmp_path / f"runner-{expected}.log"
        rc, ready, lines = await harness._phase({"final": True}, log, random.Random(1), _NoVenue(), None)
        assert rc == expected and ready is not None, (rc, lines)
        assert ("exit 255" in log.read_text()) is (expected == 255)  # its output kept for the reader


def _liquidated_engine() -> Any:
    """An engine whose two 5x longs (BTC, ETH) were liquidated by a 50 % crash of each."""
    from pink.kernel.messages import OrderSide, OrderType, TimeInForce
    from pink.venues.sim.engine import MatchingEngine
    from pink.venues.sim.orders import NewOrder

    engine = MatchingEngine(default_instruments())
    for cid, symbol, qty in (("t1-e1", "BTC-USDT", "0.01"), ("t2-e1", "ETH-USDT", "0.1")):
        engine.submit(NewOrder(cid, symbol, OrderSide.BUY, Side.LONG, Decimal(qty), OrderType.MARKET, None,
                               TimeInForce.GTC, False), 0)  # fmt: skip
        engine.shock(symbol, Decimal("-0.5"))
    assert engine.positions() == []
    return engine


def test_liquidations_are_not_client_order_ids_used_twice() -> None:
    """The venue's own closes (liquidations) carry no client order id: two of them in a trial are
    not one client id reused (the invariant reported every trial with two liquidations)."""
    from collections import Counter

    from pink.chaos.invariants import check_orders

    engine = _liquidated_engine()
    assert [o.client_order_id for o in engine.orders_since(0)].count("") == 2
    assert check_orders(engine, Counter({"t1-e1": 1, "t2-e1": 1})) == []


def test_a_trial_counts_the_liquidations_it_saw_and_the_scorecard_reports_them(capsys: Any) -> None:
    """Shocks are drawn so that positions are liquidated while runtimes are killed; the trial says
    how many were (else a run that never liquidated would look like one that passed them)."""
    from rich.console import Console

    from pink.chaos.harness import ChaosConfig, ChaosResult, TrialResult
    from pink.chaos.scorecard import print_scorecard
    from pink.chaos.trial_venues import liquidations

    assert liquidations(_liquidated_engine()) == 2
    result = ChaosResult(ChaosConfig(), [TrialResult(0, "sim", 1, liquidations=2), TrialResult(1, "sim", 2)])
    with open(os.devnull, "w") as quiet:
        card = print_scorecard(result, Console(file=quiet))
    assert card["liquidations"] == 2
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last)["liquidations"] == 2


def test_sim_trials_draw_price_shocks_of_every_size() -> None:
    import random

    from pink.chaos.trial_venues import SimTrialVenue
    from pink.venues.sim.faults import FaultConfig

    configs = [FaultConfig.parse(SimTrialVenue(random.Random(s), s).spec) for s in range(40)]
    shocked = [c for c in configs if c.price_shock > 0]
    assert 0 < len(shocked) < len(configs)
    assert len({c.price_shock_size for c in shocked}) > 1


def test_bingx_sim_trials_draw_price_shocks_of_every_size_and_keep_them_all_trial() -> None:
    """BingX-simulator trials drew no price shocks, so no position was ever liquidated there."""
    import random

    from pink.chaos.trial_venues import BingxTrialVenue
    from pink.venues.bingx.server_faults import ServerFaults

    venues = [BingxTrialVenue(random.Random(s), s) for s in range(40)]
    faults = [ServerFaults.parse(v.spec) for v in venues]
    shocked = [f for f in faults if f.rules["price_shock"].probability > 0]
    assert 0 < len(shocked) < len(faults)
    assert len({f.price_shock_size for f in shocked}) > 1
    redrawn = ServerFaults.parse(venues[0].spec)
    redrawn.update(venues[0]._spec(random.Random(1)))  # a phase's new mix keeps the trial's shocks
    assert redrawn.rules["price_shock"] == faults[0].rules["price_shock"]


def test_a_gap_trued_up_by_its_real_fills_is_each_fill_in_the_ledger_once() -> None:
    """A report's gap (``<order>#cum<qty>``) booked two fills the kernel had not seen; one of them
    then came and replaced its piece (a reversal row and its own row). The ledger holds each
    venue fill once and the order's quantity exactly: no violation. A fill booked twice, or a
    quantity short of the venue's, still is one."""
    from types import SimpleNamespace

    from pink.chaos.invariants import compare_fills

    venue = [SimpleNamespace(fill_id=f, client_order_id="c1", venue_order_id="v1", qty=Decimal("0.001"),
                             cum_qty=Decimal(c)) for f, c in (("f1", "0.001"), ("f2", "0.002"))]
    rows = [("r1", "c1#cum0.002", "c1", "0.002"),
            ("r2", "c1#cum0.002:replaced-by:f1", "c1", "-0.001"),
            ("r3", "f1", "c1", "0.001")]
    assert compare_fills(rows, venue) == ([], 2)
    assert compare_fills(rows[:1], venue) == ([], 2)  # the gap not yet trued up
    twice = compare_fills([*rows, ("r4", "f1", "c1", "0.001")], venue)[0]
    assert [k for k, _ in twice] == ["fill_in_ledger_twice", "fill_not_in_ledger_once"]
    short = compare_fills(rows[1:], venue)[0]
    assert [k for k, _ in short] == ["fill_not_in_ledger_once"]

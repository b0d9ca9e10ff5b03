"""A paper-trading run: thousands of fast cycles, the SAMPLE policy, injected faults."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pink.kernel import FillBooked, Settlement, SettlementKind
from pink.plane.control import ControlWriter
from pink.runtime.launcher import Launcher
from tests.runtime.helpers import busy_faulted_config


class Tee:
    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.records: list[object] = []

    def put(self, records: object, position: object = None) -> None:
        self.records.extend(records)  # type: ignore[call-overload]
        self.inner.put(records, position)  # type: ignore[attr-defined]


async def test_paper_run_with_faults_ends_flat_and_capital_is_exact(tmp_path: Path) -> None:
    cfg = busy_faulted_config(tmp_path, ledger="chdb", plane="shm")
    async with Launcher(cfg) as launcher:
        rt = launcher.runtime
        assert rt is not None and launcher.kernel is not None
        tee = Tee(rt.outputs.ledger)
        rt.outputs.ledger = tee
        await launcher.run(cycles=3000)
        assert rt.stats.trades > 200
        ControlWriter(tmp_path).apply("flatten", by="test", note="end of run")  # + pause
        await launcher.run(cycles=400)
        k = launcher.kernel.kernel
        for i in range(cfg.slots):
            v = k.slot_view(i)
            assert v.state == "IDLE" or (v.state == "DESYNC" and v.desync_reason), v
        a = k.account_view()
        fills = [r for r in tee.records if isinstance(r, FillBooked)]
        settlements = [r for r in tee.records if isinstance(r, Settlement)]
        gross = sum((f.realized_pnl for f in fills), Decimal(0))
        fees = sum((s.fee for s in settlements), Decimal(0))
        funding = sum((s.amount for s in settlements if s.kind is SettlementKind.FUNDING),
                      Decimal(0))
        assert a.capital == cfg.initial_capital + gross - fees + funding  # exact
        assert a.capital == a.initial_capital + a.gross_pnl - a.fees + a.funding
        assert rt.stats.fees == fees and rt.stats.funding == funding
        books = rt.reconciler.books  # faults delay and reorder money, never a false books mismatch
        assert books.sightings >= 50 and books.baseline == 0 and books.mismatch == ""
        assert rt.reconciler.position_alerts == 0  # nor a false position difference
        assert launcher.venue is not None
        injected = launcher.venue.faults  # type: ignore[attr-defined]
        assert injected.config.active
    report = await launcher.close()
    assert report.errors == []


REPLAY = Path(__file__).resolve().parents[1] / "fixtures" / "sim" / "btc_replay_trades.csv"


def _replay_rows() -> list[tuple[int, Decimal]]:
    rows = [line.split(",") for line in REPLAY.read_text().splitlines()[1:]]
    return [(int(r[0]) * 1_000_000, Decimal(r[1])) for r in rows]


async def test_a_paper_run_charges_the_configured_fees_exactly_and_books_every_one(tmp_path: Path) -> None:
    """The paper simulator charged BingX's default fees whatever the trader's tier: every fill,
    the run's fees and its capital were off by the difference."""
    from pink.venues.sim.orders import Q8
    from pink.venues.sim.venue import SimVenue
    from tests.runtime.helpers import quiet_config

    maker, taker = Decimal("0.00013"), Decimal("0.00071")
    cfg = quiet_config(tmp_path, slots=4, seed=3, sim_maker_fee=maker, sim_taker_fee=taker)
    async with Launcher(cfg) as launcher:
        await launcher.run(cycles=600)
        rt, venue = launcher.runtime, launcher.venue
        assert rt is not None and isinstance(venue, SimVenue) and launcher.kernel is not None
        fills = venue.engine.fills_since(0)
        assert len(fills) > 20
        for f in fills:
            assert f.commission == (f.qty * f.price * (maker if f.is_maker else taker)).quantize(Q8), f
        charged = sum((f.commission for f in fills), Decimal(0))
        assert rt.stats.fees == charged == launcher.kernel.kernel.account_view().fees  # every one booked
        a = launcher.kernel.kernel.account_view()
        assert a.capital == a.initial_capital + a.gross_pnl - a.fees + a.funding


async def test_a_paper_run_replays_a_csv_of_trades_its_quotes_follow_the_file(tmp_path: Path) -> None:
    """A trader's own price history: the run starts at the file's first time and every cycle's
    quote is the file's last trade price at that time (the other symbols walk on)."""
    from tests.runtime.helpers import Scripted, quiet_config

    rows = _replay_rows()
    seen = Scripted()
    cfg = quiet_config(tmp_path, cycle_s=5.0, sim_replay=(("BTC-USDT", str(REPLAY)),))
    async with Launcher(cfg, decision=seen) as launcher:
        await launcher.run(cycles=100)
    snaps = seen.snapshots
    assert len(snaps) == 100 and rows[0][0] <= snaps[0].ts < rows[0][0] + 10 * 1_000_000_000
    for snap in snaps:
        price = [p for ts, p in rows if ts <= snap.ts][-1]
        assert snap.quotes["BTC-USDT"].last == price, (snap.ts, snap.quotes["BTC-USDT"])
    assert {s.quotes["BTC-USDT"].last for s in snaps} >= {Decimal("43000.0"), Decimal("41200.0")}  # top, bottom


async def test_a_replay_run_with_no_cycle_limit_stops_at_the_end_of_its_file(tmp_path: Path) -> None:
    """Past the file's last row the price froze and the run went on trading a flat market for
    ever, silent. It now stops once its replay has run out (every cycle up to the last row run)."""
    import asyncio

    from tests.runtime.helpers import Scripted, quiet_config

    rows = _replay_rows()
    seen = Scripted()
    cfg = quiet_config(tmp_path, cycle_s=5.0, sim_replay=(("BTC-USDT", str(REPLAY)),))
    async with Launcher(cfg, decision=seen) as launcher:
        async with asyncio.timeout(60):  # (a guard: the run used not to end)
            await launcher.run()
    last = rows[-1][0]
    assert last - 5 * 1_000_000_000 < seen.snapshots[-1].ts <= last
    assert seen.snapshots[-1].quotes["BTC-USDT"].last == rows[-1][1]


def test_a_replay_file_is_read_once_at_the_start(tmp_path: Path, monkeypatch: object) -> None:
    """The start read each replay file twice (its span, then the simulator's prices)."""
    import pytest

    from pink.runtime.paper import build_sim
    from pink.venues.sim import prices
    from tests.runtime.helpers import quiet_config

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    read: list[object] = []
    real = prices.load_price_csv

    def spy(path: str | Path) -> list[tuple[int, Decimal, Decimal]]:
        read.append(path)
        return real(path)

    monkeypatch.setattr(prices, "load_price_csv", spy)
    cfg = quiet_config(tmp_path, sim_replay=(("BTC-USDT", str(REPLAY)),))
    sim = build_sim(cfg, tmp_path / "journal.sqlite", 0)
    assert read == [str(REPLAY)]
    assert sim.engine.quote("BTC-USDT").last == _replay_rows()[0][1]


class _EightDigits:
    """A policy that sets the thread's decimal context for its own sums (precision 8, half-up,
    Inexact trapped) in its first cycle and counts on it in every later one; it trades as the
    SAMPLE policy does (in a context of its own making, to trade at all)."""

    def __init__(self) -> None:
        from pink.policy.sample import sample_engines

        self.inner, _ = sample_engines(3)
        self.cycles = 0
        self.own_context_kept = 0  # later cycles that found the context it set

    def decide(self, snapshot: object) -> object:
        import decimal

        ctx = decimal.getcontext()
        if self.cycles == 0:
            ctx.prec, ctx.rounding, ctx.traps[decimal.Inexact] = 8, decimal.ROUND_HALF_UP, True
        elif ctx.prec == 8 and ctx.rounding == decimal.ROUND_HALF_UP and ctx.traps[decimal.Inexact]:
            self.own_context_kept += 1
        self.cycles += 1
        with decimal.localcontext(decimal.Context(prec=28)):
            return self.inner.decide(snapshot)  # type: ignore[arg-type]


async def test_e5_a_policy_that_changes_the_decimal_context_changes_neither_the_runtime_nor_its_books(
    tmp_path: Path,
) -> None:
    """A policy setting precision 8 and trapping Inexact in the thread's decimal context left it
    to the runtime: its next snapshot's quote (and any sum of the runtime's: stats, books, sizing)
    raised Inexact and the run died. The policy's context is its own, kept from cycle to cycle."""
    import decimal

    cfg = busy_faulted_config(tmp_path)
    policy = _EightDigits()
    before = decimal.getcontext().copy()
    async with Launcher(cfg, decision=policy) as launcher:
        rt = launcher.runtime
        assert rt is not None and launcher.kernel is not None
        tee = Tee(rt.outputs.ledger)
        rt.outputs.ledger = tee
        await launcher.run(cycles=1500)
        assert rt.policy_errors == 0 and rt.stats.trades > 50
        assert policy.own_context_kept == policy.cycles - 1
        a = launcher.kernel.kernel.account_view()
        fees = sum((s.fee for s in tee.records if isinstance(s, Settlement)), Decimal(0))
        gross = sum((f.realized_pnl for f in tee.records if isinstance(f, FillBooked)), Decimal(0))
        funding = sum((s.amount for s in tee.records if isinstance(s, Settlement)
                       and s.kind is SettlementKind.FUNDING), Decimal(0))
        assert a.capital == a.initial_capital + gross - fees + funding  # exact
        assert rt.stats.fees == fees == a.fees and rt.stats.funding == funding
        assert rt.reconciler.books.sightings >= 20 and rt.reconciler.books.mismatch == ""
    assert (await launcher.close()).errors == []
    ctx = decimal.getcontext()  # the caller's context is as it was
    assert (ctx.prec, ctx.rounding, ctx.traps) == (before.prec, before.rounding, before.traps)

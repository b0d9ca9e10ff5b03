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

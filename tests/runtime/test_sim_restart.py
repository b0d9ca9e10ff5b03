"""A restarted paper run gets a fresh in-process simulator: it must start from the journal's book."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from pink.runtime.config import RuntimeConfig
from pink.runtime.launcher import Launcher


def _cfg(data: Path, cycles: int) -> RuntimeConfig:
    return RuntimeConfig(venue="sim", fast=True, cycles=cycles, seed=4, data_dir=data, view=False, ledger="none",
                         plane="none", control="none")


async def test_e26_restarted_paper_run_simulator_adopts_the_journals_capital_and_positions(tmp_path: Path) -> None:
    """Regression: the fresh simulator knew no positions, so every exit of a restored trade was refused."""
    first = Launcher(_cfg(tmp_path, 150))
    try:
        await first.start()
        await first.run()
    finally:
        await first.close()
    assert first.kernel is not None
    k = first.kernel.kernel
    exposure: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for i in range(len(k.slots)):
        v = k.slot_view(i)
        if v.side is not None and v.remaining_qty > 0:
            exposure[(v.symbol, v.side.value)] += v.remaining_qty
    capital = k.account_view().capital
    assert exposure, "the scenario should end with open positions (seed 4, 150 cycles)"

    second = Launcher(_cfg(tmp_path, 60))
    try:
        await second.start()
        assert second.venue is not None
        venue_pos = {(p.symbol, p.side.value): p.quantity for p in await second.venue.positions()}
        balance = (await second.venue.balance()).balance
        assert second.reconcile is not None and not second.reconcile.position_mismatches
        await second.run()
        assert second.runtime is not None and second.runtime.stats.summary()
    finally:
        await second.close()
    assert all(venue_pos.get(key) == qty for key, qty in exposure.items()), (venue_pos, dict(exposure))
    assert balance == capital

"""A journaled kernel under the runtime: one commit per batch, ledger rows carry journal positions."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pink.journal import JournaledKernel
from pink.kernel import Action, Side
from pink.policy.base import Decision, PolicySnapshot
from pink.runtime.ports_ext import JournaledOps
from tests.runtime.helpers import Scripted, sim_runtime


class Positions:
    """A ledger sink that keeps the journal position each put carried."""

    def __init__(self) -> None:
        self.positions: list[int | None] = []
        self.records = 0

    def put(self, records: Any, position: int | None = None) -> None:
        self.positions.append(position)
        self.records += len(records)


def _trade_every_cycle(snap: PolicySnapshot) -> list[Decision]:
    out: list[Decision] = []
    for s in snap.slots:
        if s.state == "IDLE":
            out.append(Decision(Action.ENTER, s.slot, asset="BTC-USDT", side=Side.LONG,
                                quantity=Decimal("0.010"), exit_legs=(Decimal(1),)))  # fmt: skip
        elif s.state == "POSITION_OPEN":
            out.append(Decision(Action.EXIT, s.slot))
    return out


async def test_the_runtime_batches_journal_commits_and_stamps_ledger_rows(tmp_path: Path) -> None:
    ledger = Positions()
    async with sim_runtime(decision=Scripted(_trade_every_cycle), journal=tmp_path / "j.sqlite",
                           slots=2, ledger=ledger) as (rt, _venue, _views):  # fmt: skip
        jk = rt._k
        assert isinstance(jk, JournaledKernel) and isinstance(jk, JournaledOps)
        inside: list[bool] = []
        apply = jk.apply

        def watched(event: Any, now: int) -> Any:
            inside.append(jk.journal._batching)
            return apply(event, now)

        jk.apply = watched  # type: ignore[method-assign]
        await rt.run(cycles=20)
        await rt.quiesce()
        assert rt.stats.trades >= 5
        assert inside and all(inside)  # every venue event was applied inside a batch (one commit each)
        stamped = [p for p in ledger.positions if p is not None]
        assert stamped and len(stamped) == len(ledger.positions)
        assert stamped == sorted(stamped) and stamped[-1] == jk.position == jk.journal.seq

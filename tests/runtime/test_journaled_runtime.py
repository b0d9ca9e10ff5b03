"""A journaled kernel under the runtime: one commit per batch, ledger rows carry journal positions."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from pink.journal import JournaledKernel, records_between, replay_records, snapshot_bytes
from pink.kernel import Action, KernelConfig, Side
from pink.kernel.messages import IntentRecorded
from pink.ledger.rows import Row, rows_for
from pink.policy.base import Decision, PolicySnapshot
from pink.runtime.ports_ext import JournaledOps
from pink.venues.sim.instruments import default_instruments
from tests.runtime.helpers import CAPITAL, Recorder, Scripted, sim_runtime


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


def _exit_idle_and_enter_unknown(snap: PolicySnapshot) -> list[Decision]:
    out = [Decision(Action.EXIT, 1, reason="take profit")]  # slot 1 is idle: no trade id to name
    if snap.cycle == 2:
        out.append(Decision(Action.ENTER, 0, asset="NOPE-USDT", side=Side.LONG, quantity=Decimal("1"),
                            reason="breakout"))  # fmt: skip
    return out


async def test_f3_refused_intents_are_journaled_so_a_ledger_rebuilt_from_it_has_their_rows(
    tmp_path: Path,
) -> None:
    """A refused intent changes no state, yet the policy asked for it: the journal keeps it (and
    why it was refused), so ledger catch-up and audits from the journal alone see it as the live
    run recorded it; restore ignores it."""
    path = tmp_path / "j.sqlite"
    live = Recorder()
    async with sim_runtime(decision=Scripted(_exit_idle_and_enter_unknown), journal=path, slots=2,
                           ledger=live) as (rt, _venue, views):  # fmt: skip
        await rt.run(cycles=5)
        await rt.quiesce()
        state = snapshot_bytes(views)
    refused = [r for r in live.records if type(r) is IntentRecorded and r.status == "REFUSED"]
    assert len(refused) == 6 and {r.reason for r in refused} == {"NO_OPEN_POSITION", "UNKNOWN_ASSET"}

    def policy_rows(records: Iterable[object]) -> list[Row]:
        return [row for r in records if type(r) is IntentRecorded
                for _t, row in rows_for(r, account_id="acct", runtime_id="rt")]  # fmt: skip

    rebuilt = [r for _seq, records in records_between(path, 0, 1 << 62) for r in records]
    assert policy_rows(rebuilt) == policy_rows(live.records)
    assert list(replay_records(path)) == live.records  # what `pink audit` reads
    jk = JournaledKernel.open(path, KernelConfig(slots=2, initial_capital=CAPITAL, account_id="acct"),
                              default_instruments())  # fmt: skip
    try:
        assert snapshot_bytes(jk.kernel) == state  # restore ignores them
    finally:
        jk.close()

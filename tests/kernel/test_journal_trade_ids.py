"""Used trade ids live in the journal's own table: single-use forever, snapshots stay small (E7, F26)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from pink.errors import CodecError
from pink.journal import Journal, JournaledKernel, records_after, snapshot_bytes
from pink.kernel import Action, Intent, Kernel, KernelConfig, Side
from tests.kernel.harness import BTC, INSTRUMENTS
from tests.kernel.test_journal import _trade

CFG = KernelConfig(slots=3, retired_orders=3)  # the retired window forgets the early trades' orders


def _payloads(path: Path) -> list[bytes]:
    journal = Journal(path)
    try:
        return [bytes(row[0]) for row in journal.db.execute("SELECT payload FROM snapshots ORDER BY seq")]
    finally:
        journal.close()


def _traded(path: Path, trades: int, exit_px: str, snapshot_every: int = 10_000) -> tuple[JournaledKernel, int]:
    """A journaled kernel after ``trades`` round trips t0, t1, ... (and the time after them)."""
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS, snapshot_every=snapshot_every)
    now = 1
    for n in range(trades):
        now = _trade(jk, n, n % 3, now, exit_px)
    return jk, now


def _enter(trade_id: str, slot: int = 0) -> Intent:
    return Intent(Action.ENTER, slot, trade_id, f"i-{trade_id}", asset=BTC, side=Side.LONG,
                  quantity=D("0.500"), exit_legs=(D("0.5"), D("0.5")))  # fmt: skip


def test_e07_a_trade_id_stays_used_across_restores_though_snapshots_only_count_them(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    jk, now = _traded(path, 40, "101.0", snapshot_every=7)
    live = snapshot_bytes(jk.kernel)
    jk.close()

    payloads = _payloads(path)
    assert len(payloads) >= 20
    for payload in payloads:
        data = json.loads(payload)
        assert "used_trade_ids" not in data and data["used_trade_id_count"] > 0
    assert json.loads(payloads[-1])["used_trade_id_count"] == 40
    assert b'"t0"' not in payloads[-1]  # the first trade: its id and orders are gone from the snapshot

    again = JournaledKernel.open(path, CFG, INSTRUMENTS)
    try:
        assert list(again.kernel.used_trade_ids) == [f"t{n}" for n in range(40)]
        assert snapshot_bytes(again.kernel) == live  # byte for byte, the ids in their order of use
        refused = again.submit(_enter("t0"), now)
        assert refused.status.value == "REFUSED" and "t0" in refused.detail and "already used" in refused.detail
        assert again.submit(_enter("t40"), now).status.value != "REFUSED"
    finally:
        again.close()


def test_f26_replay_from_a_mid_journal_snapshot_gets_the_trade_ids_used_up_to_it(tmp_path: Path) -> None:
    """The ledger's catch-up replays from an older snapshot: it must know exactly the ids used by then."""
    path = tmp_path / "journal.sqlite"
    jk, now = _traded(path, 12, "99.1", snapshot_every=5)
    # re-using a trade id that was used before the snapshot the replay starts from is refused there too
    assert jk.submit(_enter("t1"), now).status.value == "REFUSED"
    jk.submit(_enter("t12"), now + 1)
    expected = [seq for seq, _ts, _kind, _payload in jk.journal.messages(0)]
    jk.close()

    journal = Journal(path)
    try:
        snaps = [row[0] for row in journal.db.execute("SELECT seq FROM snapshots ORDER BY seq")]
        middle = snaps[len(snaps) // 2]
        replayed = [seq for seq, _records in records_after(journal, middle)]
        assert replayed == [s for s in expected if s > middle]
        assert journal.trade_ids(middle) == [f"t{n}" for n in range(12)][: len(journal.trade_ids(middle))]
        assert 0 < len(journal.trade_ids(middle)) < 13
    finally:
        journal.close()


def test_e07_a_journal_whose_snapshots_carried_the_ids_moves_them_to_its_table_once(tmp_path: Path) -> None:
    """A journal written before the ids were kept apart (format 4 snapshots) restores the same kernel."""
    path = tmp_path / "journal.sqlite"
    jk, now = _traded(path, 6, "102.7")
    live = snapshot_bytes(jk.kernel)
    old = dict(jk.kernel.snapshot(), format=4)
    del old["used_trade_id_count"]  # format 4 had no count
    db = jk.journal.db
    db.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?)", (jk.journal.seq, json.dumps(old).encode()))
    db.execute("DELETE FROM trade_ids")
    db.execute("DELETE FROM meta WHERE key = 'trade_ids_kept'")
    jk.journal.close()

    again = JournaledKernel.open(path, CFG, INSTRUMENTS)
    try:
        assert snapshot_bytes(again.kernel) == live
        assert again.journal.trade_ids(again.journal.seq) == [f"t{n}" for n in range(6)]
        assert again.journal.meta("trade_ids_kept") == str(again.journal.seq)
        now = _trade(again, 6, 0, now, "100.0")
    finally:
        again.close()  # its final snapshot counts the ids instead of carrying them
    third = JournaledKernel.open(path, CFG, INSTRUMENTS)
    try:
        assert list(third.kernel.used_trade_ids) == [f"t{n}" for n in range(7)]
        assert third.submit(_enter("t3"), now).status.value == "REFUSED"
    finally:
        third.close()


def test_e07_a_journal_missing_used_trade_ids_refuses_to_restore_and_says_how_many(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    jk, _now = _traded(path, 4, "101.0")
    jk.close()
    journal = Journal(path)
    journal.db.execute("DELETE FROM trade_ids WHERE trade_id = 't2'")
    journal.close()
    with pytest.raises(CodecError, match=r"journal .*journal.sqlite snapshot at message \d+: .*counted 4, 3 given"):
        JournaledKernel.open(path, CFG, INSTRUMENTS)


def test_e07_a_snapshot_and_the_trade_ids_given_with_it_must_agree() -> None:
    k = Kernel(CFG, INSTRUMENTS)
    k.used_trade_ids = dict.fromkeys(["a", "b"])
    with pytest.raises(ValueError, match="the snapshot holds them, so none may be given"):
        Kernel.restore(k.snapshot(), ["a", "b"])
    apart = k.snapshot(trade_ids=False)
    with pytest.raises(ValueError, match="keeps its 2 apart and none were given"):
        Kernel.restore(apart)
    with pytest.raises(ValueError, match="counted 2, 3 given"):
        Kernel.restore(apart, ["a", "b", "c"])
    assert Kernel.restore(apart, ["a", "b"]).snapshot() == k.snapshot()

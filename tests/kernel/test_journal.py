"""The journal: durable before effects, restore = snapshot + replay, byte for byte."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pink.errors import CodecError, JournalDamagedError, JournalWriteError
from pink.journal import (
    Journal,
    JournaledKernel,
    read_journal_records,
    records_after,
    replay_records,
    snapshot_bytes,
)
from pink.kernel import (
    Action,
    ControlSnapshot,
    Instrument,
    Intent,
    Kernel,
    KernelConfig,
    OrderFilled,
    OrderSide,
    OrderType,
    Outcome,
    OutcomeStatus,
    PlaceOrder,
    PolicyMetadata,
    Settlement,
    Side,
    TimeInForce,
)
from pink.kernel.book import Order, OrderPhase, dump
from pink.kernel.snapshot import SNAPSHOT_FORMAT
from tests.kernel.harness import BTC, INSTRUMENTS

CFG = KernelConfig(slots=3)


def _trade(jk: JournaledKernel, n: int, slot: int, now: int, exit_px: str) -> int:
    out = jk.submit(
        Intent(
            Action.ENTER,
            slot,
            f"t{n}",
            f"i{n}",
            asset=BTC,
            side=Side.LONG,
            quantity=D("0.500"),
            exit_legs=(D("0.5"), D("0.5")),
        ),
        now,
    )
    place = next(e for e in out.effects if isinstance(e, PlaceOrder))
    jk.apply(
        OrderFilled(
            place.client_order_id, f"v{n}", f"a{n}", D("0.500"), D("100.0"), D("0.500"), D("0.01"), "USDT", now + 1
        ),
        now + 1,
    )
    for leg in range(2):
        x = jk.submit(Intent(Action.EXIT, slot, f"t{n}", f"x{n}{leg}"), now + 2 + leg)
        e = x.effects[0]
        assert isinstance(e, PlaceOrder)
        jk.apply(
            OrderFilled(
                e.client_order_id,
                f"w{n}{leg}",
                f"b{n}{leg}",
                e.quantity,
                D(exit_px),
                e.quantity,
                D("0.01"),
                "USDT",
                now + 3 + leg,
            ),
            now + 3 + leg,
        )
    return now + 10


@settings(max_examples=15, deadline=None)
@given(
    trades=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["99.1", "100.0", "102.7"])), max_size=12),
    snapshot_every=st.integers(1, 20),
)
def test_restore_from_journal_equals_live_state(
    tmp_path_factory: object, trades: list[tuple[int, str]], snapshot_every: int
) -> None:
    path = tmp_path_factory.mktemp("j") / "journal.sqlite"  # type: ignore[attr-defined]
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS, snapshot_every=snapshot_every)
    now = 1
    for n, (slot, px) in enumerate(trades):
        now = _trade(jk, n, slot, now, px)
    jk.tick(now + 10**12)
    jk.set_control(ControlSnapshot(version=1, pause_entries=True, changed_by="test"), now + 2)
    live = snapshot_bytes(jk.kernel)
    # canonical: the same bytes as the standard library's sorted, compact JSON of the snapshot
    assert live == json.dumps(jk.kernel.snapshot(), sort_keys=True, separators=(",", ":")).encode()
    jk.journal.close()  # no final snapshot: restore must replay
    again = JournaledKernel.open(path, CFG, INSTRUMENTS)
    try:
        assert snapshot_bytes(again.kernel) == live
    finally:
        again.close()


def test_journal_replay_reproduces_every_record(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS)
    live_records = []
    now = 1
    for n in range(5):
        before = len(live_records)
        out = jk.submit(Intent(Action.ENTER, 0, f"t{n}", f"i{n}", asset=BTC, side=Side.LONG, quantity=D("0.100")), now)
        live_records.extend(out.records)
        del before
        p = out.effects[1]
        assert isinstance(p, PlaceOrder)
        live_records.extend(
            jk.apply(
                OrderFilled(p.client_order_id, "v", f"f{n}", D("0.100"), D("100"), D("0.100"), D("0.002"), "USDT", now),
                now,
            ).records
        )
        x = jk.submit(Intent(Action.EXIT, 0, f"t{n}", f"x{n}", close_all=True), now)
        live_records.extend(x.records)
        e = x.effects[0]
        assert isinstance(e, PlaceOrder)
        live_records.extend(
            jk.apply(
                OrderFilled(e.client_order_id, "v", f"g{n}", D("0.100"), D("101"), D("0.100"), D("0.002"), "USDT", now),
                now,
            ).records
        )
        now += 100
    jk.close()
    replayed = list(replay_records(path))
    assert replayed == live_records
    assert [r.seq for r in replayed if isinstance(r, Settlement)] == list(range(1, 11))


def test_a_refused_intent_is_journaled_as_its_record_and_a_tick_with_nothing_due_is_not(tmp_path: Path) -> None:
    """The policy asked for it: the journal keeps the refusal (for the ledger's catch-up and
    audits), which restore passes over; an intent whose fields are not of their types (which the
    policy screen never lets through) is left to its live ledger row."""
    path = tmp_path / "j.sqlite"
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS)
    out = jk.submit(Intent(Action.EXIT, 0, "t1", "i1"), 1)  # refused: nothing to exit
    jk.tick(2)  # nothing due
    assert [kind for _s, _t, kind, _p in jk.journal.messages()] == ["IntentRefused"]
    jk.submit(Intent(Action.EXIT, 0, "t1", "i2", reason=None), 3)  # type: ignore[arg-type]
    assert jk.journal.seq == 1
    jk.close()
    assert list(replay_records(path)) == list(out.records)
    again = JournaledKernel.open(path, CFG, INSTRUMENTS)
    assert again.replayed == 0 and again.kernel.version == 0
    again.close()


def test_batch_commits_once_and_is_durable_on_exit(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS)
    with jk.batch():
        for n in range(3):
            jk.submit(Intent(Action.ENTER, n, f"t{n}", f"i{n}", asset=BTC, side=Side.LONG, quantity=D("0.100")), n)
        other = Journal(path)
        assert sum(1 for _ in other.messages()) == 0  # not visible before the commit
        other.close()
    other = Journal(path)
    assert sum(1 for _ in other.messages()) == 3
    other.close()
    jk.close()


_CHILD = """
import sys, os
from decimal import Decimal as D
from pathlib import Path
from pink.journal import JournaledKernel
from pink.kernel import Action, Intent, KernelConfig, Side
from tests.kernel.harness import BTC, INSTRUMENTS
jk = JournaledKernel.open(Path(sys.argv[1]), KernelConfig(slots=3), INSTRUMENTS)
for n in range(10**6):
    jk.submit(Intent(Action.ENTER, n % 3, f"t{n}", f"i{n}", asset=BTC, side=Side.LONG, quantity=D("0.100")), n)
    jk.submit(Intent(Action.CANCEL, n % 3, f"t{n}", f"c{n}"), n)
    from pink.kernel import OrderCanceled
    jk.apply(OrderCanceled(f"t{n}-e1", "", D(0), n), n)
    if n == 50:
        print("ready", flush=True)
"""


def test_journal_survives_sigkill_and_restores_a_consistent_kernel(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        stdout=subprocess.PIPE,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS)
    try:
        assert jk.replayed > 0
        # every trade is whole: the kernel never restores half a message
        assert all(s.state.value in ("IDLE", "ENTRY_PENDING", "ENTRY_CANCELING") for s in jk.kernel.slots)
        assert len(jk.kernel.used_trade_ids) >= 51
    finally:
        jk.close()


def test_a_format_1_snapshot_with_full_retired_orders_still_restores(tmp_path: Path) -> None:
    """Journals written before retired orders became compact rows (format 2) restore the same kernel."""
    jk = JournaledKernel.open(tmp_path / "journal.sqlite", CFG, INSTRUMENTS)
    now = 1
    for n in range(3):
        now = _trade(jk, n, n % 3, now, "101.0")
    current = jk.kernel.snapshot()
    assert current["format"] == SNAPSHOT_FORMAT and len(current["retired"]) == 9
    old = dict(current, format=1, retired=[
        dump(Order(client_order_id=cid, slot=0, trade_id=trade_id, role="ENTRY", leg=0, attempt=1, symbol=BTC,
                   side=OrderSide.BUY, order_type=OrderType.MARKET, time_in_force=TimeInForce.GTC,
                   quantity=D(filled), limit_price=None, phase=OrderPhase.DONE, venue_order_id=vid,
                   filled=D(filled), fill_ids=set(fill_ids), commission=D(commission)))
        for cid, vid, trade_id, filled, fill_ids, commission in current["retired"]
    ])  # fmt: skip
    restored = Kernel.restore(old)
    assert restored.snapshot() == current
    # format 2: compact rows without the commission; restored, the rows say it is unknown
    two = Kernel.restore(dict(current, format=2, retired=[row[:5] for row in current["retired"]]))
    assert [row[:5] for row in two.snapshot()["retired"]] == [row[:5] for row in current["retired"]]
    assert all(row[5] is None for row in two.snapshot()["retired"])
    late = jk.kernel.apply(
        OrderFilled("t0-e1", "v0", "late", D("0.1"), D("100.0"), D("0.6"), D("0"), "USDT", now), now
    )
    assert late.status.value == "QUARANTINED"  # more than the finished order ever filled
    assert restored.apply(
        OrderFilled("t0-e1", "v0", "late", D("0.1"), D("100.0"), D("0.6"), D("0"), "USDT", now), now
    ).status is late.status  # recognised the same way after the restore
    jk.close()


def test_e26_a_batch_the_journal_cannot_write_is_kept_whole_or_not_at_all_and_never_snapshotted(
    tmp_path: Path,
) -> None:
    """A full disk in the middle of a batch (SQLite's own "database or disk is full", the file
    capped by ``max_page_count``): none of the batch is kept, its effects were never handed out,
    and even with room again the kernel in memory (which applied the batch) is never written
    as a snapshot. The next start holds exactly what was committed before."""
    path = tmp_path / "j.sqlite"
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS)
    now = _trade(jk, 1, 0, 1, "101")
    committed = snapshot_bytes(jk.kernel)
    big = PolicyMetadata(tags={"why": "x" * 200_000})  # needs pages the capped file does not have

    def enter(slot: int, meta: PolicyMetadata | None = None) -> Outcome:
        return jk.submit(Intent(Action.ENTER, slot, f"t{slot + 10}", f"i{slot + 10}", asset=BTC, side=Side.LONG,
                                quantity=D("0.100"), metadata=meta or PolicyMetadata()), now)  # fmt: skip

    (pages,) = jk.journal.db.execute("PRAGMA page_count").fetchone()
    jk.journal.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(JournalWriteError, match="database or disk is full"), jk.batch():
        assert enter(1).status is OutcomeStatus.PENDING  # written in the open transaction
        enter(2, big)
    assert jk.failed is not None and jk.kernel.slot_view(1).state == "ENTRY_PENDING"  # memory ran ahead
    jk.journal.db.execute("PRAGMA max_page_count = 1073741823")  # room again
    with pytest.raises(JournalWriteError, match="restart to restore it from the journal"):
        enter(0)
    with pytest.raises(JournalWriteError, match="no final snapshot"):
        jk.close()
    jk.close()  # once
    again = JournaledKernel.open(path, CFG, INSTRUMENTS)
    try:
        assert snapshot_bytes(again.kernel) == committed  # neither entry of the failed batch
        assert again.kernel.slot_view(1).state == "IDLE" and again.journal.seq == jk.journal.seq
    finally:
        again.close()


def test_a_batch_that_raises_is_rolled_back_whole_and_the_kernel_that_ran_ahead_is_not_snapshotted(
    tmp_path: Path,
) -> None:
    """Not only a full disk: whatever stops a batch half way (a bug in the shell, say) leaves the
    journal as it was before it; no effect of it was handed out, so nothing of it happened."""
    path = tmp_path / "j.sqlite"
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS)
    _trade(jk, 1, 0, 1, "101")
    committed, seq = snapshot_bytes(jk.kernel), jk.journal.seq
    with pytest.raises(RuntimeError, match="a bug"), jk.batch():
        jk.submit(Intent(Action.ENTER, 1, "t9", "i9", asset=BTC, side=Side.LONG, quantity=D("0.100")), 20)
        raise RuntimeError("a bug")
    assert jk.journal.seq == seq and jk.kernel.slot_view(1).state == "ENTRY_PENDING"
    with pytest.raises(JournalWriteError, match=r"no final snapshot: a batch was rolled back \(RuntimeError: a bug\)"):
        jk.close()
    again = JournaledKernel.open(path, CFG, INSTRUMENTS)
    try:
        assert snapshot_bytes(again.kernel) == committed
    finally:
        again.close()


def test_e26_instruments_that_changed_between_runs_are_journaled_so_every_replay_is_the_live_run(
    tmp_path: Path,
) -> None:
    """The venue lists a new contract (or changes a step) between two runs: the run that trades
    it is replayed with the instruments it traded under, whatever the next start is given, by
    the restore, the ledger's catch-up and the audit alike; a fill is never lost to a replay."""
    eth = "ETH-USDT"
    listed = {**INSTRUMENTS, eth: Instrument(eth, D("0.01"), D("0.01"), D("0.01"), D("5"))}
    path = tmp_path / "journal.sqlite"
    JournaledKernel.open(path, CFG, INSTRUMENTS).close()  # a clean close: a snapshot without ETH
    jk = JournaledKernel.open(path, CFG, listed)
    out = jk.submit(Intent(Action.ENTER, 0, "t1", "i1", asset=eth, side=Side.LONG, quantity=D("1.00")), 10)
    live_records = list(out.records)
    place = next(e for e in out.effects if isinstance(e, PlaceOrder))
    fill = OrderFilled(place.client_order_id, "v1", "f1", D("1.00"), D("2000"), D("1.00"), D("0.1"), "USDT", 11)
    live_records += jk.apply(fill, 11).records
    live = snapshot_bytes(jk.kernel)
    assert jk.kernel.slot_view(0).state == "POSITION_OPEN"
    jk.journal.close()  # killed: no final snapshot
    journal = Journal(path, read_only=True)
    try:
        assert [r for _, recs in records_after(journal, 0) for r in recs] == live_records
    finally:
        journal.close()
    assert list(replay_records(path)) == live_records
    again = JournaledKernel.open(path, CFG, INSTRUMENTS)  # delisted meanwhile: the trade stays open
    try:
        assert snapshot_bytes(again.kernel) == live
    finally:
        again.close()


def test_a_missing_journal_read_for_an_audit_is_named_missing_not_damaged(tmp_path: Path) -> None:
    """Read only (audits, ledger catch-up), a path with no journal was called "damaged or not a
    PINK journal", sending a trader to restore a file that was never there."""
    path = tmp_path / "nowhere" / "journal.sqlite"
    for read in (lambda: Journal(path, read_only=True), lambda: list(replay_records(path))):
        with pytest.raises(CodecError, match=r"no journal at .*nowhere/journal\.sqlite") as err:
            read()
        assert "damaged" not in str(err.value)
    assert not path.parent.exists()  # and nothing was made there


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_journal_opened_for_a_run_is_named_with_what_to_do(tmp_path: Path, damage: str) -> None:
    """What a reader says (``pink audit``) a run says too, whether the damage is in the file's
    first page or past it (a copy cut short): never a bare SQLite error."""
    path = tmp_path / "journal.sqlite"
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS)
    now = 1
    for n in range(40):
        now = _trade(jk, n, n % 3, now, "101.0")
    jk.close()
    if damage == "garbage":
        path.write_bytes(b"not a journal at all" * 300)
    else:
        with path.open("r+b") as f:
            f.truncate(path.stat().st_size // 2)
    with pytest.raises(CodecError, match=r"journal .*journal.sqlite cannot be read \(.*\): it is damaged or not a "
                                         r"PINK journal; keep it aside"):  # fmt: skip
        JournaledKernel.open(path, CFG, INSTRUMENTS)


def test_a_snapshot_that_cannot_be_read_is_passed_over_for_an_earlier_one_and_the_messages_after_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A snapshot is only a shortcut: one cut short (a copy that stopped early, a bad sector) costs
    a longer replay and a warning, not the start; the kernel is the one the messages make."""
    path = tmp_path / "journal.sqlite"
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS, snapshot_every=7)
    now = 1
    for n in range(6):
        now = _trade(jk, n, n % 3, now, "101.0")
    live = snapshot_bytes(jk.kernel)
    jk.close()
    journal = Journal(path)
    (last,) = journal.db.execute("SELECT MAX(seq) FROM snapshots").fetchone()
    journal.db.execute("UPDATE snapshots SET payload = substr(payload, 1, 300) WHERE seq >= ?", (last - 7,))
    journal.close()
    again = JournaledKernel.open(path, CFG, INSTRUMENTS)
    try:
        assert snapshot_bytes(again.kernel) == live and again.replayed > 7
    finally:
        again.close()
    assert f"the snapshot at message {last} cannot be read" in caplog.text


def test_f2_a_fill_sent_again_under_another_id_is_still_one_fill_after_restoring_a_format_5_snapshot(
    tmp_path: Path,
) -> None:
    """Snapshots before format 6 did not keep the quantity each order's fills claimed: restored
    from one, a working order got them back from its journaled fills, so a fill the venue sends
    again under another id is recognised, not booked a second time."""
    path = tmp_path / "journal.sqlite"
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS)
    out = jk.submit(Intent(Action.ENTER, 0, "t1", "i1", asset=BTC, side=Side.LONG, quantity=D("1.000"),
                           order_type=OrderType.LIMIT, limit_price=D("100.0")), 1)  # fmt: skip
    cid = next(e for e in out.effects if isinstance(e, PlaceOrder)).client_order_id
    for n, (qty, cum) in enumerate((("0.300", "0.300"), ("0.100", "0.400")), 1):
        jk.apply(OrderFilled(cid, "v1", f"f{n}", D(qty), D("100.0"), D(cum), D("0.01"), "USDT", 1 + n), 1 + n)
    live = snapshot_bytes(jk.kernel)
    jk.close()
    journal = Journal(path)
    (seq, payload) = journal.db.execute("SELECT seq, payload FROM snapshots ORDER BY seq DESC LIMIT 1").fetchone()
    old = json.loads(payload)
    old["format"] = 5
    for order in old["orders"]:
        del order["spans"]
    journal.db.execute("UPDATE snapshots SET payload = ? WHERE seq = ?", (json.dumps(old), seq))
    journal.close()
    again = JournaledKernel.open(path, CFG, INSTRUMENTS)
    try:
        assert snapshot_bytes(again.kernel) == live
        resent = OrderFilled(cid, "v1", "f2-again", D("0.100"), D("100.0"), D("0.400"), D("0.01"), "USDT", 9)
        assert again.apply(resent, 9).status is OutcomeStatus.DUPLICATE
        assert again.kernel.slot_view(0).entry_qty == D("0.400")
    finally:
        again.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [("reason", None), ("decision_id", 7), ("metadata", None), ("close_all", "yes"), ("reason", b"stop")],
)
@pytest.mark.parametrize("action", [Action.EXIT, Action.CANCEL])
def test_an_intent_whose_fields_the_journal_cannot_keep_is_refused_naming_the_field(
    tmp_path: Path, action: Action, field: str, value: object
) -> None:
    """An EXIT or CANCEL with ``reason=None`` (or a number as decision id, no metadata) was
    admitted and journaled as it was: the next start could not read the journal back, and the
    data dir was dead. It is refused, naming the field; what was journaled restores."""
    path = tmp_path / "j.sqlite"
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS)
    out = jk.submit(Intent(Action.ENTER, 0, "t1", "i1", asset=BTC, side=Side.LONG, quantity=D("0.500")), 1)
    place = next(e for e in out.effects if isinstance(e, PlaceOrder))
    jk.apply(OrderFilled(place.client_order_id, "v1", "f1", D("0.500"), D("100"), D("0.500"), D("0.01"),
                         "USDT", 2), 2)
    fields: dict[str, object] = {"close_all": True, field: value}
    bad = Intent(action, 0, "t1", "i2", order_type=OrderType.MARKET, **fields)  # type: ignore[arg-type]
    out = jk.submit(bad, 3)
    assert out.status is OutcomeStatus.REFUSED and out.detail.startswith(f"{field}:"), out
    live = snapshot_bytes(jk.kernel)
    jk.journal.close()
    assert snapshot_bytes(JournaledKernel.open(path, CFG, INSTRUMENTS).kernel) == live


@pytest.mark.parametrize("meta", [PolicyMetadata(features=[]), PolicyMetadata(tags=()), PolicyMetadata(features=None)])  # type: ignore[arg-type]
def test_empty_metadata_of_the_wrong_kind_is_refused_not_taken_for_none(tmp_path: Path, meta: PolicyMetadata) -> None:
    """An empty list where the features dict belongs is as unreadable to the journal as a full one."""
    jk = JournaledKernel.open(tmp_path / "j.sqlite", CFG, INSTRUMENTS)
    out = jk.submit(Intent(Action.ENTER, 0, "t1", "i1", asset=BTC, side=Side.LONG, quantity=D("0.500"),
                           metadata=meta), 1)
    assert out.status is OutcomeStatus.REFUSED and out.detail.startswith("metadata."), out


def _written(path: Path) -> None:
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS, snapshot_every=25)
    now = 1
    for n in range(12):
        now = _trade(jk, n, n % 3, now, "101.0")
    jk.close()


def _overwrite_a_message_page(path: Path) -> None:
    journal = Journal(path)
    (page,) = journal.db.execute("SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf' "
                                 "ORDER BY pageno LIMIT 1 OFFSET 1").fetchone()  # fmt: skip
    journal.close()
    with path.open("r+b") as f:
        f.seek((page - 1) * 4096 + 3000)
        f.write(b"\xde\xad\xbe\xef" * 4)


def _sql(statement: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        journal = Journal(path)
        journal.db.execute(statement)
        journal.close()

    return damage


def _edit_snapshot_capital(path: Path) -> None:
    journal = Journal(path)
    (seq, payload), *_ = journal.db.execute("SELECT seq, payload FROM snapshots ORDER BY seq").fetchall()
    data = json.loads(payload)
    data["account"]["capital"] = str(D(data["account"]["capital"]) + 1000)
    journal.db.execute("UPDATE snapshots SET payload = ? WHERE seq = ?", (json.dumps(data).encode(), seq))
    journal.close()


def _edit_a_fill_price(path: Path) -> None:
    journal = Journal(path)
    seq, payload = journal.db.execute("SELECT seq, payload FROM messages WHERE kind = 'OrderFilled' "
                                      "ORDER BY seq LIMIT 1").fetchone()  # fmt: skip
    journal.db.execute("UPDATE messages SET payload = ? WHERE seq = ?",
                       (payload.replace(b'"last_price":"100.0"', b'"last_price":"109.0"'), seq))  # fmt: skip
    journal.close()


DAMAGES: list[tuple[str, Callable[[Path], None], str]] = [
    ("bytes overwritten in a message page", _overwrite_a_message_page,
     r"(SQLite finds its file damaged|message \d+ \(\w+\) cannot be read)"),
    ("a message deleted", _sql("DELETE FROM messages WHERE seq = 30"), r"message 30 is missing \(the one after "
     r"message 29 is 31\)"),
    ("messages cut from its end", _sql("DELETE FROM messages WHERE seq > (SELECT MAX(seq) - 3 FROM messages)"),
     r"it has a snapshot at message \d+ but its messages end at \d+: messages were removed from its end"),
    ("a snapshot's capital changed", _edit_snapshot_capital,
     r"its snapshot at message 25 is not the kernel its messages 1 to 25 make: account.capital: snapshot"),
    ("a fill's price changed", _edit_a_fill_price, r"its snapshot at message 25 is not the kernel"),
    ("a message kind that is not text", _sql("UPDATE messages SET kind = CAST(X'FFFE' AS TEXT) WHERE seq = 7"),
     r"message 7 has a kind that is not text"),
    ("a snapshot cut short", _sql("UPDATE snapshots SET payload = substr(payload, 1, 300)"),
     r"its snapshot at message 25 cannot be read: JSONDecodeError"),
    ("a used trade id deleted", _sql("DELETE FROM trade_ids WHERE trade_id = 't3'"),
     r"its snapshot at message 25 cannot be read: .*used trade ids"),
]


@pytest.mark.parametrize(("damage", "says"), [d[1:] for d in DAMAGES], ids=[d[0] for d in DAMAGES])
def test_the_audits_read_of_a_damaged_journal_fails_naming_the_first_bad_place(
    tmp_path: Path, damage: Callable[[Path], None], says: str
) -> None:
    """``pink audit`` read the journal's messages and nothing else: bytes overwritten in the file,
    a message deleted, messages cut from its end, a snapshot (what a start restores from) that is
    not what the messages make: "audit passed", or a bare UnicodeDecodeError."""
    path = tmp_path / "journal.sqlite"
    _written(path)
    intact = read_journal_records(path)
    assert [r for _seq, records in intact.messages() for r in records] == list(replay_records(path))
    assert "messages 1 to 72 without a hole, each read and replayed; 3 snapshots equal to the replay; " \
           "12 used trade ids" in intact.checked[0]  # fmt: skip
    damage(path)
    records = read_journal_records(path)
    with pytest.raises(JournalDamagedError, match=rf"journal .*journal.sqlite is damaged: {says}"):
        list(records.messages())


def test_e26_a_start_over_a_journal_with_a_message_missing_after_its_snapshot_refuses_naming_it(
    tmp_path: Path,
) -> None:
    """Restore replayed the messages after the last snapshot as they came: one deleted (a fill, a
    settlement) was skipped without a word and the run traded on books that lacked it."""
    path = tmp_path / "journal.sqlite"
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS, snapshot_every=25)
    now = 1
    for n in range(12):
        now = _trade(jk, n, n % 3, now, "101.0")
    jk.journal.close()  # killed: no final snapshot, messages 51 to 72 are replayed
    _sql("DELETE FROM messages WHERE seq = 60")(path)
    with pytest.raises(JournalDamagedError, match=r"journal .*journal.sqlite is damaged: message 60 is missing \(the "
                                                  r"one after message 59 is 61\)"):  # fmt: skip
        JournaledKernel.open(path, CFG, INSTRUMENTS)
    with pytest.raises(JournalDamagedError, match="message 60 is missing"):
        list(replay_records(path))


def test_a_flatten_mark_is_kept_whole_or_not_at_all(tmp_path: Path) -> None:
    """Its sequence and time were two commits: a run killed (or a write refused) between them
    kept a mark that matched no flatten, and the next start carried out the operator's flatten
    again, closing what was opened since."""
    from pink.runtime.ports_ext import FlattenMark

    path = tmp_path / "journal.sqlite"
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS)
    jk.record_flatten(FlattenMark(1, 100))
    jk.journal.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON meta WHEN NEW.key = 'flatten_ns' "
                          "BEGIN SELECT RAISE(ABORT, 'disk full'); END")  # fmt: skip
    with pytest.raises(JournalWriteError, match="disk full"):
        jk.record_flatten(FlattenMark(2, 200))
    assert jk.flatten_handled() == FlattenMark(1, 100)
    jk.close()

"""The kernel journal: every state-changing message, durable before its effects.

Why SQLite (standard library) in WAL mode: one file, atomic appends, crash
safety without a server, readers (``pink audit``) while the runtime writes,
and ~10-30 µs per committed append with ``synchronous=NORMAL`` (survives a
killed process; ``durability="full"`` also survives power loss at ~ms cost).

Layout: ``messages(seq, ts, kind, payload)`` holds every admitted intent,
applied venue event, tick that produced effects and control change, in the
order the kernel saw them, and every refused intent (kind ``IntentRefused``: the
kernel's record of it and why, which changes no state: restore passes over it,
the ledger's catch-up and audits read it); ``snapshots(seq, payload)`` holds
periodic kernel snapshots. Restore = the last snapshot + replay of the messages after it;
replaying reproduces the kernel state byte for byte (the journal tests check
it). ``trade_ids(seq, trade_id)`` holds every trade id ever used, with the
message that used it: they only ever grow, so snapshots count them instead of
carrying them (a year of trades would make each snapshot, on the owner task,
hundreds of milliseconds).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from pink.codec import decode, decode_named, encode, type_name
from pink.errors import ClosedError, CodecError, JournalWriteError
from pink.kernel import (
    ControlSnapshot,
    Instrument,
    Intent,
    Kernel,
    KernelConfig,
    OrderFilled,
    Outcome,
    OutcomeStatus,
)
from pink.kernel.messages import IntentRecorded
from pink.kernel.snapshot import add_spans, orders_without_spans
from pink.runtime.ports_ext import FlattenMark

__all__ = [
    "Journal",
    "JournaledKernel",
    "read_journal_records",
    "records_after",
    "records_between",
    "replay_records",
    "restore",
    "snapshot_bytes",
]

log = logging.getLogger(__name__)

_TICK = "Tick"
_INSTRUMENT = "Instrument"
_FILL = "OrderFilled"
#: a refused intent: its kernel record (the intent, the reason, the detail), replayed as that record
_REFUSED = "IntentRefused"
_ADOPTED = Outcome(OutcomeStatus.CONFIRMED, detail="instrument rules adopted")
_LAST_TS = "SELECT COALESCE(MAX(ts), 0) FROM messages"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL,
                                     payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trade_ids (seq INTEGER NOT NULL, trade_id TEXT NOT NULL UNIQUE);
"""
# meta key set once ``trade_ids`` holds every used trade id (journals written before it existed
# carried them in their snapshots: the first restore moves them over)
_TRADE_IDS_KEPT = "trade_ids_kept"
_BOOKS_BASELINE = "books_baseline"  # venue wallet less kernel capital when nothing was in flight


def snapshot_bytes(kernel: Kernel, *, trade_ids: bool = True) -> bytes:
    """The kernel's snapshot as canonical bytes (sorted keys, no spaces)."""
    return msgspec.json.encode(kernel.snapshot(trade_ids=trade_ids), order="sorted")


class Journal:
    """Append-only message log plus snapshots in one SQLite file."""

    def __init__(self, path: Path, *, durability: str = "normal", read_only: bool = False) -> None:
        """Open (and create) the journal at ``path``; ``read_only`` (readers: audit, report) opens an
        existing one without changing a byte of it, or raises :class:`CodecError` naming it."""
        if durability not in ("normal", "full"):
            raise ValueError(f"durability: must be 'normal' or 'full', got {durability!r}")
        self.path = path
        self._batching = False
        self._db: sqlite3.Connection | None = None
        if read_only:
            self._db = _open_read_only(path)
            self.seq: int = _read_seq(self._db, path)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = db = sqlite3.connect(str(path), isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={durability.upper()}")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT COALESCE(MAX(seq), 0) FROM messages").fetchone()
        except sqlite3.Error as exc:
            self.close()
            if _damaged(exc):
                raise _unreadable(path, exc) from None
            raise
        self.seq = row[0]

    @property
    def closed(self) -> bool:
        return self._db is None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise ClosedError(f"journal {self.path}")
        return self._db

    def append(self, kind: str, ts: int, payload: bytes, *, trade_id: str = "") -> int:
        """Append one message (and the trade id it used up, if any) in one transaction;
        durable at once unless inside :meth:`batch`. A write SQLite refuses (a full disk)
        raises :class:`JournalWriteError`; outside a batch nothing of it is kept."""
        db = self.db
        own = not self._batching
        try:
            if trade_id and own:
                db.execute("BEGIN")
            db.execute("INSERT INTO messages VALUES (?, ?, ?, ?)", (self.seq + 1, ts, kind, payload))
            if trade_id:
                db.execute("INSERT INTO trade_ids VALUES (?, ?)", (self.seq + 1, trade_id))
            if own:
                db.commit()
        except sqlite3.Error as exc:
            if own and db.in_transaction:
                db.rollback()
            raise JournalWriteError(f"journal {self.path}: message {self.seq + 1} ({kind}) not written: "
                                    f"{exc}") from exc  # fmt: skip
        self.seq += 1
        return self.seq

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the appends of a batch into one transaction: all of them durable on exit, or,
        when the batch raises or the commit fails, none (rolled back, and the error raised).

        The runtime applies a batch of queued messages, leaves the batch (the
        commit makes them durable) and only then hands out their effects.
        """
        if self._batching:
            yield
            return
        db = self.db
        start = self.seq
        db.execute("BEGIN")
        self._batching = True
        try:
            yield
            db.commit()
        except BaseException as exc:
            if db.in_transaction:
                db.rollback()
            self.seq = start
            if isinstance(exc, sqlite3.Error):
                raise JournalWriteError(f"journal {self.path}: the batch after message {start} not written: "
                                        f"{exc}") from exc  # fmt: skip
            raise
        finally:
            self._batching = False

    def write_snapshot(self, kernel: Kernel) -> None:
        """The kernel's snapshot at the current position, its used trade ids counted, not carried."""
        payload = snapshot_bytes(kernel, trade_ids=False)
        self.db.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?)", (self.seq, payload))

    def trade_ids(self, at_most: int) -> list[str]:
        """The trade ids used by messages up to ``at_most``, in the order of use."""
        cur = self.db.execute("SELECT trade_id FROM trade_ids WHERE seq <= ? ORDER BY rowid", (at_most,))
        return [row[0] for row in cur]

    def kernel_at(self, snap: tuple[int, dict[str, Any]]) -> Kernel:
        """The kernel a snapshot of this journal describes (its trade ids read from ``trade_ids``;
        what an older format did not keep, from the messages before it)."""
        seq, data = snap
        if "used_trade_ids" in data:  # written before the ids were kept apart
            kernel = Kernel.restore(data)
        else:
            try:
                kernel = Kernel.restore(data, self.trade_ids(seq))
            except ValueError as exc:
                raise CodecError(f"journal {self.path} snapshot at message {seq}: {exc}") from exc
        orders = orders_without_spans(kernel, data)
        if orders:
            add_spans(orders, self._fills(seq))
        return kernel

    def _fills(self, at_most: int) -> Iterator[OrderFilled]:
        """The journaled venue fills up to message ``at_most``, in order."""
        cur = self.db.execute("SELECT seq, payload FROM messages WHERE kind = ? AND seq <= ? ORDER BY seq",
                              (_FILL, at_most))  # fmt: skip
        for seq, payload in cur:
            try:
                yield decode(payload, OrderFilled)
            except CodecError as exc:
                raise CodecError(f"journal {self.path} message {seq}: {exc}") from exc

    def keep_trade_ids(self, kernel: Kernel) -> None:
        """Once: move the used trade ids of a journal that kept them in snapshots to ``trade_ids``."""
        if self.meta(_TRADE_IDS_KEPT) is not None:
            return
        with self.batch():
            self.db.executemany(
                "INSERT OR IGNORE INTO trade_ids VALUES (?, ?)", ((self.seq, t) for t in kernel.used_trade_ids)
            )
            self.set_meta(_TRADE_IDS_KEPT, str(self.seq))

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def last_snapshot(self, at_most: int | None = None) -> tuple[int, dict[str, Any]] | None:
        """The newest snapshot (taken at or before message ``at_most``, if given) that can be read:
        one that cannot (cut short) is passed over, with a warning, for an earlier one, since the
        messages after it give the same kernel."""
        limit = self.seq if at_most is None else at_most
        taken = [r[0] for r in self.db.execute("SELECT seq FROM snapshots WHERE seq <= ? ORDER BY seq DESC", (limit,))]
        for seq in taken:
            (payload,) = self.db.execute("SELECT payload FROM snapshots WHERE seq = ?", (seq,)).fetchone()
            try:
                data = json.loads(payload)
            except ValueError as exc:  # (not JSON, not UTF-8)
                log.warning("journal %s: the snapshot at message %d cannot be read (%s): restoring from an "
                            "earlier one and the messages after it", self.path, seq, exc)  # fmt: skip
                continue
            if isinstance(data, dict):
                return int(seq), data
        return None

    def messages(self, after: int = 0) -> Iterator[tuple[int, int, str, bytes]]:
        cur = self.db.execute("SELECT seq, ts, kind, payload FROM messages WHERE seq > ? ORDER BY seq", (after,))
        yield from cur

    def last_ts(self) -> int:
        row = self.db.execute(_LAST_TS).fetchone()
        return int(row[0])

    @staticmethod
    def meta_at(path: Path, key: str) -> str | None:
        """Meta ``key`` of the journal at ``path`` (read only; None if it or the key is missing)."""
        if not path.exists():
            return None
        db = _open_read_only(path)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None  # no meta table yet: a journal created but never written
        except sqlite3.DatabaseError as exc:
            raise _unreadable(path, exc) from None
        finally:
            db.close()
        return None if row is None else str(row[0])

    @staticmethod
    def last_ts_at(path: Path) -> int:
        """The time of the last message of the journal at ``path`` (read only; 0 if there is none).
        A file that is no journal (garbled, truncated) is a :class:`CodecError` naming it."""
        if not path.exists():
            return 0
        db = _open_read_only(path)
        try:
            if not _has_messages(db, path):
                return 0  # no table yet: a journal created but never written
            row = db.execute(_LAST_TS).fetchone()
        except sqlite3.DatabaseError as exc:
            raise _unreadable(path, exc) from None
        finally:
            db.close()
        return int(row[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _damaged(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused a file as damaged or as no database (not: locked, full, no access)."""
    return type(exc) is sqlite3.DatabaseError or exc.sqlite_errorname in ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def _unreadable(path: Path, exc: BaseException) -> CodecError:
    return CodecError(f"journal {path} cannot be read ({exc}): it is damaged or not a PINK journal; "
                      "keep it aside and restore it from a copy, or use a new data dir")


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that can never write ``path`` (nor create it, nor switch its journal mode)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        db.execute("PRAGMA query_only=ON")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a file that is no database fails here
    except sqlite3.Error as exc:
        raise _unreadable(path, exc) from None
    return db


def _has_messages(db: sqlite3.Connection, path: Path) -> bool:
    try:
        row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise _unreadable(path, exc) from None
    return row is not None


def _read_seq(db: sqlite3.Connection, path: Path) -> int:
    """The last message of a journal opened read only; one without PINK's tables is refused."""
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"messages", "snapshots", "meta"} <= tables:
            raise CodecError(f"journal {path} is empty or not a PINK journal (no messages): did a run ever "
                             "write it?")
        return int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM messages").fetchone()[0])
    except BaseException as exc:
        db.close()
        if isinstance(exc, sqlite3.DatabaseError):
            raise _unreadable(path, exc) from None
        raise


def replay_one(kernel: Kernel, kind: str, ts: int, payload: bytes) -> Outcome:
    """Feed one journaled message back to ``kernel`` (a refused intent: its record, the kernel
    untouched)."""
    if kind == _TICK:
        return kernel.tick(ts)
    if kind == _REFUSED:
        record = decode(payload, IntentRecorded)
        return Outcome(OutcomeStatus.REFUSED, detail=record.detail, records=(record,))
    message = decode_named(kind, payload)
    if isinstance(message, Instrument):
        kernel.set_instrument(message)
        return _ADOPTED
    if isinstance(message, Intent):
        return kernel.submit(message, ts)
    if isinstance(message, ControlSnapshot):
        return kernel.set_control(message, ts)
    return kernel.apply(message, ts)


class JournaledKernel:
    """A kernel whose every state change is journaled before its outcome is returned.

    Use :meth:`open`; it restores from the journal when the file exists. The
    same ``submit/apply/tick/set_control`` as :class:`~pink.kernel.Kernel`.
    """

    def __init__(self, kernel: Kernel, journal: Journal, *, snapshot_every: int = 10_000) -> None:
        self.kernel = kernel
        self.journal = journal
        self.snapshot_every = snapshot_every
        self._since_snapshot = 0
        self.replayed = 0
        #: a write the journal refused (a full disk): the kernel in memory holds messages the
        #: journal does not, so it is used no more and never snapshotted
        self.failed: BaseException | None = None

    @classmethod
    def open(
        cls,
        path: Path,
        config: KernelConfig,
        instruments: dict[str, Instrument],
        *,
        durability: str = "normal",
        snapshot_every: int = 10_000,
        adopt: bool = True,
    ) -> JournaledKernel:
        """The kernel the journal at ``path`` holds (a new one: ``config`` and ``instruments``),
        then (``adopt``) ``instruments`` adopted; a caller that may still refuse the journal
        adopts them itself once it has not (:meth:`adopt_instruments`)."""
        journal = Journal(path, durability=durability)
        try:
            kernel, replayed = restore(journal, config, instruments)
        except Exception as exc:
            journal.close()
            if isinstance(exc, sqlite3.Error) and _damaged(exc):  # past the pages the open read
                raise _unreadable(path, exc) from None
            raise
        jk = cls(kernel, journal, snapshot_every=snapshot_every)
        jk.replayed = replayed
        if adopt:
            try:
                jk.adopt_instruments(instruments)
            except Exception:
                journal.close()
                raise
        return jk

    def adopt_instruments(self, instruments: dict[str, Instrument]) -> list[str]:
        """Trade by the venue's rules as listed now: each instrument that is new or changed since
        the journal's is journaled first (at the journal's last time: the reconcile after a
        restart still reads from there), so that every replay of the messages after it (restore,
        the ledger's catch-up, an audit) sees the rules they were made under. One no longer
        listed stays (a trade on it may be open). Returns the symbols adopted."""
        self._check_open()
        changed = [i for i in instruments.values() if self.kernel.instruments.get(i.symbol) != i]
        if not changed:
            return []
        changed.sort(key=lambda i: i.symbol)
        ts = self.journal.last_ts()
        with self.batch():
            for inst in changed:
                self.kernel.set_instrument(inst)
                self._record(_INSTRUMENT, ts, encode(inst), _ADOPTED)
        return [i.symbol for i in changed]

    def _check_open(self) -> None:
        if self.journal._db is None:
            raise ClosedError(f"journaled kernel on {self.journal.path}")
        if self.failed is not None:
            raise JournalWriteError(
                f"journaled kernel on {self.journal.path} stopped: {_why(self.failed)}; the kernel in memory is "
                f"ahead of the journal: restart to restore it from the journal"
            )

    def _record(self, kind: str, now: int, payload: bytes, outcome: Outcome, trade_id: str = "") -> Outcome:
        if outcome.changed:
            try:
                self.journal.append(kind, now, payload, trade_id=trade_id)
                self._since_snapshot += 1
                if self._since_snapshot >= self.snapshot_every:
                    self.checkpoint()
            except (JournalWriteError, sqlite3.Error) as exc:  # the kernel has applied it: ahead of the journal
                self.failed = exc
                if isinstance(exc, JournalWriteError):
                    raise
                raise JournalWriteError(f"journal {self.journal.path}: snapshot not written: {exc}") from exc
        return outcome

    def submit(self, intent: Intent, now: int) -> Outcome:
        self._check_open()
        used = len(self.kernel.used_trade_ids)
        outcome = self.kernel.submit(intent, now)
        if not outcome.changed:
            if outcome.records:
                self._record_refusal(now, outcome)
            return outcome
        new_id = intent.trade_id if len(self.kernel.used_trade_ids) > used else ""
        return self._record("Intent", now, encode(intent), outcome, new_id)

    def _record_refusal(self, now: int, outcome: Outcome) -> None:
        """Journal a refused intent's record (the policy asked for it, and why it was refused) for
        the ledger's catch-up and audits. It changes no state, so it counts for no snapshot; one
        whose fields cannot be written and read back as they are (not of their types: only a
        caller that skips the policy screen submits such) is left to the live ledger row."""
        (record,) = outcome.records
        try:
            payload = encode(record)
            kept = encode(decode(payload, IntentRecorded)) == payload
        except (TypeError, ValueError, msgspec.MsgspecError, CodecError):
            kept = False
        if not kept:
            log.warning("journal %s: refused intent %r not journaled: its fields are not of their types",
                        self.journal.path, getattr(record, "intent", None))  # fmt: skip
            return
        try:
            self.journal.append(_REFUSED, now, payload)
        except JournalWriteError as exc:  # in a batch, SQLite may have dropped the batch's messages
            self.failed = exc
            raise

    def apply(self, event: Any, now: int) -> Outcome:
        self._check_open()
        outcome = self.kernel.apply(event, now)
        if not outcome.changed:
            return outcome
        return self._record(type_name(event), now, encode(event), outcome)

    def tick(self, now: int) -> Outcome:
        self._check_open()
        outcome = self.kernel.tick(now)
        return self._record(_TICK, now, b"", outcome) if outcome.changed else outcome

    def set_control(self, snapshot: ControlSnapshot, now: int) -> Outcome:
        self._check_open()
        outcome = self.kernel.set_control(snapshot, now)
        return self._record("ControlSnapshot", now, encode(snapshot), outcome) if outcome.changed else outcome

    def flatten_handled(self) -> FlattenMark | None:
        """The last operator flatten carried out on this journal, if any (its time is 0 when a
        journal from before it was kept recorded it)."""
        value = self.journal.meta("flatten_seq")
        if value is None:
            return None
        return FlattenMark(int(value), int(self.journal.meta("flatten_ns") or 0))

    def record_flatten(self, mark: FlattenMark) -> None:
        """Remember that flatten ``mark`` was carried out (committed with the current batch)."""
        self.journal.set_meta("flatten_seq", str(mark.seq))
        self.journal.set_meta("flatten_ns", str(mark.ns))

    def books_baseline(self) -> Decimal | None:
        """The books check's baseline kept by an earlier run on this journal, if any."""
        value = self.journal.meta(_BOOKS_BASELINE)
        return None if value is None else Decimal(value)

    def record_books_baseline(self, offset: Decimal | None) -> None:
        """Keep the books check's baseline (None: forget it; the next start sets one)."""
        if offset is None:
            self.journal.db.execute("DELETE FROM meta WHERE key = ?", (_BOOKS_BASELINE,))
        else:
            self.journal.set_meta(_BOOKS_BASELINE, str(offset))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """``with jk.batch():`` one durable commit for many messages (see :meth:`Journal.batch`).
        A batch that raises is rolled back: the kernel in memory, which applied its messages, is
        then ahead of the journal and is used no more."""
        self._check_open()
        try:
            with self.journal.batch():
                yield
                if self.failed is not None:  # a write failed and its caller went on (an operator's call,
                    # say): SQLite may have dropped the whole transaction, so nothing of it is committed
                    raise JournalWriteError(f"journal {self.journal.path}: the batch not written: {self.failed}")
        except BaseException as exc:
            if self.failed is None:
                self.failed = exc
            raise

    @property
    def position(self) -> int:
        """The journal position of the last message written (ledger rows carry it)."""
        return self.journal.seq

    def checkpoint(self) -> None:
        self.journal.write_snapshot(self.kernel)
        self._since_snapshot = 0

    def close(self) -> None:
        """Write a final snapshot and close the journal. Idempotent. After a failed write no
        snapshot is written (the kernel in memory is ahead of the journal): the journal is
        closed and :class:`JournalWriteError` says so once."""
        if self.journal._db is None:
            return
        if self.failed is not None:
            self.journal.close()
            raise JournalWriteError(f"journal {self.journal.path}: no final snapshot: {_why(self.failed)}, so the "
                                    f"kernel in memory ran ahead of it; the next start restores what the journal "
                                    f"holds")  # fmt: skip
        self.checkpoint()
        self.journal.close()


def _why(failed: BaseException) -> str:
    if isinstance(failed, JournalWriteError):
        return f"a write failed ({failed})"
    return f"a batch was rolled back ({type(failed).__name__}: {failed})"


def restore(journal: Journal, config: KernelConfig, instruments: dict[str, Instrument]) -> tuple[Kernel, int]:
    """The kernel as the journal left it: last snapshot + replay. Returns (kernel, messages replayed)."""
    initial = journal.meta("initial")
    if initial is None:
        initial = snapshot_bytes(Kernel(config, instruments)).decode()
        with journal.batch():
            journal.set_meta("initial", initial)
            journal.set_meta(_TRADE_IDS_KEPT, "0")
    snap = journal.last_snapshot()
    kernel, after = (journal.kernel_at(snap), snap[0]) if snap else (Kernel.restore(json.loads(initial)), 0)
    count = 0
    for _seq, ts, kind, payload in journal.messages(after):
        if kind == _REFUSED:  # (changed nothing)
            continue
        try:
            replay_one(kernel, kind, ts, payload)
        except CodecError as exc:
            raise CodecError(f"journal {journal.path} message {_seq}: {exc}") from exc
        count += 1
    journal.keep_trade_ids(kernel)
    return kernel, count


def records_after(journal: Journal, position: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``(seq, records)`` of every journaled message after ``position``, by replay.

    The ledger remembers the last journal position it wrote; after a crash the
    runtime hands it the records of the messages after that position again
    (its row ids are deterministic, so a record written twice is one row).
    """
    initial = journal.meta("initial")
    if initial is None:
        return
    snap = journal.last_snapshot(at_most=position)
    kernel, after = (journal.kernel_at(snap), snap[0]) if snap else (Kernel.restore(json.loads(initial)), 0)
    for seq, ts, kind, payload in journal.messages(after):
        out = replay_one(kernel, kind, ts, payload)
        if seq > position and out.records:
            yield seq, out.records


def records_between(path: Path, after: int, upto: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """:func:`records_after` ``after`` up to message ``upto``, on a read-only connection of its own
    (the ledger's writer thread reads while the runtime appends)."""
    journal = Journal(path, read_only=True)
    try:
        for seq, records in records_after(journal, after):
            if seq > upto:
                return
            yield seq, records
    finally:
        journal.close()


def read_journal_records(path: Path) -> Any:
    """The ledger audit's view of a journal: its ids and every record it produces (None: no journal)."""
    from pink.ledger.audit import JournalRecords

    if not path.exists():
        return None
    journal = Journal(path, read_only=True)
    try:
        account_id = journal.meta("account_id") or "default"
        runtime_id = journal.meta("runtime_id") or ""
    except sqlite3.DatabaseError as exc:
        raise _unreadable(path, exc) from None
    finally:
        journal.close()
    try:
        return JournalRecords(account_id, runtime_id, list(replay_records(path)))
    except sqlite3.DatabaseError as exc:  # damaged past its first pages
        raise _unreadable(path, exc) from None


def replay_records(path: Path) -> Iterator[Any]:
    """Every kernel record the journal's messages produce, replayed from the start (for audits)."""
    journal = Journal(path, read_only=True)
    try:
        initial = journal.meta("initial")
        if initial is None:
            raise CodecError(f"journal {path} has no initial kernel state")
        kernel = Kernel.restore(json.loads(initial))
        for _seq, ts, kind, payload in journal.messages(0):
            yield from replay_one(kernel, kind, ts, payload).records
    finally:
        journal.close()

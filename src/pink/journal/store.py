"""The journal's SQLite file: messages, snapshots, used trade ids and meta, nothing about replay.

Why SQLite (standard library) in WAL mode: one file, atomic appends, crash
safety without a server, readers (``pink audit``) while the runtime writes,
and ~10-30 µs per committed append with ``synchronous=NORMAL`` (survives a
killed process; ``durability="full"`` also survives power loss at ~ms cost).

Tables: ``messages(seq, ts, kind, payload)`` in the order the kernel saw them
(``kind`` is the message's type name, or one of the kinds below);
``snapshots(seq, payload)`` the kernel's snapshot after message ``seq``;
``trade_ids(seq, trade_id)`` every trade id ever used, with the message that
used it (they only ever grow, so snapshots count them instead of carrying
them: a year of trades would make each snapshot, on the owner task, hundreds
of milliseconds); ``meta(key, value)`` the initial kernel and a few marks of
the run.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from pink.codec import decode
from pink.errors import ClosedError, CodecError, JournalDamagedError, JournalWriteError
from pink.kernel import Kernel, OrderFilled
from pink.kernel.snapshot import add_outside_spans, add_spans, orders_without_spans, outside_without_spans

__all__ = [
    "FILL",
    "INSTRUMENT",
    "REFUSED",
    "TICK",
    "TRADE_IDS_KEPT",
    "Journal",
    "is_damaged",
    "snapshot_bytes",
    "unreadable_error",
]

log = logging.getLogger(__name__)

# message kinds that are not the type name of a kernel message
TICK = "Tick"  #: a tick that changed the kernel (the payload is empty)
INSTRUMENT = "Instrument"  #: an instrument's rules adopted
FILL = "OrderFilled"  #: a venue fill (the snapshot's order spans are rebuilt from these)
#: a refused intent: its kernel record (the intent, the reason, the detail), replayed as that record
REFUSED = "IntentRefused"
# meta key set once ``trade_ids`` holds every used trade id (journals written before it existed
# carried them in their snapshots: the first restore moves them over)
TRADE_IDS_KEPT = "trade_ids_kept"

_LAST_TS = "SELECT COALESCE(MAX(ts), 0) FROM messages"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL,
                                     payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trade_ids (seq INTEGER NOT NULL, trade_id TEXT NOT NULL UNIQUE);
"""


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
            if is_damaged(exc):
                raise unreadable_error(path, exc) from None
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
        if outside_without_spans(kernel, data):
            add_outside_spans(kernel, self._fills(seq))
        return kernel

    def _fills(self, at_most: int) -> Iterator[OrderFilled]:
        """The journaled venue fills up to message ``at_most``, in order."""
        cur = self.db.execute("SELECT seq, payload FROM messages WHERE kind = ? AND seq <= ? ORDER BY seq",
                              (FILL, at_most))  # fmt: skip
        for seq, payload in cur:
            try:
                yield decode(payload, OrderFilled)
            except CodecError as exc:
                raise CodecError(f"journal {self.path} message {seq}: {exc}") from exc

    def keep_trade_ids(self, kernel: Kernel) -> None:
        """Once: move the used trade ids of a journal that kept them in snapshots to ``trade_ids``."""
        if self.meta(TRADE_IDS_KEPT) is not None:
            return
        with self.batch():
            self.db.executemany(
                "INSERT OR IGNORE INTO trade_ids VALUES (?, ?)", ((self.seq, t) for t in kernel.used_trade_ids)
            )
            self.set_meta(TRADE_IDS_KEPT, str(self.seq))

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
        """The messages after message ``after``, in order; a missing one (deleted, a damaged copy)
        raises :class:`JournalDamagedError` naming it: a replay past it gives another kernel."""
        cur = self.db.execute("SELECT seq, ts, kind, payload FROM messages WHERE seq > ? ORDER BY seq", (after,))
        expected = after + 1
        for row in cur:
            if row[0] != expected:
                raise JournalDamagedError(f"journal {self.path} is damaged: message {expected} is missing (the one "
                                          f"after message {expected - 1} is {row[0]}): keep it aside and restore it "
                                          "from a copy")  # fmt: skip
            expected += 1
            yield row

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
            raise unreadable_error(path, exc) from None
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
            raise unreadable_error(path, exc) from None
        finally:
            db.close()
        return int(row[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def is_damaged(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused a file as damaged or as no database (not: locked, full, no access)."""
    return type(exc) is sqlite3.DatabaseError or exc.sqlite_errorname in ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def unreadable_error(path: Path, exc: BaseException) -> CodecError:
    return CodecError(f"journal {path} cannot be read ({exc}): it is damaged or not a PINK journal; "
                      "keep it aside and restore it from a copy, or use a new data dir")


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that can never write ``path`` (nor create it, nor switch its journal mode)."""
    if not path.is_file():
        raise CodecError(f"no journal at {path}: give the data dir of a `pink run` (it keeps journal.sqlite)")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        db.execute("PRAGMA query_only=ON")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a file that is no database fails here
    except sqlite3.Error as exc:
        raise unreadable_error(path, exc) from None
    return db


def _has_messages(db: sqlite3.Connection, path: Path) -> bool:
    try:
        row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise unreadable_error(path, exc) from None
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
            raise unreadable_error(path, exc) from None
        raise

"""What ``pink audit`` proves of a journal before it vouches for its records.

:func:`checked_records` replays every message from the initial kernel, as
:func:`~pink.journal.replay.records_after` does, and checks the journal as it
goes: SQLite finds no damage in the file (``PRAGMA integrity_check``); the
messages run from 1 without a hole; each one reads back (its kind as text,
its payload as the record it names) and replays; each snapshot (what a start
restores from) describes the very kernel the messages before it make; no
snapshot or used trade id belongs to a message the journal no longer has; and
the used trade ids kept apart are the ones the messages used. The first place
that fails raises :class:`~pink.errors.JournalDamagedError` naming it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pink.errors import CodecError, JournalDamagedError
from pink.journal.replay import replay_one
from pink.journal.store import TRADE_IDS_KEPT, Journal, snapshot_bytes, unreadable_error
from pink.kernel import Kernel

__all__ = ["checked_records", "read_journal_records"]

_SHOWN = 5  # SQLite's first findings said (it lists up to this many)


def read_journal_records(path: Path) -> Any:
    """The ledger audit's view of a journal: its ids and every record it produces, checked as it
    is read (None: no journal)."""
    from pink.ledger.audit import JournalRecords

    if not path.exists():
        return None
    journal = Journal(path, read_only=True)
    try:
        account_id = journal.meta("account_id") or "default"
        runtime_id = journal.meta("runtime_id") or ""
        position = journal.seq
    except sqlite3.DatabaseError as exc:
        raise unreadable_error(path, exc) from None
    finally:
        journal.close()
    checked: list[str] = []
    # read when the audit has read the ledger (a run may be writing both): every row it read is in it
    return JournalRecords(account_id, runtime_id, (), messages=lambda: checked_records(path, checked),
                          position=position, checked=checked)


def checked_records(path: Path, checked: list[str]) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``(seq, records)`` of every journaled message, replayed from the start and checked; once
    all are read, a line saying what was checked is added to ``checked``."""
    journal = Journal(path, read_only=True)
    try:
        yield from _replay(journal, checked)
    except sqlite3.DatabaseError as exc:  # damaged past the pages the checks before read
        raise JournalDamagedError(f"journal {path} is damaged: SQLite cannot read it ({exc})") from None
    finally:
        journal.close()


def _replay(journal: Journal, checked: list[str]) -> Iterator[tuple[int, tuple[Any, ...]]]:
    path, db = journal.path, journal.db
    found = [str(r[0]) for r in db.execute(f"PRAGMA integrity_check({_SHOWN})")]
    if found != ["ok"]:
        raise _damaged(path, f"SQLite finds its file damaged: {'; '.join(found)}")
    kernel = _initial(journal)
    snapshots = [int(r[0]) for r in db.execute("SELECT seq FROM snapshots ORDER BY seq")]
    pending = list(reversed(snapshots))
    last = 0
    if pending and pending[-1] == 0:
        _same_as_snapshot(journal, kernel, pending.pop())
    rows = db.execute("SELECT seq, ts, CAST(kind AS BLOB), payload FROM messages ORDER BY seq")
    for seq, ts, raw_kind, payload in rows:
        if seq != last + 1:
            raise _damaged(path, f"message {last + 1} is missing (the one after message {last} is {seq})")
        last = seq
        kind = _kind(path, seq, raw_kind)
        try:
            out = replay_one(kernel, kind, ts, payload)
        except (CodecError, ValueError, TypeError, KeyError, ArithmeticError) as exc:
            raise _damaged(path, f"message {seq} ({kind}) cannot be read: {_why(exc)}") from None
        while pending and pending[-1] == seq:
            _same_as_snapshot(journal, kernel, pending.pop())
        if out.records:
            yield seq, out.records
    if pending:
        raise _damaged(path, f"it has a snapshot at message {pending[0]} but its messages end at {last}: "
                             "messages were removed from its end")  # fmt: skip
    used = _trade_ids(journal, last)
    if journal.meta(TRADE_IDS_KEPT) is not None:
        _same_trade_ids(journal, kernel, last)
    checked.append(f"journal {path}: SQLite finds no damage; messages 1 to {last} without a hole, each read and "
                   f"replayed; {len(snapshots)} snapshots equal to the replay; {used} used trade ids")  # fmt: skip


def _initial(journal: Journal) -> Kernel:
    initial = journal.meta("initial")
    if initial is None:
        raise CodecError(f"journal {journal.path} has no initial kernel state")
    try:
        return Kernel.restore(json.loads(initial))
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise _damaged(journal.path, f"its initial kernel state cannot be read: {_why(exc)}") from None


def _kind(path: Path, seq: int, raw: bytes | None) -> str:
    try:
        return bytes(raw or b"").decode()
    except UnicodeDecodeError as exc:
        raise _damaged(path, f"message {seq} has a kind that is not text ({exc})") from None


def _same_as_snapshot(journal: Journal, kernel: Kernel, seq: int) -> None:
    (payload,) = journal.db.execute("SELECT payload FROM snapshots WHERE seq = ?", (seq,)).fetchone()
    try:
        data = json.loads(payload)
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        restored = journal.kernel_at((seq, data))
    except (CodecError, ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise _damaged(journal.path, f"its snapshot at message {seq} cannot be read: {_why(exc)}") from None
    if snapshot_bytes(restored) != snapshot_bytes(kernel):
        raise _damaged(journal.path, f"its snapshot at message {seq} is not the kernel its messages 1 to {seq} make: "
                                     f"{_first_difference(restored, kernel)}")  # fmt: skip


def _first_difference(snapshot: Kernel, replayed: Kernel) -> str:
    where, a, b = _first_apart("", json.loads(snapshot_bytes(snapshot)), json.loads(snapshot_bytes(replayed)))
    return f"{where or 'the snapshot'}: snapshot {_short(a)}, replay {_short(b)}"


def _first_apart(where: str, a: object, b: object) -> tuple[str, object, object]:
    """The first place (a dotted path) where ``a`` and ``b`` differ, and what each holds there."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_apart(f"{where}.{key}" if where else str(key), a.get(key), b.get(key))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_apart(f"{where}[{i}]", x, y)
    return where, a, b


def _short(value: object) -> str:
    return _short_text(json.dumps(value, sort_keys=True))


def _trade_ids(journal: Journal, last: int) -> int:
    count, beyond = journal.db.execute("SELECT count(*), MAX(seq) FROM trade_ids").fetchone()
    if beyond is not None and beyond > last:
        raise _damaged(journal.path, f"a used trade id belongs to message {beyond}, but its messages end at {last}: "
                                     "messages were removed from its end")  # fmt: skip
    return int(count)


def _same_trade_ids(journal: Journal, kernel: Kernel, last: int) -> None:
    kept = journal.trade_ids(last)
    if kept != list(kernel.used_trade_ids):
        missing = [t for t in kernel.used_trade_ids if t not in set(kept)]
        extra = [t for t in kept if t not in kernel.used_trade_ids]
        raise _damaged(journal.path, f"its used trade ids differ from those its messages used (missing: "
                                     f"{missing[:5]}, not used: {extra[:5]})")  # fmt: skip


def _why(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):  # (its str() is short; its repr holds the whole payload)
        return f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, CodecError) else str(exc)
    return _short_text(text)


def _short_text(text: str) -> str:
    return text if len(text) <= 300 else text[:300] + "..."


def _damaged(path: Path, what: str) -> JournalDamagedError:
    return JournalDamagedError(f"journal {path} is damaged: {what}")

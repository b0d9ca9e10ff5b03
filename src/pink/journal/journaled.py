"""The journaled kernel: every state change written to the journal before its outcome is returned.

Every admitted intent, applied venue event, tick that produced effects,
control change and adopted instrument is appended in the order the kernel saw
it, as is every refused intent's record (which changes no state, so counts for
no snapshot); a snapshot follows every ``snapshot_every`` messages and the
close. A write the journal refuses stops the kernel: the one in memory is then
ahead of the journal, and only a restart (a restore) may go on.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from pink.codec import decode, encode, type_name
from pink.errors import ClosedError, CodecError, JournalWriteError
from pink.journal.replay import ADOPTED, restore
from pink.journal.store import INSTRUMENT, REFUSED, TICK, Journal, is_damaged, unreadable_error
from pink.kernel import ControlSnapshot, Instrument, Intent, Kernel, KernelConfig, Outcome
from pink.kernel.messages import IntentRecorded
from pink.runtime.ports_ext import FlattenMark

__all__ = ["JournaledKernel"]

log = logging.getLogger(__name__)

_BOOKS_BASELINE = "books_baseline"  # venue wallet less kernel capital when nothing was in flight


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
        #: called after each snapshot is written, in its commit (a paper run keeps what its
        #: simulator's restart needs beside it: :mod:`pink.runtime.paper_funding`)
        self.checkpoint_hooks: list[Callable[[], None]] = []
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
            if isinstance(exc, sqlite3.Error) and is_damaged(exc):  # past the pages the open read
                raise unreadable_error(path, exc) from None
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
                self._record(INSTRUMENT, ts, encode(inst), ADOPTED)
        return [i.symbol for i in changed]

    def _check_open(self) -> None:
        if self.journal.closed:
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
            self.journal.append(REFUSED, now, payload)
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
        return self._record(TICK, now, b"", outcome) if outcome.changed else outcome

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
        """Remember that flatten ``mark`` was carried out (committed with the current batch, else
        in one commit of its own: half a mark matches no flatten, and the next start would carry
        the operator's out again)."""
        with self.journal.batch():
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
        for hook in self.checkpoint_hooks:
            hook()
        self._since_snapshot = 0

    def close(self) -> None:
        """Write a final snapshot and close the journal. Idempotent. After a failed write no
        snapshot is written (the kernel in memory is ahead of the journal): the journal is
        closed and :class:`JournalWriteError` says so once."""
        if self.journal.closed:
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

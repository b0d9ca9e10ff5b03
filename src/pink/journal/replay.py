"""Reading a journal back: restore the kernel, and replay its messages into records.

Restore = the last snapshot + replay of the messages after it; replaying
reproduces the kernel state byte for byte (the journal tests check it). A
refused intent changes no state: restore passes over it, while the ledger's
catch-up (:func:`records_after`, :func:`records_between`) and audits
(:func:`replay_records`; :mod:`pink.journal.check`, which checks the journal as
it reads it) read its record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pink.codec import decode, decode_named
from pink.errors import CodecError
from pink.journal.store import REFUSED, TICK, TRADE_IDS_KEPT, Journal, snapshot_bytes
from pink.kernel import (
    ControlSnapshot,
    Instrument,
    Intent,
    Kernel,
    KernelConfig,
    Outcome,
    OutcomeStatus,
)
from pink.kernel.messages import IntentRecorded

__all__ = [
    "ADOPTED",
    "records_after",
    "records_between",
    "replay_one",
    "replay_records",
    "restore",
]

#: the outcome of adopting an instrument's rules (journaled, and replayed, as an ``Instrument`` message)
ADOPTED = Outcome(OutcomeStatus.CONFIRMED, detail="instrument rules adopted")


def replay_one(kernel: Kernel, kind: str, ts: int, payload: bytes) -> Outcome:
    """Feed one journaled message back to ``kernel`` (a refused intent: its record, the kernel
    untouched)."""
    if kind == TICK:
        return kernel.tick(ts)
    if kind == REFUSED:
        record = decode(payload, IntentRecorded)
        return Outcome(OutcomeStatus.REFUSED, detail=record.detail, records=(record,))
    message = decode_named(kind, payload)
    if isinstance(message, Instrument):
        kernel.set_instrument(message)
        return ADOPTED
    if isinstance(message, Intent):
        return kernel.submit(message, ts)
    if isinstance(message, ControlSnapshot):
        return kernel.set_control(message, ts)
    return kernel.apply(message, ts)


def restore(journal: Journal, config: KernelConfig, instruments: dict[str, Instrument]) -> tuple[Kernel, int]:
    """The kernel as the journal left it: last snapshot + replay. Returns (kernel, messages replayed)."""
    initial = journal.meta("initial")
    if initial is None:
        initial = snapshot_bytes(Kernel(config, instruments)).decode()
        with journal.batch():
            journal.set_meta("initial", initial)
            journal.set_meta(TRADE_IDS_KEPT, "0")
    kernel, after = _kernel_to_replay_from(journal, initial, journal.seq)
    count = 0
    for seq, ts, kind, payload in journal.messages(after):
        if kind == REFUSED:  # (changed nothing)
            continue
        try:
            replay_one(kernel, kind, ts, payload)
        except CodecError as exc:
            raise CodecError(f"journal {journal.path} message {seq}: {exc}") from exc
        count += 1
    journal.keep_trade_ids(kernel)
    return kernel, count


def _kernel_to_replay_from(journal: Journal, initial: str, at_most: int) -> tuple[Kernel, int]:
    """The kernel of the last snapshot taken at or before message ``at_most`` (else the initial
    one), and the message it was taken at: replay goes on from the message after it."""
    snap = journal.last_snapshot(at_most=at_most)
    return (journal.kernel_at(snap), snap[0]) if snap else (Kernel.restore(json.loads(initial)), 0)


def records_after(journal: Journal, position: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``(seq, records)`` of every journaled message after ``position``, by replay.

    The ledger remembers the last journal position it wrote; after a crash the
    runtime hands it the records of the messages after that position again
    (its row ids are deterministic, so a record written twice is one row).
    """
    initial = journal.meta("initial")
    if initial is None:
        return
    kernel, after = _kernel_to_replay_from(journal, initial, position)
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

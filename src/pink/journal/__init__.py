"""The kernel journal: every state-changing message, durable before its effects.

Four modules, each readable alone:

- :mod:`pink.journal.store`: the SQLite file (WAL): messages, snapshots, used
  trade ids and meta; :class:`Journal` appends, batches and reads them.
- :mod:`pink.journal.journaled`: :class:`JournaledKernel`, a kernel that
  journals every state change (and every refused intent's record) before
  returning its outcome.
- :mod:`pink.journal.replay`: reading it back: :func:`restore` (the last
  snapshot + replay of the messages after it, byte for byte the kernel that
  wrote them), the ledger's catch-up (:func:`records_after`,
  :func:`records_between`) and audits (:func:`replay_records`).
- :mod:`pink.journal.check`: what ``pink audit`` proves of a journal:
  :func:`read_journal_records` replays it whole, checking the file, every
  message, the sequence and every snapshot as it goes.
"""

from pink.journal.check import read_journal_records
from pink.journal.journaled import JournaledKernel
from pink.journal.replay import records_after, records_between, replay_records, restore
from pink.journal.store import Journal, snapshot_bytes

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

"""The trade ledger in ClickHouse (embedded chDB by default, a server by URL).

See docs/ledger.md. The runtime builds a :class:`LedgerWriter` at start
(``LedgerWriter.open(resolve_target(data_dir=..., url=...))``), wraps it in a
:class:`LedgerOutbox`, starts it, re-puts the journal records after
``await outbox.resume_position()``, then calls ``outbox.put(outcome.records,
position)`` after each kernel message.
"""

from pink.ledger.audit import AuditReport, JournalReader, JournalRecords, audit
from pink.ledger.outbox import LedgerHealth, LedgerOutbox
from pink.ledger.rows import LedgerRowError, row_id, rows_for
from pink.ledger.writer import (
    LEDGER_URL_ENV,
    LedgerLockedError,
    LedgerTarget,
    LedgerWriter,
    open_client,
    resolve_target,
)

__all__ = [
    "LEDGER_URL_ENV",
    "AuditReport",
    "JournalReader",
    "JournalRecords",
    "LedgerHealth",
    "LedgerLockedError",
    "LedgerOutbox",
    "LedgerRowError",
    "LedgerTarget",
    "LedgerWriter",
    "audit",
    "open_client",
    "resolve_target",
    "row_id",
    "rows_for",
]

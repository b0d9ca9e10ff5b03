"""The trade ledger in ClickHouse (embedded chDB by default, a server by URL).

See docs/ledger.md. The runtime builds a :class:`LedgerWriter` at start
(``LedgerWriter.open(resolve_target(data_dir=..., url=...))``), wraps it in a
:class:`LedgerOutbox`, starts it, re-puts the journal records after
``await outbox.resume_position()``, then calls ``outbox.put(outcome.records,
position)`` after each kernel message.

Most names below are loaded on first use, so that ``import pink.ledger`` (which
any ``pink.ledger.<module>`` import implies) stays cheap for the command line.
``audit`` is imported at once: as a lazy name it would be shadowed by its own
module once that is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pink.ledger.audit import AuditReport, JournalReader, JournalRecords, audit

if TYPE_CHECKING:
    from pink.ledger.outbox import LedgerHealth, LedgerOutbox
    from pink.ledger.rows import LedgerRowError, row_id, rows_for
    from pink.ledger.writer import LedgerLockedError, LedgerTarget, LedgerWriter, open_client, resolve_target

LEDGER_URL_ENV = "PINK_LEDGER_URL"
"""The environment variable naming a ClickHouse server for the ledger."""

_WHERE = {
    "LedgerHealth": "outbox",
    "LedgerOutbox": "outbox",
    "LedgerRowError": "rows",
    "row_id": "rows",
    "rows_for": "rows",
    "LedgerLockedError": "writer",
    "LedgerTarget": "writer",
    "LedgerWriter": "writer",
    "open_client": "writer",
    "resolve_target": "writer",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pink.ledger' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pink.ledger.{module}"), name)

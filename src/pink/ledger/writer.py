"""One writer code path through clickhouse-connect, for both ledger backends.

* embedded chDB (the default): ``dsn="chdb:///<data_dir>/ledger"``;
* a ClickHouse server by URL (``--ledger-url`` / ``PINK_LEDGER_URL``).

Both give the same ``clickhouse_connect`` client API, so inserts, schema and
queries are the same code. A backend that was asked for and cannot start is
a :class:`pink.errors.StartupError` naming it (F22). chDB allows one process
per directory: a directory held by another process raises
:class:`LedgerLockedError`, which says who holds it and what to do.

The client is blocking: the outbox calls the writer from one worker thread.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import clickhouse_connect
from clickhouse_connect.driver import options
from clickhouse_connect.driver.client import Client

from pink.errors import ConfigError, StartupError
from pink.ledger import LEDGER_URL_ENV
from pink.ledger.arrow import to_arrow
from pink.ledger.rows import Row
from pink.ledger.schema import TABLES, WATERMARK_TABLE, create_statements, settings_statements

__all__ = [
    "LEDGER_URL_ENV",
    "LedgerLockedError",
    "LedgerTarget",
    "LedgerWriter",
    "open_client",
    "resolve_target",
]



@dataclass(frozen=True, slots=True)
class LedgerTarget:
    """Where the ledger lives: an embedded chDB directory or a server URL."""

    kind: Literal["embedded", "server"]
    location: str

    def describe(self) -> str:
        if self.kind == "embedded":
            return f"embedded chdb {self.location}"
        parts = urlsplit(self.location)
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        if parts.username:
            netloc = f"{parts.username}:***@{netloc}"
        return f"server {urlunsplit(parts._replace(netloc=netloc))}"


def resolve_target(
    *,
    data_dir: str | Path | None = None,
    url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> LedgerTarget:
    """An explicit URL wins, then ``PINK_LEDGER_URL``, then ``<data_dir>/ledger``."""
    env = os.environ if env is None else env
    url = url or env.get(LEDGER_URL_ENV) or None
    if url:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError(f"ledger URL must be http(s)://host:port, got {url!r}")
        return LedgerTarget("server", url)
    if data_dir is None:
        raise ConfigError("the ledger needs a data directory or a server URL")
    return LedgerTarget("embedded", str(Path(data_dir).resolve() / "ledger"))


class LedgerLockedError(StartupError):
    """The embedded ledger directory is held by another process."""

    def __init__(self, directory: str, holder: str) -> None:
        super().__init__(
            f"ledger (embedded chdb {directory})",
            f"the directory is in use by another process ({holder}), most likely a "
            "running `pink run`. chDB allows one process per directory: stop that run "
            "and try again, or read through a ClickHouse server with --ledger-url "
            f"(or {LEDGER_URL_ENV}).",
        )
        self.directory = directory
        self.holder = holder


def _lock_holder(directory: str) -> str | None:
    """Who holds the chDB directory lock, or None if it is free."""
    try:
        fd = os.open(os.path.join(directory, "status"), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 4096).decode(errors="replace")
            pid = re.search(r"PID:\s*(\d+)", text)
            return f"pid {pid.group(1)}" if pid else "unknown pid"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def open_client(
    target: LedgerTarget,
    *,
    connect_timeout: float = 3.0,
    send_receive_timeout: float = 30.0,
) -> Client:
    """A connected clickhouse-connect client for ``target`` (or a StartupError)."""
    component = f"ledger ({target.describe()})"
    if target.kind == "embedded":
        if (holder := _lock_holder(target.location)) is not None:  # before chDB, which prints its own
            raise LedgerLockedError(target.location, holder)
        try:
            Path(target.location).mkdir(parents=True, exist_ok=True)
            return clickhouse_connect.get_client(dsn=f"chdb://{target.location}")
        except Exception as exc:
            holder = _lock_holder(target.location)
            if holder is not None:
                raise LedgerLockedError(target.location, holder) from exc
            raise StartupError(component, f"{type(exc).__name__}: {exc}") from exc
    try:
        return clickhouse_connect.get_client(
            dsn=target.location,
            connect_timeout=connect_timeout,
            send_receive_timeout=send_receive_timeout,
            query_retries=0,
            compress=False,
            autogenerate_session_id=False,
        )
    except Exception as exc:
        raise StartupError(component, f"{type(exc).__name__}: {exc}") from exc


class LedgerWriter:
    """Schema creation, batched inserts and the replay watermark (blocking)."""

    def __init__(self, client: Client, target: LedgerTarget, database: str = "pink") -> None:
        self.client = client
        self.target = target
        self.database = database
        self._closed = False

    @classmethod
    def open(
        cls,
        target: LedgerTarget,
        *,
        database: str = "pink",
        create_schema: bool = True,
        **client_options: Any,
    ) -> LedgerWriter:
        client = open_client(target, **client_options)
        _ = options.pd  # clickhouse-connect imports pandas on first insert: do it at start
        writer = cls(client, target, database)
        if create_schema:
            try:
                writer.ensure_schema()
            except Exception as exc:
                writer.close()
                raise StartupError(
                    f"ledger ({target.describe()})", f"schema creation failed: {exc}"
                ) from exc
        return writer

    def describe(self) -> str:
        return self.target.describe()

    def ensure_schema(self) -> None:
        for statement in create_statements(self.database):
            self.client.command(statement)
        if self.target.kind == "embedded":  # (a server cleans its old parts itself: it runs for long)
            result = self.client.query("SELECT name, engine_full FROM system.tables WHERE database = %(d)s",
                                       parameters={"d": self.database})
            engines = {str(name): str(engine) for name, engine in result.result_rows}
            for statement in settings_statements(self.database, engines):
                self.client.command(statement)

    def insert(self, rows: Iterable[tuple[str, Row]]) -> int:
        """Insert ``(table, row)`` pairs, one insert per table; returns rows written."""
        by_table: dict[str, list[Row]] = {}
        for table, row in rows:
            by_table.setdefault(table, []).append(row)
        written = 0
        for table, table_rows in by_table.items():
            arrow = to_arrow(TABLES[table], table_rows)
            if arrow is not None:
                self.client.insert_arrow(table, arrow, database=self.database)
            else:
                columns = TABLES[table].column_names
                data = [[row[c] for row in table_rows] for c in columns]
                self.client.insert(
                    table, data, column_names=columns, database=self.database, column_oriented=True
                )
            written += len(table_rows)
        return written

    def set_watermark(self, account_id: str, runtime_id: str, position: int) -> None:
        """Record that every record up to journal ``position`` is in the ledger."""
        self.client.insert(
            WATERMARK_TABLE.name,
            [[account_id, runtime_id, position, time.time_ns()]],
            column_names=WATERMARK_TABLE.column_names,
            database=self.database,
        )

    def watermark(self, account_id: str, runtime_id: str) -> int | None:
        """The highest journal position known to be in the ledger, if any."""
        result = self.client.query(
            f"SELECT max(position), count() FROM `{self.database}`.`{WATERMARK_TABLE.name}`"
            " WHERE account_id = %(a)s AND runtime_id = %(r)s",
            parameters={"a": account_id, "r": runtime_id},
        )
        position, count = result.result_rows[0]
        return int(position) if count else None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.client.close()

"""The ledger's ClickHouse tables, as data (one place to read the schema).

Every table is a ``ReplacingMergeTree`` ordered by ``(account_id, runtime_id,
id)`` where ``id`` is a deterministic hash of the row's natural key (see
:mod:`pink.ledger.rows`): a replayed or retried insert replaces, never adds.
Parts are merged in the background, so every read goes through ``FINAL``
(:func:`select_sql`) and is correct before merges. Tables also keep a
non-replicated deduplication window, so a retried identical block is dropped
at insert time as well.

Money, quantities and prices are ``Decimal(38,18)`` (exact; the row builders
refuse a value that does not fit). VWAPs, which are quotients, are
``Decimal(76,38)``. Time is ``DateTime64(9, 'UTC')``, written and read back as
integer nanoseconds (clickhouse-connect truncates ``datetime`` to µs, so reads
go through ``toUnixTimestamp64Nano``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "MONEY",
    "PART_SETTINGS",
    "RATIO",
    "TABLES",
    "TIME",
    "WATERMARK_TABLE",
    "Table",
    "create_statements",
    "select_sql",
    "settings_statements",
]

MONEY = "Decimal(38, 18)"
RATIO = "Decimal(76, 38)"
TIME = "DateTime64(9, 'UTC')"
LC = "LowCardinality(String)"

_COMMON: tuple[tuple[str, str], ...] = (
    ("id", "String"),
    ("account_id", LC),
    ("runtime_id", LC),
    ("ts", TIME),
)


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def time_columns(self) -> frozenset[str]:
        return frozenset(name for name, kind in self.columns if kind == TIME)


def _table(name: str, *columns: tuple[str, str]) -> Table:
    return Table(name, _COMMON + columns)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        _table(
            "policy_events",
            ("intent_id", "String"),
            ("decision_id", "String"),
            ("trade_id", "String"),
            ("slot", "Int32"),
            ("action", LC),
            ("asset", LC),
            ("side", LC),
            ("quantity", MONEY),
            ("leverage", "Int32"),
            ("order_type", LC),
            ("limit_price", f"Nullable({MONEY})"),
            ("time_in_force", LC),
            ("exit_legs", f"Array({MONEY})"),
            ("close_all", "Bool"),
            ("intent_reason", "String"),
            ("status", LC),
            ("answer_reason", LC),
            ("detail", "String"),
            ("confidence", "Nullable(Float64)"),
            ("bars_held", "Nullable(Int64)"),
            ("features", "Map(String, Float64)"),
            ("tags", "Map(String, String)"),
        ),
        _table(
            "trade_events",
            ("event", LC),  # ORDER or FILL
            ("slot", "Int32"),
            ("trade_id", "String"),
            ("intent_id", "String"),
            ("decision_id", "String"),
            ("client_order_id", "String"),
            ("venue_order_id", "String"),
            ("fill_id", "String"),
            ("role", LC),
            ("leg", "Int32"),
            ("attempt", "Int32"),
            ("symbol", LC),
            ("side", LC),
            ("quantity", MONEY),
            ("order_type", LC),
            ("limit_price", f"Nullable({MONEY})"),
            ("time_in_force", LC),
            ("last_qty", MONEY),
            ("last_price", MONEY),
            ("cum_qty", MONEY),
            ("commission", MONEY),
            ("commission_asset", LC),
            ("realized_pnl", MONEY),
        ),
        _table(
            "account_events",
            ("seq", "UInt64"),
            ("kind", LC),
            ("slot", "Int32"),
            ("trade_id", "String"),
            ("cause", "String"),
            ("amount", MONEY),
            ("fee", MONEY),
            ("capital_before", MONEY),
            ("capital_after", MONEY),
        ),
        _table(
            "position_state",
            ("kind", LC),  # TRANSITION, PROTOCOL_ERROR (flagged, quarantined), OUTSIDE_FILL, CONTROL
            ("slot", "Int32"),
            ("trade_id", "String"),
            ("before", LC),
            ("after", LC),
            ("cause", "String"),
            ("detail", "String"),
        ),
        _table(
            "trade_reconstruction",
            ("slot", "Int32"),
            ("trade_id", "String"),
            ("intent_id", "String"),
            ("decision_id", "String"),
            ("symbol", LC),
            ("side", LC),
            ("entry_qty", MONEY),
            ("entry_vwap", RATIO),
            ("exit_qty", MONEY),
            ("exit_notional", MONEY),
            ("exit_vwap", RATIO),
            ("legs", "Int32"),
            ("gross_pnl", MONEY),
            ("fees", MONEY),
            ("net_pnl", MONEY),
            ("opened_ts", TIME),
        ),
        _table(  # a closed trade's late true-up: add to its trade_reconstruction row (pink.kernel.late)
            "trade_corrections",
            ("slot", "Int32"),
            ("trade_id", "String"),
            ("client_order_id", "String"),
            ("fill_id", "String"),
            ("role", LC),
            ("symbol", LC),
            ("side", LC),
            ("entry_notional", MONEY),
            ("exit_notional", MONEY),
            ("gross_pnl", MONEY),
            ("fees", MONEY),
        ),
    )
}

WATERMARK_TABLE = Table(
    "ledger_watermark",
    (("account_id", LC), ("runtime_id", LC), ("position", "Int64"), ("ts", TIME)),
)


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad ClickHouse identifier {name!r}")
    return f"`{name}`"


#: Every batch is a part, and merges replace parts. ClickHouse keeps the parts a merge replaced
#: for ``old_parts_lifetime`` (480 s by default) in case the merged part, not yet on disk, is lost
#: in a power cut, and looks for them every 30 s to 5 min: no paper run lasts that long, so they
#: piled up run after run (a ledger 6x its journal) and every start loaded them all again. Here a
#: merged part is fsynced (with its directory) before the parts it replaced go, which is that
#: protection, and they leave the disk about a second later.
PART_SETTINGS: dict[str, int] = {
    "old_parts_lifetime": 1,
    "cleanup_delay_period": 1,
    "max_cleanup_delay_period": 2,
    "cleanup_delay_period_random_add": 0,
    "min_rows_to_fsync_after_merge": 1,
    "fsync_part_directory": 1,
}
_SETTINGS = ", ".join(f"{name} = {value}" for name, value in PART_SETTINGS.items())


def create_statements(database: str) -> list[str]:
    """DDL for the database and every table (idempotent: IF NOT EXISTS)."""
    db = _ident(database)
    out = [f"CREATE DATABASE IF NOT EXISTS {db}"]
    for table in TABLES.values():
        cols = ",\n  ".join(f"{_ident(n)} {k}" for n, k in table.columns)
        out.append(
            f"CREATE TABLE IF NOT EXISTS {db}.{_ident(table.name)} (\n  {cols}\n)"
            " ENGINE = ReplacingMergeTree ORDER BY (account_id, runtime_id, id)"
            f" SETTINGS non_replicated_deduplication_window = 1000, {_SETTINGS}"
        )
    cols = ", ".join(f"{_ident(n)} {k}" for n, k in WATERMARK_TABLE.columns)
    out.append(
        f"CREATE TABLE IF NOT EXISTS {db}.{_ident(WATERMARK_TABLE.name)} ({cols})"
        f" ENGINE = ReplacingMergeTree(position) ORDER BY (account_id, runtime_id) SETTINGS {_SETTINGS}"
    )
    return out


def settings_statements(database: str, engines: dict[str, str]) -> list[str]:
    """``ALTER``s giving each ledger table that lacks them the :data:`PART_SETTINGS` (a ledger an
    older PINK made keeps its tables); ``engines``: each table's ``engine_full`` (system.tables).
    Only metadata changes: no row is read or rewritten."""
    out = []
    for name in (*TABLES, WATERMARK_TABLE.name):
        engine = engines.get(name)
        if engine is None:
            continue
        have = dict(re.findall(r"\b(\w+) = (\w+)", engine.partition(" SETTINGS ")[2]))
        if any(have.get(k) != str(v) for k, v in PART_SETTINGS.items()):
            out.append(f"ALTER TABLE {_ident(database)}.{_ident(name)} MODIFY SETTING {_SETTINGS}")
    return out


def select_sql(database: str, table: str, where: str = "", order_by: str = "") -> str:
    """``SELECT`` every column of ``table`` with ``FINAL`` and times as integer ns."""
    spec = TABLES[table]
    exprs = [
        f"toUnixTimestamp64Nano({_ident(n)}) AS {_ident(n)}" if n in spec.time_columns
        else _ident(n)
        for n in spec.column_names
    ]
    sql = f"SELECT {', '.join(exprs)} FROM {_ident(database)}.{_ident(table)} FINAL"
    if where:
        sql += f" WHERE {where}"
    if order_by:
        sql += f" ORDER BY {order_by}"
    return sql

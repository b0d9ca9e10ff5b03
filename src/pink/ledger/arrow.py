"""Ledger rows as Arrow tables: exact decimals, serialised in C++ instead of Python.

clickhouse-connect's generic insert turns every Decimal into an integer in
Python (~8 µs a row here); ``insert_arrow`` hands ClickHouse an Arrow table
built by pyarrow (a dependency of chDB) and is several times faster, with the
same exact ``Decimal(38,18)`` / ``Decimal(76,38)`` values. Tables whose
columns have no Arrow mapping here fall back to the generic insert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from pink.ledger.rows import Row
from pink.ledger.schema import MONEY, RATIO, TIME, Table

__all__ = ["arrow_type", "to_arrow"]

_SIMPLE: dict[str, Any] = {
    "String": pa.string(),
    "LowCardinality(String)": pa.string(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "UInt64": pa.uint64(),
    "Bool": pa.bool_(),
    "Float64": pa.float64(),
    MONEY: pa.decimal128(38, 18),
    RATIO: pa.decimal256(76, 38),
    TIME: pa.timestamp("ns", tz="UTC"),
}


def arrow_type(kind: str) -> Any | None:
    """The Arrow type of a ClickHouse column type, or None when there is no plain mapping."""
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind.startswith("Nullable(") and kind.endswith(")"):
        return arrow_type(kind[len("Nullable(") : -1])
    return None


def to_arrow(table: Table, rows: Sequence[Row]) -> Any | None:
    """``rows`` of ``table`` as a ``pyarrow.Table``, or None if a column has no mapping."""
    columns = {}
    for name, kind in table.columns:
        typ = arrow_type(kind)
        if typ is None:
            return None
        columns[name] = pa.array([row[name] for row in rows], type=typ)
    return pa.table(columns)

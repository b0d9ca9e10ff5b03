"""Reading the ledger back: exact rows, correct before merges (``FINAL``).

Rows come back as dicts keyed by column, with Decimals exact (the native
clickhouse-connect result, never a DataFrame) and times as integer ns.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, NamedTuple

from pink.ledger.rows import Row
from pink.ledger.schema import TABLES, WATERMARK_TABLE, select_sql

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

__all__ = [
    "LATER_TABLES",
    "ExitLeg",
    "corrected",
    "corrected_trades",
    "exit_legs",
    "fetch",
    "raw_conflicts",
    "streams",
    "watermarks",
    "written_at",
]


#: tables a ledger written by an older PINK may not have (read as empty)
LATER_TABLES = frozenset({"trade_corrections"})


def _missing(client: Client, database: str, table: str) -> bool:
    return table in LATER_TABLES and not client.command(f"EXISTS TABLE `{database}`.`{table}`")


def fetch(client: Client, table: str, *, database: str = "pink", where: str = "") -> list[Row]:
    """Every current row of ``table`` (deduplicated by id), ordered by ts then id (none of a table
    added since the ledger was written)."""
    if _missing(client, database, table):
        return []
    result = client.query(select_sql(database, table, where, order_by="ts, id"))
    names = result.column_names
    return [dict(zip(names, values, strict=True)) for values in result.result_rows]


def corrected(t: Row, fixes: list[Row]) -> Row:
    """A ``trade_reconstruction`` row with its late true-ups (its ``trade_corrections`` rows: real
    fills that replaced what a report had booked after the trade closed) added; the row as written
    when it has none. Call it within a context of enough digits (a VWAP is a quotient)."""
    if not fixes:
        return t
    zero = Decimal(0)
    entry = sum((f["entry_notional"] for f in fixes), zero)
    exit_ = sum((f["exit_notional"] for f in fixes), zero)
    gross = sum((f["gross_pnl"] for f in fixes), zero)
    fees = sum((f["fees"] for f in fixes), zero)
    return {
        **t,
        "entry_vwap": t["entry_vwap"] + entry / t["entry_qty"] if t["entry_qty"] else t["entry_vwap"],
        "exit_notional": t["exit_notional"] + exit_,
        "exit_vwap": t["exit_vwap"] + exit_ / t["exit_qty"] if t["exit_qty"] else t["exit_vwap"],
        "gross_pnl": t["gross_pnl"] + gross,
        "fees": t["fees"] + fees,
        "net_pnl": t["net_pnl"] + gross - fees,
    }


def corrected_trades(trades: list[Row], corrections: list[Row]) -> list[Row]:
    """``trades`` (``trade_reconstruction`` rows) each with its ``corrections`` added, at 100 digits."""
    fixes: dict[tuple[str, str, str], list[Row]] = {}
    for c in corrections:
        fixes.setdefault((c["account_id"], c["runtime_id"], c["trade_id"]), []).append(c)
    with localcontext() as ctx:
        ctx.prec = 100
        return [corrected(t, fixes.get((t["account_id"], t["runtime_id"], t["trade_id"]), [])) for t in trades]


def streams(rows: list[Row]) -> Iterator[tuple[tuple[str, str], list[Row]]]:
    """Rows grouped by (account_id, runtime_id), in a stable order."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row["account_id"], row["runtime_id"]), []).append(row)
    yield from sorted(groups.items())


def written_at(client: Client, *, database: str = "pink") -> dict[tuple[str, str], int]:
    """When the runtime last wrote each (account_id, runtime_id) stream: wall-clock ns of its
    latest watermark (a stream inserted without one, e.g. by hand, is absent)."""
    result = client.query(
        "SELECT account_id, runtime_id, max(toUnixTimestamp64Nano(ts))"
        f" FROM `{database}`.`{WATERMARK_TABLE.name}` GROUP BY account_id, runtime_id"
    )
    return {(str(a), str(r)): int(t) for a, r, t in result.result_rows}


def watermarks(client: Client, *, database: str = "pink") -> dict[tuple[str, str], int]:
    """The journal position up to which each (account_id, runtime_id) stream is written whole."""
    result = client.query(
        f"SELECT account_id, runtime_id, max(position) FROM `{database}`.`{WATERMARK_TABLE.name}`"
        " GROUP BY account_id, runtime_id"
    )
    return {(str(a), str(r)): int(p) for a, r, p in result.result_rows}


def raw_conflicts(client: Client, *, database: str = "pink") -> list[tuple[str, str, int]]:
    """Ids stored with different contents (a non-deterministic replay): (table, id, n)."""
    out: list[tuple[str, str, int]] = []
    for table, spec in TABLES.items():
        if _missing(client, database, table):
            continue
        cols = ", ".join(f"`{c}`" for c in spec.column_names if c != "id")
        result = client.query(
            f"SELECT id, uniqExact(cityHash64({cols})) AS v FROM `{database}`.`{table}`"
            " GROUP BY id HAVING v > 1 ORDER BY id"
        )
        out.extend((table, str(i), int(v)) for i, v in result.result_rows)
    return out


class ExitLeg(NamedTuple):
    """One exit leg of a trade, from its real fills (E23)."""

    leg: int
    quantity: Decimal
    notional: Decimal
    vwap: Decimal


def exit_legs(fills: list[Row], trade_id: str) -> list[ExitLeg]:
    """Exit VWAP per leg of ``trade_id`` computed in Python from its exit fills."""
    legs: dict[int, list[Decimal]] = {}
    with localcontext() as ctx:
        ctx.prec = 100
        for f in fills:
            if f["event"] == "FILL" and f["trade_id"] == trade_id and f["role"] == "EXIT":
                acc = legs.setdefault(f["leg"], [Decimal(0), Decimal(0)])
                acc[0] += f["last_qty"]
                acc[1] += f["last_qty"] * f["last_price"]
        return [ExitLeg(leg, q, n, n / q) for leg, (q, n) in sorted(legs.items()) if q]

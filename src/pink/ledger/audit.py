"""The audit: recompute capital and every trade from the ledger rows, exactly.

Checks, per (account_id, runtime_id) stream:

* capital chain (E20, E22, A5): ``seq`` contiguous from 1; each row's
  ``capital_after == capital_before + amount - fee``; each row's
  ``capital_before`` equals the previous row's ``capital_after``;
* fills (E18, E21): every fill id exactly once; every fill linked to an
  order row of the same trade, intent and decision; the fills of an order
  add up to its cumulative quantity;
* trades (E23, A13): entry and exit fills add up to the trade's quantities;
  ``exit_notional`` is the sum of exit fills' price x quantity;
  ``gross == (exit_notional - entry_notional) * direction`` for a trade closed
  whole (its entry fills' notional), else (and for journals begun before the
  kernel booked the close exactly) ``(exit_notional - entry_vwap * exit_qty) *
  direction``; the fills' realized PnL adds up to gross; fees are the sum of the trade's fill
  commissions; ``net == gross - fees``; its settlements add up to gross and
  fees. A trade's row is as the kernel wrote it at the close: its late true-ups
  (``trade_corrections``: real fills of what a report had booked at the venue's
  rounded average, which came after the close) are added to it first, and a
  correction of a trade with no row is a difference;
* no id stored twice with different contents;
* optionally, against the kernel journal: every Settlement, FillBooked,
  TradeClosed and TradeCorrected present exactly once and equal, and no such row the journal
  does not have; every intent the journal holds (refused ones too) stored as
  it is.

A run may be writing the ledger while it is audited (through a server): the watermark is read
first, so every row of the messages up to it is in the rows read next; the journal, when it is
given with its positions (:attr:`JournalRecords.messages`), is read last, so every row read is in
it. The rows of messages after the watermark are in flight: compared with the journal where
written, said to be on their way where not, and left out of the checks above (a batch is written
table by table).

All arithmetic is Python :class:`~decimal.Decimal` at 100 digits.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from pathlib import Path
from typing import TYPE_CHECKING

from pink.errors import JournalDamagedError
from pink.kernel.messages import FillBooked, IntentRecorded, KernelRecord, Settlement, TradeClosed, TradeCorrected
from pink.ledger.queries import corrected, fetch, raw_conflicts, streams, watermarks
from pink.ledger.rows import LedgerRowError, Row, rows_for

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

__all__ = ["AuditReport", "JournalReader", "JournalRecords", "audit"]

# relative. The kernel keeps the entry VWAP on tick x 1e-6, so it is within 5e-7 of a tick of the
# fills' exact quotient: under 1e-8 of the price wherever a tick is under 2% of it. (A wrong VWAP, as
# the seed's "last partial fill" (E10), is off by far more.)
_VWAP_TOLERANCE = Decimal("1e-8")


@dataclass(frozen=True, slots=True)
class JournalRecords:
    """The kernel journal's records of one stream (given by the journal's owner): ``records``, or
    ``messages``, a function reading them with their message's journal position (``records`` is
    then not used), which :func:`audit` calls once it has read the ledger."""

    account_id: str
    runtime_id: str
    records: Iterable[KernelRecord]
    messages: Callable[[], Iterable[tuple[int, Sequence[KernelRecord]]]] | None = None
    position: int | None = None  # the journal's last message (None: not said)
    #: what reading ``messages`` checked of the journal itself (filled as they are read): a journal
    #: found damaged raises :class:`~pink.errors.JournalDamagedError`, and the audit fails with it
    checked: list[str] = field(default_factory=list)


JournalReader = Callable[[Path], JournalRecords | None]
"""Hook: read ``<data_dir>/journal.sqlite`` into records (None: no journal)."""


@dataclass(slots=True)
class AuditReport:
    checked: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def _chain(report: AuditReport, key: tuple[str, str], rows: list[Row]) -> None:
    rows = sorted(rows, key=lambda r: r["seq"])
    where = f"{key[0]}/{key[1]}"
    prev_after: Decimal | None = None
    for expected_seq, row in enumerate(rows, start=1):
        seq = row["seq"]
        if seq != expected_seq:
            report.differences.append(
                f"account_events {where}: seq {seq} where {expected_seq} was expected"
            )
        after = row["capital_before"] + row["amount"] - row["fee"]
        if row["capital_after"] != after:
            report.differences.append(
                f"account_events {where} seq {seq}: capital_after {row['capital_after']} != "
                f"capital_before + amount - fee = {after}"
            )
        if prev_after is not None and row["capital_before"] != prev_after:
            report.differences.append(
                f"account_events {where} seq {seq}: capital_before {row['capital_before']} != "
                f"previous capital_after {prev_after}"
            )
        prev_after = row["capital_after"]
    report.checked.append(
        f"capital chain {where}: {len(rows)} settlements, final capital {prev_after}"
    )


_LINKS = ("slot", "trade_id", "intent_id", "decision_id", "role", "leg", "symbol", "side")


def _fills(report: AuditReport, key: tuple[str, str], events: list[Row]) -> None:
    where = f"{key[0]}/{key[1]}"
    orders = {r["client_order_id"]: r for r in events if r["event"] == "ORDER"}
    fills = [r for r in events if r["event"] == "FILL"]
    for fill_id, n in Counter(f["fill_id"] for f in fills).items():
        if n != 1:
            report.differences.append(f"trade_events {where}: fill {fill_id} stored {n} times")
    by_order: dict[str, list[Row]] = defaultdict(list)
    for f in fills:
        by_order[f["client_order_id"]].append(f)
        order = orders.get(f["client_order_id"])
        if order is None:
            report.differences.append(
                f"trade_events {where}: fill {f['fill_id']} has no order "
                f"{f['client_order_id']}"
            )
            continue
        for link in _LINKS:
            if f[link] != order[link]:
                report.differences.append(
                    f"trade_events {where}: fill {f['fill_id']} {link}={f[link]!r} but its "
                    f"order {f['client_order_id']} has {order[link]!r}"
                )
    for coid, order_fills in by_order.items():
        total = sum((f["last_qty"] for f in order_fills), Decimal(0))
        cum = max(f["cum_qty"] for f in order_fills)
        if total != cum:
            report.differences.append(
                f"trade_events {where}: order {coid} fills add up to {total}, cum_qty {cum}"
            )
    report.checked.append(
        f"fills {where}: {len(fills)} fills of {len(orders)} orders, each once and linked"
    )


def _trades(
    report: AuditReport,
    key: tuple[str, str],
    trades: list[Row],
    events: list[Row],
    settlements: list[Row],
    corrections: list[Row],
) -> None:
    where = f"{key[0]}/{key[1]}"
    fixes: dict[str, list[Row]] = defaultdict(list)
    for c in corrections:
        fixes[c["trade_id"]].append(c)
    for trade_id in sorted(set(fixes) - {t["trade_id"] for t in trades}):
        report.differences.append(f"trade_corrections {where}: trade {trade_id} has no closed row to correct")
    fills_of: dict[str, list[Row]] = defaultdict(list)
    for f in events:
        if f["event"] == "FILL":
            fills_of[f["trade_id"]].append(f)
    settled: dict[str, list[Row]] = defaultdict(list)
    for s in settlements:
        if s["kind"] == "FILL":
            settled[s["trade_id"]].append(s)
    zero = Decimal(0)
    for written in trades:
        t = corrected(written, fixes.get(written["trade_id"], []))
        name = f"trade_reconstruction {where} {t['trade_id']}"
        diffs: list[str] = []
        direction = 1 if t["side"] == "LONG" else -1
        fills = fills_of.get(t["trade_id"], [])
        entry = [f for f in fills if f["role"] == "ENTRY"]
        exits = [f for f in fills if f["role"] == "EXIT"]
        entry_qty = sum((f["last_qty"] for f in entry), zero)
        exit_qty = sum((f["last_qty"] for f in exits), zero)
        entry_notional = sum((f["last_qty"] * f["last_price"] for f in entry), zero)
        exit_notional = sum((f["last_qty"] * f["last_price"] for f in exits), zero)
        by_legs = (t["exit_notional"] - t["entry_vwap"] * t["exit_qty"]) * direction
        whole = (t["exit_notional"] - entry_notional) * direction if exit_qty == entry_qty else by_legs
        fees = sum((f["commission"] for f in fills), zero)
        realized = sum((f["realized_pnl"] for f in fills), zero)  # (an entry's: only a late true-up's)
        if entry_qty != t["entry_qty"]:
            diffs.append(f"entry fills add up to {entry_qty}, entry_qty {t['entry_qty']}")
        if exit_qty != t["exit_qty"]:
            diffs.append(f"exit fills add up to {exit_qty}, exit_qty {t['exit_qty']}")
        if exit_notional != t["exit_notional"]:
            diffs.append(f"exit fills' notional {exit_notional} != {t['exit_notional']}")
        if entry_qty and abs(entry_notional / entry_qty - t["entry_vwap"]) > (
            _VWAP_TOLERANCE * abs(t["entry_vwap"])
        ):
            diffs.append(f"entry fills' VWAP {entry_notional / entry_qty} != {t['entry_vwap']}")
        if t["gross_pnl"] not in (whole, by_legs):
            diffs.append(
                f"gross_pnl {t['gross_pnl']} is neither (exit_notional - entry notional) * direction = {whole}"
                f" nor (exit_notional - entry_vwap * exit_qty) * direction = {by_legs}"
            )
        if realized != t["gross_pnl"]:
            diffs.append(f"fills' realized PnL {realized} != gross_pnl {t['gross_pnl']}")
        if fees != t["fees"]:
            diffs.append(f"fill commissions add up to {fees}, fees {t['fees']}")
        if t["net_pnl"] != t["gross_pnl"] - t["fees"]:
            diffs.append(f"net_pnl {t['net_pnl']} != gross_pnl - fees")
        if t["trade_id"] in settled:
            amount = sum((s["amount"] for s in settled[t["trade_id"]]), zero)
            fee = sum((s["fee"] for s in settled[t["trade_id"]]), zero)
            if amount != t["gross_pnl"] or fee != t["fees"]:
                diffs.append(f"settlements add up to amount {amount}, fee {fee}")
        report.differences.extend(f"{name}: {d}" for d in diffs)
    report.checked.append(f"trades {where}: {len(trades)} closed trades recomputed from fills")


_JOURNALED = (Settlement, FillBooked, TradeClosed, TradeCorrected)
_JOURNAL_TABLES = {"account_events", "trade_reconstruction", "trade_corrections"}
#: journaled intents: each must be in the ledger as it is; not the other way round, as journals
#: begun before refused intents were journaled lack them, and so does one whose fields could
#: not be written (its row, stored as it came, is all there is of it)
_INTENTS = "policy_events"


_Numbered = list[tuple[int | None, KernelRecord]]


def _numbered(journal: JournalRecords) -> _Numbered:
    if journal.messages is None:
        return [(None, r) for r in journal.records]
    return [(position, r) for position, records in journal.messages() for r in records]


def _ids(journal: JournalRecords, record: KernelRecord) -> list[str]:
    try:
        return [row["id"] for _t, row in rows_for(record, account_id=journal.account_id,
                                                    runtime_id=journal.runtime_id)]  # fmt: skip
    except LedgerRowError:  # (never written: the comparison with the journal says so)
        return []


def _in_flight(journal: JournalRecords, numbered: _Numbered, upto: int | None) -> set[str]:
    """The row ids of the messages after the watermark ``upto`` only (none when it is unknown)."""
    if upto is None:
        return set()
    late = {i for position, r in numbered if position is not None and position > upto for i in _ids(journal, r)}
    if late:
        late -= {i for position, r in numbered if position is None or position <= upto for i in _ids(journal, r)}
    return late


def _holds_rows(tables: dict[str, list[Row]], ours: tuple[str, str]) -> bool:
    """Whether the ledger holds a row of the run ``ours`` (account id, runtime id)."""
    return any((row["account_id"], row["runtime_id"]) == ours for rows in tables.values() for row in rows)


def _journal(
    report: AuditReport, journal: JournalRecords, numbered: _Numbered, tables: dict[str, list[Row]],
    upto: int | None,
) -> None:
    ours = (journal.account_id, journal.runtime_id)
    ledger: dict[str, Row] = {}
    intents: dict[str, Row] = {}
    for table, rows in tables.items():
        for row in rows:
            if (row["account_id"], row["runtime_id"]) != ours:
                continue
            if table in _JOURNAL_TABLES or (table == "trade_events" and row["event"] == "FILL"):
                ledger[row["id"]] = row
            elif table == _INTENTS:
                intents[row["id"]] = row
    seen: set[str] = set()
    count = asked = on_the_way = 0
    for position, record in numbered:
        late = upto is not None and position is not None and position > upto
        if isinstance(record, IntentRecorded):
            asked += 1
            (_table, expected), = rows_for(record, account_id=journal.account_id, runtime_id=journal.runtime_id)
            found = intents.get(expected["id"])
            if found is None and late:
                on_the_way += 1
                continue
            _compare(report, f"IntentRecorded {_INTENTS} id {expected['id']}", record, expected, found)
            continue
        if not isinstance(record, _JOURNALED):
            continue
        count += 1
        for table, expected in rows_for(
            record, account_id=journal.account_id, runtime_id=journal.runtime_id
        ):
            found = ledger.get(expected["id"])
            what = f"{type(record).__name__} {table} id {expected['id']}"
            if expected["id"] in seen:
                continue
            seen.add(expected["id"])
            if found is None and late:
                on_the_way += 1
                continue
            _compare(report, what, record, expected, found)
    for row_id in sorted(set(ledger) - seen):
        report.differences.append(f"ledger row {row_id} is not in the journal: {ledger[row_id]}")
    report.checked.append(
        f"journal {journal.account_id}/{journal.runtime_id}: {count} settlements, fills and "
        f"trades and {asked} intents (refused ones too) compared with the ledger"
    )
    if on_the_way:
        report.checked.append(
            f"journal {journal.account_id}/{journal.runtime_id}: {on_the_way} rows of its messages after "
            f"position {upto} (the ledger's watermark) are not yet in the ledger: a running `pink run` is "
            "writing them, or the next start writes them from the journal"
        )


def _compare(report: AuditReport, what: str, record: KernelRecord, expected: Row, found: Row | None) -> None:
    if found is None:
        report.differences.append(f"journal {what} missing from the ledger: {record}")
    elif found != expected:
        cols = sorted(c for c in expected if expected[c] != found.get(c))
        report.differences.append(
            f"journal {what} differs in {', '.join(cols)}: "
            + "; ".join(f"{c} ledger {found.get(c)!r} journal {expected[c]!r}" for c in cols)
        )


def audit(
    client: Client,
    journal_records: JournalRecords | None = None,
    *,
    database: str = "pink",
    progress: Callable[[str], None] | None = None,
) -> AuditReport:
    """Recompute the ledger; the report lists what was checked and every difference."""
    step = progress or (lambda _msg: None)
    report = AuditReport()
    step("reading the watermarks")
    written = watermarks(client, database=database)  # first: every row up to them is in those read next
    read: dict[str, list[Row]] = {}
    for table in ("account_events", "trade_events", "trade_reconstruction", "trade_corrections",
                  *((_INTENTS,) if journal_records is not None else ())):
        step(f"reading {table}")
        read[table] = fetch(client, table, database=database)
    tables, numbered, upto = read, None, None
    if journal_records is not None:
        step("reading the journal")  # last: every row read is in it, though a run writes both meanwhile
        try:
            numbered = _numbered(journal_records)
        except JournalDamagedError as exc:  # its records cannot be vouched for: nor compared
            report.differences.append(f"{exc}; the ledger was not compared with it")
            journal_records = None
    if journal_records is not None and numbered is not None:
        report.checked.extend(journal_records.checked)
        if journal_records.messages is not None:
            ours = (journal_records.account_id, journal_records.runtime_id)
            upto = written.get(ours)
            if upto is None and not _holds_rows(read, ours):  # a run killed before its first write:
                upto = 0  # all on its way (the next start writes it), as after the watermark
        flight = _in_flight(journal_records, numbered, upto)
        if flight:  # a batch in flight is written table by table: the checks see the messages up to upto
            tables = {t: [r for r in rows if r["id"] not in flight] for t, rows in read.items()}
    with localcontext() as ctx:
        ctx.prec = 100
        step("checking the capital chain")
        for key, rows in streams(tables["account_events"]):
            _chain(report, key, rows)
        step("checking fills and trades")
        events = dict(streams(tables["trade_events"]))
        settlements = dict(streams(tables["account_events"]))
        for key, rows in events.items():
            _fills(report, key, rows)
        corrections = dict(streams(tables["trade_corrections"]))
        trades_of = dict(streams(tables["trade_reconstruction"]))
        for key in sorted(set(trades_of) | set(corrections)):
            _trades(report, key, trades_of.get(key, []), events.get(key, []), settlements.get(key, []),
                    corrections.get(key, []))
        step("checking replayed rows")
        conflicts = raw_conflicts(client, database=database)
        report.differences.extend(
            f"{table}: id {row_id} stored with {n} different contents"
            for table, row_id, n in conflicts
        )
        report.checked.append("ids: no id stored with different contents")
        if journal_records is not None and numbered is not None:
            step("comparing with the journal")
            _journal(report, journal_records, numbered, read, upto)
    return report

"""The end-of-trial checks of a chaos run: kernel, venue and ledger must agree exactly.

Each check returns ``(kind, detail)`` violations; an empty list is a pass.
They read the kernel's final state (the runner's ``FINAL`` line, taken after
a flatten and a drain), the venue's own records (its matching engine: it
lives in the harness), the journal and the ledger.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from pink.kernel.gaps import is_venue_fill
from pink.ledger.audit import audit
from pink.ledger.writer import LedgerTarget, open_client
from pink.venues.bingx.parse import fill_id as bingx_fill_id

__all__ = [
    "check_capital",
    "check_ledger",
    "check_orders",
    "check_positions",
    "check_slots",
    "compare_fills",
]

Violation = tuple[str, str]


def check_slots(final: dict[str, Any]) -> tuple[list[Violation], list[str]]:
    """Every slot IDLE, or DESYNC with its reason (explained); anything else is stuck."""
    bad: list[Violation] = []
    explained: list[str] = []
    for i, s in enumerate(final["slots"]):
        if s["state"] == "IDLE":
            continue
        if s["state"] == "DESYNC" and s["desync_reason"]:
            explained.append(f"slot {i} DESYNC: {s['desync_reason']}")
            continue
        bad.append(("stuck_slot", f"slot {i} {s['state']} after flatten + drain (order {s['working_order']!r}, "
                                  f"deadline {s['deadline']}, now {final['now']})"))
    return bad, explained


def check_positions(final: dict[str, Any], engine: Any) -> list[Violation]:
    """Kernel exposure per (symbol, side) == the venue's positions."""
    ours = {k: Decimal(v) for k, v in final["exposure"].items() if Decimal(v) != 0}
    theirs: dict[str, Decimal] = defaultdict(Decimal)
    for p in engine.positions():
        if p.quantity != 0:
            theirs[f"{p.symbol}|{p.side.value}"] += abs(p.quantity)
    return [("position_mismatch", f"{key}: kernel {ours.get(key, 0)} venue {theirs.get(key, 0)}")
            for key in sorted(set(ours) | set(theirs)) if ours.get(key, Decimal(0)) != theirs.get(key, Decimal(0))]


def check_capital(final: dict[str, Any], engine: Any) -> list[Violation]:
    """Kernel capital - initial == venue wallet - venue initial; and the kernel's own sum."""
    out: list[Violation] = []
    capital, initial = Decimal(final["capital"]), Decimal(final["initial"])
    gross, fees, funding = Decimal(final["gross"]), Decimal(final["fees"]), Decimal(final["funding"])
    transfers = Decimal(final["transfers"])
    if capital != initial + transfers + gross - fees + funding:
        out.append(("capital_sum", f"capital {capital} != {initial} + {transfers} + {gross} - {fees} + {funding}"))
    acct = engine.account
    ours, theirs = capital - initial, acct.wallet - acct.initial
    if ours != theirs:
        out.append(("capital_vs_venue", f"kernel {ours} (gross {gross}, fees {fees}, funding {funding}, "
                                        f"transfers {transfers}) != venue {theirs} (realized {acct.realized}, "
                                        f"fees {acct.fees}, funding {acct.funding}, transfers {acct.transfers}); "
                                        f"diff {ours - theirs}"))
    return out


def check_orders(engine: Any, places: Counter[str]) -> list[Violation]:
    """No client order id placed twice, none used for two orders (the venue's own orders, its
    liquidations, have none)."""
    out: list[Violation] = [("order_placed_twice", f"{cid}: {n} place requests reached the venue")
                            for cid, n in sorted(places.items()) if n > 1]
    by_cid = Counter(o.client_order_id for o in engine.orders_since(0) if o.client_order_id)
    out.extend(("client_order_id_reused", f"{cid}: {n} venue orders") for cid, n in sorted(by_cid.items()) if n > 1)
    return out


def check_ledger(
    url: str, runtime_id: str, journal_path: Path, engine: Any, by_hand: frozenset[str] = frozenset()
) -> tuple[list[Violation], int]:
    """``pink.ledger.audit`` with the journal; every venue fill in the ledger exactly once. A fill
    of an order placed by hand (``by_hand``: the engine's ids) or by the venue (a liquidation:
    no client id) closed PINK's trades: it is in the ledger under their orders
    (``<trade>-out``), as its own fill id or ``<fill id>#...``."""
    from pink.journal import read_journal_records

    out: list[Violation] = []
    client = open_client(LedgerTarget("server", url))
    try:
        records = read_journal_records(journal_path)
        report = audit(client, records)
        out.extend(("ledger_audit", d[:400]) for d in report.differences if runtime_id in d)
        rows = client.query(
            "SELECT DISTINCT id, fill_id, client_order_id, last_qty FROM pink.trade_events "
            "WHERE runtime_id = {rt:String} AND event = 'FILL'", parameters={"rt": runtime_id},
        ).result_rows
    finally:
        client.close()
    more, n = compare_fills(rows, engine.fills_since(0), by_hand)
    return out + more, n


def compare_fills(
    rows: Iterable[Sequence[Any]], venue_fills: Iterable[Any], by_hand: frozenset[str] = frozenset()
) -> tuple[list[Violation], int]:
    """The ledger's FILL rows ``(row id, fill id, client order id, qty)`` against the venue's
    fills: each fill booked once, each order's quantity exactly the venue's. A report's gap
    (``<order>#cum<qty>``) stands for fills the kernel had not seen, and its real fills later
    replace it piece by piece (a row of minus the piece, ``...:replaced-by:<fill>``, and the
    fill's own): so an order may count fewer real fills than the venue's, never more."""
    out: list[Violation] = []
    ids_per_fill: dict[str, set[str]] = defaultdict(set)
    ledger_qty: dict[str, Decimal] = defaultdict(Decimal)
    ledger_n: Counter[str] = Counter()
    outside_qty: dict[str, Decimal] = defaultdict(Decimal)  # by the venue's fill id
    for row_id, fill_id, cid, qty in rows:
        ids_per_fill[fill_id].add(row_id)
        if "-out" in cid:
            outside_qty[fill_id.partition("#")[0]] += Decimal(qty)
            continue
        ledger_qty[cid] += Decimal(qty)
        ledger_n[cid] += is_venue_fill(fill_id, Decimal(qty))
    out.extend(("fill_in_ledger_twice", f"fill {f}: {len(ids)} rows")
               for f, ids in ids_per_fill.items() if len(ids) > 1)
    venue_qty: dict[str, Decimal] = defaultdict(Decimal)
    venue_n: Counter[str] = Counter()
    for f in venue_fills:
        if f.client_order_id in by_hand or not f.client_order_id:  # PINK books what it held of it: at most the fill
            # (under the engine's fill id, or BingX's ``<order id>:<cum qty>`` over the BingX server)
            booked = outside_qty.pop(f.fill_id, Decimal(0)) + outside_qty.pop(
                bingx_fill_id(f.venue_order_id, f.cum_qty), Decimal(0))
            if booked > f.qty:
                out.append(("hand_fill_overbooked", f"fill {f.fill_id}: {booked} booked of {f.qty}"))
            continue
        venue_qty[f.client_order_id] += f.qty
        venue_n[f.client_order_id] += 1
    out.extend(("outside_fill_unknown", f"fill {f}: {q} booked as closed outside, no such fill by hand")
               for f, q in sorted(outside_qty.items()))
    for cid in sorted(set(venue_qty) | set(ledger_qty)):
        if venue_qty[cid] != ledger_qty[cid] or venue_n[cid] < ledger_n[cid]:
            out.append(("fill_not_in_ledger_once", f"{cid}: venue {venue_n[cid]} fills / {venue_qty[cid]}, "
                                                   f"ledger {ledger_n[cid]} fills / {ledger_qty[cid]}"))
    return out, sum(venue_n.values())

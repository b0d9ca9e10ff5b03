"""The journal skips outcomes that changed nothing (REFUSED, DUPLICATE, NO_CHANGE): each of
these cases used to change the kernel while reporting DUPLICATE, so a restart's replay did
not rebuild the state the process had (the Hypothesis state machine now checks all of them)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

from pink.journal import JournaledKernel
from pink.kernel import Action, Intent, OrderStatus, OrderStatusReport, OutcomeStatus
from pink.kernel.messages import OrderCanceled, OrderFilled, PlaceOrder
from tests.kernel.harness import INSTRUMENTS, Driver, journaled_entry, place


def _state(d: Driver) -> str:
    return json.dumps(d.k.snapshot(), sort_keys=True)


def test_a_report_that_teaches_an_ended_orders_venue_id_is_journaled(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    jk, cfg, entry = journaled_entry(path)
    jk.apply(OrderFilled(entry, "v-1", "f1", D("1.000"), D("100.0"), D("1.000"), D(0), "USDT", 2), 2)
    out = jk.submit(Intent(Action.EXIT, 0, "t1", "x1"), 3)
    cid = next(e for e in out.effects if isinstance(e, PlaceOrder)).client_order_id
    jk.apply(OrderCanceled(cid, "", D(0), 4), 4)  # ended before the venue's id was known
    report = OrderStatusReport(cid, "v-77", OrderStatus.CANCELED, D("1.000"), D(0), D(0), D(0), 5)
    assert jk.apply(report, 5).status is OutcomeStatus.CONFIRMED
    assert jk.apply(report, 6).status is OutcomeStatus.DUPLICATE
    jk.journal.close()  # no final snapshot, as if killed
    replayed = JournaledKernel.open(path, cfg, INSTRUMENTS)
    try:
        assert replayed.kernel.venue_ids.get("v-77") == cid
    finally:
        replayed.close()


def test_a_not_found_report_teaches_no_venue_id() -> None:
    d = Driver()
    cid = place(d.enter(0)).client_order_id
    d.k.tick(d.tick_clock(10**12))
    d.apply(OrderStatusReport(cid, "v-bogus", OrderStatus.NOT_FOUND, D("1.000"), D(0), D(0), D(0), d.now))
    assert "v-bogus" not in d.k.venue_ids


def test_a_fill_a_report_already_covered_changes_nothing_the_second_time() -> None:
    """The first time it replaces the report's gap (a change: journaled); again, it is a no-op."""
    d = Driver()
    cid = place(d.enter(0)).client_order_id
    d.report(cid, OrderStatus.FILLED, "1.000", "1.000", "100.0")
    before = _state(d)
    late = OrderFilled(cid, f"v-{cid}", "f-late", D("1.000"), D("100.0"), D("1.000"), D(0), "USDT", d.now)
    assert d.apply(late).changed and _state(d) != before
    before = _state(d)
    assert d.apply(late).status is OutcomeStatus.DUPLICATE and _state(d) == before


def test_a_report_listing_an_order_the_venue_once_denied_is_journaled() -> None:
    """Fuzz finding: an order the venue had not listed (its lookup lagged) then canceled; the
    report of it cleared the kernel's note of the denial but was a no-op to the journal, so a
    replay kept the note and its snapshot differed from the live kernel's."""
    d = Driver()
    entry = place(d.enter(0)).client_order_id
    d.fill(entry, "1.000", "100.0", "1.000")
    cid = place(d.exit(0, close_all=True)).client_order_id
    d.ack(cid)
    d.report(cid, OrderStatus.NOT_FOUND, "1.000", "0", "0")
    d.canceled(cid)
    before = json.dumps(d.k.snapshot(), sort_keys=True)
    out = d.report(cid, OrderStatus.CANCELED, "1.000", "0", "0")
    assert out.changed or json.dumps(d.k.snapshot(), sort_keys=True) == before

"""One ledger contract, run against both backends (embedded chDB, server path)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import time
from collections.abc import Iterator
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from ledger_front import Front
from ledger_records import Book, D, interleave, trade, trade_steps

from pink.errors import ClosedError
from pink.kernel import Kernel, KernelConfig
from pink.kernel.messages import (
    Action,
    ClosedOutside,
    FillBooked,
    Intent,
    IntentRecorded,
    KernelRecord,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OrderStatusReport,
    OutcomeStatus,
    PlaceOrder,
    PolicyMetadata,
    Settlement,
    Side,
    TradeClosed,
    TradeCorrected,
)
from pink.ledger import (
    JournalRecords,
    LedgerOutbox,
    LedgerWriter,
    audit,
    resolve_target,
    rows_for,
)
from pink.ledger.queries import exit_legs, fetch
from pink.ledger.report import _shown, build_report
from pink.ledger.schema import PART_SETTINGS, TABLES, WATERMARK_TABLE, create_statements, settings_statements
from pink.venues.sim.instruments import default_instruments

ACC, RT = "acc-1", "rt-1"


def _insert(writer: LedgerWriter, records: list[KernelRecord]) -> None:
    writer.insert(r for rec in records for r in rows_for(rec, account_id=ACC, runtime_id=RT))


def _round_trip(
    trade_id: str, side: Side, entry: list[tuple[str, str]], exits: list[str]
) -> tuple[Kernel, list[KernelRecord]]:
    """A real kernel's records for a BTC-USDT trade in two exit legs: MARKET entry filled in
    (qty, price) parts, then one filled exit leg per price in ``exits``; fees 0.01 per fill."""
    kernel = Kernel(KernelConfig(slots=1), default_instruments())
    qty = sum((D(q) for q, _ in entry), D(0))
    out = kernel.submit(Intent(Action.ENTER, 0, trade_id, f"i{trade_id}", asset="BTC-USDT", side=side,
                               quantity=qty, exit_legs=(D("0.5"), D("0.5"))), 1)  # fmt: skip
    recs: list[KernelRecord] = list(out.records)
    cid = next(e for e in out.effects if isinstance(e, PlaceOrder)).client_order_id
    cum = D(0)
    for n, (q, px) in enumerate(entry):
        cum += D(q)
        recs += kernel.apply(OrderFilled(cid, "v", f"e{n}", D(q), D(px), cum, D("0.01"), "USDT", 2), 2).records
    for n, px in enumerate(exits):
        x = kernel.submit(Intent(Action.EXIT, 0, trade_id, f"x{n}"), 3)
        recs += x.records
        p = next(e for e in x.effects if isinstance(e, PlaceOrder))
        recs += kernel.apply(OrderFilled(p.client_order_id, "w", f"x{n}", p.quantity, D(px), p.quantity,
                                         D("0.01"), "USDT", 4), 4).records  # fmt: skip
    return kernel, recs


class LedgerContract:
    """Every backend passes these. Subclasses provide the ``writer`` fixture."""

    def _fetch(self, writer: LedgerWriter, table: str) -> list[dict[str, object]]:
        return fetch(writer.client, table, database=writer.database)

    def test_e18_fee_recorded_per_fill_row(self, writer: LedgerWriter) -> None:
        book = Book()
        recs = trade(book, slot=0, trade_id="T1", side=Side.LONG,
                     entry=[("1", "100", "0.06"), ("1", "102", "0.0612")],
                     exits=[[("2", "110", "0.132")]])
        _insert(writer, recs)
        fills = [r for r in self._fetch(writer, "trade_events") if r["event"] == "FILL"]
        assert {f["fill_id"]: f["commission"] for f in fills} == {
            "T1-ef0": D("0.06"), "T1-ef1": D("0.0612"), "T1-x1f0": D("0.132")}
        (t,) = self._fetch(writer, "trade_reconstruction")
        assert t["fees"] == D("0.2532") and t["gross_pnl"] == D("18")
        assert t["net_pnl"] == D("18") - D("0.2532")
        settlements = self._fetch(writer, "account_events")
        assert sum(s["fee"] for s in settlements) == D("0.2532")
        assert settlements[-1]["capital_after"] == D("10000") + D("18") - D("0.2532")
        assert audit(writer.client, database=writer.database).ok

    def test_e20_e22_a5_capital_chain_under_many_slots(self, writer: LedgerWriter) -> None:
        """Flaws E20, E22, A5."""
        book = Book("25000")
        steppers = [
            trade_steps(book, slot=s, trade_id=f"T{s}", side=Side.LONG if s % 2 else Side.SHORT,
                        entry=[("0.5", f"{100 + s}", "0.03"), ("0.5", f"{101 + s}", "0.031")],
                        exits=[[("0.25", f"{105 - s}", "0.01")], [("0.75", f"{99 + 2 * s}", "0.02")]])
            for s in range(8)
        ]
        recs = interleave(*steppers)
        _insert(writer, recs)
        rows = sorted(self._fetch(writer, "account_events"), key=lambda r: r["seq"])
        assert [r["seq"] for r in rows] == list(range(1, book.seq + 1))
        assert len({r["slot"] for r in rows}) == 8
        for prev, row in itertools.pairwise(rows):
            assert row["capital_before"] == prev["capital_after"]
            assert row["capital_after"] == row["capital_before"] + row["amount"] - row["fee"]
        trades = self._fetch(writer, "trade_reconstruction")
        assert rows[-1]["capital_after"] == book.initial + sum(
            t["gross_pnl"] for t in trades) - sum(t["fees"] for t in trades)
        report = audit(writer.client, database=writer.database)
        assert report.ok, report.differences

    def test_e21_async_fill_linked_to_its_order_not_invented(self, writer: LedgerWriter) -> None:
        book = Book()
        steps = list(trade_steps(book, slot=3, trade_id="A", side=Side.LONG,
                                 entry=[("1", "50", "0.01")], exits=[[("1", "51", "0.01")]]))
        other = trade(book, slot=4, trade_id="B", side=Side.SHORT,
                      entry=[("2", "10", "0")], exits=[[("2", "9", "0")]])
        # A's exit fill arrives late, outside any policy cycle, after B's whole trade.
        recs = [*steps[0], *steps[1], *steps[2], *other, *steps[3], *steps[4]]
        _insert(writer, recs)
        events = self._fetch(writer, "trade_events")
        order = next(e for e in events if e["client_order_id"] == "A-X1" and e["event"] == "ORDER")
        fill = next(e for e in events if e["fill_id"] == "A-x1f0")
        for link in ("intent_id", "decision_id", "trade_id", "slot", "client_order_id"):
            assert fill[link] == order[link]
        assert fill["venue_order_id"] == "v-A-X1" and fill["intent_id"] == "A-i1"
        intents = self._fetch(writer, "policy_events")
        assert len(intents) == sum(isinstance(r, IntentRecorded) for r in recs)  # none invented
        assert audit(writer.client, database=writer.database).ok
        # A fill carrying an invented decision is caught by the audit.
        bad = FillBooked(3, "A", "A-i1", "invented", "A-X1", "v-A-X1", "A-x1f9", "EXIT", 1,
                         "BTC-USDT", fill_side(fill), D(0), D(51), D(1), D(0), "USDT", D(0), 1)
        _insert(writer, [bad])
        report = audit(writer.client, database=writer.database)
        assert any("A-x1f9 decision_id='invented'" in d for d in report.differences)

    def test_e23_a13_exit_vwap_reproduces_gross_pnl(self, writer: LedgerWriter) -> None:
        """Flaws E23, A13."""
        book = Book()
        recs = trade(book, slot=1, trade_id="V", side=Side.SHORT,
                     entry=[("3", "2000.5", "0.3"), ("1", "2001.7", "0.1")],
                     exits=[[("1", "1990.1", "0.1"), ("1.5", "1989.3", "0.15")],
                            [("1.5", "2003.9", "0.15")]])
        _insert(writer, recs)
        (t,) = self._fetch(writer, "trade_reconstruction")
        legs = exit_legs(self._fetch(writer, "trade_events"), "V")
        assert [(leg.leg, leg.quantity) for leg in legs] == [(1, D("2.5")), (2, D("1.5"))]
        assert legs[1].vwap == D("2003.9")
        with localcontext() as ctx:
            ctx.prec = 100
            assert legs[0].vwap == (D("1990.1") + D("1.5") * D("1989.3")) / D("2.5")
            gross = sum((leg.vwap - t["entry_vwap"]) * leg.quantity * -1 for leg in legs)
            assert gross == t["gross_pnl"]
            assert (t["exit_notional"] - t["entry_vwap"] * t["exit_qty"]) * -1 == t["gross_pnl"]
        assert t["exit_vwap"] != t["entry_vwap"]
        assert t["entry_vwap"] == D("2000.8")
        assert audit(writer.client, database=writer.database).ok

    def test_e08_a_trade_closed_outside_pink_is_stored_as_a_close_and_audits(self, writer: LedgerWriter) -> None:
        """A position closed by hand and booked on the operator's word (ClosedOutside): its order
        ``<trade>-out`` and fill are linked like any other, and the trade adds up."""
        kernel, recs = _round_trip("h", Side.SHORT, [("0.020", "60000.0")], ["59900.0"])
        booked = kernel.apply(ClosedOutside(0, "h", D("60100.0"), D("0.012"), 5, note="liquidated"), 5)
        assert booked.status is OutcomeStatus.CONFIRMED, booked
        recs += booked.records
        _insert(writer, recs)
        (t,) = self._fetch(writer, "trade_reconstruction")
        # short 0.020 at 60000: 0.010 bought back at 59900 (+1), 0.010 at 60100 (-1)
        assert t["gross_pnl"] == 0 and t["fees"] == D("0.032") and t["exit_qty"] == D("0.020")
        orders = {e["client_order_id"] for e in self._fetch(writer, "trade_events") if e["event"] == "ORDER"}
        assert "h-out" in orders
        assert audit(writer.client, JournalRecords(ACC, RT, recs), database=writer.database).ok

    def test_e08_the_late_real_fill_of_a_close_booked_on_the_word_audits_exactly(self, writer: LedgerWriter) -> None:
        """The venue's own fill of that close by hand, read after the word was booked, replaces
        the word's price and fee: the trade's row plus its correction add up to its fills."""
        kernel, recs = _round_trip("h", Side.SHORT, [("0.020", "60000.0")], ["59900.0"])
        recs += kernel.apply(ClosedOutside(0, "h", D("60100.0"), D("0.012"), 5, note="by hand"), 5).records
        late = OrderFilled("", "hand-1", "hand-1-0.010", D("0.010"), D("60123.4"), D("0.010"), D("0.0131"), "USDT",
                           5, False, "BTC-USDT", OrderSide.BUY, None)  # fmt: skip
        out = kernel.apply(late, 6)
        assert [type(r) for r in out.records if isinstance(r, TradeCorrected)] == [TradeCorrected], out
        assert kernel.held_outside() == {}
        recs += out.records
        _insert(writer, recs)
        (t,) = self._fetch(writer, "trade_reconstruction")
        assert t["gross_pnl"] == 0 and t["fees"] == D("0.032")  # as written at the close
        assert audit(writer.client, JournalRecords(ACC, RT, recs), database=writer.database).ok

    def test_e10_report_gaps_replaced_by_their_real_fills_audit_exactly(self, writer: LedgerWriter) -> None:
        """An entry and an exit leg booked from reports at the venue's rounded average, then their
        real fills: each gap is reversed and the fills booked in its place, so the order's rows add
        up to its real fills, the trade to its round trip, and the audit (with the journal) holds."""
        kernel = Kernel(KernelConfig(slots=1), default_instruments())
        out = kernel.submit(Intent(Action.ENTER, 0, "g", "ig", asset="BTC-USDT", side=Side.LONG,
                                   quantity=D("0.020"), exit_legs=(D("0.5"), D("0.5"))), 1)  # fmt: skip
        recs: list[KernelRecord] = list(out.records)
        cid = next(e for e in out.effects if isinstance(e, PlaceOrder)).client_order_id
        status = OrderStatusReport(cid, "v", OrderStatus.FILLED, D("0.020"), D("0.020"), D("60000.1"), None, 2)
        recs += kernel.apply(status, 2).records
        for n, (q, px, cum) in enumerate((("0.010", "60000.0", "0.010"), ("0.010", "60000.3", "0.020"))):
            recs += kernel.apply(OrderFilled(cid, "v", f"e{n}", D(q), D(px), D(cum), D("0.01"), "USDT", 3), 3).records
        x = kernel.submit(Intent(Action.EXIT, 0, "g", "x0"), 4)
        recs += x.records
        leg = next(e for e in x.effects if isinstance(e, PlaceOrder)).client_order_id
        status = OrderStatusReport(leg, "w", OrderStatus.FILLED, D("0.010"), D("0.010"), D("60100.2"), D("0.02"), 5)
        recs += kernel.apply(status, 5).records
        for n, (q, px, cum) in enumerate((("0.004", "60100.0", "0.004"), ("0.006", "60100.3", "0.010"))):
            recs += kernel.apply(OrderFilled(leg, "w", f"w{n}", D(q), D(px), D(cum), D("0.01"), "USDT", 6), 6).records
        x = kernel.submit(Intent(Action.EXIT, 0, "g", "x1"), 7)
        recs += x.records
        p = next(e for e in x.effects if isinstance(e, PlaceOrder))
        recs += kernel.apply(OrderFilled(p.client_order_id, "y", "y0", p.quantity, D("60200.0"), p.quantity,
                                         D("0.01"), "USDT", 8), 8).records  # fmt: skip
        _insert(writer, recs)
        (t,) = self._fetch(writer, "trade_reconstruction")
        entry = D("0.010") * D("60000.0") + D("0.010") * D("60000.3")
        exits = D("0.004") * D("60100.0") + D("0.006") * D("60100.3") + D("0.010") * D("60200.0")
        assert t["exit_notional"] == exits and t["gross_pnl"] == exits - entry
        assert t["entry_vwap"] == entry / D("0.020")
        account = kernel.account_view()
        assert account.capital == D(10000) + exits - entry - D("0.02") - D("0.02") - D("0.01")
        assert audit(writer.client, JournalRecords(ACC, RT, recs), database=writer.database).ok

    def test_e10_late_real_fills_of_a_gap_that_closed_the_trade_audit_exactly(self, writer: LedgerWriter) -> None:
        """A short closed by a report at the venue's rounded average (its fills lost), its entry booked
        from a report too; then the real fills of both. The trade's closed row stays as it was
        written; its corrections, the reversed pieces and the real fills make the audit (with the
        journal) hold, and capital is what the venue booked."""
        kernel = Kernel(KernelConfig(slots=1), default_instruments())
        out = kernel.submit(Intent(Action.ENTER, 0, "c", "ic", asset="BTC-USDT", side=Side.SHORT,
                                   quantity=D("0.020"), exit_legs=(D(1),)), 1)  # fmt: skip
        recs: list[KernelRecord] = list(out.records)
        cid = next(e for e in out.effects if isinstance(e, PlaceOrder)).client_order_id
        recs += kernel.apply(OrderStatusReport(cid, "v", OrderStatus.FILLED, D("0.020"), D("0.020"), D("60000.1"),
                                               None, 2), 2).records  # fmt: skip
        x = kernel.submit(Intent(Action.EXIT, 0, "c", "x0", close_all=True), 3)
        recs += x.records
        leg = next(e for e in x.effects if isinstance(e, PlaceOrder)).client_order_id
        recs += kernel.apply(OrderStatusReport(leg, "w", OrderStatus.FILLED, D("0.020"), D("0.020"), D("59900.2"),
                                               D("0.02"), 4), 4).records  # fmt: skip
        assert kernel.slot_view(0).trade_id == ""
        late = [OrderFilled(leg, "w", "w0", D("0.004"), D("59900.0"), D("0.004"), D("0.004"), "USDT", 5),
                OrderFilled(cid, "v", "v0", D("0.010"), D("60000.0"), D("0.010"), D("0.01"), "USDT", 5),
                OrderFilled(leg, "w", "w1", D("0.016"), D("59900.3"), D("0.020"), D("0.016"), "USDT", 6),
                OrderFilled(cid, "v", "v1", D("0.010"), D("60000.3"), D("0.020"), D("0.01"), "USDT", 6)]
        for f in [*late, *late]:
            recs += kernel.apply(f, f.ts).records
        _insert(writer, recs)
        (t,) = self._fetch(writer, "trade_reconstruction")
        closed = next(r for r in recs if isinstance(r, TradeClosed))
        assert t["gross_pnl"] == closed.gross_pnl == (D("60000.1") - D("59900.2")) * D("0.020")
        entry = D("0.010") * D("60000.0") + D("0.010") * D("60000.3")
        exits = D("0.004") * D("59900.0") + D("0.016") * D("59900.3")
        fixes = self._fetch(writer, "trade_corrections")
        assert len(fixes) == 4 and {f["trade_id"] for f in fixes} == {"c"}
        assert t["gross_pnl"] + sum((f["gross_pnl"] for f in fixes), D(0)) == entry - exits
        account = kernel.account_view()
        assert account.capital == D(10000) + entry - exits - D("0.02") - D("0.02")  # the entry's fees: its fills'
        assert audit(writer.client, JournalRecords(ACC, RT, recs), database=writer.database).ok
        page = build_report(writer.client, database=writer.database).html  # the trade as corrected
        assert f"<th>gross PnL (closed trades)</th><td>{_shown(entry - exits)}</td>" in page, page
        assert f"<th>net PnL (closed trades)</th><td>{_shown(entry - exits - D('0.04'))}</td>" in page
        forged = dataclasses.replace(next(r for r in recs if isinstance(r, TradeCorrected)), fill_id="forged")
        _insert(writer, [forged])
        report = audit(writer.client, database=writer.database)
        assert any("trade_reconstruction" in d and " c:" in d for d in report.differences), report.differences

    def test_a_ledger_written_before_trade_corrections_still_audits_and_reports(self, writer: LedgerWriter) -> None:
        """A ledger an older PINK wrote has no trade_corrections table: audit and report read it as
        none, rather than failing on a table it never had."""
        _, recs = _round_trip("o", Side.LONG, [("0.010", "60000.0")], ["60010.0", "60020.0"])
        _insert(writer, recs)
        writer.client.command(f"DROP TABLE `{writer.database}`.`trade_corrections`")
        assert audit(writer.client, JournalRecords(ACC, RT, recs), database=writer.database).ok
        assert "<th>trades</th><td>1</td>" in build_report(writer.client, database=writer.database).html

    def test_e23_a13_a_trade_whose_entry_vwap_does_not_terminate_audits_exactly(
        self, writer: LedgerWriter
    ) -> None:
        """The kernel books the close so the trade makes exit less entry notional exactly (its VWAP,
        59997.0935483870967..., is kept on tick / 1e6); the audit holds it to that, to the digit."""
        _, recs = _round_trip("w", Side.LONG, [("0.011", "59997.0"), ("0.011", "59997.1"), ("0.009", "59997.2")],
                              ["60010.3", "59990.9"])  # fmt: skip
        _insert(writer, recs)
        (t,) = self._fetch(writer, "trade_reconstruction")
        entry = D("0.011") * D("59997.0") + D("0.011") * D("59997.1") + D("0.009") * D("59997.2")
        assert t["gross_pnl"] == t["exit_notional"] - entry
        assert t["gross_pnl"] != t["exit_notional"] - t["entry_vwap"] * t["exit_qty"]
        assert audit(writer.client, JournalRecords(ACC, RT, recs), database=writer.database).ok
        closed = next(r for r in recs if isinstance(r, TradeClosed))
        forged = dataclasses.replace(closed, trade_id="w2", gross_pnl=closed.gross_pnl + D("1e-10"))
        _insert(writer, [forged])
        report = audit(writer.client, database=writer.database)
        assert any("trade_reconstruction" in d and "w2" in d and "is neither" in d for d in report.differences)

    def test_e11_f28_policy_metadata_kept_as_given(self, writer: LedgerWriter) -> None:
        """Flaws E11, F28."""
        features = {"rsi": 0.12345678901234567, "z": -1e-300, "big": 1.7976931348623157e308,
                    "nan": math.nan}
        meta = PolicyMetadata(0.87341234567891, 17, features, {"regime": "trend", "v": "2"})
        given = IntentRecorded(Intent(Action.ENTER, 2, "M", "M-i", "M-d", "ETH-USDT", Side.LONG,
                                      D("0.01"), 3, metadata=meta), "REFUSED", "ENTRIES_PAUSED",
                               "paused by operator", 7)
        bare = IntentRecorded(Intent(Action.CANCEL, 2, "M", "M-c", "M-d2"), "REFUSED",
                              "NOTHING_TO_CANCEL", "", 8)
        _insert(writer, [given, bare])
        rows = {r["intent_id"]: r for r in self._fetch(writer, "policy_events")}
        row = rows["M-i"]
        assert row["confidence"] == meta.confidence and row["bars_held"] == 17
        assert row["tags"] == meta.tags
        assert set(row["features"]) == set(features)
        for k, v in features.items():
            assert (math.isnan(row["features"][k]) if math.isnan(v) else row["features"][k] == v)
        assert (row["status"], row["answer_reason"], row["detail"]) == (
            "REFUSED", "ENTRIES_PAUSED", "paused by operator")
        assert rows["M-c"]["confidence"] is None and rows["M-c"]["bars_held"] is None  # no placeholders
        assert rows["M-c"]["features"] == {}

    @pytest.mark.parametrize(
        "bad",
        [{"slot": 10**12}, {"side": "LONG"}, {"reason": None}, {"metadata": None},
         {"quantity": math.nan}, {"leverage": "3"}, {"exit_legs": None}, {"order_type": "LIMIT"}],
    )
    def test_a_refused_intent_of_any_shape_is_stored_with_its_refusal(
        self, writer: LedgerWriter, bad: dict[str, object]
    ) -> None:
        """A kernel refuses an intent whose fields are of the wrong type or out of range, and
        records the refusal with the intent as it came. Its row could not be built (a str side
        has no .value) or stored (a slot beyond Int32): the ledger retried that batch for good,
        and nothing behind it was written. It is stored, the odd fields as text or empty."""
        kernel = Kernel(KernelConfig(slots=1), default_instruments())
        fields: dict[str, object] = {"action": Action.ENTER, "slot": 0, "trade_id": "b1", "intent_id": "b-i",
                                     "asset": "BTC-USDT", "side": Side.LONG, "quantity": D("0.01"), **bad}
        out = kernel.submit(Intent(**fields), 1)  # type: ignore[arg-type]
        assert out.status.value == "REFUSED" and out.records
        _insert(writer, list(out.records))
        rows = self._fetch(writer, "policy_events")
        assert [(r["intent_id"], r["status"], r["detail"]) for r in rows] == [("b-i", "REFUSED", out.detail)]

    def test_replayed_insert_never_duplicates(self, writer: LedgerWriter) -> None:
        book = Book()
        recs = trade(book, slot=0, trade_id="R", side=Side.LONG,
                     entry=[("1", "10", "0.01")], exits=[[("1", "11", "0.01")]])
        _insert(writer, recs)
        _insert(writer, recs[3:])  # a retry of part, then a replay of all in other batches
        for half in (recs[:5], recs[5:]):
            _insert(writer, half)
        expected = len(recs)
        got = sum(len(self._fetch(writer, t)) for t in
                  ("policy_events", "trade_events", "account_events", "position_state",
                   "trade_reconstruction"))
        assert got == expected
        assert audit(writer.client, database=writer.database).ok

    def test_merged_parts_leave_the_disk_within_seconds_rows_unchanged(self, writer: LedgerWriter) -> None:
        """Every batch is a part and merges replace parts: the parts a merge replaced must leave the
        disk within seconds (a merged part is fsynced first), not after ClickHouse's default 8
        minutes, which no paper run lasts, so they piled up run after run (a 50k-cycle paper run
        left a ledger 6x its journal) and every start loaded them all again."""
        book = Book()
        recs = trade(book, slot=0, trade_id="M", side=Side.LONG,
                     entry=[("1", "10", "0.01")], exits=[[("1", "11", "0.01")]])
        for n in range(1, len(recs) + 1):  # one part per batch, and replays of what is in
            _insert(writer, recs[:n])
        before = {t: self._fetch(writer, t) for t in TABLES}
        for table in TABLES:
            writer.client.command(f"OPTIMIZE TABLE `{writer.database}`.`{table}` FINAL")
        deadline = time.monotonic() + 20
        while (left := self._outdated_parts(writer)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == 0
        assert {t: self._fetch(writer, t) for t in TABLES} == before
        assert audit(writer.client, JournalRecords(ACC, RT, recs), database=writer.database).ok

    @staticmethod
    def _outdated_parts(writer: LedgerWriter) -> int:
        result = writer.client.query(
            "SELECT count() FROM system.parts WHERE database = %(d)s AND NOT active",
            parameters={"d": writer.database})
        return int(result.result_rows[0][0])

    def test_decimal_overflow_trap_large_price_times_qty(self, writer: LedgerWriter) -> None:
        book = Book("1000000000")
        recs = trade(book, slot=0, trade_id="BIG", side=Side.LONG,
                     entry=[("12345.678", "98765.4321", "1219.2941")],
                     exits=[[("12345.678", "99999.9999", "1234.5677")]])
        _insert(writer, recs)
        (t,) = self._fetch(writer, "trade_reconstruction")
        assert t["exit_notional"] == D("12345.678") * D("99999.9999")
        assert t["gross_pnl"] == (D("99999.9999") - D("98765.4321")) * D("12345.678")
        # The trap the ledger avoids: SQL Decimal(38,18) x Decimal(38,18) is wrong.
        sql = (f"SELECT toDecimal128('200', 18) * toDecimal128('3', 18),"
               f" multiplyDecimal(entry_vwap, exit_qty, 18) FROM `{writer.database}`."
               "trade_reconstruction FINAL")
        naive, good = writer.client.query(sql).result_rows[0]
        assert naive != 600
        assert good == D("98765.4321") * D("12345.678")
        assert audit(writer.client, database=writer.database).ok

    def test_audit_fails_listing_a_corrupted_row(self, writer: LedgerWriter) -> None:
        book = Book()
        recs = trade(book, slot=0, trade_id="C", side=Side.LONG,
                     entry=[("1", "10", "0.01")], exits=[[("1", "12", "0.01")]])
        _insert(writer, recs)
        assert audit(writer.client, database=writer.database).ok
        s = next(r for r in recs if isinstance(r, Settlement) and r.seq == 1)
        forged = Settlement(s.seq, s.kind, s.slot, s.trade_id, s.cause, s.amount, s.fee,
                            s.capital_before, s.capital_after + 1, s.ts)
        t = next(r for r in recs if isinstance(r, TradeClosed))
        _insert(writer, [forged])
        report = audit(writer.client, database=writer.database,
                       journal_records=JournalRecords(ACC, RT, recs))
        text = "\n".join(report.differences)
        assert not report.ok
        assert "seq 1: capital_after" in text  # the row itself
        assert "seq 2: capital_before" in text  # the break in the chain
        assert "stored with 2 different contents" in text  # the replaced version
        assert "journal Settlement account_events" in text and "differs in capital_after" in text
        assert t.trade_id not in text

    def test_audit_against_journal(self, writer: LedgerWriter) -> None:
        book = Book()
        recs = trade(book, slot=0, trade_id="J", side=Side.SHORT,
                     entry=[("1", "10", "0.01")], exits=[[("1", "9", "0.01")]])
        _insert(writer, recs[:-4])  # the last fill, settlement, trade and slot row missing
        report = audit(writer.client, JournalRecords(ACC, RT, recs), database=writer.database)
        missing = [d for d in report.differences if "missing from the ledger" in d]
        assert len(missing) == 3, report.differences
        _insert(writer, recs)
        report = audit(writer.client, JournalRecords(ACC, RT, recs), database=writer.database)
        assert report.ok, report.differences
        assert any("compared with the ledger" in c for c in report.checked)

    def test_audit_of_a_ledger_its_run_is_writing_shows_no_false_difference(self, writer: LedgerWriter) -> None:
        """`pink audit --ledger-url` of a running run: the journal was read before the ledger, so rows
        written in between were 'not in the journal', and rows of the batch in flight (written
        past the watermark, or not yet) were 'missing' or broke the trade checks: a healthy run's
        audit failed. The journal is now read after the ledger; what lies after the watermark
        read first is in flight: compared where written, else said to be on its way."""
        book = Book()
        recs = [*trade(book, slot=0, trade_id="L1", side=Side.LONG, entry=[("1", "10", "0.01")],
                       exits=[[("1", "11", "0.01")]]),
                *trade(book, slot=1, trade_id="L2", side=Side.SHORT, entry=[("2", "10", "0.01")],
                       exits=[[("1", "9", "0.01")], [("1", "8", "0.01")]])]
        messages = [(n, (r,)) for n, r in enumerate(recs, start=1)]
        fills = [n for n, (r,) in messages if isinstance(r, FillBooked)]
        upto = fills[-2]  # L2's first exit fill written, its settlement not
        _insert(writer, recs[:upto])
        writer.set_watermark(ACC, RT, upto - 1)
        late = [r for r in recs[upto:] if isinstance(r, FillBooked | TradeClosed)]  # in flight
        journal: list[tuple[int, tuple[KernelRecord, ...]]] = messages[: upto - 5]  # as far as written yet

        def run_writes(step: str) -> None:  # the run goes on while the audit reads the ledger
            if step == "reading account_events":
                journal[:] = messages
                _insert(writer, late[:1])

        report = audit(writer.client, JournalRecords(ACC, RT, (), messages=lambda: iter(journal)),
                       database=writer.database, progress=run_writes)
        assert report.ok, report.differences
        assert any(f"after position {upto - 1}" in c and "not yet in the ledger" in c for c in report.checked), \
            report.checked
        _insert(writer, [dataclasses.replace(late[0], commission=D("0.02"))])  # what is written is compared
        report = audit(writer.client, JournalRecords(ACC, RT, (), messages=lambda: iter(messages)),
                       database=writer.database)
        assert any("differs in commission" in d for d in report.differences), report.differences

    def test_audit_of_a_run_killed_before_its_ledger_wrote_anything_says_the_ledger_is_behind(
        self, writer: LedgerWriter
    ) -> None:
        """A run killed in its first seconds (its stdout closed, say) left a journal and an empty
        ledger, no watermark: the audit listed every record 'missing from the ledger' and failed,
        though the next start writes them all from the journal, as after any crash."""
        book = Book()
        recs = trade(book, slot=0, trade_id="K", side=Side.LONG, entry=[("1", "10", "0.01")],
                     exits=[[("1", "11", "0.01")]])
        messages = [(n, (r,)) for n, r in enumerate(recs, start=1)]
        report = audit(writer.client, JournalRecords(ACC, RT, (), messages=lambda: iter(messages)),
                       database=writer.database)
        assert report.ok, report.differences
        assert any("after position 0" in c and "not yet in the ledger" in c for c in report.checked), \
            report.checked
        _insert(writer, [r for r in recs if not isinstance(r, TradeClosed)])  # rows, no watermark: held to them
        report = audit(writer.client, JournalRecords(ACC, RT, (), messages=lambda: iter(messages)),
                       database=writer.database)
        assert any("TradeClosed" in d and "missing from the ledger" in d for d in report.differences), \
            report.differences

    def test_audit_against_journal_holds_the_policy_events_to_it(self, writer: LedgerWriter) -> None:
        """The journal keeps every intent the policy asked for, refused ones too: the audit compared
        only settlements, fills and trades, so a lost or altered policy row passed."""
        book = Book()
        recs = trade(book, slot=0, trade_id="P", side=Side.LONG,
                     entry=[("1", "10", "0.01")], exits=[[("1", "11", "0.01")]])
        refused = IntentRecorded(Intent(Action.ENTER, 0, "P2", "P2-i", "P2-d", "ETH-USDT", Side.LONG,
                                        D("0.01"), 3), "REFUSED", "ENTRIES_PAUSED", "paused by operator", 9)
        _insert(writer, recs)
        report = audit(writer.client, JournalRecords(ACC, RT, [*recs, refused]), database=writer.database)
        assert any("IntentRecorded policy_events" in d and "P2-i" in d and "missing from the ledger" in d
                   for d in report.differences), report.differences
        _insert(writer, [dataclasses.replace(refused, detail="something else")])
        report = audit(writer.client, JournalRecords(ACC, RT, [*recs, refused]), database=writer.database)
        assert any("IntentRecorded policy_events" in d and "differs in detail" in d for d in report.differences)
        assert any("intents" in c for c in report.checked), report.checked

    async def test_outbox_puts_flushes_and_closes(self, writer: LedgerWriter) -> None:
        outbox = LedgerOutbox(writer, account_id=ACC, runtime_id=RT, batch_records=7,
                              linger_s=0.001)
        outbox.start()
        book = Book()
        recs = trade(book, slot=0, trade_id="O", side=Side.LONG,
                     entry=[("1", "10", "0.01")], exits=[[("0.5", "11", "0.01")], [("0.5", "12", "0")]])
        for n, rec in enumerate(recs, start=1):
            outbox.put((rec,), position=n)
        assert await outbox.flush(10)
        health = outbox.health()
        assert health.backlog == 0 and health.rows_written == len(recs)
        assert health.watermark == len(recs) and health.failures == 0
        assert await outbox.resume_position() == len(recs)
        assert audit(writer.client, JournalRecords(ACC, RT, recs), database=writer.database).ok
        await outbox.close()
        await outbox.close()  # idempotent
        with pytest.raises(ClosedError):
            outbox.put(recs)
        with pytest.raises(ClosedError):
            await outbox.flush(1)
        assert outbox.health().closed


def fill_side(row: dict[str, object]) -> object:
    from pink.kernel.messages import OrderSide

    return OrderSide(row["side"])


class TestEmbeddedLedger(LedgerContract):
    @pytest.fixture
    def writer(self, embedded_data_dir: Path, database: str) -> Iterator[LedgerWriter]:
        w = LedgerWriter.open(resolve_target(data_dir=embedded_data_dir, env={}),
                              database=database)
        assert w.describe() == f"embedded chdb {embedded_data_dir.resolve()}/ledger"
        yield w
        w.close()

    def test_a_ledger_made_before_the_part_settings_gets_them_at_start_rows_unchanged(
        self, writer: LedgerWriter, database: str
    ) -> None:
        """A ledger an older PINK made keeps its tables (CREATE ... IF NOT EXISTS): the start gives
        them the part settings, so the parts its merges replace stop piling up; no row changes."""
        old = f"{database}_old"
        settings = ", ".join(f"{k} = {v}" for k, v in PART_SETTINGS.items())
        for statement in create_statements(old):  # as an older PINK made them: no part settings
            writer.client.command(statement.replace(f", {settings}", "").replace(f" SETTINGS {settings}", ""))
        assert not _part_settings(writer, old)
        book = Book()
        recs = trade(book, slot=0, trade_id="S", side=Side.LONG,
                     entry=[("1", "10", "0.01")], exits=[[("1", "11", "0.01")]])
        aged = LedgerWriter(writer.client, writer.target, old)
        _insert(aged, recs)
        aged.set_watermark(ACC, RT, 7)
        before = {t: fetch(writer.client, t, database=old) for t in TABLES}
        aged.ensure_schema()
        engines = writer.client.query("SELECT name, engine_full FROM system.tables WHERE database = %(d)s",
                                      parameters={"d": old}).result_rows
        assert settings_statements(old, dict(engines)) == []  # the next start alters nothing
        wanted = {k: str(v) for k, v in PART_SETTINGS.items()}
        assert _part_settings(writer, old) == {t: wanted for t in (*TABLES, WATERMARK_TABLE.name)}
        assert {t: fetch(writer.client, t, database=old) for t in TABLES} == before
        assert aged.watermark(ACC, RT) == 7
        assert audit(writer.client, JournalRecords(ACC, RT, recs), database=old).ok


def _part_settings(writer: LedgerWriter, database: str) -> dict[str, dict[str, str]]:
    """Each table's part settings (of PART_SETTINGS) as its engine shows them."""
    rows = writer.client.query("SELECT name, engine_full FROM system.tables WHERE database = %(d)s",
                               parameters={"d": database}).result_rows
    found = {name: dict(re.findall(r"\b(\w+) = (\d+)\b", engine)) for name, engine in rows}
    return {name: got for name, s in found.items() if (got := {k: v for k, v in s.items() if k in PART_SETTINGS})}


class TestServerLedger(LedgerContract):
    @pytest.fixture
    def writer(self, front: Front, database: str) -> Iterator[LedgerWriter]:
        w = LedgerWriter.open(resolve_target(url=front.url), database=database)
        assert w.describe() == f"server {front.url}"
        yield w
        w.close()


def test_decimal_equality_is_exact() -> None:
    assert Decimal("0.1") + Decimal("0.2") == Decimal("0.3")


def test_e10_a_trade_corrected_by_late_real_fills_shows_their_vwaps() -> None:
    """A long closed by a report at BingX's rounded average (60100.2 for 0.004 at 60100.0 and
    0.006 at 60100.3): its real fills come after the close. The trade as the report shows it
    (its row with its corrections added) has their exit VWAP, 60100.18, as it has their PnL; the
    exit VWAP stayed at the rounded average, so the row read 60100.2 beside a PnL that did not."""
    from pink.ledger.queries import corrected_trades

    kernel = Kernel(KernelConfig(slots=1), default_instruments())
    out = kernel.submit(Intent(Action.ENTER, 0, "c", "ic", asset="BTC-USDT", side=Side.LONG,
                               quantity=D("0.010"), exit_legs=(D(1),)), 1)  # fmt: skip
    recs: list[KernelRecord] = list(out.records)
    cid = next(e for e in out.effects if isinstance(e, PlaceOrder)).client_order_id
    recs += kernel.apply(OrderFilled(cid, "v", "v0", D("0.010"), D("60000.0"), D("0.010"), D(0), "USDT", 2), 2).records
    x = kernel.submit(Intent(Action.EXIT, 0, "c", "x0", close_all=True), 3)
    leg = next(e for e in x.effects if isinstance(e, PlaceOrder)).client_order_id
    recs += [*x.records, *kernel.apply(OrderStatusReport(leg, "w", OrderStatus.FILLED, D("0.010"), D("0.010"),
                                                         D("60100.2"), D(0), 4), 4).records]  # fmt: skip
    for n, (q, px, cum) in enumerate((("0.004", "60100.0", "0.004"), ("0.006", "60100.3", "0.010"))):
        recs += kernel.apply(OrderFilled(leg, "w", f"w{n}", D(q), D(px), D(cum), D(0), "USDT", 5), 5).records
    rows = [r for rec in recs for r in rows_for(rec, account_id=ACC, runtime_id=RT)]
    (t,) = corrected_trades([r for table, r in rows if table == "trade_reconstruction"],
                            [r for table, r in rows if table == "trade_corrections"])
    exits = D("0.004") * D("60100.0") + D("0.006") * D("60100.3")
    assert t["exit_notional"] == exits and t["gross_pnl"] == exits - D("600")
    assert _shown(t["exit_vwap"], "exit_vwap") == "60100.18"
    assert _shown(t["entry_vwap"], "entry_vwap") == "60000"

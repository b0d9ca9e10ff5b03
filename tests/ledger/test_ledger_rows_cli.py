"""Pure row builders, and the audit/report commands through the server path."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from ledger_front import Front
from ledger_records import Book, D, trade
from typer.testing import CliRunner

from pink.cli.ledger_cmd import register
from pink.errors import ConfigError
from pink.kernel.messages import OutsideFillRecorded, ProtocolErrorRecorded, Settlement, SettlementKind, Side
from pink.ledger import LedgerRowError, LedgerWriter, resolve_target, row_id, rows_for
from pink.ledger.rows import exact
from pink.ledger.schema import TABLES


def test_rows_are_deterministic_and_cover_every_column() -> None:
    recs = trade(Book(), slot=0, trade_id="P", side=Side.LONG,
                 entry=[("1", "10", "0.01")], exits=[[("1", "11", "0.01")]])
    recs.append(ProtocolErrorRecorded(0, "P", "ev-9", "fill for unknown order", 5))
    recs.append(OutsideFillRecorded("h1", "BTC-USDT", "0.1 BTC-USDT BUY at 95 (fill h1): opened a LONG position", 6))
    first = [r for rec in recs for r in rows_for(rec, account_id="a", runtime_id="r")]
    kinds = [(row["kind"], row["after"]) for table, row in first if table == "position_state"]
    assert kinds[-2:] == [("PROTOCOL_ERROR", "DESYNC"), ("OUTSIDE_FILL", "")]  # told, no slot flagged
    again = [r for rec in recs for r in rows_for(rec, account_id="a", runtime_id="r")]
    assert first == again
    assert len({row["id"] for _, row in first}) == len(first)
    for table, row in first:
        assert set(row) == set(TABLES[table].column_names)
    other = rows_for(recs[0], account_id="a", runtime_id="r2")[0][1]["id"]
    assert other != first[0][1]["id"]  # runtimes never collide
    assert row_id("t", "a", "r", 1) == row_id("t", "a", "r", 1)


def test_values_that_do_not_fit_exactly_are_refused_not_rounded() -> None:
    assert exact(D("1.123456789012345678000")) == D("1.123456789012345678")
    with pytest.raises(LedgerRowError, match="more than 18 decimals"):
        exact(D("0.0000000000000000001"))
    with pytest.raises(LedgerRowError, match="exceeds"):
        exact(D("1e20"))
    with pytest.raises(LedgerRowError, match="finite"):
        exact(D("NaN"))
    bad = Settlement(1, SettlementKind.FILL, 0, "x", "c", D("1e-19"), D(0), D(1), D(1), 0)
    with pytest.raises(LedgerRowError, match="amount"):
        rows_for(bad, account_id="a", runtime_id="r")


def test_target_resolution() -> None:
    assert resolve_target(url="http://h:8123").kind == "server"
    assert resolve_target(data_dir="/x", env={"PINK_LEDGER_URL": "http://h:1"}).location == (
        "http://h:1")
    target = resolve_target(data_dir="/x", env={})
    assert (target.kind, target.location) == ("embedded", "/x/ledger")
    assert resolve_target(url="http://u:secret@h:1").describe() == "server http://u:***@h:1"
    with pytest.raises(ConfigError):
        resolve_target(env={})
    with pytest.raises(ConfigError):
        resolve_target(url="chdb:///x")


def test_cli_audit_and_report_via_ledger_url(front: Front, database: str, tmp_path: Path) -> None:
    writer = LedgerWriter.open(resolve_target(url=front.url), database=database)
    try:
        recs = trade(Book(), slot=0, trade_id="Q", side=Side.LONG,
                     entry=[("1", "10", "0.01")], exits=[[("1", "12", "0.01")]])
        recs += trade(Book(), slot=1, trade_id="L", side=Side.LONG,
                      entry=[("1", "10", "0.01")], exits=[[("1", "9", "0.01")]])
        writer.insert(r for rec in recs[: len(recs) // 2]
                      for r in rows_for(rec, account_id="a", runtime_id="r"))
        writer.insert(r for rec in recs[len(recs) // 2:]
                      for r in rows_for(rec, account_id="a", runtime_id="r2"))
        app = typer.Typer()
        register(app)
        runner = CliRunner()
        ok = runner.invoke(app, ["audit", "--ledger-url", front.url, "--database", database])
        assert ok.exit_code == 0, ok.output
        assert "checked: capital chain a/r" in ok.output and "audit passed" in ok.output
        out = runner.invoke(app, ["report", "--ledger-url", front.url, "--database", database,
                                  "--runtime", "r", "--out", str(tmp_path)])
        assert out.exit_code == 0, out.output
        page = (tmp_path / "ledger_report.html").read_text()
        assert page.count("data:image/png;base64,") == 4
        assert "win rate" in page and "100.0 %" in page and "<td>Q</td>" in page
        bad = Settlement(9, SettlementKind.FILL, 0, "Q", "x", D(1), D(0), D(0), D(2), 1)
        writer.insert(rows_for(bad, account_id="a", runtime_id="r"))
        failed = runner.invoke(app, ["audit", "--ledger-url", front.url, "--database", database])
        assert failed.exit_code == 1
        assert "seq 9 where" in failed.output and "audit failed" in failed.output
    finally:
        writer.close()


def test_report_of_a_ledger_behind_its_journal_says_what_it_lacks(front: Front, database: str, tmp_path: Path) -> None:
    """After a crash (kill -9) the ledger lacks the journal's last messages until the next start
    writes them: the report showed fewer trades and another capital than the run had, and said
    nothing of it."""
    from pink.ledger import JournalRecords

    writer = LedgerWriter.open(resolve_target(url=front.url), database=database)
    try:
        recs = trade(Book(), slot=0, trade_id="C", side=Side.LONG,
                     entry=[("1", "10", "0.01")], exits=[[("1", "12", "0.01")]])
        writer.insert(r for rec in recs[:5] for r in rows_for(rec, account_id="a", runtime_id="r"))
        writer.set_watermark("a", "r", 5)
        app = typer.Typer()
        register(app, journal_reader=lambda _path: JournalRecords("a", "r", (), position=len(recs)))
        out = CliRunner().invoke(app, ["report", "--ledger-url", front.url, "--database", database,
                                       "--out", str(tmp_path)])
        text = " ".join(out.output.split())
        assert out.exit_code == 0, text
        assert f"up to message 5 of its journal's {len(recs)}" in text, text
        assert f"up to message 5 of its journal&#x27;s {len(recs)}" in (tmp_path / "ledger_report.html").read_text()
        writer.set_watermark("a", "r", len(recs))
        out = CliRunner().invoke(app, ["report", "--ledger-url", front.url, "--database", database,
                                       "--out", str(tmp_path)])
        assert out.exit_code == 0 and "of its journal" not in out.output, out.output
    finally:
        writer.close()


def test_cli_names_a_database_that_holds_no_ledger_instead_of_a_traceback(front: Front, tmp_path: Path) -> None:
    """`--database default` (or `system`): every ClickHouse has it, so it passed the check and the
    audit and report died on ClickHouse's UNKNOWN_TABLE with a traceback."""
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    for args in (["audit"], ["report", "--out", str(tmp_path)]):
        for database in ("default", "system"):
            out = runner.invoke(app, [*args, "--ledger-url", front.url, "--database", database])
            text = " ".join(out.output.split())
            assert out.exit_code == 2 and (out.exception is None or isinstance(out.exception, SystemExit)), text
            assert f"has no PINK ledger in database '{database}'" in text and "account_events" in text, text
    assert not (tmp_path / "ledger_report.html").exists()


def test_every_kind_of_kernel_record_has_its_ledger_rows() -> None:
    """A record type added to the kernel without rows would stop the ledger at its first one."""
    from typing import get_args

    from pink.kernel.messages import KernelRecord
    from pink.ledger.rows import _BUILDERS

    assert set(get_args(KernelRecord)) == set(_BUILDERS)


def test_the_control_row_shows_a_tiny_cap_in_plain_notation() -> None:
    """A cap under 0.000001 read `max_position_notional=1E-7` in the ledger's CONTROL row."""
    from pink.kernel.messages import ControlChanged, ControlSnapshot

    snap = ControlSnapshot(version=2, max_position_notional=D("0.0000001"), changed_by="ops", note="tiny")
    [(table, row)] = rows_for(ControlChanged(snap, 5), account_id="a", runtime_id="r")
    assert table == "position_state" and row["cause"] == "control v2 by ops"
    assert "max_position_notional=0.0000001 note=tiny" in row["detail"], row["detail"]

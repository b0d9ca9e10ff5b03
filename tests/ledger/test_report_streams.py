"""The report is of one (account_id, runtime_id) stream: a run restarted under a new
runtime_id shares the ledger with the old run, whose figures must not mix in."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import typer
from ledger_front import Front
from ledger_records import Book, trade
from typer.testing import CliRunner

from pink.cli.ledger_cmd import register
from pink.kernel.messages import Side
from pink.ledger import LedgerWriter, resolve_target, rows_for


def _figures(page: str) -> dict[str, str]:
    return dict(re.findall(r"<tr><th>([^<]+)</th><td>([^<]*)</td></tr>", page))


def test_report_is_of_one_stream_the_last_written_by_default(
    front: Front, database: str, tmp_path: Path
) -> None:
    writer = LedgerWriter.open(resolve_target(url=front.url), database=database)
    try:
        # Both runs on a fresh simulated clock: the same event times, seqs from 1 in each.
        old = trade(Book("10000"), slot=0, trade_id="W", side=Side.LONG,
                    entry=[("1", "10", "0.01")], exits=[[("1", "12", "0.01")]])
        new = trade(Book("500"), slot=0, trade_id="L", side=Side.LONG,
                    entry=[("1", "10", "0.01")], exits=[[("1", "9", "0.01")]])
        for runtime, recs in (("rt1", old), ("rt2", new)):  # rt2 written after rt1
            writer.insert(r for rec in recs for r in rows_for(rec, account_id="a", runtime_id=runtime))
            writer.set_watermark("a", runtime, len(recs))
        app = typer.Typer()
        register(app)
        runner = CliRunner()
        base = ["report", "--ledger-url", front.url, "--database", database]

        out = runner.invoke(app, [*base, "--out", str(tmp_path / "last")])
        assert out.exit_code == 0, out.output
        assert "account a, runtime rt2" in out.output
        assert "other streams in this ledger, not in the report: a/rt1" in out.output
        assert "--runtime" in out.output
        page = (tmp_path / "last" / "ledger_report.html").read_text()
        fig = _figures(page)
        assert Decimal(fig["final capital"]) == Decimal("498.98")
        assert Decimal(fig["net PnL (closed trades)"]) == Decimal("-1.02") and fig["trades"] == "1"
        assert Decimal(fig["max drawdown"]) == Decimal("1.02")  # from the capital before the first settlement
        assert Decimal(fig["fees (all fills, with venue corrections)"]) == Decimal("0.02")
        assert Decimal(fig["initial capital"]) == Decimal(500)
        assert "<td>L</td>" in page and "<td>W</td>" not in page and "a/rt1" in page

        out = runner.invoke(app, [*base, "--runtime", "rt1", "--out", str(tmp_path / "old")])
        assert out.exit_code == 0, out.output
        fig = _figures((tmp_path / "old" / "ledger_report.html").read_text())
        assert Decimal(fig["final capital"]) == Decimal("10001.98")
        assert Decimal(fig["net PnL (closed trades)"]) == Decimal("1.98") and fig["win rate"] == "100.0 %"

        out = runner.invoke(app, [*base, "--account", "b", "--out", str(tmp_path / "none")])
        assert out.exit_code == 2
        assert "no stream b/*" in out.output and "it holds: a/rt1, a/rt2" in out.output
        assert not (tmp_path / "none").exists()
    finally:
        writer.close()

"""A self-contained HTML report of the ledger (PNG charts embedded as base64).

Charts: equity curve, drawdown, per-trade net PnL, cumulative fees. Figures
are computed in exact Decimal; only the plotted points become floats. The
drawdown leaves deposits and withdrawals out (``TRANSFER`` entries).

The report covers one (account_id, runtime_id) stream: by default the one
written last (:mod:`pink.ledger.selection`), or the one asked for. Two runs'
settlements never share a capital chain, so they are never mixed.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from clickhouse_connect.driver.client import Client
from matplotlib.axes import Axes

from pink.ledger.queries import corrected_trades, fetch, watermarks, written_at
from pink.ledger.rows import Row
from pink.ledger.selection import Stream, StreamChoice, choose_stream, last_written

__all__ = ["Headline", "Report", "build_report", "headline", "write_report"]


@dataclass(frozen=True, slots=True)
class Headline:
    trades: int
    net_pnl: Decimal
    gross_pnl: Decimal
    fees: Decimal
    win_rate: Decimal  # fraction of trades with net_pnl > 0
    max_drawdown: Decimal  # largest peak-to-trough fall of capital less transfers
    final_capital: Decimal | None
    transfers: Decimal = Decimal(0)  # deposits in minus withdrawals out
    funding: Decimal = Decimal(0)  # funding payments, positive when received
    initial_capital: Decimal | None = None  # before the stream's first settlement


def _trading_capital(ordered: list[Row]) -> list[Decimal]:
    """Capital after each settlement less the transfers so far: a withdrawal is no loss."""
    moved = Decimal(0)
    out = []
    for s in ordered:
        if s["kind"] == "TRANSFER":
            moved += s["amount"]
        out.append(s["capital_after"] - moved)
    return out


@dataclass(frozen=True, slots=True)
class Report:
    html: str
    choice: StreamChoice  # the stream the figures are of, and the ledger's other streams
    behind: str = ""  # what the ledger lacks of the stream's journal ("": nothing, or not known)


def headline(settlements: list[Row], trades: list[Row]) -> Headline:
    """Figures of one stream's settlements and trades (never several streams': see the module)."""
    zero = Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 100
        ordered = sorted(settlements, key=lambda r: r["seq"])
        # from the capital before the first settlement: a first loss is a drawdown too
        peak: Decimal | None = ordered[0]["capital_before"] if ordered else None
        max_dd = zero
        for capital in _trading_capital(ordered):
            peak = capital if peak is None or capital > peak else peak
            max_dd = max(max_dd, peak - capital)
        wins = sum(1 for t in trades if t["net_pnl"] > 0)
        return Headline(
            trades=len(trades),
            net_pnl=sum((t["net_pnl"] for t in trades), zero),
            gross_pnl=sum((t["gross_pnl"] for t in trades), zero),
            fees=sum((s["fee"] for s in settlements), zero),
            win_rate=(Decimal(wins) / len(trades)) if trades else zero,
            max_drawdown=max_dd,
            final_capital=max(settlements, key=lambda r: r["seq"])["capital_after"]
            if settlements else None,
            transfers=sum((s["amount"] for s in settlements if s["kind"] == "TRANSFER"), zero),
            funding=sum((s["amount"] for s in settlements if s["kind"] == "FUNDING"), zero),
            initial_capital=min(settlements, key=lambda r: r["seq"])["capital_before"] if settlements else None,
        )


def _png(draw: Callable[[Axes], object], title: str) -> str:
    fig, ax = plt.subplots(figsize=(8, 3))
    try:
        draw(ax)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=90)
    finally:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'


def _charts(settlements: list[Row], trades: list[Row]) -> list[str]:
    ordered = sorted(settlements, key=lambda r: r["seq"])
    seqs = [s["seq"] for s in ordered]
    equity = [s["capital_after"] for s in ordered]
    drawdown: list[Decimal] = []
    peak: Decimal | None = None
    fees: list[Decimal] = []
    total = Decimal(0)
    for s, capital in zip(ordered, _trading_capital(ordered), strict=True):
        peak = capital if peak is None or capital > peak else peak
        drawdown.append(capital - peak)
        total += s["fee"]
        fees.append(total)
    nets = [t["net_pnl"] for t in trades]
    colors = ["tab:green" if n > 0 else "tab:red" for n in nets]
    return [
        _png(lambda ax: ax.plot(seqs, [float(v) for v in equity]), "Equity (capital after)"),
        _png(lambda ax: ax.fill_between(seqs, [float(v) for v in drawdown], color="tab:red"),
             "Drawdown"),
        _png(lambda ax: ax.bar(range(1, len(nets) + 1), [float(v) for v in nets],
                               color=colors), "Net PnL per trade"),
        _png(lambda ax: ax.plot(seqs, [float(v) for v in fees]), "Cumulative fees"),
    ]


_CSS = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
    ".h td{font-size:1.2em}img{display:block;margin:1em 0}"
)
_TRADE_COLUMNS = ("trade_id", "symbol", "side", "entry_qty", "entry_vwap", "exit_qty",
                  "exit_vwap", "legs", "gross_pnl", "fees", "net_pnl")


_SHOWN_VWAP = Decimal("1e-8")  # a VWAP is a quotient kept to 38 decimals: shown to 8


def _shown(value: object, column: str = "") -> str:
    """A figure for a person: no trailing zeros, no exponent (the ledger keeps it exact)."""
    if not isinstance(value, Decimal):
        return "-" if value is None else str(value)
    if column.endswith("vwap"):
        value = value.quantize(_SHOWN_VWAP, rounding=ROUND_HALF_EVEN)
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "0") else text


def _of(rows: list[Row], stream: Stream | None) -> list[Row]:
    return [r for r in rows if (r["account_id"], r["runtime_id"]) == stream]


def build_report(
    client: Client,
    *,
    database: str = "pink",
    account: str | None = None,
    runtime: str | None = None,
    progress: Callable[[str], None] | None = None,
    journal: tuple[Stream, int] | None = None,
) -> Report:
    """The report of one stream as one HTML string (no external files).

    ``account`` / ``runtime`` narrow the choice; a ConfigError names the ledger's
    streams when nothing matches. ``journal``: the stream of the run's journal and its last
    message, to say what the ledger lacks of it (a crash: the next start writes it)."""
    step = progress or (lambda _msg: None)
    step("reading account_events")
    all_settlements = fetch(client, "account_events", database=database)
    step("reading trade_reconstruction")
    all_trades = fetch(client, "trade_reconstruction", database=database)
    step("reading trade_corrections")  # (late true-ups of closed trades: added to them)
    all_trades = corrected_trades(all_trades, fetch(client, "trade_corrections", database=database))
    written = last_written([*all_settlements, *all_trades], written_at(client, database=database))
    choice = choose_stream(written, account, runtime)
    settlements, trades = _of(all_settlements, choice.stream), _of(all_trades, choice.stream)
    behind = ""
    if journal is not None and journal[0] == choice.stream:
        upto = watermarks(client, database=database).get(journal[0], 0)
        if upto < journal[1]:
            behind = (f"the ledger holds this stream up to message {upto} of its journal's {journal[1]}: the "
                      "figures lack the rest until a `pink run` of it writes them (the next start does)")
    step("computing figures")
    h = headline(settlements, trades)
    step("drawing charts")
    charts = _charts(settlements, trades)
    figures = [
        ("net PnL (closed trades)", h.net_pnl), ("gross PnL (closed trades)", h.gross_pnl),
        ("fees (all fills, with venue corrections)", h.fees),
        ("funding (+ received, - paid)", h.funding),
        ("win rate", f"{h.win_rate * 100:.1f} %"), ("max drawdown", h.max_drawdown),
        ("trades", h.trades), ("initial capital", h.initial_capital), ("final capital", h.final_capital),
        *([("deposits - withdrawals", h.transfers)] if h.transfers else []),
    ]
    head = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_shown(v))}</td></tr>" for k, v in figures)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_shown(t[c], c))}</td>" for c in _TRADE_COLUMNS) + "</tr>"
        for t in trades
    )
    cols = "".join(f"<th>{c}</th>" for c in _TRADE_COLUMNS)
    return Report(
        f"<!doctype html><html><head><meta charset='utf-8'><title>PINK ledger report</title>"
        f"<style>{_CSS}</style></head><body><h1>PINK ledger report</h1>{_about(choice)}"
        + (f"<p><b>{html.escape(behind)}</b></p>" if behind else "") +
        f"<table class='h'>{head}</table>{''.join(charts)}"
        f"<h2>Trades</h2><table><tr>{cols}</tr>{rows}</table></body></html>",
        choice,
        behind,
    )


def _about(choice: StreamChoice) -> str:
    if choice.stream is None:
        return "<p>The ledger holds no settlement and no trade.</p>"
    account, runtime = choice.stream
    text = f"<p>account <b>{html.escape(account)}</b>, runtime <b>{html.escape(runtime)}</b>"
    if choice.others:
        others = ", ".join(f"{a}/{r}" for a, r in choice.others)
        text += f" (other streams in this ledger, not included: {html.escape(others)})"
    return text + "</p>"


def write_report(
    client: Client,
    out_dir: Path,
    *,
    database: str = "pink",
    account: str | None = None,
    runtime: str | None = None,
    progress: Callable[[str], None] | None = None,
    journal: tuple[Stream, int] | None = None,
) -> tuple[Path, Report]:
    report = build_report(client, database=database, account=account, runtime=runtime,
                          progress=progress, journal=journal)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "ledger_report.html"
    path.write_text(report.html)
    return path, report

"""``pink audit`` and ``pink report``: read the ledger, check it, draw it.

The embedded ledger directory can be open in one process only: while a run
holds it these commands say so and how to proceed (stop the run, or read
through a server with ``--ledger-url``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from pink.errors import PinkError
from pink.ledger import LEDGER_URL_ENV

if TYPE_CHECKING:  # the ledger's modules load when a command runs (the CLI starts fast)
    from clickhouse_connect.driver.client import Client

    from pink.ledger.audit import JournalReader
    from pink.ledger.selection import StreamChoice

__all__ = ["register"]

DataDir = Annotated[
    Path,
    typer.Option("--data-dir", envvar="PINK_DATA_DIR",
                 help="data dir of a `pink run` (<dir>/ledger is chDB, <dir>/journal.sqlite its journal)"),
]
DEFAULT_DIR = Path("data")  # as `pink run`, `pink status`, `pink health` and `pink control`
LedgerUrl = Annotated[
    str | None,
    typer.Option("--ledger-url", envvar=LEDGER_URL_ENV, help="ClickHouse server URL"),
]
Database = Annotated[str, typer.Option("--database", help="ClickHouse database")]


@contextmanager
def _ledger(data_dir: Path, url: str | None, console: Console, database: str) -> Iterator[Client]:
    from pink.ledger.writer import open_client, resolve_target

    try:
        target = resolve_target(data_dir=data_dir, url=url)
        if target.kind == "embedded" and not Path(target.location).is_dir():
            where, run_dir = escape(str(target.location)), escape(str(data_dir))
            console.print(f"[red]no ledger at {where}: no `pink run` with a ledger has used the data dir "
                          f"{run_dir}; give the data dir of a run (--data-dir DIR or PINK_DATA_DIR), or a "
                          f"ledger server (--ledger-url)[/red]")
            raise typer.Exit(2)
        client = open_client(target)
    except PinkError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"ledger: {escape(target.describe())}")
    try:
        missing = _missing_tables(client, database)
        if missing:
            named = escape(repr(database))
            console.print(f"[red]{escape(target.describe())} has no PINK ledger in database {named} (no table "
                          f"{escape(', '.join(missing))}): give the database `pink run` writes (--database, "
                          f"pink by default)[/red]", soft_wrap=True)
            raise typer.Exit(2)
        yield client
    finally:
        client.close()


def _missing_tables(client: Client, database: str) -> list[str]:
    """The ledger's tables ``database`` lacks (a database of another kind: ``default``, ``system``;
    all of them when it does not exist). A table added since a ledger was written is not needed."""
    from pink.ledger.queries import LATER_TABLES
    from pink.ledger.schema import TABLES, WATERMARK_TABLE

    result = client.query("SELECT name FROM system.tables WHERE database = %(d)s", parameters={"d": database})
    held = {str(name) for (name,) in result.result_rows}
    return [t for t in (*TABLES, WATERMARK_TABLE.name) if t not in held and t not in LATER_TABLES]


@contextmanager
def _progress(console: Console) -> Iterator[Callable[[str], None]]:
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=console, transient=True,
    ) as progress:
        task = progress.add_task("starting", total=None)
        yield lambda message: progress.update(task, description=message)


def register(app: typer.Typer, journal_reader: JournalReader | None = None) -> None:
    """Add ``audit`` and ``report`` to ``app``; ``journal_reader`` reads the journal."""

    @app.command("audit")
    def audit_cmd(
        data_dir: DataDir = DEFAULT_DIR, ledger_url: LedgerUrl = None, database: Database = "pink"
    ) -> None:
        """Recompute capital and every trade from the ledger; non-zero exit on differences."""
        from pink.ledger.audit import audit

        console = Console()
        journal = None
        if journal_reader is not None:
            try:
                journal = journal_reader(data_dir / "journal.sqlite")  # read only: never changed
            except PinkError as exc:
                console.print(f"[red]{escape(str(exc))}[/red]")
                raise typer.Exit(2) from None
        try:
            with _ledger(data_dir, ledger_url, console, database) as client, _progress(console) as step:
                result = audit(client, journal, database=database, progress=step)
        except PinkError as exc:  # e.g. a journal record the ledger cannot hold exactly
            console.print(f"[red]audit could not finish: {escape(str(exc))}[/red]")
            raise typer.Exit(2) from None
        for line in result.checked:
            console.print(f"checked: {escape(line)}")
        if journal is None and ledger_url is None and journal_reader is not None:  # its own ledger, no journal
            for line in result.differences:
                console.print(f"[red]DIFFERENCE[/red] {escape(line)}", soft_wrap=True)
            missing = escape(str(data_dir / "journal.sqlite"))
            console.print(f"[red]audit incomplete: {missing} is missing, so the ledger of "
                          f"this data dir cannot be compared with the journal it was written from[/red]")
            raise typer.Exit(1)
        if journal is None:
            missing = escape(str(data_dir / "journal.sqlite"))
            console.print(f"journal: not compared (no journal reader, or no {missing})")
        if result.ok:
            console.print("[green]audit passed[/green]")
            return
        for line in result.differences:
            console.print(f"[red]DIFFERENCE[/red] {escape(line)}", soft_wrap=True)
        console.print(f"[red]audit failed: {len(result.differences)} differences[/red]")
        raise typer.Exit(1)

    @app.command("report")
    def report_cmd(
        data_dir: DataDir = DEFAULT_DIR,
        ledger_url: LedgerUrl = None,
        out: Annotated[Path | None, typer.Option(
            "--out", help="output directory [the data dir]", show_default=False)] = None,
        database: Database = "pink",
        account: Annotated[str | None, typer.Option(
            "--account", help="report this account_id (default: the stream written last)")] = None,
        runtime: Annotated[str | None, typer.Option(
            "--runtime", help="report this runtime_id (default: the stream written last)")] = None,
    ) -> None:
        """Write a self-contained HTML report of one account/runtime stream (equity, drawdown,
        PnL, fees, trades)."""
        from pink.ledger.report import write_report

        console = Console()
        out = data_dir if out is None else out  # beside the run's ledger, not in the working directory
        if out.exists() and not out.is_dir():
            console.print(f"[red]--out {escape(str(out))} is a file: give a directory (the report is written as "
                          f"<dir>/ledger_report.html)[/red]")
            raise typer.Exit(2)
        journal = None
        if journal_reader is not None:  # to say what the ledger lacks of it (cheap: not replayed)
            with contextlib.suppress(PinkError):  # (the report does not need it)
                journal = journal_reader(data_dir / "journal.sqlite")
        last = None if journal is None or journal.position is None else (
            (journal.account_id, journal.runtime_id), journal.position)  # fmt: skip
        with _ledger(data_dir, ledger_url, console, database) as client, _progress(console) as step:
            try:
                path, report = write_report(client, out, database=database, account=account,
                                            runtime=runtime, progress=step, journal=last)
            except PinkError as exc:  # no stream matches --account/--runtime
                console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
                raise typer.Exit(2) from None
            except OSError as exc:
                why = escape(str(exc.strerror or exc))
                console.print(f"[red]cannot write the report in {escape(str(out))}: {why}[/red]")
                raise typer.Exit(2) from None
        _say_stream(console, report.choice)
        if report.behind:
            console.print(f"[yellow]{escape(report.behind)}[/yellow]", soft_wrap=True)
        console.print(f"report written to {escape(str(path))}")


def _say_stream(console: Console, choice: StreamChoice) -> None:
    if choice.stream is None:
        console.print("the ledger holds no settlement and no trade: the report is empty")
        return
    account, runtime = choice.stream
    why = f" (the one written last of {choice.among})" if choice.among > 1 else ""
    console.print(f"stream: account {escape(account)}, runtime {escape(runtime)}{why}", soft_wrap=True)
    if choice.others:
        console.print(f"other streams in this ledger, not in the report: "
                      f"{escape(', '.join(f'{a}/{r}' for a, r in choice.others))}; "
                      f"report one with --account ACCOUNT --runtime RUNTIME", soft_wrap=True)

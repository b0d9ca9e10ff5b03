"""The ``pink`` command: one Typer app, each part registering its own commands."""

from __future__ import annotations

import typer

from pink.cli import bingx_cmd, chaos_cmd, ledger_cmd, plane_cmd, run_cmd
from pink.journal import read_journal_records

__all__ = ["app"]

app = typer.Typer(
    name="pink",
    help="PINK: an execution kernel and runtime for crypto perpetual futures.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

run_cmd.register(app)
ledger_cmd.register(app, journal_reader=read_journal_records)
plane_cmd.register(app)
bingx_cmd.register(app)
chaos_cmd.register(app)


if __name__ == "__main__":
    app()

"""``pink status``, ``pink health`` and ``pink control ...``: the operator's view.

All three find a running ``pink run`` by its data dir (``--data-dir``,
default ``$PINK_DATA_DIR`` or ``./data``): the state plane through
``plane.json``, health through ``health.json``, switches in ``control.json``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from pink.cli.status_control import cap as _cap
from pink.cli.status_control import control_lines, file_refused
from pink.errors import CodecError, ConfigError
from pink.plane.control import CONTROL_FILE, ControlWriter
from pink.plane.health import HealthReport, pid_alive, read_health
from pink.plane.shm import MANIFEST, PlaneGoneError, PlaneReader
from pink.runtime.datadir import LOCK_FILE
from pink.runtime.view import WIDE, num, slots_table

__all__ = ["register"]

DataDir = Annotated[
    Path,
    typer.Option("--data-dir", envvar="PINK_DATA_DIR", help="data dir of the running `pink run`"),
]
By = Annotated[str, typer.Option("--by", help="who makes the change (default: your login)")]
Note = Annotated[str, typer.Option("--note", help="why")]
DEFAULT_DIR = Path("data")


def _slots_table(reader: PlaneReader, width: int = WIDE) -> Table:
    title = escape(f"slots of {reader.manifest.account_id} / {reader.manifest.runtime_id}")
    return slots_table(title, ((i, reader.read_slot(i)) for i in reader.slots), width)


def _account_table(reader: PlaneReader) -> Table:
    """One row per figure: eight figures side by side cut the capital short at 80 columns."""
    table = Table(title="account")
    table.add_column("")
    table.add_column("value", justify="right", no_wrap=True)
    a = reader.read_account()
    if a is None:
        table.add_row("(not written yet)", "")
        return table
    rows = [("capital", num(a.capital)), ("initial", num(a.initial_capital)), ("transfers", num(a.transfers)),
            ("gross PnL", num(a.gross_pnl)), ("fees", num(a.fees)), ("funding", num(a.funding)),
            ("net PnL", num(a.net_pnl)), ("settlements", str(a.seq))]  # fmt: skip
    for name, value in rows:
        table.add_row(name, value)
    return table


def _clock(ts_ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts_ns / 1e9))


def _row(table: Table, *cells: str) -> None:
    """A row of text as written: an error or a name with square brackets is not rich markup."""
    table.add_row(*(Text(c) for c in cells))


def _health_table(report: HealthReport | None) -> Table:
    table = Table(title="health")
    table.add_column("part")
    table.add_column("backend")
    table.add_column("state")
    if report is None:
        _row(table, "runtime", "", "no health.json yet")
        return table
    ago = max(0, time.time_ns() - report.ts) // 10**9
    table.title = Text(f"health of {report.account_id or '-'} / {report.runtime_id or '-'} (pid {report.pid}), "
                       f"written {_clock(report.ts)} ({ago} s ago)")
    if report.ledger_requested:
        state = "ok" if report.ledger_ok else f"FAILING: {report.ledger_error}"
        lost = "".join((
            f"; {report.ledger_refusals_dropped} refused intents' rows lost in an outage (not in the journal "
            "either)" if report.ledger_refusals_dropped else "",
            f"; {report.ledger_rejected} rows could not be stored exactly" if report.ledger_rejected else "",
        ))
        _row(table, "ledger", report.ledger_backend, f"{state}, backlog {report.ledger_backlog}{lost}")
    for s in report.sinks:
        if not s.requested:
            _row(table, f"sink {s.name}", "absent", "not configured")
            continue
        state = "connected" if s.connected else f"DOWN: {s.last_error}"
        last = f" (the last at {_clock(s.last_drop_ts)})" if s.drops and s.last_drop_ts else ""
        _row(
            table,
            f"sink {s.name}",
            s.backend,
            f"{state}; depth {s.queue_depth}, published {s.published}, failures {s.failures}, drops {s.drops}"
            f"{last}",
        )
    if report.venue:
        age = report.last_venue_event_age_ms
        _row(
            table,
            "venue",
            report.venue,
            f"rest {'up' if report.venue_connected else 'DOWN'}, stream "
            f"{'up' if report.stream_connected else 'DOWN'}, last event "
            f"{'-' if age is None else f'{age / 1000:.1f} s'} ago",
        )
    if report.policy_failing_cycles:
        _row(table, "policy", "", f"FAILING, {report.policy_failing_cycles} cycles in a row (see problems); "
                      f"{report.policy_errors} skipped in this run")
    elif report.policy_errors:
        _row(table, "policy", "", f"ok; {report.policy_errors} cycles skipped in this run (it raised: see the log)")
    for name, depth in sorted(report.queue_depths.items()):
        _row(table, f"queue {name}", "", f"depth {depth}")
    for name, n in sorted(report.drops.items()):
        _row(table, f"dropped {name}", "", str(n))
    problems = report.problems(time.time_ns(), check_pid=True)
    _row(table, "problems", "", "none" if not problems else "\n".join(problems))
    return table


def _status_view(reader: PlaneReader, data_dir: Path, width: int = WIDE) -> Group:
    alive = reader.writer_alive
    switches, report = control_lines(data_dir, reader.manifest.pid, alive)
    parts: list[Any] = [_slots_table(reader, width), _account_table(reader), switches, _health_table(report)]
    if report is not None and (failing := report.policy_failing()) and alive:
        parts.insert(0, Text(f"POLICY FAILING: {failing}", style="bold red"))  # (as written: no markup)
    if not alive:  # a killed writer leaves its last values readable (F10): say so
        m = reader.manifest
        parts.insert(0, f"[red]the run {escape(m.runtime_id)} (pid {m.pid}) is gone, killed or crashed: below are its "
                        f"last values, not current[/red]")
    return Group(*parts)


def _newer_plane(reader: PlaneReader, data_dir: Path, gone: PlaneGoneError | None = None) -> PlaneReader:
    """``reader``, or the plane of a run started since its writer died or closed (a restart);
    with ``gone`` (the reader's plane was closed) and no newer plane, ``gone`` is raised."""
    if gone is None and reader.writer_alive:
        return reader
    try:
        fresh = PlaneReader.open(data_dir)
    except (PlaneGoneError, CodecError, OSError):
        fresh = None
    if fresh is not None and fresh.manifest.created_ns != reader.manifest.created_ns:
        reader.close()
        return fresh
    if fresh is not None:
        fresh.close()
    if gone is not None:
        raise gone
    return reader


def status(data_dir: DataDir = DEFAULT_DIR, watch: bool = typer.Option(False, "--watch")) -> None:
    """Slots, working orders, capital and PnL of a running `pink run`, and its health."""
    console = Console()
    try:
        reader = PlaneReader.open(data_dir)
    except (PlaneGoneError, CodecError) as exc:
        if (pid := _running_pid(data_dir)) and not (data_dir / MANIFEST).exists():
            _no_plane(console, data_dir, pid)  # a run going with no plane: what there is to show of it
            return
        _error(console, str(exc))
        raise typer.Exit(2) from None
    except OSError as exc:
        _error(console, f"cannot read the state plane of {data_dir}: {exc}")
        raise typer.Exit(2) from None
    try:
        if not watch:
            console.print(_status_view(reader, data_dir, console.width))
            return
        if not console.is_terminal:  # a pipe or a log: no live redraw, a new view per change
            _print_changes(reader, data_dir, console)
            return
        with Live(_status_view(reader, data_dir, console.width), console=console, auto_refresh=False) as live:
            while True:
                try:
                    reader.wait_for_change(1.0)  # refresh on change, or each second for health
                    reader = _newer_plane(reader, data_dir)  # a run restarted after a kill
                    view = _status_view(reader, data_dir, console.width)
                except PlaneGoneError as exc:  # closed: a run started since, or the end
                    reader = _newer_plane(reader, data_dir, exc)
                    view = _status_view(reader, data_dir, console.width)
                live.update(view, refresh=True)
    except PlaneGoneError as exc:
        _error(console, str(exc))
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass
    finally:
        reader.close()


def _no_plane(console: Console, data_dir: Path, pid: int) -> None:
    """`pink status` of the run ``pid`` that keeps no state plane: its switches and health."""
    console.print(f"the `pink run` (pid {pid}) on {data_dir} has no state plane (started with plane = none, or "
                  "still starting): no slots or account to show; its switches and health:",
                  style="yellow", markup=False, highlight=False)
    switches, report = control_lines(data_dir, pid, True)
    console.print(Group(switches, _health_table(report)))


def _problems(data_dir: Path) -> list[str]:
    """The run's health problems with their figures left out: a staler report is not news."""
    try:
        report = read_health(data_dir)
    except CodecError as exc:
        return [f"health.json unreadable: {exc}"]
    return [] if report is None else [re.sub(r"[0-9.]+", "#", p) for p in report.problems(time.time_ns())]


def _print_changes(reader: PlaneReader, data_dir: Path, console: Console) -> None:
    """`status --watch` into a pipe: the view, then again each time the run's state or its health
    problems change, at most once a second, each under the time it was read; until the run ends."""
    shown: list[str] | None = None
    while True:
        try:
            changed = shown is None or reader.wait_for_change(1.0) is not None
            reader = _newer_plane(reader, data_dir)  # a run restarted after a kill
        except PlaneGoneError as exc:  # closed: a run started since, or the end (raised)
            reader, changed = _newer_plane(reader, data_dir, exc), True
        problems = _problems(data_dir)
        if changed or problems != shown:
            console.print(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} ---")
            console.print(_status_view(reader, data_dir, console.width))
            console.file.flush()
            shown = problems
            time.sleep(1.0)  # changes meanwhile move the counter: the next wait sees them


def health(data_dir: DataDir = DEFAULT_DIR) -> None:
    """Health of a running `pink run`; exits 1 when something asked for is not working."""
    console = Console()
    try:
        report = read_health(data_dir)
    except CodecError as exc:
        _error(console, f"health.json is malformed: {exc}")
        raise typer.Exit(2) from None
    if report is None:
        _error(console, f"no health report in {data_dir}: is `pink run` running?")
        raise typer.Exit(2)
    console.print(_health_table(report))
    if report.problems(time.time_ns(), check_pid=True):
        raise typer.Exit(1)


def _control(command: str, value: str | None, data_dir: Path, by: str, note: str) -> None:
    console = Console()
    if not (data_dir / "journal.sqlite").is_file():  # a typo would make a dir no run reads, and say "done"
        _error(console, f"refused: no `pink run` has used the data dir {data_dir} (it has no journal.sqlite); "
                        f"give the data dir of the run (--data-dir DIR or PINK_DATA_DIR)")
        raise typer.Exit(2)
    pid = _running_pid(data_dir)
    try:
        report = read_health(data_dir) if pid else None
    except CodecError:
        report = None
    if report is not None and report.pid == pid and report.control == "none":
        _error(console, f"refused: the run (pid {pid}) was started with control = none: it does not read the "
                        f"switches in {data_dir} (nothing was changed); stop it, or restart it with control = file")
        raise typer.Exit(2)
    try:
        state = ControlWriter(data_dir).apply(command, value, by=by, note=note)
    except ConfigError as exc:
        _error(console, f"refused: {exc} (the previous control snapshot stays in force)")
        if file_refused(data_dir):  # the file itself is bad, not the command: no command gets through
            _error(console, f"fix or remove {data_dir / CONTROL_FILE}, then give the command again (a run keeps "
                            "its switches in force meanwhile, and takes the next command over them)")
        raise typer.Exit(1) from None
    except OSError as exc:
        _error(console, f"cannot write the control switches in {data_dir}: {exc.strerror or exc}"
                        f"{f' ({exc.filename})' if exc.filename else ''} (nothing was changed)")
        raise typer.Exit(2) from None
    s = state.snapshot
    console.print(
        f"control v{s.version} by {escape(s.changed_by)}: pause_entries={s.pause_entries} "
        f"kill={s.kill} max_leverage={s.max_leverage} "
        f"max_notional={_cap(s.max_position_notional)} flatten_seq={state.flatten_seq}"
    )
    if pid and report is not None and report.pid == pid and report.control == "file":
        console.print(f"the running `pink run` (pid {pid}) takes it up within a second (`pink status` says once "
                      "it has)")
    elif pid:
        console.print(f"a `pink run` (pid {pid}) holds this data dir: it takes it up within a second if it "
                      f"reads the switches (control = file, the default; its health report does not say)")
    else:
        console.print("[yellow]no `pink run` is running on this data dir now: the next one applies it when it "
                      "starts[/yellow]")


def _error(console: Console, text: str) -> None:
    """``text`` in red, as written (a path, a value or an error with square brackets is not markup)."""
    console.print(text, style="red", markup=False, highlight=False)


def _running_pid(data_dir: Path) -> int:
    """The pid of the `pink run` holding ``data_dir`` now (0: none; a run's lock file names it
    while it runs, and is emptied at its close)."""
    try:
        text = (data_dir / LOCK_FILE).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return 0
    return int(text) if text.isdigit() and pid_alive(int(text)) else 0


def _simple(command: str, doc: str):  # type: ignore[no-untyped-def]
    def run(data_dir: DataDir = DEFAULT_DIR, by: By = "", note: Note = "") -> None:
        _control(command, None, data_dir, by, note)

    run.__doc__ = doc
    return run


Value = Annotated[str, typer.Argument(metavar="X", help="the new limit")]


def _valued(command: str, doc: str):  # type: ignore[no-untyped-def]
    def run(
        value: Value,
        data_dir: DataDir = DEFAULT_DIR,
        by: By = "",
        note: Note = "",
    ) -> None:
        _control(command, value, data_dir, by, note)

    run.__doc__ = doc
    return run


def register(app: typer.Typer) -> None:
    """Add ``status``, ``health`` and the ``control`` group to ``app``."""
    app.command("status")(status)
    app.command("health")(health)
    control = typer.Typer(help="Operator switches of a running `pink run` (control.json).", no_args_is_help=True)
    control.command("pause-entries")(_simple("pause-entries", "Refuse new entries; exits go on."))
    control.command("resume")(_simple("resume", "Accept new entries again."))
    control.command("kill")(_simple("kill", "Kill switch: refuse new entries, cancel working entries; exits and "
                                            "stops go on (flatten closes positions)."))
    control.command("unkill")(_simple("unkill", "Release the kill switch."))
    control.command("flatten")(_simple("flatten", "Close every open slot now (and pause entries): bumps flatten_seq."))
    negative = {"ignore_unknown_options": True}  # `-5` is a value to refuse by name, not an unknown option
    control.command("set-max-leverage", context_settings=negative)(
        _valued("set-max-leverage", "Highest leverage an intent may ask for."))
    control.command("set-max-notional", context_settings=negative)(
        _valued("set-max-notional", "Largest position notional (or 'none')."))
    app.add_typer(control, name="control")

"""``pink status``'s lines on the operator switches: those in control.json, and whether the run
has taken them (what it holds, from its health report: :class:`~pink.plane.health.ControlHeld`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from rich.markup import escape

from pink.errors import CodecError, ConfigError
from pink.plane.control import ControlReader, ControlState, ControlWriter
from pink.plane.health import ControlHeld, HealthReport, read_health

__all__ = ["cap", "control_lines", "file_refused"]


def cap(value: Decimal | None) -> str:
    """A notional cap as typed, in plain notation (``str`` shows 0.000000000001 as ``1E-12``)."""
    return "none" if value is None else f"{value:f}"


def control_lines(data_dir: Path, run_pid: int, alive: bool) -> tuple[str, HealthReport | None]:
    """The switches in control.json and whether the run (``run_pid``, ``alive``) took them (rich
    markup), and the run's health report (None when there is none, or it is unreadable)."""
    ctl = ControlReader(data_dir)
    state = ctl.current()
    control = state.snapshot
    refused = file_refused(data_dir) if ctl.last_error else ""
    if refused:  # a hand-edited file the run refuses: nobody holds the switches of a default state
        switches = f"[red]{escape(str(ctl.path))} refused: {escape(refused)}[/red]"
    else:
        switches = (
            f"control v{control.version}: pause_entries={control.pause_entries} "
            f"kill={control.kill} max_leverage={control.max_leverage} "
            f"max_notional={cap(control.max_position_notional)} "
            f"(by {escape(control.changed_by or '-')}: {escape(control.note or '-')})"
        )
    try:
        report = read_health(data_dir)
    except CodecError as exc:
        report = None
        switches += f"\nhealth.json unreadable: {escape(str(exc))}"
    if report is None or report.pid != run_pid:
        return switches, report
    if report.control == "none":
        held = report.control_held
        keeps = (f"; it holds version {held.version} ({_held_text(held)}) from its journal"
                 if held is not None and held.version else "")
        switches += f"\n[red]the run was started with control = none: it does not read these switches{keeps}[/red]"
    elif refused and (held := report.control_held) is not None and alive and not report.closed_ts:
        switches += f"\n[yellow]the run keeps version {held.version} in force ({_held_text(held)})[/yellow]"
    elif not refused:
        switches += "".join(f"\n{line}" for line in _taken(state, report, alive))
    return switches, report


def file_refused(data_dir: Path) -> str:
    """Why the control file in ``data_dir`` is refused ("" when it is not)."""
    try:
        ControlWriter(data_dir).read()
    except ConfigError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    return ""


def _held_text(held: ControlHeld) -> str:
    return (f"pause_entries={held.pause_entries} kill={held.kill} max_leverage={held.max_leverage} "
            f"max_notional={held.max_position_notional}")


def _taken(state: ControlState, report: HealthReport, alive: bool) -> list[str]:
    """Whether the run of ``report`` has taken the control file's switches and flatten, as its report
    says (markup; none when it does not say: a run from before it was kept)."""
    held = report.control_held
    if held is None:
        return []
    snap = state.snapshot
    flatten = f"flatten #{state.flatten_seq}" if state.flatten_seq else ""
    flatten_taken = (held.flatten_seq, held.flatten_ns) == (state.flatten_seq, state.flatten_ns)
    if report.closed_ts or not alive:
        rest = f" and {flatten}" if flatten and (held.flattening or not flatten_taken) else ""
        return [f"no run is up: the next `pink run` applies control v{snap.version}{rest} when it starts"]
    switches = (held.pause_entries, held.kill, held.max_leverage, held.max_position_notional)
    held_text = _held_text(held)
    if snap.version == 0:  # no control file (removed?): the run keeps what it holds, from its journal
        return [] if held.version == 0 else [
            f"[yellow]no control file: the run holds version {held.version} ({held_text}); the next "
            f"`pink control` command is adopted over it[/yellow]"]
    if held.file_version == snap.version and switches == (
            snap.pause_entries, snap.kill, snap.max_leverage, cap(snap.max_position_notional)):
        out = [f"control v{snap.version}: taken by the run (pid {report.pid})"]
    else:
        late = ("; its health report is older than this change: look again in a few seconds"
                if report.ts < state.changed_ns else "")
        out = [f"[yellow]control v{snap.version}: NOT YET TAKEN (the run holds version {held.version}: "
               f"{held_text}){late}[/yellow]"]
    if flatten and not flatten_taken:
        out.append(f"[yellow]{flatten}: not yet taken[/yellow]")
    elif flatten:
        out.append(f"[yellow]{flatten}: being carried out: the run closes every open slot[/yellow]"
                   if held.flattening else f"{flatten}: carried out")
    return out

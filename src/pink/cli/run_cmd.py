"""``pink run``: paper-trade on the simulator (or BingX) with the SAMPLE policy or your own
(``--policy MODULE:NAME``, see docs/policy.md)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from pink.cli.logs import RunConsole, run_logging
from pink.errors import PinkError

if TYPE_CHECKING:  # the runtime loads when the command runs (the CLI starts fast)
    from pink.runtime.config import RuntimeConfig
    from pink.runtime.launcher import CloseReport, Launcher

__all__ = ["register", "run_async"]

#: the signals that close a run in order: Ctrl-C, a supervisor's SIGTERM, and the hangup of the
#: terminal (or ssh session) it ran in, which killed it where it stood
_STOPS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


async def run_async(cfg: RuntimeConfig, console: Console, *, last: bool = False) -> CloseReport:
    """Start, run (cycles or until Ctrl-C), close in order, print the summary. ``last``: the
    process ends after it; Ctrl-C, SIGTERM and SIGHUP are ignored from the end of the close on."""
    from pink.kernel.exact import kernel_context
    from pink.runtime.launcher import Launcher

    launcher = Launcher(cfg)
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    asked: list[int] = []
    running: list[bool] = []  # (set once the run has started: a stop then ends it after its cycle)

    def on_signal(sig: int) -> None:
        """Ctrl-C (or SIGTERM, SIGHUP): the first stops the run (or the start) and closes in order; those
        that follow while it closes are told so, never cut the close short (it is bounded)."""
        asked.append(sig)
        rt = launcher.runtime
        if len(asked) > 2:
            return  # (said once: a supervisor that signals again and again gets no screenful of it)
        if len(asked) > 1:
            console.print(f"[yellow]closing in order (each step at most {cfg.close_timeout_s:g} s); "
                          f"it ends by itself")  # fmt: skip
        elif rt is not None and running:
            rt.request_stop()
        elif main is not None:
            main.cancel()  # still starting: stop starting, then close what started

    for sig in _STOPS:
        if sig != signal.SIGINT and signal.getsignal(sig) is signal.SIG_IGN:
            continue  # (started under nohup: a hangup is not for it)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)
    try:
        with run_logging(Path(cfg.data_dir), console), kernel_context():  # (the summary's sums, the view's)
            return await _run_and_report(launcher, cfg, console, asked, running, main)
    finally:
        _hand_back_signals(loop, ignore=last)


def _hand_back_signals(loop: asyncio.AbstractEventLoop, *, ignore: bool) -> None:
    """Take the run's signal handlers off. ``ignore``: the process ends after the run, so SIGINT,
    SIGTERM and SIGHUP are ignored from now on (a supervisor that signals again while it shuts
    down must not kill it, exit 143): they are blocked meanwhile, so that none falls between the loop's
    handler and the ignoring, when the default one (death) is in force."""
    sigs = set(_STOPS)
    block = ignore and hasattr(signal, "pthread_sigmask")
    if block:
        signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        for sig in sigs:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
            if ignore:
                with contextlib.suppress(ValueError):  # (not the main thread: nothing to keep off)
                    signal.signal(sig, signal.SIG_IGN)
    finally:
        if block:  # (one that came meanwhile is dropped: ignored)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)


async def _run_and_report(
    launcher: Launcher, cfg: RuntimeConfig, console: Console, asked: list[int], running: list[bool],
    main: asyncio.Task[Any] | None,
) -> CloseReport:
    """Start, run, close in order, print the summary (the signal handlers of :func:`run_async`
    stay installed throughout: a second Ctrl-C never cuts the close or the summary short)."""
    from pink.runtime.view import LiveView

    view: LiveView | None = None
    started = False  # a start refused or stopped has no run to sum up
    try:
        await launcher.start()
        started = True
        rt = launcher.runtime
        assert rt is not None
        console.print(_what_trades(launcher), markup=False, highlight=False)
        if launcher.reconcile is not None and (
            launcher.reconcile.queried or launcher.reconcile.position_mismatches
        ):
            console.print(f"start-up reconciliation: {escape(launcher.reconcile.summary())}")
        if hint := _not_held_hint(launcher):
            console.print(f"[yellow]{escape(hint)}")
        if switches := _switches_in_force(launcher):
            console.print(f"[yellow]{escape(switches)}")
        if launcher.reconcile is not None and launcher.reconcile.unknown_own_orders:
            unknown = escape(", ".join(launcher.reconcile.unknown_own_orders))
            console.print(f"[yellow]open at the venue, with PINK's form of client id, but never placed from this "
                          f"data dir: {unknown}. Another PINK run on this "
                          f"account, or the data dir that placed them is elsewhere: they are left alone (cancel "
                          f"them on the venue, or run PINK on that data dir)")  # fmt: skip
        for err in launcher.reconcile.errors if launcher.reconcile is not None else ():
            console.print(f"[yellow]start-up reconcile: {escape(err)}")
        for booked in launcher.closed_outside:
            console.print(f"[yellow]booked as closed outside PINK: {escape(booked)}")
        if cfg.view:
            view = LiveView(rt, console)
            view.start()
        running.append(True)
        await launcher.run()
    except asyncio.CancelledError:
        if not asked or main is None:
            raise
        main.uncancel()  # the cancel was on_signal's, and it is handled: the close may time its steps
        console.print("[yellow]stopped while starting")
    finally:
        if view is not None:
            await view.close()
        report = await launcher.close()
        # also when the run failed: what it did, how it closed
        _print_report(launcher, report, console, started)
    return report


def _what_trades(launcher: Launcher) -> str:
    """Which policy trades, on which venue (its host: the demo or live) and under which account,
    said before the first cycle (the summary names the policy only once the run has traded)."""
    from pink.runtime.launcher import venue_identity

    c, venue = launcher.cfg, launcher.venue
    where = venue_identity(venue) if venue is not None else c.venue
    return (f"trading: policy {launcher.policy_name} on venue {where}, account {c.account_id} / runtime "
            f"{c.runtime_id}, {c.slots} slots, symbols {', '.join(launcher.symbols)}")


def _not_held_hint(launcher: Launcher) -> str:
    """The trades whose position the venue holds less of than PINK (closed while PINK was down,
    fills it could not find), and how to book them: else their slots stay open, exits refused."""
    rt, rep = launcher.runtime, launcher.reconcile
    if rt is None or rep is None:
        return ""
    trades: list[str] = []
    where: list[str] = []
    for text in rep.position_mismatches:  # "BTC-USDT LONG: kernel 0.03 venue 0"
        m = re.fullmatch(r"(\S+) (\S+): kernel (\S+) venue (\S+)", text)
        if m is None or Decimal(m[4]) >= Decimal(m[3]):
            continue
        where.append(text)
        trades += [v.trade_id for v in rt.slots
                   if v.symbol == m[1] and v.side is not None and v.side.value == m[2] and v.remaining_qty > 0]
    if not trades:
        return ""
    return (f"not held at the venue: trade(s) {', '.join(trades)} on {'; '.join(where)}. If they were closed "
            "outside PINK (by hand, liquidated) and the venue lists no fill for it, stop and book those closed "
            "at their close price: pink run --closed-outside TRADE_ID=PRICE[:FEE],... (docs/kernel.md); until "
            "then their exits are refused NO_VENUE_POSITION")


def _switches_in_force(launcher: Launcher) -> str:
    """The operator switches this run starts under (its kernel's, after the start): they stay in
    control.json and the journal for every later run until undone, and a run under a pause set days
    ago would otherwise only show refusals; one with control = none keeps the journal's."""
    from pink.kernel.messages import ControlSnapshot

    if launcher.runtime is None:
        return ""
    snap, default = launcher.runtime.control, ControlSnapshot()
    said: list[str] = []
    undo: list[str] = []
    if snap.pause_entries:
        said.append("entries paused")
        undo.append("pink control resume")
    if snap.kill:
        said.append("kill switch on")
        undo.append("pink control unkill")
    if snap.max_leverage != default.max_leverage:
        said.append(f"max leverage {snap.max_leverage}")
    if snap.max_position_notional is not None:
        said.append(f"max position notional {snap.max_position_notional:f}")  # 1E-7 as 0.0000001
    if not said:
        return ""
    who = (snap.changed_by or "-") + (f": {snap.note}" if snap.note else "")
    head = f"operator switches in force (v{snap.version} by {who}): {', '.join(said)}"
    if launcher.control is None:  # nothing here can undo them: `pink control` refuses such a run
        return (f"{head}; this run does not read control.json (control = none): to undo, restart it with "
                f"control = file and {', '.join(undo) or 'use pink control'}")
    return head + (f"; undo with {', '.join(undo)}" if undo else "")


def _print_report(launcher: Launcher, report: CloseReport, console: Console, started: bool) -> None:
    from pink.runtime.view import summary_table

    rt = launcher.runtime
    if rt is not None:
        if started:
            console.print(summary_table(rt.stats.summary(), rt.account.capital, rt.stats.start_capital,
                                        policy=launcher.policy_name, policy_errors=rt.policy_errors,
                                        policy_dropped=rt.policy_dropped, policy_slow=rt.policy_slow))
        console.print(f"close: {escape(' -> '.join(report.steps))}")
        for text in rt.stats.alerts:
            console.print(f"[yellow]alert: {escape(text)}")
        if rt.reconciler.books.mismatch:
            console.print(f"[red]books against the venue's wallet: {escape(rt.reconciler.books.mismatch)}")
            console.print("(kept for the next run; once the difference is explained and accepted, "
                          "start with --books-rebase)")
        if report.in_flight:
            console.print(f"[yellow]in flight at close (restart reconciles): {escape(str(report.in_flight))}")
        for err in report.errors:
            console.print(f"[red]close error: {escape(err)}")


def _close_failed(report: CloseReport) -> str:
    """One line for a close with failed steps (each is in a "close error" line above it)."""
    failed = ", ".join(dict.fromkeys(err.partition(":")[0] for err in report.errors))
    return (f"close failed at {failed} (see the close errors above): the later steps still ran, and nothing "
            f"recorded is lost: the journal keeps it, and the next start reconciles and re-puts it")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        venue: Annotated[str | None, typer.Option(help="sim or bingx [sim]")] = None,
        cycles: Annotated[int | None, typer.Option(help="stop after N policy cycles (0: until stopped)")] = None,
        fast: Annotated[
            bool | None,
            typer.Option("--fast/--no-fast", help="simulated clock: jump to the next due time", show_default=False),
        ] = None,
        seed: Annotated[int | None, typer.Option(help="simulator and policy seed")] = None,
        policy: Annotated[
            str | None,
            typer.Option(help="your policy, MODULE:NAME: a module importable from here or a .py file; NAME a "
                              "decision engine class or a zero-argument factory [the SAMPLE policy]"),
        ] = None,
        data_dir: Annotated[
            Path | None, typer.Option(help="journal, ledger, planes [./data]")
        ] = None,
        config: Annotated[Path | None, typer.Option(help="TOML configuration file")] = None,
        slots: Annotated[int | None, typer.Option(help="number of trade slots")] = None,
        faults: Annotated[
            str | None, typer.Option(help="simulator faults, e.g. reject=0.05,no_response=0.02")
        ] = None,
        no_view: Annotated[bool, typer.Option("--no-view", help="no live view")] = False,
        ledger_url: Annotated[str | None, typer.Option(help="ClickHouse server URL")] = None,
        books_rebase: Annotated[
            bool | None,
            typer.Option("--books-rebase/--no-books-rebase", show_default=False,
                         help="accept the venue's wallet as it is: a new books baseline"),
        ] = None,
        closed_outside: Annotated[
            str | None,
            typer.Option(help="book positions closed outside PINK (by hand, liquidated): "
                              "TRADE_ID=PRICE[:FEE],..."),
        ] = None,
    ) -> None:
        """Paper-trade with the SAMPLE policy, or yours (--policy); Ctrl-C closes in order."""
        console = RunConsole()
        flags = {
            "venue": venue,
            "cycles": cycles,
            "fast": fast,
            "seed": seed,
            "policy": policy,
            "data_dir": data_dir,
            "slots": slots,
            "faults": faults,
            "view": False if no_view else None,
            "ledger_url": ledger_url,
            "books_rebase": books_rebase,
            "closed_outside": closed_outside,
        }
        from pink.runtime.config import load_config

        closed: list[CloseReport] = []

        async def job(cfg: RuntimeConfig) -> None:
            closed.append(await run_async(cfg, console, last=True))

        try:
            asyncio.run(job(load_config(config, os.environ, flags)))
        except PinkError as exc:
            console.print(f"[red]error: {escape(str(exc))}", emoji=False)  # (a name such as dip.py:x is no emoji)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            if not closed:  # before the run began: nothing to close
                raise typer.Exit(130) from None
        # closed in order and summed up: a Ctrl-C or SIGTERM from now on (a late one) has nothing left
        # to stop, and is ignored (run_async, last=True)
        if closed and closed[0].errors:  # a script must not take the run as cleanly closed
            console.print(f"[red]{escape(_close_failed(closed[0]))}", emoji=False, soft_wrap=True)
            raise typer.Exit(1)

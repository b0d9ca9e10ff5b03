"""``pink chaos``: randomized trading under every fault, SIGKILLed runtimes, invariants (docs/chaos.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("chaos")
    def chaos(
        trials: Annotated[int, typer.Option(help="number of trials")] = 20,
        seed: Annotated[int, typer.Option(help="seed of everything random")] = 1,
        venue: Annotated[str, typer.Option(help="sim, bingx-sim or both")] = "both",
        kill_rate: Annotated[float, typer.Option(help="probability that a phase ends in SIGKILL")] = 0.5,
        duration: Annotated[float, typer.Option(help="soak: run trials for this many seconds")] = 0.0,
        workers: Annotated[int, typer.Option(help="trials run at once")] = 2,
        slots: Annotated[int, typer.Option(help="trade slots per runtime")] = 3,
        workdir: Annotated[Path, typer.Option(help="trial data (kept for failed trials)")] = Path("./data/chaos"),
        keep: Annotated[bool, typer.Option("--keep", help="keep every trial's data")] = False,
        trial_seed: Annotated[int | None, typer.Option(help="replay one trial by its seed")] = None,
    ) -> None:
        """Run chaos trials and print the scorecard; exit 1 on any invariant violation."""
        from pink.chaos.harness import ChaosConfig, TrialResult, run_chaos
        from pink.chaos.scorecard import print_scorecard

        names = {"sim": ("sim",), "bingx-sim": ("bingx",), "bingx": ("bingx",), "both": ("sim", "bingx")}
        if venue not in names:
            raise typer.BadParameter("sim, bingx-sim or both", param_hint="--venue")
        if not 0.0 <= kill_rate <= 1.0:
            raise typer.BadParameter("must be in [0, 1]", param_hint="--kill-rate")
        console = Console()
        cfg = ChaosConfig(trials=trials, seed=seed, venues=names[venue], kill_rate=kill_rate, duration_s=duration,
                          workers=workers, slots=slots, workdir=workdir, keep=keep, only_seed=trial_seed)

        def progress(t: TrialResult) -> None:
            mark = "[green]ok" if not t.violations else f"[red]{len(t.violations)} violations"
            liquidated = f", {t.liquidations} liquidated" if t.liquidations else ""
            console.print(f"trial {t.trial} {t.venue} seed {t.seed}: {t.trades} trades, kills {t.kills}, "
                          f"{sum(t.faults.values())} faults{liquidated}, {t.seconds:.1f} s {mark}", highlight=False)

        result = asyncio.run(run_chaos(cfg, progress))
        s = print_scorecard(result, console, trend=duration > 0)
        if s["violations"] or not s["trials"]:
            raise typer.Exit(1)

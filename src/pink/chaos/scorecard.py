"""The chaos scorecard: a rich table, a memory/latency trend, and one final JSON line."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table

from pink.chaos.harness import ChaosResult

__all__ = ["print_scorecard", "summary"]


def summary(result: ChaosResult) -> dict[str, Any]:
    faults: Counter[str] = Counter()
    kills: Counter[str] = Counter()
    recoveries: list[float] = []
    violations: Counter[str] = Counter()
    for t in result.trials:
        faults.update(t.faults)
        kills.update(t.kills)
        recoveries.extend(t.recoveries)
        violations.update(kind for kind, _ in t.violations)
    violations.update(kind for kind, _, _ in result.extra_violations)
    return {
        "bench": "chaos",
        "trials": len(result.trials),
        "venues": dict(Counter(t.venue for t in result.trials)),
        "trades": sum(t.trades for t in result.trials),
        "fills": sum(t.fills for t in result.trials),
        "faults": sum(faults.values()),
        "faults_by_type": dict(sorted(faults.items())),
        "kills": sum(kills.values()),
        "kills_by_point": dict(sorted(kills.items())),
        "liquidations": sum(t.liquidations for t in result.trials),
        "recoveries": len(recoveries),
        "mean_recovery_s": round(statistics.fmean(recoveries), 3) if recoveries else 0.0,
        "max_recovery_s": round(max(recoveries), 3) if recoveries else 0.0,
        "violations": sum(violations.values()),
        "violations_by_type": dict(sorted(violations.items())),
        "desync_explained": sum(len(t.explained) for t in result.trials),
        "books_readings": sum(t.books_readings for t in result.trials),
        "books_baselined": sum(t.books_baselined for t in result.trials),
        "rss_start_mb": round(result.rss_start_mb, 1),
        "rss_end_mb": round(result.rss_end_mb, 1),
        "max_runner_rss_mb": round(max((t.runner_rss_mb for t in result.trials), default=0.0), 1),
        "seconds": round(result.seconds, 1),
        "seed": result.config.seed,
    }


def _trend(result: ChaosResult, buckets: int = 8) -> Table:
    table = Table(title="trend (soak)")
    for col in ("until s", "trials", "harness RSS MB", "mean trial s", "mean recovery s"):
        table.add_column(col, justify="right")
    trials = sorted(result.trials, key=lambda t: t.ended)
    if not trials:
        return table
    span = max(trials[-1].ended, 1e-9)
    groups: dict[int, list[Any]] = defaultdict(list)
    for t in trials:
        groups[min(int(t.ended / span * buckets), buckets - 1)].append(t)
    rss = sorted(result.rss_trend)
    for b in sorted(groups):
        ts = groups[b]
        until = max(t.ended for t in ts)
        mb = max((m for e, m in rss if e <= until), default=0.0)
        rec = [r for t in ts for r in t.recoveries]
        table.add_row(f"{until:.0f}", str(len(ts)), f"{mb:.0f}", f"{statistics.fmean(t.seconds for t in ts):.2f}",
                      f"{statistics.fmean(rec):.3f}" if rec else "-")
    return table


def print_scorecard(result: ChaosResult, console: Console, *, trend: bool = False) -> dict[str, Any]:
    s = summary(result)
    table = Table(title=f"pink chaos, seed {s['seed']}")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("trials", f"{s['trials']} {s['venues']}")
    table.add_row("trades / venue fills", f"{s['trades']} / {s['fills']}")
    table.add_row("faults injected", str(s["faults"]))
    for k, v in s["faults_by_type"].items():
        table.add_row(f"  {k}", str(v))
    table.add_row("kills (SIGKILL)", str(s["kills"]))
    for k, v in s["kills_by_point"].items():
        table.add_row(f"  during {k}", str(v))
    table.add_row("liquidations (by the venue)", str(s["liquidations"]))
    table.add_row("recoveries (restart to reconciled)", f"{s['recoveries']}, mean {s['mean_recovery_s']} s, "
                                                         f"max {s['max_recovery_s']} s")
    table.add_row("DESYNC slots explained", str(s["desync_explained"]))
    table.add_row("books against the wallet", f"{s['books_readings']} readings; {s['books_baselined']} runtime "
                                              f"processes had a baseline")
    table.add_row("memory", f"harness {s['rss_start_mb']} -> {s['rss_end_mb']} MB; runner max "
                            f"{s['max_runner_rss_mb']} MB")
    table.add_row("violations", str(s["violations"]))
    console.print(table)
    if s["violations"]:
        console.print("[red]violations[/red] (replay one: pink chaos --trial-seed SEED --venue VENUE):")
        for t in result.trials:
            for kind, detail in t.violations:
                console.print(f"  {kind} venue={t.venue} seed={t.seed}: {detail}", soft_wrap=True, highlight=False)
        for kind, detail, seed in result.extra_violations:
            console.print(f"  {kind} seed={seed}: {detail}", soft_wrap=True, highlight=False)
    if trend:
        console.print(_trend(result))
    line = {k: s[k] for k in ("bench", "trials", "faults", "kills", "violations", "max_recovery_s")}
    line.update({"trades": s["trades"], "liquidations": s["liquidations"], "seconds": s["seconds"],
                 "venues": s["venues"]})
    print(json.dumps(line), flush=True)
    return s

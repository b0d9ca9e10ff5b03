"""CI: a small `pink chaos` run on both venues, as a subprocess; any violation fails.

Tens of trials would take several minutes here (BingX trials run on the wall
clock); this runs 10 simulator trials and 4 BingX-simulator trials with a
high kill rate, and checks that kills happened and nothing was violated.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _chaos(tmp: Path, *args: str) -> tuple[int, dict[str, object], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pink.cli.main", "chaos", "--workdir", str(tmp), *args],
        capture_output=True, text=True, timeout=900,  # hang guard only
    )
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "{}"
    return proc.returncode, json.loads(last), proc.stdout[-4000:] + proc.stderr[-2000:]


def test_chaos_small_sim_kills_and_no_violation(tmp_path: Path) -> None:
    rc, card, out = _chaos(tmp_path, "--trials", "10", "--seed", "11", "--venue", "sim", "--kill-rate", "0.8")
    assert card.get("bench") == "chaos", out
    assert card["violations"] == 0, out
    assert rc == 0, out
    assert card["trials"] == 10
    assert int(card["kills"]) >= 3, out  # type: ignore[call-overload]
    assert int(card["faults"]) > 0, out  # type: ignore[call-overload]


def test_chaos_small_bingx_sim_kills_and_no_violation(tmp_path: Path) -> None:
    rc, card, out = _chaos(tmp_path, "--trials", "4", "--seed", "12", "--venue", "bingx-sim", "--kill-rate", "0.8")
    assert card.get("bench") == "chaos", out
    assert card["violations"] == 0, out
    assert rc == 0, out
    assert int(card["kills"]) >= 1, out  # type: ignore[call-overload]


def test_chaos_rerun_of_a_seed_in_the_same_workdir_reports_no_stale_ledger_rows(tmp_path: Path) -> None:
    """Regression: ledger-N directories outlived their run, and a rerun of the same seeds (how a
    failure is reproduced) found the first run's rows: every fill 'stored twice', chains broken."""
    for _ in range(2):
        rc, card, out = _chaos(tmp_path, "--trials", "2", "--seed", "13", "--venue", "sim", "--kill-rate", "0.5")
        assert card.get("bench") == "chaos" and card["violations"] == 0 and rc == 0, out
    assert not list(tmp_path.glob("ledger-*")), "ledger directories are removed at the end of a run"


def test_chaos_sim_trials_with_price_shocks_keep_every_invariant_under_kills(tmp_path: Path) -> None:
    """The chaos market never crashed, so no trial ever met a liquidation. Trials now draw price
    shocks (gaps of 10 to 50%): the venue liquidates positions while the runtime is SIGKILLed and
    restarted, and capital, slots, books, positions and the ledger must still agree exactly. (Whether
    a given trial liquidates depends on the kill timing; tests/runtime/test_filled_outside.py books
    a liquidation deterministically.)"""
    rc, card, out = _chaos(tmp_path, "--trials", "4", "--seed", "9000", "--venue", "sim", "--kill-rate", "0.5")
    assert card.get("bench") == "chaos" and card["violations"] == 0 and rc == 0, out
    assert "sim.price_shock" in out, out  # the trials drew shocks
    assert "liquidations" in card and int(card["kills"]) >= 1, out  # type: ignore[call-overload]

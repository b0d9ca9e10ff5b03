"""``pink run`` as a user runs it (a real process): what it prints around a run."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_bad_input import pink, refused


def test_a_refused_start_prints_its_error_and_no_summary(tmp_path: Path) -> None:
    out = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "2", "--data-dir", "data",
               "--closed-outside", "nosuch=100", PINK_PLANE="none")
    refused(out, "trade 'nosuch' is not open on any slot")
    assert out.returncode == 2
    assert "run summary" not in out.stdout, out.stdout  # no run: nothing to sum up

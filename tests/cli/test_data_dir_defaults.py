"""Every command finds a run's data dir the same way: --data-dir, else PINK_DATA_DIR, else ./data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PINK = [sys.executable, "-m", "pink.cli.main"]


def pink(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PINK_")}
    return subprocess.run([*PINK, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**base, "COLUMNS": "250", "PINK_PLANE": "none", **env})


def test_audit_and_report_default_to_the_data_dir_run_uses(tmp_path: Path) -> None:
    run = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "30")  # ./data
    assert run.returncode == 0, run.stdout + run.stderr
    audit = pink(tmp_path, "audit")
    assert audit.returncode == 0 and "audit passed" in audit.stdout, audit.stdout + audit.stderr
    assert "journal: not compared" not in audit.stdout  # its journal too
    report = pink(tmp_path, "report", "--out", "out")
    assert report.returncode == 0 and (tmp_path / "out" / "ledger_report.html").is_file(), report.stdout
    beside = pink(tmp_path, "report")  # without --out: in the data dir, not the working directory
    assert beside.returncode == 0 and (tmp_path / "data" / "ledger_report.html").is_file(), beside.stdout
    assert not (tmp_path / "ledger_report.html").exists()


def test_audit_honours_pink_data_dir_and_says_what_to_do_without_a_ledger(tmp_path: Path) -> None:
    run = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "20", PINK_DATA_DIR="elsewhere")
    assert run.returncode == 0 and (tmp_path / "elsewhere" / "journal.sqlite").is_file(), run.stdout + run.stderr
    assert pink(tmp_path, "audit", PINK_DATA_DIR="elsewhere").returncode == 0
    missing = pink(tmp_path, "audit")  # ./data: nothing ran there
    assert missing.returncode == 2
    text = " ".join(missing.stdout.split())
    assert "no `pink run` with a ledger has used the data dir data" in text and "--data-dir . first" not in text
    assert not (tmp_path / "data").exists()


def test_audit_of_a_data_dir_whose_journal_is_gone_is_not_called_passed(tmp_path: Path) -> None:
    run = pink(tmp_path, "run", "--fast", "--no-view", "--cycles", "20")
    assert run.returncode == 0, run.stdout + run.stderr
    for f in (tmp_path / "data").glob("journal.sqlite*"):
        f.unlink()
    audit = pink(tmp_path, "audit")
    text = " ".join(audit.stdout.split())
    assert audit.returncode == 1 and "audit incomplete" in text and "audit passed" not in text, text

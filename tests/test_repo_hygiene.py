"""Repository-wide checks: no dead code (F29), a public surface per module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_f29_no_dead_code_in_src() -> None:
    """Flaw F29: vulture finds no unused code (whitelist: vulture_allow.py, for protocol signatures)."""
    vulture = Path(sys.executable).parent / "vulture"
    res = subprocess.run(
        [str(vulture), "src/pink", "vulture_allow.py", "--min-confidence", "80"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_module_declares_its_public_names() -> None:
    missing = []
    for path in (ROOT / "src" / "pink").rglob("*.py"):
        text = path.read_text()
        if path.name in ("__init__.py", "__main__.py") or not text.strip():
            continue
        if "__all__" not in text:
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, missing


def test_bootstrap_over_a_venv_left_without_pip_says_what_to_install(tmp_path: Path) -> None:
    """Debian's python3 without python3-venv leaves .venv/bin/python behind when it cannot make the venv:
    every later scripts/run.sh then took that half-made venv as made and stopped at 'No module named pip'."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", tmp_path / "scripts")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / ".venv")], check=True)
    no_venv = tmp_path / "python3"  # an interpreter whose venv module cannot install pip, as there
    no_venv.write_text(f'#!/bin/sh\nif [ "$1" = -m ] && [ "$2" = venv ]; then\n  echo "ensurepip is not '
                       f'available" >&2; exit 1\nfi\nexec {sys.executable} "$@"\n')
    no_venv.chmod(0o755)
    res = subprocess.run(["bash", "scripts/bootstrap.sh"], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PINK_PYTHON": str(no_venv)}, timeout=120, check=False)
    assert res.returncode != 0
    assert "python3-venv" in res.stderr and "No module named pip" not in res.stderr, res.stderr

#!/usr/bin/env bash
# Creates .venv and installs PINK with its pinned dependencies. Idempotent:
# a second run only checks that the install is still current.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PINK_PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "PINK needs Python 3.11 or newer (found: $("$PY" --version 2>&1))" >&2
  exit 1
fi
# (a venv without pip is one python3 could not finish: Debian's without python3-venv leaves one)
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import pip' 2>/dev/null; then
  if ! "$PY" -m venv .venv; then
    echo "could not make .venv with $PY: its venv module cannot install pip (on Debian or Ubuntu:" \
      "apt-get install python3-venv, or the python3.X-venv of your Python), then run this again" >&2
    exit 1
  fi
fi
stamp=.venv/.pink-installed
want=$(cat pyproject.toml | sha1sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  echo "$want" > "$stamp"
fi

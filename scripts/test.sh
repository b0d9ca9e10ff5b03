#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, starts
# Redis and a Hazelcast member on loopback (non-default ports), runs the
# linters and every test, and stops the services again.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/kernel -x).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
./scripts/services.sh start
trap './scripts/services.sh stop >/dev/null 2>&1 || true' EXIT

echo "== lint: ruff, mypy (strict on the kernel), import contracts, unused code"
.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/lint-imports --config pyproject.toml
.venv/bin/vulture src/pink vulture_allow.py --min-confidence 80

echo "== tests"
export PINK_SERVICES=1
.venv/bin/pytest -q "$@"

#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, starts
# Redis and a Hazelcast member on loopback (non-default ports), runs the
# linters and every test, and stops the services again.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/kernel -x).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# stop, at the end, the services this run started (not those that were running before it)
started=()
for svc in redis hazelcast; do
  ./scripts/services.sh status "$svc" >/dev/null 2>&1 || started+=("$svc")
done
stop_started() { for svc in ${started[@]+"${started[@]}"}; do ./scripts/services.sh stop "$svc" >/dev/null 2>&1 || true; done; }
trap stop_started EXIT
./scripts/services.sh start
# the tests find the services where services.sh started them
export PINK_REDIS_URL="redis://127.0.0.1:${PINK_REDIS_PORT:-6390}/0"
export PINK_HAZELCAST_ADDR="127.0.0.1:${PINK_HAZELCAST_PORT:-5710}"

echo "== lint: ruff, mypy (strict on the kernel), import contracts, unused code"
.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/lint-imports --config pyproject.toml
.venv/bin/vulture src/pink vulture_allow.py --min-confidence 80

echo "== tests"
export PINK_SERVICES=1
.venv/bin/pytest -q "$@"

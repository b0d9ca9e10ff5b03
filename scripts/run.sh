#!/usr/bin/env bash
# The main job, from a clean clone: paper trading on the simulator with the
# sample policy and the embedded chDB ledger. Extra arguments go to `pink run`
# (defaults: --fast --cycles 2000; the data dir is ./data, as for every command).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
if [ "$#" -eq 0 ]; then
  set -- --fast --cycles 2000
fi
exec .venv/bin/pink run "$@"

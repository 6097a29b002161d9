#!/usr/bin/env bash
# Every benchmark under bench/: each prints its figures and writes JSON to bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
for script in bench/bench_*.py; do
  echo "== $script"
  .venv/bin/python "$script"
done

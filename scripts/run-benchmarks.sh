#!/usr/bin/env bash
# Every benchmark under bench/: each prints its figures and writes JSON to bench/results/.
#   run-benchmarks.sh          everything, at full sizes (BENCH_1M=1 adds the 1M-referral scan)
#   run-benchmarks.sh quick    each script's quick mode (100k), which records the ratios of
#                              issue 14 in bench/results/ratios.json (make bench-quick, <15 min)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-full}"
if [ "$mode" = quick ]; then
  rm -f bench/results/ratios.json bench/results/ratios-detail.json
  # One slot per figure; a script not written yet is skipped (its keys stay absent).
  for script in \
      bench/bench_scan.py \
      bench/bench_reminders.py \
      bench/bench_queue.py \
      bench/bench_intake.py \
      bench/bench_triage.py; do
    if [ -f "$script" ]; then
      echo "== $script quick"
      .venv/bin/python "$script" quick || echo "== $script quick FAILED (its keys stay absent)"
    else
      echo "== $script: not present, skipped"
    fi
  done
  cat bench/results/ratios.json
  exit 0
fi
for script in bench/bench_*.py; do
  echo "== $script"
  .venv/bin/python "$script"
done

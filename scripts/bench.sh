#!/usr/bin/env bash
# Runs every benchmark (criterion groups, then memory) and writes
# BENCHMARKS.md from that one run. Takes about 10 minutes on 2 cores.
#   scripts/bench.sh                 # everything
#   BENCH_TABLES=ours,dashmap scripts/bench.sh   # some tables only
# Extra arguments go to criterion (e.g. a filter: scripts/bench.sh close).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
rm -rf "$target/criterion"
cargo bench --bench table -- --noplot "$@"
BENCH_MEMORY_JSON="$target/bench-memory.json" cargo bench --bench memory
python3 scripts/bench_report.py "$target/criterion" "$target/bench-memory.json" BENCHMARKS.md

#!/usr/bin/env bash
# Runs every benchmark (criterion groups, then memory) and writes
# BENCHMARKS.md from that one run, with a chart per group (docs/bench/*.svg,
# scripts/bench_plots.py) above its tables. Budget: at most 25 minutes on the
# 2-core machine (3 shapes x 9 tables; 1 000 000 live handles), and
# about 7 more for benches/sessions.rs and 5 for benches/leases.rs.
#   scripts/bench.sh                                # everything
#   BENCH_TABLES=ours,intrusive_list scripts/bench.sh   # some tables only
#   BENCH_SHAPES=hot,zipf scripts/bench.sh          # some shapes only
#   BENCH_QUICK=1 scripts/bench.sh                  # smoke test: 20 000 live, short times
#   BENCH_OUT=/tmp/b.md scripts/bench.sh            # write the report elsewhere
#   BENCH_ONLY=sessions scripts/bench.sh            # benches/sessions.rs alone: rewrites only
#                                                   # the report's sessions section
#   BENCH_ONLY=leases scripts/bench.sh              # benches/leases.rs alone: its section only
# Extra arguments go to criterion (e.g. a filter: scripts/bench.sh 'close/hot').
# Tables: ours mutex_hashmap dashmap sharded_slab rwlock_slotmap
# naive_sharded_slab intrusive_list file_array slab_file_map.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
out="${BENCH_OUT:-BENCHMARKS.md}"
if [[ -n "${BENCH_QUICK:-}" && "${BENCH_QUICK}" != 0 && -z "${BENCH_OUT:-}" ]]; then
    # A smoke run is not a measurement: never overwrite the real report.
    out="$target/BENCHMARKS.quick.md"
fi
start=$(date +%s)
rm -rf "$target/criterion"
case "${BENCH_ONLY:-}" in
"")
    cargo bench --bench table -- --noplot "$@"
    cargo bench --bench locks -- --noplot "$@"
    cargo bench --bench sessions -- --noplot "$@"
    cargo bench --bench leases -- --noplot "$@"
    cargo bench --bench durable -- --noplot "$@"
    BENCH_MEMORY_JSON="$target/bench-memory.json" cargo bench --bench memory
    python3 scripts/bench_report.py "$target/criterion" "$target/bench-memory.json" "$out"
    ;;
sessions | leases)
    if [[ "$out" != "${BENCH_OUT:-BENCHMARKS.md}" ]]; then
        cp BENCHMARKS.md "$out" # a smoke run splices into a copy
    fi
    cargo bench --bench "$BENCH_ONLY" -- --noplot "$@"
    python3 scripts/bench_report.py "--$BENCH_ONLY-only" "$target/criterion" - "$out"
    ;;
*)
    echo "bench.sh: BENCH_ONLY=${BENCH_ONLY} (only 'sessions' and 'leases' are known)" >&2
    exit 2
    ;;
esac
echo "bench.sh: $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s"

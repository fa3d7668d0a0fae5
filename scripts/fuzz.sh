#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/*.rs, cargo-fuzz + libFuzzer
# under AddressSanitizer) for a given time each, then prints one line per
# target: executions per second, corpus size and coverage (edges).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   # default 60 s, every target
#   bash scripts/fuzz.sh 600 table_ops                       # one target, 10 minutes
#
# Needs the nightly toolchain (`rustup toolchain install nightly`); installs
# cargo-fuzz from crates.io when it is missing. Each target's corpus lives
# in fuzz/corpus/TARGET (kept between runs, not committed) and starts from
# the committed seeds in fuzz/seeds/TARGET.
#
# Exit status: 1 when a target crashed (panic, failed check, sanitizer
# report): its reproducer is printed with the command that replays it. A
# timeout or out-of-memory report from libFuzzer (which a loaded machine
# can cause) is printed as a warning and does not fail the run, nor does
# anything else.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${1:-60}"
shift || true
case "$SECS" in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;; esac

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "error: the nightly toolchain is needed for cargo-fuzz (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz from crates.io"
  cargo install --locked cargo-fuzz
fi

if [ "$#" -gt 0 ]; then
  TARGETS=("$@")
else
  mapfile -t TARGETS < <(cd fuzz && cargo +nightly fuzz list)
fi

echo "== building fuzz targets: ${TARGETS[*]}"
(cd fuzz && cargo +nightly fuzz build)

mkdir -p fuzz/logs
failed=0
summary=()
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log="fuzz/logs/$t.log"
  before=$(find "fuzz/artifacts/$t" -type f -name 'crash-*' | sort)
  echo "== fuzzing $t for ${SECS}s (log: $log)"
  set +e
  (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$SECS" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048 \
      -max_len=65536) >"$log" 2>&1
  rc=$?
  set -e
  after=$(find "fuzz/artifacts/$t" -type f -name 'crash-*' | sort)
  new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
  execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  corp=$(find "fuzz/corpus/$t" -type f | wc -l)
  summary+=("$(printf '%-18s %10s exec/s %12s runs %6s corpus files %7s edges' \
    "$t" "${execs:-?}" "${units:-?}" "$corp" "${cov:-?}")")
  if [ -n "$new" ] || { [ "$rc" -ne 0 ] && grep -qE 'deadly signal|panicked|ERROR: AddressSanitizer' "$log"; }; then
    failed=1
    echo "!! $t CRASHED; what it said:" >&2
    grep -E -A12 'panicked at|ERROR: AddressSanitizer|ERROR: libFuzzer' "$log" | head -40 >&2 || true
    for a in $new; do
      echo "!! reproducer $a ($(wc -c <"$a") bytes), base64:" >&2
      base64 -w 76 "$a" | head -60 >&2
      echo "!! replay: (cd fuzz && cargo +nightly fuzz run $t ${a#fuzz/})" >&2
    done
  elif [ "$rc" -ne 0 ]; then
    echo "warning: $t ended with status $rc without a crash (timeout, out-of-memory or a slow machine):" >&2
    grep -E 'ERROR: libFuzzer|SUMMARY' "$log" | head -5 >&2 || true
  fi
done

echo "== fuzz summary (${SECS}s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"

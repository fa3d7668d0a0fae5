#!/usr/bin/env bash
# The project's test command (README's second command; .ci/run calls it too).
# Installs what the tests need, then runs every test: Rust unit, integration
# and doc tests (with every feature; the C ABI tests under sanitizers and the
# Samba differential tests are cargo tests too), README's code blocks built
# as a user would (scripts/readme-snippets.sh), the C tests again under
# valgrind, the installed library used from C and C++
# (scripts/test-install.sh), and a check of this script's own summary
# (scripts/test-sh-selftest.sh).
#
# Each stage prints `== stage: NAME` and, when done, how long it took and
# what it counted. The installers' output (apt-get, pip) goes to a log file
# named at the start, not to the terminal. A failing stage does not stop
# the run: every stage runs, and the last line is the total over all of
# them, `N passed, M failed` (`, K skipped` when tests were ignored); the
# exit status is non-zero when anything failed.
#
# Counting: a cargo stage adds up its `test result:` lines (one per test
# binary, doc tests included; ignored tests are skipped); a script stage
# reports its own last `NAME: N passed, M failed` line; a stage that exits
# non-zero without reporting a failure (a build error, say) counts as one
# failure.
#
# SMBH_TEST_STAGES=FILE (for scripts/test-sh-selftest.sh): skip the installs
# and the real stages and source FILE instead, which calls
# `stage NAME cargo|counted CMD...` for runners of its own; the summary and
# the exit status work as in a real run.
set -uo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
export CARGO_TERM_COLOR=never

target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
log="$(cd "$target_dir" && pwd)/test-sh-installs.log"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
passed=0 failed=0 skipped=0 started=$SECONDS
failures=()

# Seconds as "1 min 23 s" or "4 s".
took() {
  local s=$(($1))
  if [ "$s" -ge 60 ]; then echo "$((s / 60)) min $((s % 60)) s"; else echo "$s s"; fi
}

# stage NAME KIND CMD...: runs CMD (its output shown and kept), then adds
# what it counted to the total. KIND: `cargo` (sum the `test result:` lines)
# or `counted` (the last `...: N passed, M failed` line).
stage() {
  local name="$1" kind="$2" t0=$SECONDS rc p=0 f=0 k=0
  shift 2
  echo "== stage: $name"
  "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  case "$kind" in
    cargo)
      read -r p f k < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$out" \
        | awk '{ p += $1; f += $2; k += $3 } END { print p + 0, f + 0, k + 0 }') ;;
    counted)
      read -r p f < <(sed -n 's/^[A-Za-z0-9_.-]*: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$out" \
        | tail -n 1 | awk '{ p = $1; f = $2 } END { print p + 0, f + 0 }') ;;
    *) echo "error: stage kind $kind" >&2; exit 2 ;;
  esac
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + k))
  [ "$f" = 0 ] || failures+=("$name")
  echo "== stage: $name: $(took $((SECONDS - t0))), $p passed, $f failed$([ "$k" = 0 ] || echo ", $k skipped")$([ "$rc" = 0 ] || echo " (exit status $rc)")"
}

# install NAME CMD...: runs an installer with its output in $log; an
# installer's failure ends the run (the tests cannot run without it) with
# the summary, counting it as one failure.
install() {
  local name="$1" t0=$SECONDS
  shift
  echo "== install: $name (output in $log)"
  if ! "$@" >>"$log" 2>&1; then
    echo "FAILED: installing $name; the end of $log:" >&2
    tail -n 30 "$log" >&2
    failed=$((failed + 1)) failures+=("install $name")
    summary
    exit 1
  fi
  echo "== install: $name: $(took $((SECONDS - t0)))"
}

summary() {
  echo "== total: $(took $((SECONDS - started)))$([ "${#failures[@]}" = 0 ] || echo "; failed stages: ${failures[*]}")"
  echo "$passed passed, $failed failed$([ "$skipped" = 0 ] || echo ", $skipped skipped")"
  [ "$failed" = 0 ]
}

if [ -n "${SMBH_TEST_STAGES:-}" ]; then
  # shellcheck source=/dev/null
  . "$SMBH_TEST_STAGES"
  summary
  exit
fi

need cargo || { echo "error: cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
: >"$log"
echo "== installers' output goes to $log"
missing=()
need cc || missing+=(gcc)
need c++ || missing+=(g++)
need make || missing+=(make)
need valgrind || missing+=(valgrind)
need cmake || missing+=(cmake)
need pkg-config || missing+=(pkg-config)
need readelf || missing+=(binutils)
need python3 || missing+=(python3 python3-venv)
# etcd for the cluster test (tests/cluster.rs), curl for its raw requests.
need etcd || missing+=(etcd-server)
need curl || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then install "apt-get: ${missing[*]}" apt_install "${missing[@]}"; fi

# The vendor CLI for the admin endpoint tests, in a project-local venv (its
# path is the only line install-qq.sh prints on stdout).
qq_from() { bash scripts/install-qq.sh >"$target_dir/test-sh-qq-path"; }
install "qq (pip, .venv)" qq_from
QQ="$(cat "$target_dir/test-sh-qq-path")"
export QQ

# Samba (smbd) and smbprotocol for the differential tests (tests/samba_diff.rs
# and tests/samba_leases.rs run the recorder themselves; installing first
# makes an install failure loud and early).
install "Samba and smbprotocol (apt-get, pip, .venv-samba)" bash scripts/samba-record.sh --install-only

stage "cargo test --all-features (unit, integration, doc, C ABI, Samba)" cargo \
  cargo test --all-features --locked --no-fail-fast
stage "README code blocks (scripts/readme-snippets.sh)" counted bash scripts/readme-snippets.sh
stage "C tests under valgrind (scripts/c-tests-valgrind.sh)" counted bash scripts/c-tests-valgrind.sh
# The C and C++ user's view: install into a temporary prefix (cargo cinstall,
# or scripts/install-c.sh without cargo-c), then build the C example with
# pkg-config, CMake and its Makefile, and the C++ wrapper test, from there.
stage "install and build from C/C++ (scripts/test-install.sh)" counted bash scripts/test-install.sh
stage "this script's summary (scripts/test-sh-selftest.sh)" counted bash scripts/test-sh-selftest.sh

summary

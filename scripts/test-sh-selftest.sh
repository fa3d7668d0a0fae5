#!/usr/bin/env bash
# Checks scripts/test.sh's summary logic (scripts/test.sh runs this as its
# last stage): through its SMBH_TEST_STAGES hook it runs fake runners, one
# of them failing on purpose, and checks that test.sh keeps going after the
# failure, that its last line counts every runner's tests and the failure,
# and that it exits non-zero; then that an all-passing run exits 0. Nothing
# here is part of the real suite. The last line is
# `test-sh-selftest: N passed, M failed` (one per check).
set -uo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { # $1: description; the rest: a command that must succeed
  local what="$1"
  shift
  if "$@"; then echo "ok $what"; passed=$((passed + 1)); else echo "FAILED $what"; failed=$((failed + 1)); fi
}

# Two cargo-like binaries (one with a failing test), a doc-test-like line,
# a script that reports its own counts, a runner that fails without
# reporting counts (a build error), and a stage after all of them.
cat >"$tmp/failing.sh" <<'STAGES'
stage "fake cargo test" cargo bash -c '
  echo "test result: ok. 5 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s"
  echo "test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s"
  echo "   Doc-tests fake"
  echo "test result: ok. 4 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.10s"
  exit 101'
stage "fake counted script" counted bash -c 'echo "== valgrind x"; echo "fake: 6 passed, 0 failed"'
stage "fake build error" counted bash -c 'echo "error: could not compile"; exit 1'
stage "fake last stage" counted bash -c 'touch "$0/last-ran"; echo "fake: 2 passed, 0 failed"' "$SMBH_SELFTEST_DIR"
STAGES
rc=0; export SMBH_SELFTEST_DIR="$tmp"
SMBH_TEST_STAGES="$tmp/failing.sh" bash scripts/test.sh >"$tmp/failing.out" 2>&1 || rc=$?
last="$(tail -n 1 "$tmp/failing.out")"
echo "failing run: exit status $rc, last line: $last"
check "a failing run exits non-zero" test "$rc" != 0
check "its last line counts every test and both failures" test "$last" = "20 passed, 2 failed, 3 skipped"
check "it keeps going after a failure" test -e "$tmp/last-ran"
check "it names the failed stages" grep -q 'failed stages: fake cargo test fake build error' "$tmp/failing.out"
check "each stage says how long it took" \
  test "$(grep -c '^== stage: fake .*: [0-9]* s, ' "$tmp/failing.out")" = 4

cat >"$tmp/passing.sh" <<'STAGES'
stage "fake cargo test" cargo echo "test result: ok. 7 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s"
stage "fake counted script" counted echo "fake: 1 passed, 0 failed"
STAGES
rc=0; export SMBH_SELFTEST_DIR="$tmp"
SMBH_TEST_STAGES="$tmp/passing.sh" bash scripts/test.sh >"$tmp/passing.out" 2>&1 || rc=$?
last="$(tail -n 1 "$tmp/passing.out")"
echo "passing run: exit status $rc, last line: $last"
check "a passing run exits 0" test "$rc" = 0
check "its last line is the total, without skipped" test "$last" = "8 passed, 0 failed"

echo "test-sh-selftest: $passed passed, $failed failed"
[ "$failed" = 0 ]

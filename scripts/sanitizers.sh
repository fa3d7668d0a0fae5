#!/usr/bin/env bash
# The Rust test suite under sanitizers, with the nightly toolchain:
#
#   bash scripts/sanitizers.sh            # AddressSanitizer, then ThreadSanitizer
#   bash scripts/sanitizers.sh asan       # only one of them
#   bash scripts/sanitizers.sh tsan
#
# asan: the library's unit tests and every integration test (all features)
#       built with -Zsanitizer=address. Not under it, said below when run:
#       tests/c_abi.rs (its C programs already run under ASan+UBSan, built by
#       cc, in scripts/test.sh) and tests/admin_qq.rs (it drives the external
#       `qq` CLI; the same endpoint code runs here under tests/admin_http.rs
#       and tests/admin_abuse.rs), and tests/admin_scale.rs (340 000
#       sessions through the endpoint: a measurement of time and memory,
#       whose code paths the other admin tests cover). Doc tests are not
#       instrumented.
# tsan: the concurrency tests (tests/concurrency.rs, and tests/stale.rs
#       which closes from many threads) with -Zsanitizer=thread. TSan needs
#       the standard library rebuilt with it (-Zbuild-std, the `rust-src`
#       component); without rust-src it is not run and the script says so
#       and fails, rather than skipping silently.
#
# Miri is not run: it needs the `miri` component, and the suite's tests
# (threads, sockets, FFI, Argon2) are far beyond what Miri runs in CI time.
#
# Each sanitizer builds into its own target directory (target/asan,
# target/tsan) so the normal build is not invalidated.
set -euo pipefail
cd "$(dirname "$0")/.."

WHAT="${1:-all}"
TARGET="$(rustc -vV | sed -n 's/^host: //p')"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "error: sanitizers need the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi

asan() {
  local tests=()
  for f in tests/*.rs; do
    name="$(basename "$f" .rs)"
    case "$name" in c_abi | admin_qq | admin_scale | cluster | cluster_adopt) ;; *) tests+=(--test "$name") ;; esac
  done
  echo "== AddressSanitizer: unit tests and ${tests[*]//--test /}"
  echo "   (not under ASan here: c_abi, whose C programs run under ASan+UBSan in scripts/test.sh;"
  echo "    admin_qq and cluster, which need the external qq CLI (cluster also etcd;"
  echo "    its routes run under ASan in admin_federation); cluster_adopt, which needs etcd;"
  echo "    doc tests)"
  # std is not rebuilt: ASan's checks are in the instrumented code (ours and
  # our dependencies'); the flag below allows linking the uninstrumented std.
  RUSTFLAGS="-Zsanitizer=address -Cunsafe-allow-abi-mismatch=sanitizer -Cdebug-assertions=on" \
  # ASan keeps freed memory in quarantine and adds shadow memory, so the
  # abuse tests' RSS bound is raised from 64 MiB (their memory is bounded by
  # the normal run; here they check the server stays correct under ASan).
  SMBH_ABUSE_RSS_LIMIT_MIB=1024 \
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:quarantine_size_mb=64" \
    cargo +nightly test --all-features --locked --target "$TARGET" --target-dir target/asan \
      --lib "${tests[@]}"
}

tsan() {
  if ! rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src'; then
    echo "== ThreadSanitizer: installing rust-src for -Zbuild-std"
    rustup component add rust-src --toolchain nightly || true
  fi
  if ! rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src'; then
    echo "error: ThreadSanitizer NOT RUN: it needs -Zbuild-std and the nightly 'rust-src'" >&2
    echo "       component could not be installed on this machine" >&2
    return 1
  fi
  echo "== ThreadSanitizer (std rebuilt with -Zbuild-std): tests/concurrency.rs, tests/stale.rs"
  RUSTFLAGS="-Zsanitizer=thread" \
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
    cargo +nightly test -Zbuild-std --locked --target "$TARGET" --target-dir target/tsan \
      --test concurrency --test stale
}

case "$WHAT" in
  asan) asan ;;
  tsan) tsan ;;
  all) asan; tsan ;;
  *) echo "usage: $0 [asan|tsan|all]" >&2; exit 2 ;;
esac

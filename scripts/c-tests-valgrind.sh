#!/usr/bin/env bash
# Builds the C ABI tests (tests/c/) and the C example without sanitizers,
# against both the static and the shared library, and runs each under
# valgrind memcheck: any memory error or definite/indirect leak fails.
# (`cargo test` runs the same tests under ASan and UBSan, see tests/c_abi.rs.)
# Installs gcc and valgrind with apt-get when they are missing. The last
# line is `c-tests-valgrind: N passed, M failed` (one per valgrind run), which
# scripts/test.sh adds to its total.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
if ! need valgrind || ! need cc; then
  apt_install valgrind gcc
fi

cargo build --lib
target_dir="${CARGO_TARGET_DIR:-target}"
lib_dir="$(cd "$target_dir/debug" && pwd)"
for lib in libsmb_handles.a libsmb_handles.so; do
  [ -f "$lib_dir/$lib" ] || { echo "error: $lib_dir/$lib was not built" >&2; exit 1; }
done

out="$target_dir/c-valgrind"
mkdir -p "$out"
CC="${CC:-cc}"
cflags=(-std=c11 -Wall -Wextra -Wpedantic -Werror -g -O1 -pthread -Iinclude -Itests/c)

status=0 passed=0 failed=0
for src in tests/c/api_test.c tests/c/threads_test.c tests/c/locks_test.c tests/c/sessions_test.c tests/c/leases_test.c tests/c/durable_test.c examples/c/open_files.c; do
  name="$(basename "$src" .c)"
  "$CC" "${cflags[@]}" "$src" "$lib_dir/libsmb_handles.a" -lpthread -ldl -lm -lrt \
    -o "$out/$name-static"
  "$CC" "${cflags[@]}" "$src" -L"$lib_dir" -lsmb_handles -Wl,-rpath,"$lib_dir" \
    -o "$out/$name-shared"
  for exe in "$out/$name-static" "$out/$name-shared"; do
    echo "== valgrind $exe"
    if ! valgrind --quiet --error-exitcode=1 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
        "$exe" >"$exe.log" 2>&1; then
      echo "FAILED under valgrind: $exe" >&2
      cat "$exe.log" >&2
      status=1 failed=$((failed + 1))
    else
      tail -n 1 "$exe.log"
      passed=$((passed + 1))
    fi
  done
done
echo "c-tests-valgrind: $passed passed, $failed failed"
exit "$status"

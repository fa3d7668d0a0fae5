#!/usr/bin/env bash
# README.md's code blocks, built outside the crate as a user would
# (scripts/test.sh runs this):
#
# - every ```rust block is a whole program: each becomes src/bin/readme_N.rs
#   of a fresh cargo crate in a temporary folder that depends on this
#   checkout by path and on serde_json (what "Use from Rust" tells a user to
#   add), and is run;
# - every ```c block is compiled with `cc -std=c11` against include/ and
#   the checkout's static library (target/release/libsmb_handles.a, as
#   "Use from C" links it) and run; every ```cpp block the same with
#   `c++ -std=c++17`.
#
# The fresh crate gets this checkout's Cargo.lock (so the same dependency
# versions, nothing downloaded) and one shared target folder,
# $CARGO_TARGET_DIR/readme-snippets (SMBH_SNIPPETS_TARGET overrides it), so
# its dependencies are built once, not on every run.
# Prints one `ok <block>` or `FAILED <block>` line per block and, last,
# `readme-snippets: N passed, M failed`; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
export CARGO_TERM_COLOR=never

root="$PWD"
main_target="${CARGO_TARGET_DIR:-$root/target}"
case "$main_target" in /*) ;; *) main_target="$root/$main_target" ;; esac
snippets_target="${SMBH_SNIPPETS_TARGET:-$main_target/readme-snippets}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
result() { # $1: 0 or not, $2: the block
  if [ "$1" = 0 ]; then echo "ok $2"; passed=$((passed + 1)); else echo "FAILED $2"; failed=$((failed + 1)); fi
}

# --- Rust: a fresh crate -------------------------------------------------------
n_rust="$(readme_blocks rust "$tmp/blocks" rs)"
crate="$tmp/handles-demo"
cargo new --quiet --vcs none --bin "$crate"
cat >>"$crate/Cargo.toml" <<TOML
smb-handles = { path = "$root" }
serde_json = "1"
TOML
cp Cargo.lock "$crate/Cargo.lock"
rm "$crate/src/main.rs"
mkdir -p "$crate/src/bin"
for f in "$tmp"/blocks/*.rs; do
  [ -e "$f" ] || continue
  cp "$f" "$crate/src/bin/readme_$(basename "$f" .rs).rs"
done
echo "== readme-snippets: $n_rust Rust blocks in a fresh crate (target $snippets_target)"
if CARGO_TARGET_DIR="$snippets_target" cargo build --quiet --bins \
  --manifest-path "$crate/Cargo.toml" 2>"$tmp/rust-build.log"; then
  for f in "$crate"/src/bin/*.rs; do
    [ -e "$f" ] || continue
    bin="$(basename "$f" .rs)"
    rc=0
    CARGO_TARGET_DIR="$snippets_target" cargo run --quiet --bin "$bin" \
      --manifest-path "$crate/Cargo.toml" >"$tmp/$bin.out" 2>&1 || rc=$?
    [ "$rc" = 0 ] || cat "$tmp/$bin.out" >&2
    result "$rc" "README rust block ${bin#readme_}"
  done
else
  cat "$tmp/rust-build.log" >&2
  for _ in $(seq "$n_rust"); do result 1 "README rust blocks (the fresh crate does not build)"; done
fi

# --- C and C++: against include/ and the static library ---------------------
n_c="$(readme_blocks c "$tmp/blocks" c)"
n_cpp="$(readme_blocks cpp "$tmp/blocks" cpp)"
echo "== readme-snippets: $n_c C and $n_cpp C++ blocks (cargo build --release --lib)"
cargo build --quiet --release --lib --locked
lib="$main_target/release/libsmb_handles.a"
for f in "$tmp"/blocks/*.c "$tmp"/blocks/*.cpp; do
  [ -e "$f" ] || continue
  case "$f" in
    *.c) compiler=(cc -std=c11) what="README c block $(basename "$f" .c)" ;;
    *) compiler=(c++ -std=c++17) what="README cpp block $(basename "$f" .cpp)" ;;
  esac
  exe="${f%.*}-${f##*.}"
  rc=0
  "${compiler[@]}" -Wall -Wextra -Werror -Iinclude "$f" "$lib" -lpthread -ldl -lm -lrt -o "$exe" \
    && "$exe" >"$exe.out" 2>&1 || rc=$?
  [ "$rc" = 0 ] || { cat "$exe.out" 2>/dev/null >&2 || true; }
  result "$rc" "$what"
done

echo "readme-snippets: $passed passed, $failed failed"
[ "$failed" = 0 ]

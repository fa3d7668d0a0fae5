#!/usr/bin/env bash
# A newcomer's first hour, run as a script (.ci/run runs it after the tests):
# clones this checkout (its committed HEAD) into a temporary folder and
# follows README.md's blocks in order, as typed, taking the commands from
# README itself so that this fails when README drifts:
#
#  1. the demo (`cargo run --release --example demo`);
#  2. "Use from Rust": a fresh crate beside the clone made with README's
#     `cargo new` / `cargo add` lines, each ```rust block as its
#     src/main.rs, `cargo run`;
#  3. "Use from C": scripts/install-c.sh into $HOME/.local, the three builds
#     of the example from that prefix (cc + pkg-config, CMake, Makefile) and
#     the build from the tree, each run; then nothing may be untracked in
#     the clone;
#  4. "Admin endpoint": the example server started with README's command,
#     `qq` installed and put on PATH with README's lines, README's `qq`
#     session replayed line by line (each output compared with README's),
#     and README's curl block run against the same server.
#
# It stops at the first step that does not work as written, saying which
# step and which README command, and always cleans up (the server is
# stopped, the folder removed; KEEP_TMP=1 keeps it). HOME is a fresh folder
# too, so the C prefix ($HOME/.local) and qq's credentials land there;
# CARGO_HOME, RUSTUP_HOME and pip's cache stay the user's.
#
# Builds share one target folder, SMBH_NEWCOMER_TARGET (default
# target/newcomer of this checkout): the clone's `target` is a link to it
# and the fresh crate builds in a subfolder, so dependencies are built once
# across runs. Needs network access for `cargo add` and pip (cached after
# the first run), and port 8443 free (README's server address).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
export CARGO_TERM_COLOR=never

root="$PWD"
shared="${SMBH_NEWCOMER_TARGET:-$root/target/newcomer}"
mkdir -p "$shared"
shared="$(cd "$shared" && pwd)"
tmp="$(mktemp -d)"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM -- "-$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

n=0 t_all=$SECONDS t_step=$SECONDS
step() {
  [ "$n" = 0 ] || echo "   (took $((SECONDS - t_step)) s)"
  n=$((n + 1)) t_step=$SECONDS
  what="$*"
  echo "== newcomer step $n: $what"
}
fail() {
  echo "FAILED at newcomer step $n ($what): $*" >&2
  exit 1
}
# run CMD: one README command line, echoed, run with bash from the current
# folder; returns its status.
run() {
  echo "\$ $1"
  bash -c "set -eo pipefail; $1"
}
# run_block TEXT: README's ```sh block containing TEXT, run with bash -e
# from the current folder, echoing each command; returns its status. (bash
# -e does not stop inside `a && b`: callers also check what the block made.)
run_block() {
  local f
  f="$(sh_block "$1")" || exit 1
  bash -exo pipefail "$f"
}
# cmd PREFIX: README's one sh line starting with PREFIX (fails the step when
# README has none or several).
cmd() { readme_cmd "$1" || fail "README.md no longer has a line starting with '$1'"; }
# The ```sh block of README containing $1, as a file.
sh_block() {
  local f
  f="$(grep -lF -- "$1" "$tmp/blocks"/*.sh | head -n 1 || true)"
  [ -n "$f" ] || fail "README.md has no sh block with '$1'"
  echo "$f"
}

export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/pip}"
export HOME="$tmp/home"
mkdir -p "$HOME"
unset CARGO_TARGET_DIR XDG_CONFIG_HOME PKG_CONFIG_PATH

step "git clone $root"
git clone --quiet "$root" "$tmp/smb-handles" || fail "git clone"
# The C builds (README puts them in target/c) are not worth keeping: a CMake
# cache remembers the clone it was made in.
rm -rf "$shared/c"
ln -s "$shared" "$tmp/smb-handles/target"
cd "$tmp/smb-handles"
readme_blocks sh "$tmp/blocks" sh >/dev/null
readme_blocks rust "$tmp/blocks" rs >/dev/null
readme_blocks text "$tmp/blocks" txt >/dev/null

step "the demo"
run "$(cmd 'cargo run --release --example demo')" >"$tmp/demo.out" 2>&1 \
  || { tail -n 30 "$tmp/demo.out" >&2; fail "README's demo command"; }
tail -n 3 "$tmp/demo.out"

step "Use from Rust: a fresh crate with README's cargo new and cargo add"
(cd "$tmp" && run_block 'cargo new handles-demo') || fail "README's cargo new / cargo add block"
for f in "$tmp"/blocks/*.rs; do
  step "Use from Rust: README's rust block $(basename "$f" .rs) as src/main.rs, cargo run"
  cp "$f" "$tmp/handles-demo/src/main.rs"
  (cd "$tmp/handles-demo" && CARGO_TARGET_DIR="$shared/handles-demo" run "cargo run") \
    || fail "cargo run of README's rust block $(basename "$f" .rs)"
done

step "Use from C: install with scripts/install-c.sh"
run_block 'bash scripts/install-c.sh --prefix=' >"$tmp/install-c.out" 2>&1 \
  || { tail -n 30 "$tmp/install-c.out" >&2; fail "README's install-c.sh line"; }
tail -n 3 "$tmp/install-c.out"

step "Use from C: the example with cc + pkg-config, CMake and make, from the prefix"
run_block 'cmake -S examples/c' >"$tmp/c.out" 2>&1 || { cat "$tmp/c.out" >&2; fail "README's block of the three C builds"; }
[ "$(grep -c '^closed 2 of 2$' "$tmp/c.out")" = 3 ] || { cat "$tmp/c.out" >&2; fail "three runs of open_files"; }
echo "three builds ran, each printing 'closed 2 of 2'"

step "Use from C: the example from the tree, without installing"
run_block 'cc -std=c11 -Wall -Iinclude' >"$tmp/c-tree.out" 2>&1 || { cat "$tmp/c-tree.out" >&2; fail "README's block building from the tree"; }
grep -q '^closed 2 of 2$' "$tmp/c-tree.out" || fail "open_files from the tree"

step "Use from C: nothing untracked in the clone"
untracked="$(git status --porcelain --untracked-files=all)"
[ -z "$untracked" ] || fail "the C steps left files in the clone: $untracked"

step "Admin endpoint: the example server, as README starts it"
server_cmd="$(sed 's/[[:space:]]\{2,\}#.*$//' "$(sh_block '--example admin_server')")"
echo "\$ $server_cmd"
# In a session of its own, so cleanup stops cargo and the server together.
: >"$tmp/server.out"
: >"$tmp/server.err"
setsid bash -c "$server_cmd" >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
for _ in $(seq 1800); do
  grep -q '^ready' "$tmp/server.out" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.err" >&2; fail "the server exited"; }
  sleep 0.5
done
grep -q '^ready' "$tmp/server.out" || fail "no ready line in 15 minutes"
grep -q '^admin_server: starting' "$tmp/server.err" || fail "the server did not say it was starting"
cat "$tmp/server.out"

step "Admin endpoint: qq on PATH with README's lines"
qq_block="$(sh_block 'bash scripts/install-qq.sh')"
sed 's/^/$ /' "$qq_block"
# shellcheck source=/dev/null
. "$qq_block" 2>"$tmp/qq.err" || { cat "$tmp/qq.err" >&2; fail "README's qq block"; }
grep -F "$(grep '^export PATH=' "$qq_block" | sed "s|\$PWD|$PWD|")" "$tmp/qq.err" >/dev/null \
  || fail "install-qq.sh does not print README's PATH line (it printed: $(cat "$tmp/qq.err"))"
[ "$(command -v qq)" = "$PWD/.venv/bin/qq" ] || fail "after README's qq block, qq is $(command -v qq || echo missing)"

step "Admin endpoint: README's qq session, line by line, outputs compared"
session="$(grep -l '^\$ qq ' "$tmp"/blocks/*.txt | head -n 1)"
[ -n "$session" ] || fail "README.md has no text block with a qq session"
trailing() { awk '{ sub(/[ \t]+$/, ""); print }' "$1"; }
# Splits the session into commands and the output README shows for each.
awk -v dir="$tmp/session" '
  /^\$ / { n++; f = sprintf("%s/%02d", dir, n); print substr($0, 3) > (f ".cmd"); printf "" > (f ".want"); next }
  n { print > (f ".want") }' < <(mkdir -p "$tmp/session"; cat "$session")
for c in "$tmp"/session/*.cmd; do
  line="$(cat "$c")"
  echo "\$ $line"
  # Unbuffered, so stdout and stderr interleave as on a terminal; the
  # comparison ignores trailing blanks (qq's prompt ends in one).
  PYTHONUNBUFFERED=1 bash -c "$line" >"${c%.cmd}.got" 2>&1 || true
  cat "${c%.cmd}.got"
  diff -u <(trailing "${c%.cmd}.want") <(trailing "${c%.cmd}.got") \
    || fail "'$line' printed other than README shows (diff above)"
done
grep -q '^closed ' "$tmp/server.err" || fail "the server logged no force-close"

step "Admin endpoint: README's curl block"
run_block 'curl ' >"$tmp/curl.out" 2>&1 || { cat "$tmp/curl.out" >&2; fail "README's curl block"; }
cat "$tmp/curl.out"

step "done"
echo "newcomer: every step worked as README says, in $((SECONDS - t_all)) s"

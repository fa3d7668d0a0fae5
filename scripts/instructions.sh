#!/usr/bin/env bash
# Instruction counts of the table's plain paths (examples/paths.rs under
# valgrind --tool=callgrind: repeatable whatever else the machine does), at
# HEAD and at another commit, per shape, with the ratio:
#   scripts/instructions.sh REV            # e.g. the commit before a change
# The other commit is built in a temporary worktree (removed afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:?give the commit to compare with}"
command -v valgrind >/dev/null || { echo "error: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'git worktree remove --force "$tmp/old" 2>/dev/null || true; rm -rf "$tmp"' EXIT
git worktree add --quiet --detach "$tmp/old" "$rev"
cp examples/paths.rs "$tmp/old/examples/paths.rs"  # the same workload at both
count() { # DIR SHAPE -> instructions
  (cd "$1" && cargo build --quiet --release --example paths --target-dir "$2")
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$2/release/examples/paths" "$3" >/dev/null 2>"$tmp/vg.log"
  grep -m1 '^summary:' "$tmp/cg.out" | awk '{print $2}'
}
target="${CARGO_TARGET_DIR:-$PWD/target}"
for shape in distinct hot; do
  new="$(count . "$target" "$shape")"
  old="$(count "$tmp/old" "$target/instructions-old" "$shape")"
  python3 -c "import sys; n,o=int(sys.argv[1]),int(sys.argv[2]); print(f'{sys.argv[3]:<9} HEAD {n:>13,}  {sys.argv[4][:10]} {o:>13,}  HEAD/old {n/o:.4f}')" "$new" "$old" "$shape" "$rev"
done

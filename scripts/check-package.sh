#!/usr/bin/env bash
# The crate as crates.io and docs.rs would get it (.ci/run calls this):
#
# 1. `cargo package` builds the .crate and verifies it (builds it unpacked);
#    any warning fails;
# 2. the package holds what a user needs (sources, build.rs inputs, headers,
#    CMake package, docs, licences, changelog) and none of the CI scripts,
#    fuzzing or benchmark output;
# 3. every relative link of README.md (outside code blocks) names a file
#    that is in the repository (tracked by git) and in the package, so it
#    works in a clone, on the forge and, resolved against Cargo.toml's
#    `repository`, on crates.io; a `#fragment` names a heading of the file;
#    docs.rs links to this crate (unpublished, so dead) are refused;
# 4. `cargo doc` with docs.rs's settings (nightly, --cfg docsrs, every
#    feature) renders without warnings and badges the `admin` items.
#
# A dirty work tree makes `cargo package` fail: commit first, or set
# SMBH_PACKAGE_ALLOW_DIRTY=1 to package uncommitted changes.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
fail() { echo "FAILED: $*" >&2; exit 1; }

dirty=()
[ "${SMBH_PACKAGE_ALLOW_DIRTY:-0}" = 1 ] && dirty=(--allow-dirty)

echo "== package: cargo package --locked (build and verify)"
log="$(mktemp)"
list="$(mktemp)"
trap 'rm -f "$log" "$list"' EXIT
cargo package --locked "${dirty[@]}" 2>&1 | tee "$log"
if grep -q '^warning' "$log"; then
  fail "cargo package printed warnings"
fi
cargo package --list --locked "${dirty[@]}" >"$list"
echo "== package: $(wc -l <"$list") files"

for f in Cargo.toml Cargo.lock build.rs cbindgen.toml src/lib.rs src/ffi/mod.rs \
  include/smb_handles.h include/smb_handles.hpp \
  cmake/smb_handlesConfig.cmake cmake/smb_handlesConfigVersion.cmake \
  docs/contract.md README.md CHANGELOG.md BENCHMARKS.md LICENSE-MIT LICENSE-APACHE \
  examples/c/open_files.c examples/c/CMakeLists.txt examples/c/Makefile scripts/install-c.sh; do
  grep -qx "$f" "$list" || fail "the package lacks $f"
done
if grep -v '^scripts/install-c\.sh$' "$list" \
  | grep -E '^(scripts|\.ci|target|fuzz|\.venv)/|^benches/.*\.(json|csv|svg|html|txt)$|^Cargo\.lock\.bak$'; then
  fail "the package holds the files above (CI, scripts, fuzzing or benchmark output)"
fi

echo "== package: cargo doc with docs.rs settings (nightly, --cfg docsrs, all features)"
command -v rustup >/dev/null 2>&1 || fail "rustup is needed for the nightly docs.rs build"
if ! rustup run nightly rustdoc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal --no-self-update \
    || fail "cannot install a nightly toolchain for the docs.rs build"
fi
doc_target="${CARGO_TARGET_DIR:-target}/docsrs"
RUSTDOCFLAGS="--cfg docsrs -D warnings" \
  cargo +nightly doc --no-deps --all-features --locked --target-dir "$doc_target"
doc="$doc_target/doc/smb_handles"
[ -f "$doc/contract/index.html" ] || fail "no rustdoc page for smb_handles::contract"
grep -q 'Share modes' "$doc/contract/index.html" || fail "the contract page lacks its sections"
for page in "$doc/admin/index.html" "$doc/ffi/admin/index.html"; do
  grep -q 'crate feature <code>admin</code>' "$page" \
    || fail "$page has no 'crate feature admin' badge"
done

echo "== package: README links"
# Markdown links outside code blocks (a C++ lambda `[](...)` is not a link).
links="$(awk '/^```/ { code = !code; next } !code' README.md \
  | grep -o '](\([^)]*\))' | sed 's/^](\(.*\))$/\1/' | sort -u)"
[ -n "$links" ] || fail "found no links in README.md"
# GitHub's heading anchors of a Markdown file: lower case, punctuation
# other than - and _ dropped, spaces to dashes.
anchors() {
  awk '/^```/ { code = !code; next } !code && /^#+ /' "$1" | sed 's/^#* //' \
    | tr '[:upper:]' '[:lower:]' | sed 's/[^a-z0-9 _-]//g; s/ /-/g'
}
tracked() {
  if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files --error-unmatch -- "$1" >/dev/null 2>&1
  else
    [ -f "$1" ]
  fi
}
while read -r url; do
  case "$url" in
    https://docs.rs/*smb-handles* | https://docs.rs/*smb_handles*)
      fail "README link $url: the crate is not on docs.rs; link the file relatively" ;;
    http://* | https://*) echo "ok $url (external)"; continue ;;
  esac
  path="${url%%#*}"
  fragment=
  [ "$path" = "$url" ] || fragment="${url#*#}"
  [ -n "$path" ] || path=README.md
  case "$path" in /* | ../*) fail "README link $url leaves the repository" ;; esac
  [ -f "$path" ] || fail "README links $path, which is not a file of the repository"
  tracked "$path" || fail "README links $path, which git does not track"
  grep -qx "$path" "$list" || fail "README links $path, which is not in the package (Cargo.toml include)"
  if [ -n "$fragment" ]; then
    case "$path" in
      *.md) anchors "$path" | grep -qx -- "$fragment" \
        || fail "README link $url: $path has no heading #$fragment" ;;
    esac
  fi
  echo "ok $url"
done <<<"$links"
if ! grep -q '^repository *=' Cargo.toml; then
  echo "note: Cargo.toml has no \`repository\`: crates.io resolves README's relative links" \
    "against it, so set it (the forge's URL) before publishing"
fi
echo "== package: ok"

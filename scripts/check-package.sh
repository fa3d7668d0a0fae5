#!/usr/bin/env bash
# The crate as crates.io and docs.rs would get it (.ci/run calls this):
#
# 1. `cargo package` builds the .crate and verifies it (builds it unpacked);
#    any warning fails;
# 2. the package holds what a user needs (sources, build.rs inputs, headers,
#    CMake package, docs, licences, changelog) and none of the CI scripts,
#    fuzzing or benchmark output;
# 3. every link of README.md works outside a clone: docs.rs source links
#    name files of the package, docs.rs API links name pages rustdoc makes;
#    relative links (which crates.io cannot resolve without a repository
#    URL) are refused;
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
while read -r url; do
  case "$url" in
    https://docs.rs/crate/smb-handles/latest/source/*)
      path="${url#https://docs.rs/crate/smb-handles/latest/source/}"
      grep -qx "$path" "$list" || fail "README links $path, which is not in the package"
      [ -f "$path" ] || fail "README links $path, which is not in the repository" ;;
    https://docs.rs/smb-handles/latest/smb_handles/*)
      page="${url#https://docs.rs/smb-handles/latest/smb_handles/}"
      [ -f "$doc/$page" ] || fail "README links $url, which rustdoc does not make" ;;
    https://crates.io/crates/*) ;;
    *) fail "README link $url: use a docs.rs link (relative links break on crates.io)" ;;
  esac
  echo "ok $url"
done <<<"$links"
echo "== package: ok"

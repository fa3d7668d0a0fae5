#!/usr/bin/env bash
# The C and C++ user's view, from an install (scripts/test.sh calls this):
#
# 1. installs the library into a temporary prefix with `cargo cinstall`
#    (cargo-c) or, where cargo-c is not installed, with scripts/install-c.sh,
#    which makes the same files; checks the files, the SONAME, the .pc
#    file and the versions;
# 2. builds the C example (examples/c/open_files.c) from that prefix three
#    ways and runs each: plain `cc` with `pkg-config --cflags --libs
#    smb_handles`, CMake `find_package(smb_handles)` (shared and static), and
#    examples/c/Makefile;
# 3. builds the C++17 wrapper tests (tests/cpp/wrapper_test.cpp and
#    tests/cpp/durable_test.cpp) from the prefix under ASan/UBSan and runs
#    them.
#
# Nothing is built from target/: every compiler line sees only the prefix.
#
# cargo-c: used when `cargo cinstall` works. SMBH_INSTALL_CARGO_C=1 installs
# it first (`cargo install cargo-c --locked`: it compiles Cargo itself, 651 s
# of CPU and 23 min of wall time measured on the shared 2-core machine, more
# than CI's whole budget, which is why it is not the default). When cargo-c
# is present, SMBH_COMPARE_INSTALLS=1 also installs with scripts/install-c.sh
# and fails on any difference between the two trees or .pc files.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
# Each step is counted; the last line is `test-install: N passed, M failed`
# (scripts/test.sh adds it to its total): a failure stops the script, so M
# is 0 or 1.
steps=0
fail() {
  echo "FAILED: $*" >&2
  echo "test-install: $((steps > 0 ? steps - 1 : 0)) passed, 1 failed"
  exit 1
}
step() { steps=$((steps + 1)); echo "== install: $*"; }

missing=()
need cc || missing+=(gcc)
need c++ || missing+=(g++)
need make || missing+=(make)
need pkg-config || missing+=(pkg-config)
need cmake || missing+=(cmake)
need readelf || missing+=(binutils)
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi

# Pinned: the newest cargo-c that builds with the stable toolchain of CI
# (0.10.24 needs Rust 1.95; later ones need newer).
CARGO_C_VERSION=0.10.24
if [ "${SMBH_INSTALL_CARGO_C:-0}" = 1 ] && ! cargo cinstall --version >/dev/null 2>&1; then
  step "cargo install cargo-c $CARGO_C_VERSION"
  cargo install cargo-c --locked --version "$CARGO_C_VERSION"
fi

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
IFS=. read -r major minor patch <<<"$version"
soname="libsmb_handles.so.$major.$minor"
[ "$major" = 0 ] || soname="libsmb_handles.so.$major"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Installs into $1 (a prefix) with cargo-c or the script.
install_into() {
  local how="$1" prefix="$2"
  case "$how" in
    cargo-c) cargo cinstall --release --locked --prefix="$prefix" ;;
    script) bash scripts/install-c.sh --prefix="$prefix" ;;
  esac
}

if cargo cinstall --version >/dev/null 2>&1; then
  how=cargo-c
  step "cargo cinstall ($(cargo cinstall --version | head -n 1)) into a temporary prefix"
else
  how=script
  step "cargo-c is not installed: installing with scripts/install-c.sh (the same files;" \
    "SMBH_INSTALL_CARGO_C=1 installs cargo-c and uses it instead)"
fi
prefix="$tmp/prefix"
install_into "$how" "$prefix"

# --- the installed files -----------------------------------------------------
pc="$(find "$prefix" -name smb_handles.pc -path '*/pkgconfig/*' | head -n 1)"
[ -n "$pc" ] || fail "no smb_handles.pc under $prefix"
libdir="$(dirname "$(dirname "$pc")")"
echo "libdir: ${libdir#"$prefix"/}"
for f in "libsmb_handles.so.$version" "$soname" libsmb_handles.so libsmb_handles.a; do
  [ -e "$libdir/$f" ] || fail "$libdir/$f was not installed"
done
[ "$(readlink "$libdir/libsmb_handles.so")" = "libsmb_handles.so.$version" ] \
  || [ "$(readlink "$libdir/libsmb_handles.so")" = "$soname" ] \
  || fail "libsmb_handles.so does not point to the versioned library"
[ "$(readlink -f "$libdir/$soname")" = "$(readlink -f "$libdir/libsmb_handles.so.$version")" ] \
  || fail "$soname does not point to libsmb_handles.so.$version"
got_soname="$(readelf -d "$libdir/libsmb_handles.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
[ "$got_soname" = "$soname" ] || fail "SONAME is '$got_soname', expected $soname"
echo "SONAME: $got_soname"
# Every function of the header is exported, except the admin and store
# features' (off in a default install).
exported="$(nm -D --defined-only "$libdir/libsmb_handles.so.$version" | awk '{print $3}' | sort)"
declared="$(grep -oE '\bsmbh_[a-z_]+\(' include/smb_handles.h | tr -d '(' | sort -u | grep -v -e '^smbh_admin_' -e '^smbh_store_')"
missing_fns="$(comm -23 <(echo "$declared") <(echo "$exported"))"
[ -z "$missing_fns" ] || fail "the installed library lacks: $missing_fns"
echo "exports the header's $(echo "$declared" | wc -l) functions (admin and store ones need --features admin, store)"
cmp include/smb_handles.h "$prefix/include/smb_handles.h" \
  || fail "installed smb_handles.h differs from the committed include/smb_handles.h"
cmp include/smb_handles.hpp "$prefix/include/smb_handles.hpp" \
  || fail "installed smb_handles.hpp differs from include/smb_handles.hpp"
cmake_dir="$prefix/share/cmake/smb_handles"
for f in smb_handlesConfig.cmake smb_handlesConfigVersion.cmake; do
  [ -f "$cmake_dir/$f" ] || fail "$cmake_dir/$f was not installed"
done
grep -q "^set(PACKAGE_VERSION \"$version\")$" "$cmake_dir/smb_handlesConfigVersion.cmake" \
  || fail "cmake/smb_handlesConfigVersion.cmake does not say version $version (Cargo.toml): update it"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --modversion smb_handles)" = "$version" ] || fail "smb_handles.pc version"
[ "$(pkg-config --variable=libdir smb_handles)" = "$libdir" ] \
  || fail "smb_handles.pc libdir $(pkg-config --variable=libdir smb_handles) is not $libdir"
[ "$(pkg-config --variable=includedir smb_handles)" = "$prefix/include" ] \
  || fail "smb_handles.pc includedir"
echo "pkg-config: $(pkg-config --cflags --libs smb_handles)"
echo "pkg-config --static: $(pkg-config --static --libs smb_handles)"

if [ "${SMBH_COMPARE_INSTALLS:-0}" = 1 ]; then
  other=script
  [ "$how" = script ] && other=cargo-c
  step "comparing with an install by $other"
  install_into "$other" "$tmp/other"
  listing() { (cd "$1" && find . \( -type f -o -type l \) -printf '%p %y %l\n' | sort); }
  diff <(listing "$prefix") <(listing "$tmp/other") || fail "$how and $other install different files"
  diff "$pc" <(sed "s|$tmp/other|$prefix|" "$tmp/other/${libdir#"$prefix"/}/pkgconfig/smb_handles.pc") \
    || fail "$how and $other write different .pc files"
  diff <(nm -D --defined-only "$libdir/libsmb_handles.so.$version" | awk '{print $3}' | sort) \
    <(nm -D --defined-only "$tmp/other/${libdir#"$prefix"/}/libsmb_handles.so.$version" | awk '{print $3}' | sort) \
    || fail "$how and $other export different symbols"
  echo "same files, .pc and exported symbols from both"
fi

# --- the C example, three ways -----------------------------------------------
expect_example() {
  local exe="$1" out
  out="$("$exe")" || fail "$exe exited with an error"
  grep -q '"file_handles"' <<<"$out" || fail "$exe printed no JSON listing"
  grep -q '^closed 2 of 2$' <<<"$out" || fail "$exe did not close its batch"
  grep -q '^closing alice again: ' <<<"$out" || fail "$exe did not try the stale close"
  grep -q '^1 handle(s) still open$' <<<"$out" || fail "$exe: wrong count left open"
}
# The binary must load the library of the prefix, not another one.
expect_prefix_lib() {
  local exe="$1" resolved
  resolved="$(ldd "$exe" | sed -n 's/.*libsmb_handles\.so[^ ]* => \([^ ]*\).*/\1/p')"
  [ "$(readlink -f "$resolved")" = "$(readlink -f "$libdir/libsmb_handles.so.$version")" ] \
    || fail "$exe loads '$resolved', not the prefix's library"
}

step "C example with cc and pkg-config"
# shellcheck disable=SC2046 # pkg-config output is a list of flags
cc -std=c11 -Wall -Wextra -Wpedantic -Werror examples/c/open_files.c \
  $(pkg-config --cflags --libs smb_handles) \
  -Wl,-rpath,"$(pkg-config --variable=libdir smb_handles)" -o "$tmp/open_files_pkgconfig"
expect_prefix_lib "$tmp/open_files_pkgconfig"
expect_example "$tmp/open_files_pkgconfig"

step "C example with CMake find_package(smb_handles), shared and static"
for variant in shared static; do
  use_static=OFF
  [ "$variant" = static ] && use_static=ON
  cmake -S examples/c -B "$tmp/cmake-$variant" -DCMAKE_PREFIX_PATH="$prefix" \
    -DSMB_HANDLES_USE_STATIC="$use_static" -DCMAKE_C_FLAGS=-Werror >"$tmp/cmake-$variant.log" 2>&1 \
    || { cat "$tmp/cmake-$variant.log" >&2; fail "cmake configure ($variant)"; }
  cmake --build "$tmp/cmake-$variant" >>"$tmp/cmake-$variant.log" 2>&1 \
    || { cat "$tmp/cmake-$variant.log" >&2; fail "cmake build ($variant)"; }
  expect_example "$tmp/cmake-$variant/open_files"
done
expect_prefix_lib "$tmp/cmake-shared/open_files"
if ldd "$tmp/cmake-static/open_files" | grep -q libsmb_handles; then
  fail "the static CMake build links the shared library"
fi

step "CMake version checks"
mkdir -p "$tmp/cmake-version"
cat >"$tmp/cmake-version/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.12)
project(version_check C)
find_package(smb_handles ${WANT} QUIET)
message(STATUS "found=${smb_handles_FOUND} version=${smb_handles_VERSION}")
EOF
cmake_found() {
  cmake -S "$tmp/cmake-version" -B "$tmp/cmake-version/build-$1" -DCMAKE_PREFIX_PATH="$prefix" \
    -DWANT="$1" 2>&1 | sed -n 's/.*found=\([^ ]*\) version=\(.*\)/\1 \2/p'
}
[ "$(cmake_found "$major.$minor")" = "1 $version" ] || fail "find_package(smb_handles $major.$minor)"
[ "$(cmake_found "$major.$((minor + 1))")" = "0 " ] \
  || fail "find_package(smb_handles $major.$((minor + 1))) accepted version $version"

step "C example with examples/c/Makefile"
make -s -C examples/c OUT="$tmp/open_files_make" CFLAGS="-std=c11 -Wall -Wextra -Wpedantic -Werror"
expect_prefix_lib "$tmp/open_files_make"
expect_example "$tmp/open_files_make"

# --- the C++ wrapper -----------------------------------------------------------
# Each test of tests/cpp/ and the last line it prints when it finishes.
for test in wrapper_test:cpp_wrapper_test durable_test:cpp_durable_test; do
  name="${test%%:*}" banner="${test#*:}: ok"
  step "C++17 tests/cpp/$name.cpp under ASan/UBSan"
  # shellcheck disable=SC2046
  c++ -std=c++17 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror -g -O1 \
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -pthread \
    "tests/cpp/$name.cpp" $(pkg-config --cflags --libs smb_handles) \
    -Wl,-rpath,"$libdir" -o "$tmp/$name"
  expect_prefix_lib "$tmp/$name"
  out="$(ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$tmp/$name")" || fail "tests/cpp/$name.cpp"
  [ "$(tail -n 1 <<<"$out")" = "$banner" ] || fail "tests/cpp/$name.cpp did not finish"
  echo "$out"
done
printf '#include <smb_handles.hpp>\nint main() { smbh::Table t; return t.size().value() == 0 ? 0 : 1; }\n' \
  >"$tmp/noexcept.cpp"
# shellcheck disable=SC2046
c++ -std=c++17 -fno-exceptions -Wall -Wextra -Wpedantic -Werror "$tmp/noexcept.cpp" \
  $(pkg-config --cflags --libs smb_handles) -Wl,-rpath,"$libdir" -o "$tmp/noexcept" \
  || fail "smb_handles.hpp does not compile with -fno-exceptions"
"$tmp/noexcept" || fail "the -fno-exceptions build"

echo "== install: ok ($how)"
echo "test-install: $steps passed, 0 failed"

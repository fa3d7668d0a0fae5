#!/usr/bin/env bash
# Installs the C library the way `cargo cinstall --release` does (same files,
# same names, same SONAME), for machines without cargo-c:
#
#   <libdir>/libsmb_handles.so.0.1.0          SONAME libsmb_handles.so.0.1
#   <libdir>/libsmb_handles.so.0.1 -> libsmb_handles.so.0.1.0
#   <libdir>/libsmb_handles.so     -> libsmb_handles.so.0.1.0
#   <libdir>/libsmb_handles.a
#   <libdir>/pkgconfig/smb_handles.pc
#   <prefix>/include/smb_handles.h, smb_handles.hpp      (the committed headers)
#   <prefix>/share/cmake/smb_handles/smb_handlesConfig.cmake, ...ConfigVersion.cmake
#
# Usage: scripts/install-c.sh [--prefix=/usr/local] [--libdir=DIR] [--destdir=DIR]
# --libdir is relative to the prefix unless absolute; its default is cargo-c's:
# lib/<multiarch> where dpkg-architecture exists (Debian, Ubuntu), else lib64
# when /usr/lib64 is a real folder, else lib. --destdir stages the install
# (the files land in DESTDIR/PREFIX/..., the .pc file names PREFIX).
#
# Why it exists: cargo-c is not in this project's CI image, Debian 12's
# cargo-c 0.9.14 cannot resolve dependencies without git access to the
# crates.io index, and `cargo install cargo-c` costs minutes of CI (see
# scripts/test-install.sh). The metadata cargo-c reads is
# [package.metadata.capi] in Cargo.toml; keep the two in step (the install
# test compares them when cargo-c is present).
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local
libdir=
destdir=
for arg in "$@"; do
  case "$arg" in
    --prefix=*) prefix="${arg#--prefix=}" ;;
    --libdir=*) libdir="${arg#--libdir=}" ;;
    --destdir=*) destdir="${arg#--destdir=}" ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
case "$prefix" in /*) ;; *) echo "error: --prefix must be absolute" >&2; exit 2 ;; esac

if [ -z "$libdir" ]; then
  if command -v dpkg-architecture >/dev/null 2>&1; then
    libdir="lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)"
  elif [ -d /usr/lib64 ] && [ ! -L /usr/lib64 ]; then
    libdir=lib64
  else
    libdir=lib
  fi
fi
case "$libdir" in
  /*) abs_libdir="$libdir"; pc_libdir="$libdir" ;;
  *) abs_libdir="$prefix/$libdir"; pc_libdir="\${prefix}/$libdir" ;;
esac
case "$abs_libdir" in "$prefix"/*) pc_libdir="\${prefix}/${abs_libdir#"$prefix"/}" ;; esac

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
description="$(sed -n 's/^description = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
[ -n "$version" ] || { echo "error: no version in Cargo.toml" >&2; exit 1; }
IFS=. read -r major minor patch <<<"${version%%[-+]*}"
# cargo-c's SONAME suffix: 0.0.z for 0.0.z, 0.y for 0.y.z, x for x.y.z.
if [ "$major" = 0 ] && [ "$minor" = 0 ]; then sover="0.0.$patch"
elif [ "$major" = 0 ]; then sover="0.$minor"
else sover="$major"; fi
soname="libsmb_handles.so.$sover"
fullname="libsmb_handles.so.$major.$minor.$patch"

# One release build of the library's cdylib and staticlib with the SONAME;
# rustc prints the system libraries a static link needs (Libs.private).
target_dir="${CARGO_TARGET_DIR:-target}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo rustc --release --lib --locked --message-format=short -- \
  -C "link-arg=-Wl,-soname,$soname" --print native-static-libs 2>&1 | tee "$log" >&2
# (cargo replays the note from its cache when nothing is rebuilt.)
static_libs="$(sed -n 's/.*native-static-libs: //p' "$log" | tail -n 1)"
[ -n "$static_libs" ] || { cat "$log" >&2; echo "error: rustc printed no native-static-libs" >&2; exit 1; }

out="$target_dir/release"
stage="$destdir$abs_libdir"
inc="$destdir$prefix/include"
cmake_dir="$destdir$prefix/share/cmake/smb_handles"
install -d "$stage/pkgconfig" "$inc" "$cmake_dir"
install -m 0755 "$out/libsmb_handles.so" "$stage/$fullname"
ln -sf "$fullname" "$stage/$soname"
ln -sf "$fullname" "$stage/libsmb_handles.so"
install -m 0644 "$out/libsmb_handles.a" "$stage/libsmb_handles.a"
install -m 0644 include/smb_handles.h include/smb_handles.hpp "$inc/"
install -m 0644 cmake/smb_handlesConfig.cmake cmake/smb_handlesConfigVersion.cmake "$cmake_dir/"

cat >"$stage/pkgconfig/smb_handles.pc" <<EOF
prefix=$prefix
exec_prefix=\${prefix}
libdir=$pc_libdir
includedir=\${prefix}/include

Name: smb_handles
Description: $description
Version: $version
Libs: -L\${libdir} -lsmb_handles
Cflags: -I\${includedir}
Libs.private: $static_libs
EOF
chmod 0644 "$stage/pkgconfig/smb_handles.pc"
echo "installed smb_handles $version into $destdir$prefix (libdir $abs_libdir, SONAME $soname)" >&2

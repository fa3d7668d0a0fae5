#!/usr/bin/env bash
# Checks that the library builds with the Rust version Cargo.toml declares
# (`rust-version`), with every feature and the committed Cargo.lock (cargo
# also refuses any locked dependency whose own rust-version is newer).
# Installs that toolchain with rustup (minimal profile) when it is missing;
# fails when it cannot. Tests, examples and benchmarks are not included:
# their dev-dependencies may need a newer Rust, which users never build.
set -euo pipefail
cd "$(dirname "$0")/.."

msrv="$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
[ -n "$msrv" ] || { echo "error: no rust-version in Cargo.toml" >&2; exit 1; }
command -v rustup >/dev/null 2>&1 \
  || { echo "error: rustup is needed to install Rust $msrv for the MSRV check" >&2; exit 1; }
if ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
  echo "== msrv: installing Rust $msrv (rustup, minimal profile)"
  rustup toolchain install "$msrv" --profile minimal --no-self-update \
    || { echo "error: cannot install Rust $msrv; the MSRV check needs it" >&2; exit 1; }
fi
echo "== msrv: cargo +$msrv check --lib --all-features --locked"
# Its own target dir: another toolchain's artefacts would evict the main ones.
cargo "+$msrv" check --lib --all-features --locked \
  --target-dir "${CARGO_TARGET_DIR:-target}/msrv-$msrv"

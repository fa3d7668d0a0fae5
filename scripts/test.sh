#!/usr/bin/env bash
# The project's test command (README's second command; .ci/run calls it too).
# Installs what the tests need, then runs every test: Rust unit, integration
# and doc tests (with every feature), the C ABI tests under sanitizers (driven
# by `cargo test`), the C tests again under valgrind, the admin endpoint
# driven by the vendor's `qq` CLI, and the installed library used from C and
# C++ (scripts/test-install.sh). Fails loudly when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

need cargo || { echo "error: cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
need cc || apt_install gcc
need c++ || apt_install g++
need valgrind || apt_install valgrind
need python3 || apt_install python3 python3-venv

# The vendor CLI for the admin endpoint tests, in a project-local venv.
if [ -f scripts/install-qq.sh ]; then
  QQ="$(bash scripts/install-qq.sh)"
  export QQ
fi

# Samba (smbd) and smbprotocol for the differential test (tests/samba_diff.rs
# runs the recorder itself; installing first makes an install failure loud
# and early).
bash scripts/samba-record.sh --install-only

cargo test --all-features --locked

if [ -f scripts/c-tests-valgrind.sh ]; then
  bash scripts/c-tests-valgrind.sh
fi

# The C and C++ user's view: install into a temporary prefix (cargo cinstall,
# or scripts/install-c.sh without cargo-c), then build the C example with
# pkg-config, CMake and its Makefile, and the C++ wrapper test, from there.
bash scripts/test-install.sh

#!/usr/bin/env bash
# Model checking of the shard protocol with loom (tests/loom.rs, issue 10):
# every interleaving of the table's locks and atomics, up to each model's
# preemption bound, printing the interleavings explored per model.
#
# Builds with `--cfg smb_handles_loom` (src/sync.rs then uses loom's lock and
# atomics) in its own target directory, so the normal build is never invalidated; the
# `model-check` profile is optimized with overflow checks and debug
# assertions on. Extra arguments go to the test binary (a test name filter).
# LOOM_MAX_PREEMPTIONS=n overrides every model's bound.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTFLAGS="${RUSTFLAGS:-} --cfg smb_handles_loom"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"
start=$(date +%s)
cargo test --locked --profile model-check --test loom -- --nocapture "$@"
echo "model-check: $(( $(date +%s) - start )) s (build and run)"

#!/usr/bin/env bash
# The one command that runs every test of noncesweep on a fresh machine.
# It installs what the tests need when it is missing, then runs the
# formatter check, clippy with warnings as errors, and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== installing test dependencies (when missing)"
bash scripts/install-test-deps.sh

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --release -- -D warnings

echo "== cargo test --release"
cargo test --release -- --test-threads="${NONCESWEEP_TEST_THREADS:-2}"

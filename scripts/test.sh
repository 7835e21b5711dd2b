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
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --release -- --test-threads="${NONCESWEEP_TEST_THREADS:-2}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite (the last runner to report is the
# empty doc-test pass, which says nothing about the rest).
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo 'test result: .*' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
echo
echo "tests: $passed passed, $failed failed"
exit "$status"

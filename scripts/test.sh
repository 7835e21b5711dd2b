#!/usr/bin/env bash
# The one command that runs every test of noncesweep on a fresh machine.
# It installs what the tests need when it is missing (see
# scripts/install-test-deps.sh), then runs the formatter check, clippy with
# warnings as errors, the whole test suite, and a check that a clean clone
# of the repository reads its fixtures without anything beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
# Every cargo step uses the `ci` profile (Cargo.toml): optimised, without
# release's LTO; one profile, so each dependency is built once.
profile=ci
phase_start=$SECONDS
phase() {
  echo "   (took $((SECONDS - phase_start)) s)"
  phase_start=$SECONDS
  echo "== $1"
}

echo "== installing test dependencies (when missing)"
bash scripts/install-test-deps.sh

phase "cargo fmt --check"
cargo fmt --all --check

phase "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --profile "$profile" -- -D warnings

phase "cargo test --profile $profile"
log=$(mktemp)
clone=$(mktemp -d)
trap 'rm -rf "$log" "$clone"' EXIT
set +e
cargo test --profile "$profile" -- --test-threads="${NONCESWEEP_TEST_THREADS:-2}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# The repository owns its fixtures: a clone in an empty folder (nothing
# beside it) refers to no file outside itself and runs a fixture-reading
# test. It shares this build's target folder, so
# only noncesweep itself is compiled again.
phase "fixtures in a clean clone"
clone_status=0
if git rev-parse --git-dir >/dev/null 2>&1; then
  git clone --quiet --no-hardlinks . "$clone/noncesweep"
  if grep -rn --exclude-dir=.git -e '[.][.]/shared' -e 'shared[/]fixtures' "$clone/noncesweep"; then
    echo "the lines above refer to files outside the repository" >&2
    clone_status=1
  fi
  target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  if ! (cd "$clone/noncesweep" && CARGO_TARGET_DIR="$target" cargo test --profile "$profile" --test solo_templates 2>&1 | tee -a "$log"); then
    clone_status=1
  fi
  # The clone's build wrote this crate's artifacts over ours in the shared
  # target folder (cargo does not hash a checkout's path into their names),
  # with the clone's path compiled in. Forget them, so that the next build
  # here compiles this checkout's own instead of running the clone's.
  rm -rf "$target/$profile/.fingerprint/noncesweep-"*
else
  echo "not a git checkout: skipped"
fi

# One closing line for the whole suite. Ignored tests are the kernels of
# backends this CPU lacks (each names its reason): skipped, not passed.
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo 'test result: .*' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
skipped=$(grep -Eo 'test result: .*' "$log" | grep -Eo '[0-9]+ ignored' | awk '{s+=$1} END {print s+0}')
if [ "$skipped" -gt 0 ]; then
  echo
  echo "skipped tests and why:"
  grep -E '^test .* \.\.\. ignored' "$log" | sed 's/^/  /'
fi
phase "done"
echo
echo "suite took $((SECONDS - start)) s"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$clone_status" -eq 0 ]

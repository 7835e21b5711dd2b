#!/usr/bin/env bash
# Soak test, run by hand: the real miner against the test pool for
# 10 minutes (or --minutes M) with a fault injected every ~30 s. Prints
# shares found, accepted, stale and lost (must be 0) and the peak RSS.
#   scripts/soak.sh [--minutes M] [--fault-every S] [--difficulty D] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins --examples
exec target/release/examples/soak "$@"

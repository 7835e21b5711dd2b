#!/usr/bin/env bash
# A real Stratum V2 pool on regtest for the tests and for people: the SRI
# pool role (pool_sv2) fed with block templates by Bitcoin Core over IPC
# (bitcoin-node -ipcbind=unix), both built by scripts/install-test-deps.sh.
#
#   scripts/sv2-pool.sh start [DIR]    fresh regtest node + pool in DIR
#   scripts/sv2-pool.sh stop [DIR]     stop the pool, then the node
#   scripts/sv2-pool.sh stop-pool [DIR]     stop only the pool
#   scripts/sv2-pool.sh start-pool [DIR]    start the pool again (same port and key)
#   scripts/sv2-pool.sh restart-pool [DIR]  stop-pool, then start-pool
#   scripts/sv2-pool.sh kill-pool [DIR]     SIGKILL the pool (no goodbye)
#   scripts/sv2-pool.sh cli DIR ARGS...     bitcoin-cli against DIR's node
#
# DIR defaults to $NONCESWEEP_SV2_DIR, else .cache/sv2-run/default in the
# repository. Each DIR is one independent pair on its own free loopback
# ports, so tests run several in parallel by giving each its own DIR.
#
# start, start-pool and restart-pool print exactly two lines on stdout: the
# pool's log file, then the pool's URL
#   stratum2+tcp://127.0.0.1:PORT/AUTHORITY_PUBKEY
# Progress and errors go to stderr. They return once the pool listens and
# has a block template from the node. DIR/sv2-pool.env then holds, one
# KEY=value a line (shell-sourceable, no quoting needed):
#   SV2_POOL_URL SV2_POOL_HOST SV2_POOL_PORT SV2_POOL_AUTHORITY_PUBKEY
#   SV2_POOL_AUTHORITY_SECRET SV2_POOL_PAYOUT_ADDRESS SV2_POOL_LOG
#   SV2_POOL_CONFIG SV2_POOL_MONITORING_URL (the pool's HTTP JSON API, e.g.
#   $SV2_POOL_MONITORING_URL/api/v1/clients)
#   CORE_BIN CORE_DATADIR CORE_RPC_URL CORE_RPC_PORT CORE_RPC_COOKIE
#   CORE_IPC_SOCKET CORE_LOG
# (bitcoin-cli: $CORE_BIN/bitcoin-cli -regtest -datadir=$CORE_DATADIR
# -rpcport=$CORE_RPC_PORT ..., or `scripts/sv2-pool.sh cli DIR ...`.)
#
# Settings, from the environment of `start`:
#   NONCESWEEP_SV2_AUTHORITY_SECRET  the pool's authority secret key, in the
#       pool's base58check form; default: a fresh random key per start.
#   NONCESWEEP_SV2_PAYOUT_ADDRESS    a regtest address for the pool's
#       coinbase; default: the key-path taproot address of the authority key.
#   NONCESWEEP_SV2_SHARES_PER_MINUTE the pool's share rate target (default 30;
#       the share target follows the hashrate the miner announces).
#   NONCESWEEP_CORE_BIN, NONCESWEEP_POOL_SV2  other binaries (directory of
#       bitcoin-node and bitcoin-cli; the pool_sv2 executable).
# The pool itself also reads POOL__* variables that override its config
# file (see pool_sv2's README); they apply to whichever start inherits them.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
install_hint="run scripts/install-test-deps.sh"

die() {
  echo "sv2-pool.sh: $*" >&2
  exit 1
}
say() { echo "sv2-pool.sh: $*" >&2; }

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
cmd="$1"
shift

if [ "$cmd" = cli ]; then
  [ $# -ge 1 ] || die "usage: sv2-pool.sh cli DIR ARGS..."
fi
dir="${1:-${NONCESWEEP_SV2_DIR:-$repo/.cache/sv2-run/default}}"
[ $# -ge 1 ] && shift
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
case "$dir" in *[[:space:]\'\"\\\$]*) die "DIR must not contain spaces, quotes, \\ or \$: $dir" ;; esac

envfile="$dir/sv2-pool.env"
core_dir="$dir/core"
pool_cfg="$dir/pool.toml"
pool_log="$dir/pool.log"
pool_err="$dir/pool.stderr"
pool_pidfile="$dir/pool.pid"
core_pidfile="$dir/core.pid"
# The pool's log line that says it has work to hand out: the node's
# SetNewPrevHash, which comes after the first NewTemplate.
template_marker="Received: SetNewPrevHash"

core_bin="${NONCESWEEP_CORE_BIN:-$repo/.cache/bitcoin-core/bin}"
pool_bin="${NONCESWEEP_POOL_SV2:-$repo/.cache/pool_sv2/bin/pool_sv2}"

need_core() {
  [ -x "$core_bin/bitcoin-node" ] ||
    die "no bitcoin-node in $core_bin (Bitcoin Core built with IPC): $install_hint"
  [ -x "$core_bin/bitcoin-cli" ] || die "no bitcoin-cli in $core_bin: $install_hint"
}
need_pool() {
  [ -x "$pool_bin" ] || die "no pool_sv2 at $pool_bin: $install_hint"
}

# The value of KEY in the env file.
env_get() {
  [ -f "$envfile" ] || die "$dir has no sv2-pool.env: was it started with 'sv2-pool.sh start'?"
  local v
  v="$(sed -n "s/^$1=//p" "$envfile" | tail -n 1)"
  [ -n "$v" ] || die "$envfile has no $1"
  printf '%s\n' "$v"
}

# Whether the pid in FILE is alive and still one of ours (its command line
# names this DIR), so that a recycled pid is never signalled.
pid_alive() {
  local file="$1" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/"
}

# Whether the process just started with its pid in FILE still runs. Right
# after the fork its command line is still this script's (exec has not
# happened yet), so pid_alive's check of it would race: a process this
# script started itself is checked by pid only.
started_alive() {
  local pid
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# Waits up to SECS for the pid in FILE to exit, then kills it.
wait_exit_or_kill() {
  local file="$1" secs="$2" what="$3" pid i
  pid="$(cat "$file")"
  for ((i = 0; i < secs * 10; i++)); do
    pid_alive "$file" || { rm -f "$file"; return 0; }
    sleep 0.1
  done
  say "$what (pid $pid) still running after ${secs}s: killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$file" || { rm -f "$file"; return 0; }
    sleep 0.1
  done
  die "$what (pid $pid) does not die"
}

# A loopback TCP port nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_listens() {
  python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
EOF
}

cli() {
  "$core_bin/bitcoin-cli" -regtest -datadir="$core_dir" -rpcport="$(env_get CORE_RPC_PORT)" \
    -rpcclienttimeout=30 "$@"
}

start_core() {
  need_core
  local rpc_port sock
  rpc_port="$(free_port)"
  sock="$core_dir/regtest/node.sock"
  # A unix socket's path is limited to 107 bytes.
  [ "${#sock}" -le 107 ] || die "DIR is too long for Core's IPC socket path ($sock, ${#sock} bytes > 107)"
  mkdir -p "$core_dir"
  {
    echo "CORE_BIN=$core_bin"
    echo "CORE_DATADIR=$core_dir"
    echo "CORE_RPC_PORT=$rpc_port"
    echo "CORE_RPC_URL=http://127.0.0.1:$rpc_port"
    echo "CORE_RPC_COOKIE=$core_dir/regtest/.cookie"
    echo "CORE_IPC_SOCKET=$sock"
    echo "CORE_LOG=$core_dir/regtest/debug.log"
  } >"$envfile"
  say "starting bitcoin-node (regtest, RPC 127.0.0.1:$rpc_port, IPC $sock)"
  # No P2P at all: the node mines alone. -ipcbind=unix listens on
  # <datadir>/regtest/node.sock, where the pool looks for it.
  "$core_bin/bitcoin-node" -regtest -datadir="$core_dir" -ipcbind=unix \
    -server=1 -rpcbind=127.0.0.1 -rpcallowip=127.0.0.1 -rpcport="$rpc_port" \
    -listen=0 -discover=0 -dnsseed=0 -fixedseeds=0 -listenonion=0 -natpmp=0 \
    -printtoconsole=0 -fallbackfee=0.0001 \
    </dev/null >"$dir/core.stdout" 2>&1 &
  echo $! >"$core_pidfile"
  local i
  for ((i = 0; i < 600; i++)); do
    started_alive "$core_pidfile" || {
      tail -n 20 "$dir/core.stdout" "$core_dir/regtest/debug.log" >&2 2>/dev/null || true
      die "bitcoin-node exited during startup (log: $core_dir/regtest/debug.log)"
    }
    if cli getblockcount >/dev/null 2>&1 && [ -S "$sock" ]; then
      return 0
    fi
    sleep 0.1
  done
  die "bitcoin-node did not answer RPC or create $sock within 60s (log: $core_dir/regtest/debug.log)"
}

# Base58check of the hex string $1.
b58check() {
  python3 - "$1" <<'EOF'
import hashlib, sys
data = bytes.fromhex(sys.argv[1])
data += hashlib.sha256(hashlib.sha256(data).digest()).digest()[:4]
alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
n = int.from_bytes(data, "big")
out = ""
while n:
    n, r = divmod(n, 58)
    out = alphabet[r] + out
pad = len(data) - len(data.lstrip(b"\0"))
print("1" * pad + out)
EOF
}

# The hex of a base58check string $1 (checksum verified).
b58decode() {
  python3 - "$1" <<'EOF'
import hashlib, sys
alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
s = sys.argv[1]
n = 0
for c in s:
    if c not in alphabet:
        sys.exit("not base58: " + s)
    n = n * 58 + alphabet.index(c)
raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
raw = b"\0" * (len(s) - len(s.lstrip("1"))) + raw
body, check = raw[:-4], raw[-4:]
if len(raw) < 5 or hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4] != check:
    sys.exit("bad base58check checksum: " + s)
print(body.hex())
EOF
}

# Writes the pool's authority keys, payout and config (first start only).
configure_pool() {
  local secret_hex secret xonly pubkey payout port mon_port desc spm
  if [ -n "${NONCESWEEP_SV2_AUTHORITY_SECRET:-}" ]; then
    secret="$NONCESWEEP_SV2_AUTHORITY_SECRET"
    secret_hex="$(b58decode "$secret")" || die "NONCESWEEP_SV2_AUTHORITY_SECRET is not a base58check key"
    [ "${#secret_hex}" -eq 64 ] || die "NONCESWEEP_SV2_AUTHORITY_SECRET does not hold 32 bytes"
  else
    secret_hex="$(python3 -c 'import secrets; print(secrets.token_bytes(32).hex())')"
    secret="$(b58check "$secret_hex")"
  fi
  # The x-only public key, computed by the node: getdescriptorinfo turns
  # tr(<regtest WIF>) into tr(<x-only key>). The pool's public key form is
  # base58check of the version (1, u16 little endian) and that key.
  desc="$(cli getdescriptorinfo "tr($(b58check "ef${secret_hex}01"))" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["descriptor"])')" ||
    die "the node rejects the authority secret key (not a valid secp256k1 key)"
  xonly="$(sed -n 's/^tr(\([0-9a-f]\{64\}\))#.*/\1/p' <<<"$desc")"
  [ -n "$xonly" ] || die "unexpected getdescriptorinfo answer: $desc"
  pubkey="$(b58check "0100$xonly")"
  if [ -n "${NONCESWEEP_SV2_PAYOUT_ADDRESS:-}" ]; then
    payout="$NONCESWEEP_SV2_PAYOUT_ADDRESS"
  else
    payout="$(cli deriveaddresses "$desc" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0])')"
  fi
  cli validateaddress "$payout" | grep -q '"isvalid": true' || die "not a regtest address: $payout"
  port="$(free_port)"
  mon_port="$(free_port)"
  spm="${NONCESWEEP_SV2_SHARES_PER_MINUTE:-30}"
  cat >"$pool_cfg" <<EOF
# Written by scripts/sv2-pool.sh for a regtest test pool.
authority_public_key = "$pubkey"
authority_secret_key = "$secret"
cert_validity_sec = 86400
listen_address = "127.0.0.1:$port"
coinbase_reward_script = "addr($payout)"
server_id = 1
pool_signature = "noncesweep regtest pool"
shares_per_minute = $spm
share_batch_size = 1
monitoring_address = "127.0.0.1:$mon_port"
monitoring_cache_refresh_secs = 1

[template_provider_type.BitcoinCoreIpc]
version = 31
network = "regtest"
data_dir = "$core_dir"
fee_threshold = 100
min_interval = 1
EOF
  {
    echo "SV2_POOL_HOST=127.0.0.1"
    echo "SV2_POOL_PORT=$port"
    echo "SV2_POOL_AUTHORITY_PUBKEY=$pubkey"
    echo "SV2_POOL_AUTHORITY_SECRET=$secret"
    echo "SV2_POOL_URL=stratum2+tcp://127.0.0.1:$port/$pubkey"
    echo "SV2_POOL_PAYOUT_ADDRESS=$payout"
    echo "SV2_POOL_CONFIG=$pool_cfg"
    echo "SV2_POOL_LOG=$pool_log"
    echo "SV2_POOL_MONITORING_URL=http://127.0.0.1:$mon_port"
  } >>"$envfile"
}

# Starts pool_sv2 on DIR's config; returns once it listens and has a
# template from the node.
start_pool() {
  need_pool
  local port i lines
  pid_alive "$core_pidfile" || die "the node in $dir is not running: use 'sv2-pool.sh start'"
  port="$(env_get SV2_POOL_PORT)"
  port_listens "$port" && die "something else listens on the pool's port $port"
  # The log is appended to across restarts; readiness is judged on what
  # this run adds.
  touch "$pool_log"
  lines="$(wc -l <"$pool_log")"
  say "starting pool_sv2 on 127.0.0.1:$port (log $pool_log)"
  # Its stdout repeats the log file; stderr has what comes before logging
  # (config errors) and panics.
  "$pool_bin" -c "$pool_cfg" -f "$pool_log" </dev/null >/dev/null 2>"$pool_err" &
  echo $! >"$pool_pidfile"
  for ((i = 0; i < 600; i++)); do
    started_alive "$pool_pidfile" || {
      tail -n 20 "$pool_err" "$pool_log" >&2 || true
      die "pool_sv2 exited during startup (log: $pool_log)"
    }
    if port_listens "$port" && tail -n +"$((lines + 1))" "$pool_log" | grep -q "$template_marker"; then
      echo "$pool_log"
      env_get SV2_POOL_URL
      return 0
    fi
    sleep 0.1
  done
  tail -n 20 "$pool_log" >&2 || true
  die "pool_sv2 did not listen on $port with a template from the node within 60s (log: $pool_log)"
}

# Ends the pool with SIGNAL ("stopping" with INT, "killing" with KILL),
# waiting up to SECS before killing it anyway.
end_pool() {
  local signal="$1" verb="$2" secs="$3"
  if pid_alive "$pool_pidfile"; then
    say "$verb pool_sv2 (pid $(cat "$pool_pidfile"))"
    kill "-$signal" "$(cat "$pool_pidfile")" 2>/dev/null || true
    wait_exit_or_kill "$pool_pidfile" "$secs" pool_sv2
  fi
  rm -f "$pool_pidfile"
}
stop_pool() { end_pool INT stopping 15; }
kill_pool() { end_pool KILL killing 5; }

stop_core() {
  if pid_alive "$core_pidfile"; then
    say "stopping bitcoin-node (pid $(cat "$core_pidfile"))"
    cli stop >/dev/null 2>&1 || kill -TERM "$(cat "$core_pidfile")" 2>/dev/null || true
    wait_exit_or_kill "$core_pidfile" 60 bitcoin-node
  fi
  rm -f "$core_pidfile"
}

# On a failed start, stop what it started: nothing is left running.
undo_on_failure() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    say "start failed: stopping what it started"
    stop_pool
    [ "$1" = pool ] || stop_core
  fi
  exit "$rc"
}

case "$cmd" in
start)
  need_core
  need_pool
  if pid_alive "$core_pidfile" || pid_alive "$pool_pidfile"; then
    die "a pair already runs in $dir: 'sv2-pool.sh stop $dir' first"
  fi
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    [ -f "$envfile" ] || die "$dir is not empty and was not made by sv2-pool.sh: give an empty or new DIR"
    rm -rf "$core_dir" "$pool_cfg" "$pool_log" "$pool_err" "$envfile" "$dir/core.stdout"
  fi
  mkdir -p "$dir"
  trap 'undo_on_failure all' EXIT
  start_core
  configure_pool
  # Blocks with recent times take the node out of initial block download
  # (the pool gets no template before), and heights past 16 give the
  # coinbase a height push of two bytes or more.
  cli generatetoaddress 101 "$(env_get SV2_POOL_PAYOUT_ADDRESS)" >/dev/null
  start_pool
  ;;
stop)
  stop_pool
  stop_core
  ;;
stop-pool)
  stop_pool
  ;;
start-pool)
  pid_alive "$pool_pidfile" && die "the pool in $dir is already running (pid $(cat "$pool_pidfile"))"
  trap 'undo_on_failure pool' EXIT
  start_pool
  ;;
restart-pool)
  stop_pool
  trap 'undo_on_failure pool' EXIT
  start_pool
  ;;
kill-pool)
  kill_pool
  ;;
cli)
  need_core
  cli "$@"
  ;;
*)
  usage
  ;;
esac

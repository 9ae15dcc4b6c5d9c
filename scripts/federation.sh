#!/usr/bin/env bash
# A local federation as separate processes: `alys btc-devnet` (regtest Bitcoin, a block every
# 5 s), 3 authorities (`alys node --signer-key --bitcoin-key`: approval threshold 2, peg
# threshold 2), 1 full node (no keys) and `alys-miner` against authority 0. Generates what it
# needs in the working directory: the chain spec (the dev spec for 3 authorities) and the
# authorities' BLS and Bitcoin key files (the public dev keys: a local test federation, never a
# real one). Prints the endpoints and runs until Ctrl-C.
#
#   scripts/federation.sh [--dir DIR] [--base-port N] [--generate-only]
#
# Ports: Bitcoin RPC N; node i (0-2 authorities, 3 the full node): node RPC N+10+i, eth
# JSON-RPC N+20+i, Engine API N+30+i, p2p N+40+i (default N = 20000). Logs in DIR/*.log.
# ALYS_BIN / ALYS_MINER_BIN name prebuilt binaries (otherwise they are built).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=./federation
BASE=20000
GENERATE_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --base-port) BASE="$2"; shift 2 ;;
    --generate-only) GENERATE_ONLY=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
RPC_PASSWORD=${ALYS_RPC_PASSWORD:-alys}

if [ -z "${ALYS_BIN:-}" ] || { [ "$GENERATE_ONLY" = 0 ] && [ -z "${ALYS_MINER_BIN:-}" ]; }; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alys-target}"
  export CC=clang CXX=clang++
  cargo build -p alys --bin alys -p alys-miner --bin alys-miner
  ALYS_BIN=${ALYS_BIN:-$CARGO_TARGET_DIR/debug/alys}
  ALYS_MINER_BIN=${ALYS_MINER_BIN:-$CARGO_TARGET_DIR/debug/alys-miner}
fi

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# Chain spec and keys (kept when they exist, so a restart resumes the same chain).
if [ ! -f "$DIR/chain.json" ]; then
  "$ALYS_BIN" dev --authorities 3 --print-spec > "$DIR/chain.json"
fi
for i in 0 1 2; do
  if [ ! -f "$DIR/authority-$i.key" ]; then
    "$ALYS_BIN" keys dev --index "$i" --out "$DIR/authority-$i.key" > /dev/null
  fi
  if [ ! -f "$DIR/authority-$i.btc.key" ]; then
    "$ALYS_BIN" keys dev --kind bitcoin --index "$i" --out "$DIR/authority-$i.btc.key" > /dev/null
  fi
done
echo "chain spec        $DIR/chain.json"
echo "authority keys    $DIR/authority-{0,1,2}.key (BLS), $DIR/authority-{0,1,2}.btc.key (Bitcoin)"
if [ "$GENERATE_ONLY" = 1 ]; then
  exit 0
fi

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# Waits until `$1` (a log file) has a line starting with `$2`; prints the rest of the line.
wait_line() {
  for _ in $(seq 1 600); do
    if line=$(grep -m1 "^$2" "$1" 2>/dev/null); then
      echo "${line#"$2"}"
      return 0
    fi
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  tail -20 "$1" >&2
  exit 1
}

"$ALYS_BIN" btc-devnet --datadir "$DIR/bitcoin" --rpc-port "$BASE" \
  --block-interval-secs 5 > "$DIR/bitcoin.log" 2>&1 &
PIDS+=($!)
BTC_URL="http://127.0.0.1:$BASE"

BOOTNODES=""
start_node() { # index, name, extra args...
  local i=$1 name=$2
  shift 2
  # shellcheck disable=SC2086 # BOOTNODES holds no spaces: one --bootnodes flag when set
  "$ALYS_BIN" node --chain "$DIR/chain.json" --datadir "$DIR/$name" --embedded-el \
    --rpc-port $((BASE + 10 + i)) --rpc-password "$RPC_PASSWORD" \
    --http-port $((BASE + 20 + i)) --authrpc-port $((BASE + 30 + i)) \
    --p2p-listen-addr 127.0.0.1 --p2p-port $((BASE + 40 + i)) \
    --metrics-port $((BASE + 50 + i)) \
    --bitcoin-rpc-url "$BTC_URL" ${BOOTNODES:+--bootnodes "$BOOTNODES"} \
    "$@" > "$DIR/$name.log" 2>&1 &
  PIDS+=($!)
  local p2p
  p2p=$(wait_line "$DIR/$name.log" "p2p ")
  BOOTNODES="${BOOTNODES:+$BOOTNODES,}$p2p"
  printf '%-12s node RPC http://127.0.0.1:%s  eth RPC http://127.0.0.1:%s  metrics http://127.0.0.1:%s/metrics  p2p %s\n' \
    "$name" $((BASE + 10 + i)) $((BASE + 20 + i)) $((BASE + 50 + i)) "$p2p"
}
wait_line "$DIR/bitcoin.log" "Bitcoin regtest RPC: " > /dev/null
for i in 0 1 2; do
  start_node "$i" "authority-$i" --signer-key "$DIR/authority-$i.key" \
    --bitcoin-key "$DIR/authority-$i.btc.key"
done
start_node 3 full

"$ALYS_MINER_BIN" --url "http://127.0.0.1:$((BASE + 10))" --user alys \
  --password "$RPC_PASSWORD" --address 0x00000000000000000000000000000000000a1b5e \
  > "$DIR/miner.log" 2>&1 &
PIDS+=($!)

echo "bitcoin RPC       $BTC_URL (user alys, password alys)"
echo "node RPC auth     alys / $RPC_PASSWORD"
echo "miner             alys-miner against authority-0 (log $DIR/miner.log)"
echo "logs              $DIR/*.log"
echo "running; Ctrl-C stops everything"
wait

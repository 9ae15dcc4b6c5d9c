#!/usr/bin/env bash
# Sets up what is missing, builds the node and starts `alys dev` (extra arguments are passed on,
# e.g. `scripts/dev.sh --datadir ./devdata --authorities 3`).
set -euo pipefail
cd "$(dirname "$0")/.."
ALYS_SKIP_NPM=1 bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alys-target}"
export CC=clang CXX=clang++
cargo build -p alys --bin alys
exec "$CARGO_TARGET_DIR/debug/alys" dev "$@"

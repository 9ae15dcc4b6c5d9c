#!/usr/bin/env bash
# Sets up what is missing, then runs every check and test of the project: formatting, lints,
# unit, integration, conformance and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alys-target}"
export CC=clang CXX=clang++
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins
cargo test --workspace -- --test-threads=2

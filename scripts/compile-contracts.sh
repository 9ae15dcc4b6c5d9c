#!/usr/bin/env bash
# Compiles contracts/src/*.sol with solc-js (npm) into contracts/artifacts/*.json, which tests
# and benchmarks embed. Run after changing a contract.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd scripts/contracts && npm install --no-audit --no-fund --loglevel=error >/dev/null)
NODE_PATH=scripts/contracts/node_modules node scripts/contracts/compile.js "$PWD"

#!/usr/bin/env bash
# Installs the end-to-end clients (Foundry's cast/forge/anvil, solc-js, viem, EthereumJS) from npm into
# tests/e2e/node_modules, exactly as package-lock.json pins them. The Rust harnesses fail when they are absent.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
test -x node_modules/.bin/cast
test -x node_modules/.bin/forge
test -f node_modules/forge-std/Vm.sol
test -x node_modules/.bin/ethereumjs
node -e "require.resolve('viem')" >/dev/null
echo "e2e clients installed in $(pwd)/node_modules"

#!/usr/bin/env bash
# Runs the contracts' forge tests (contracts/test) with Foundry's forge from tests/e2e and the
# solc-js that builds contracts/artifacts (scripts/contracts), through tests/e2e/solc-wrapper.sh.
# Both are installed by scripts/setup.sh; a missing one is an error. Extra arguments go to
# `forge test` (for example `--match-test testFuzz -vvv`).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
forge=""
for c in tests/e2e/node_modules/@foundry-rs/forge-*/bin/forge; do
  [ -x "$c" ] && forge="$root/$c"
done
if [ -z "$forge" ]; then
  echo "forge not found under tests/e2e/node_modules/@foundry-rs (run scripts/setup.sh)" >&2
  exit 1
fi
solcjs="$root/scripts/contracts/node_modules/solc/solc.js"
if [ ! -f "$solcjs" ]; then
  echo "solc-js not found at $solcjs (run scripts/setup.sh)" >&2
  exit 1
fi
if [ ! -f tests/e2e/node_modules/forge-std/Vm.sol ]; then
  echo "forge-std not found under tests/e2e/node_modules (run scripts/setup.sh)" >&2
  exit 1
fi
ALYS_SOLCJS="$solcjs" exec "$forge" test --root "$root" --use "$root/tests/e2e/solc-wrapper.sh" --offline "$@"

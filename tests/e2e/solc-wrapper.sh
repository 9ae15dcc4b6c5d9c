#!/usr/bin/env bash
# Lets forge use solc-js (the only solc reachable here): answers `--version` the way native solc
# does, drops `--allow-paths` (solc-js rejects it) and strips solc-js's `>>>` notes from stdout.
set -euo pipefail
SOLCJS="$(cd "$(dirname "$0")" && pwd)/node_modules/solc/solc.js"
if [ "${1:-}" = "--version" ]; then
  v="$(node "$SOLCJS" --version)"
  echo "solc, the solidity compiler commandline interface"
  echo "Version: ${v%%.Emscripten*}.Linux.g++"
  exit 0
fi
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --allow-paths) shift 2 ;;
    --allow-paths=*) shift ;;
    *) args+=("$1"); shift ;;
  esac
done
node "$SOLCJS" "${args[@]}" | sed '/^>>>/d'

#!/usr/bin/env bash
# Lets forge use solc-js (the only solc reachable here): answers `--version` the way native solc
# does, drops `--allow-paths` (solc-js rejects it) and strips solc-js's `>>>` notes from stdout.
# `ALYS_SOLCJS` names another solc-js (`solc.js`) than the one installed beside this script.
set -euo pipefail
SOLCJS="${ALYS_SOLCJS:-$(cd "$(dirname "$0")" && pwd)/node_modules/solc/solc.js}"
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
# Node writes to a pipe asynchronously and solc-js exits before a large output (over 64 KiB) is
# flushed; a file receives it whole.
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
node "$SOLCJS" "${args[@]}" >"$out" || status=$?
sed '/^>>>/d' "$out"
exit "$status"

#!/usr/bin/env bash
# Installs what building and testing Alys needs on a fresh Debian/Ubuntu machine. Idempotent:
# anything already present is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (LevelDB builds with clang and cmake)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust from https://rustup.rs first" >&2
  exit 1
fi

# End-to-end tools written outside this project (Foundry's cast/forge/anvil, viem), pinned in
# tests/e2e/package.json and installed locally under tests/e2e/node_modules.
if [ "${ALYS_SKIP_NPM:-0}" != "1" ] && command -v npm >/dev/null 2>&1 && [ -f tests/e2e/package.json ]; then
  if [ ! -x tests/e2e/node_modules/.bin/cast ] || [ tests/e2e/package.json -nt tests/e2e/node_modules/.installed ]; then
    echo "installing end-to-end tools (npm)"
    (cd tests/e2e && npm install --no-audit --no-fund --loglevel=error && touch node_modules/.installed)
  fi
fi

# Independent Bitcoin clients used by the end-to-end tests (python-bitcoinlib builds and signs
# deposits; embit derives the federation address from its descriptor).
if [ "${ALYS_SKIP_PIP:-0}" != "1" ] && command -v python3 >/dev/null 2>&1; then
  if ! python3 -c "import bitcoin.rpc, embit" >/dev/null 2>&1; then
    echo "installing python-bitcoinlib and embit (pip)"
    python3 -m pip install --quiet --disable-pip-version-check python-bitcoinlib embit
  fi
fi

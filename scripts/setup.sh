#!/usr/bin/env bash
# Installs what building and testing Alys needs on a fresh Debian/Ubuntu machine. Idempotent:
# anything already present is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs Debian/Ubuntu packages (apt-get update once per run).
apt_updated=0
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ "$apt_updated" -eq 0 ]; then
    $sudo apt-get update -qq || true
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}

need_apt=()
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (LevelDB builds with clang and cmake)"
  apt_install "${need_apt[@]}"
fi

# Debian's docker-compose: the test command validates docker-compose.yml with
# `docker-compose config` (no Docker engine needed; app/tests/deployment_files.rs).
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "installing docker-compose (checks docker-compose.yml)"
  apt_install docker-compose
fi

# Debian's Chromium, driven headless by the peg web page's browser test (app/tests/peg_ui.rs).
if [ "${ALYS_SKIP_CHROMIUM:-0}" != "1" ] && [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (the peg web page's browser test)"
  apt_install chromium
fi

# Prometheus's promtool (Debian's prometheus package), which checks etc/alerts.yml
# (app/tests/metrics.rs). Only promtool is needed: where the package's install started its
# Prometheus service, it is stopped and disabled again.
if ! command -v promtool >/dev/null 2>&1; then
  echo "installing prometheus (promtool checks the alert rules)"
  apt_install --no-install-recommends prometheus
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust from https://rustup.rs first" >&2
  exit 1
fi

# End-to-end tools written outside this project (Foundry's cast/forge/anvil, forge-std, viem,
# the EthereumJS execution client), pinned in tests/e2e/package-lock.json and installed locally under
# tests/e2e/node_modules.
if [ "${ALYS_SKIP_NPM:-0}" != "1" ] && command -v npm >/dev/null 2>&1 && [ -f tests/e2e/package.json ]; then
  if [ ! -x tests/e2e/node_modules/.bin/cast ] || [ ! -x tests/e2e/node_modules/.bin/ethereumjs ] \
    || [ ! -d tests/e2e/node_modules/playwright-core ] \
    || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.installed ]; then
    echo "installing end-to-end tools (npm)"
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed)
  fi
fi

# solc-js for the contracts (scripts/contracts, pinned by its package-lock.json): it builds
# contracts/artifacts (scripts/compile-contracts.sh), and the forge tests (scripts/forge-test.sh)
# and the test that recompiles the Bridge use it.
if [ "${ALYS_SKIP_NPM:-0}" != "1" ] && command -v npm >/dev/null 2>&1 && [ -f scripts/contracts/package-lock.json ]; then
  if [ ! -f scripts/contracts/node_modules/solc/solc.js ] \
    || [ scripts/contracts/package-lock.json -nt scripts/contracts/node_modules/.installed ]; then
    echo "installing solc-js for the contracts (npm ci in scripts/contracts)"
    (cd scripts/contracts && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed)
  fi
fi

# The peg web page's build tools (esbuild, TypeScript) and libraries (viem, qrcode-generator),
# exactly as ui/package-lock.json pins them. The built page (ui/dist) is committed, so building
# the node never needs them; a test rebuilds it and compares.
if [ "${ALYS_SKIP_NPM:-0}" != "1" ] && command -v npm >/dev/null 2>&1 && [ -f ui/package-lock.json ]; then
  if [ ! -x ui/node_modules/.bin/esbuild ] || [ ui/package-lock.json -nt ui/node_modules/.installed ]; then
    echo "installing the peg web page's build tools (npm ci in ui/)"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed)
  fi
fi

# Independent Bitcoin clients used by the end-to-end tests (python-bitcoinlib builds and signs
# deposits; embit derives the federation address from its descriptor), in a virtual environment
# inside the project (.venv): a distribution's own interpreter refuses installs into it
# (PEP 668). Tests run `$ALYS_PYTHON`, else `.venv/bin/python3`.
venv=.venv
python_packages=(python-bitcoinlib==0.12.2 embit==0.8.0)
if [ "${ALYS_SKIP_PIP:-0}" != "1" ]; then
  if ! "$venv/bin/python3" -c "import bitcoin.rpc, embit" >/dev/null 2>&1; then
    if ! command -v python3 >/dev/null 2>&1; then
      echo "installing python3 and python3-venv"
      apt_install python3 python3-venv
    elif ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
      echo "installing python3-venv (python3 -m venv needs it)"
      apt_install python3-venv
    fi
    if ! "$venv/bin/python3" -m pip --version >/dev/null 2>&1; then
      echo "creating the Python virtual environment $venv"
      python3 -m venv --clear "$venv"
    fi
    echo "installing ${python_packages[*]} into $venv (pip)"
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "${python_packages[@]}"
  fi
fi

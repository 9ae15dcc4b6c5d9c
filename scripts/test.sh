#!/usr/bin/env bash
# Sets up what is missing, then runs every check and test of the project: formatting, lints,
# unit, integration, conformance and end-to-end tests. Every step runs even when an earlier one
# fails (and every test binary runs even when another fails); the failures are listed at the
# end and the exit status is non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
bash scripts/setup.sh || exit 1

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/alys-target}"
export CC=clang CXX=clang++
# Tests run the Python Bitcoin clients from the project's virtual environment.
export ALYS_PYTHON="${ALYS_PYTHON:-$root/.venv/bin/python3}"
if [ "${ALYS_ALLOW_MISSING_VECTORS:-0}" = "1" ] || [ "${ALYS_ALLOW_MISSING_TOOLS:-0}" = "1" ]; then
  echo "note: ALYS_ALLOW_MISSING_VECTORS/ALYS_ALLOW_MISSING_TOOLS set: missing vectors or tools are skipped, not failures"
fi

failed=()
test_log="$(mktemp "${TMPDIR:-/tmp}/alys-test.XXXXXX")"
# Every conformance suite appends its case count here (see primitives/src/vectors.rs).
export ALYS_CONFORMANCE_REPORT="$(mktemp "${TMPDIR:-/tmp}/alys-conformance.XXXXXX")"
trap 'rm -f "$test_log" "$ALYS_CONFORMANCE_REPORT"' EXIT

# Runs one step, recording it as failed (without stopping) when it exits non-zero.
step() {
  local name="$1"
  shift
  local start=$SECONDS
  echo "==> $name"
  if "$@"; then
    echo "==> $name: ok ($((SECONDS - start)) s)"
  else
    echo "==> $name: FAILED ($((SECONDS - start)) s)"
    failed+=("$name")
  fi
}

run_tests() {
  cargo test --workspace --no-fail-fast -- --test-threads=2 2>&1 | tee "$test_log"
}

step "cargo fmt --check" cargo fmt --all --check
step "crate graph in docs/architecture.md" python3 scripts/crate-graph.py --check
step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
step "cargo test" run_tests

echo
echo "==> conformance vectors run:"
sort "$ALYS_CONFORMANCE_REPORT" | sed 's/^conformance: /  /'
if [ ! -s "$ALYS_CONFORMANCE_REPORT" ]; then
  echo "  none: no conformance suite ran"
  failed+=("conformance suites")
fi
if [ ${#failed[@]} -eq 0 ]; then
  echo "==> every step passed: fmt, clippy, tests (${SECONDS} s)"
  exit 0
fi
echo "==> failed steps (${SECONDS} s):"
for name in "${failed[@]}"; do
  echo "  - $name"
done
if grep -qE '^test .* \.\.\. FAILED$|^error: .*test failed' "$test_log"; then
  echo "==> failed tests:"
  grep -E '^test .* \.\.\. FAILED$' "$test_log" | sed -E 's/^test (.*) \.\.\. FAILED$/  - \1/' | sort -u
  echo "==> failed test targets:"
  grep -E 'test failed, to rerun pass' "$test_log" | sed -E 's/.*to rerun pass `?([^`]*)`?.*/  - \1/' | sort -u
fi
exit 1

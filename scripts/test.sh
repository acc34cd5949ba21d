#!/usr/bin/env bash
# The test command: installs what is missing, builds the dev preset (ASan+UBSan), and runs
# every test suite: the format check, ctest (all C++ tests), pytest, go test and the Java
# tests, each where it has tests. Exits non-zero when any of them fails.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh || { echo "test: installing dependencies failed" >&2; exit 1; }
export PATH="/usr/local/go/bin:$PATH"

failed=()
suite() {
  local name=$1; shift
  echo "=== $name"
  if "$@"; then echo "=== $name: ok"; else echo "=== $name: FAILED"; failed+=("$name"); fi
}

echo "=== build (dev preset)"
cmake --preset dev >/dev/null && cmake --build --preset dev || {
  echo "test: build failed" >&2; exit 1; }

suite format scripts/check-format.sh
suite ctest ctest --preset dev
suite "C ABI (exports and abidiff against capi/abi/)" scripts/check-abi.sh

venv=$(scripts/venv.sh) || { echo "test: python venv failed" >&2; exit 1; }
if compgen -G "tests/*/test_*.py" >/dev/null; then
  # Not the cairn package's pytest plugin, which the binding's suite below installs into
  # the same venv: it loads libcairn, whose ASan build must be preloaded (run-tests.sh
  # does); these tests start their own servers and need none of its fixtures.
  suite pytest "$venv/bin/python" -m pytest -q -p no:cairn tests
fi
if [ -f bindings/python/pyproject.toml ]; then
  suite "python binding" bindings/python/run-tests.sh "$venv"
fi

mapfile -t go_modules < <(find bindings/go tests -name go.mod -not -path '*/build/*' \
                            2>/dev/null | sort)
for mod in "${go_modules[@]}"; do
  suite "go test $(dirname "$mod")" bash -c "cd '$root/$(dirname "$mod")' && go test -count=1 ./..."
done

if [ -f bindings/java/pom.xml ]; then
  suite "java" mvn -q -B -f bindings/java/pom.xml test
fi

if [ "${#failed[@]}" -gt 0 ]; then
  echo "test: FAILED: ${failed[*]}"
  exit 1
fi
echo "test: every suite passed"

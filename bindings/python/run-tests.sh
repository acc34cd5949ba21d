#!/usr/bin/env bash
# Builds the wheel over the dev preset's libcairn (already built by scripts/test.sh: nothing of
# the engine is compiled again), installs it into the test venv and runs bindings/python/tests.
# The dev library carries ASan and UBSan, whose runtime must be loaded first: it is preloaded
# into the Python process (leak checking is off: the interpreter itself keeps memory at exit).
# Usage: bindings/python/run-tests.sh VENV [pytest args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=$(cd "${1:?usage: run-tests.sh VENV [pytest args...]}" && pwd)
shift
lib=$(realpath -m "${CAIRN_LIBRARY:-$root/build/dev/capi/libcairn.so.0}")
if [ ! -e "$lib" ]; then
  echo "python binding: $lib not found (build the dev preset first)" >&2
  exit 1
fi
CAIRN_LIBRARY=$lib "$venv/bin/pip" install --quiet --disable-pip-version-check "$root/bindings/python"
preload=""
if readelf -d "$lib" | grep libasan >/dev/null; then  # not -q: pipefail and SIGPIPE
  # libstdc++ too: ASan intercepts __cxa_throw only if it is loaded when ASan starts.
  preload="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
fi
cd "$root"
LD_PRELOAD=$preload ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
  exec "$venv/bin/python" -m pytest -q bindings/python/tests "$@"

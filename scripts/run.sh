#!/usr/bin/env bash
# The run command: installs what is missing, builds the release preset and starts cairnd in
# the foreground on etcd's defaults (clients on localhost:2379, data in ./default.cairn).
# Arguments are passed to cairnd, which takes etcd's flags.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
if ! cmake --build --preset release --target help | grep -q '^cairnd:'; then
  echo "run: cairnd is not built yet: the server (cpp/server, cpp/rpc, cpp/cmd) does not" \
       "exist in this tree. See README.md for what works today." >&2
  exit 1
fi
cmake --build --preset release --target cairnd
exec build/release/cpp/cmd/cairnd "$@"

#!/usr/bin/env bash
# Compares the built libcairn.so with the baseline committed under capi/abi/: the exported
# symbols (symbols.txt) and the ABI of the public header's functions and types (abidiff
# against libcairn.abi, written by abidw). Fails on a removed or changed export, a changed
# type behind one, or a symbol exported that is not cairn_*. Added functions pass.
#
#   scripts/check-abi.sh [path/to/libcairn.so]   check (default: the dev preset's build)
#   scripts/check-abi.sh --update [path]         rewrite the baseline, on purpose
#
# Update the baseline only for a deliberate change: additions (new functions, new _v2
# variants) are compatible; anything that fails this check is incompatible and needs a new
# major version (CAIRN_VERSION_MAJOR, the project's major version, hence the soname).
set -euo pipefail
cd "$(dirname "$0")/.."

update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi
lib=${1:-build/dev/capi/libcairn.so}
baseline_dir=capi/abi
abi_baseline=$baseline_dir/libcairn.abi
sym_baseline=$baseline_dir/symbols.txt
headers=capi/include/cairn

[ -f "$lib" ] || { echo "check-abi: $lib not found (build the dev preset first)" >&2; exit 2; }
command -v abidw >/dev/null && command -v abidiff >/dev/null ||
  { echo "check-abi: abidw/abidiff missing (abigail-tools)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Exported functions and objects, with their symbol version (cairn_x@@CAIRN_0).
nm -D --defined-only --format=posix "$lib" | awk '$2 ~ /^[TtDdBbRrVvWwi]$/ {print $1}' |
  grep -v '^CAIRN_[0-9]*$' | LC_ALL=C sort >"$tmp/symbols.txt"
# Only the public header's interface: opaque handles stay declarations, engine types stay out.
abidw --headers-dir "$headers" --drop-private-types --exported-interfaces-only --no-elf-needed \
  --no-corpus-path --type-id-style hash "$lib" |
  sed "s| comp-dir-path='[^']*'||" >"$tmp/libcairn.abi"  # no machine path in the baseline

if [ "$update" = 1 ]; then
  mkdir -p "$baseline_dir"
  cp "$tmp/symbols.txt" "$sym_baseline"
  cp "$tmp/libcairn.abi" "$abi_baseline"
  echo "check-abi: baseline updated ($(wc -l <"$sym_baseline") symbols); commit capi/abi/"
  exit 0
fi

failed=0
foreign=$(grep -v '^cairn_' "$tmp/symbols.txt" || true)
if [ -n "$foreign" ]; then
  echo "check-abi: exported symbols that are not cairn_*:" >&2
  echo "$foreign" | sed 's/^/  /' >&2
  failed=1
fi
removed=$(LC_ALL=C comm -23 "$sym_baseline" "$tmp/symbols.txt")
added=$(LC_ALL=C comm -13 "$sym_baseline" "$tmp/symbols.txt")
if [ -n "$removed" ]; then
  echo "check-abi: exported symbols removed (incompatible):" >&2
  echo "$removed" | sed 's/^/  /' >&2
  failed=1
fi
[ -z "$added" ] || echo "check-abi: new exports (compatible): $(echo "$added" | tr '\n' ' ')"

# abidiff's exit status is a bit set: 1 error, 2 usage, 4 ABI change, 8 incompatible change.
# With added symbols left out, any change left is to something that existed: a failure.
set +e
abidiff --no-added-syms --headers-dir2 "$headers" "$abi_baseline" "$tmp/libcairn.abi" \
  >"$tmp/report.txt" 2>&1
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "check-abi: abidiff reports a change to the baseline's interface (status $rc):" >&2
  sed 's/^/  /' "$tmp/report.txt" >&2
  failed=1
fi

if [ "$failed" -ne 0 ]; then
  echo "check-abi: FAILED; an intended change needs 'scripts/check-abi.sh --update' (see its header)" >&2
  exit 1
fi
echo "check-abi: $(wc -l <"$tmp/symbols.txt") exports match the baseline in capi/abi/"

#!/usr/bin/env bash
# Makes a Go toolchain >= GO_MIN available. Uses the one on PATH when it is recent enough;
# otherwise bootstraps Debian's golang-go and fetches the pinned toolchain through the Go
# module proxy (golang.org/toolchain is an ordinary module there), into /usr/local/go.
set -euo pipefail
GO_MIN="1.26"
GO_PIN="1.26.8"

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export PATH="/usr/local/go/bin:$PATH"

version_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v; v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$GO_MIN" "$v" | sort -V | head -1)" = "$GO_MIN" ]
}

if version_ok; then echo "install-go: $(go version)"; exit 0; fi

if ! command -v go >/dev/null 2>&1; then
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
arch=$(dpkg --print-architecture)
mod="golang.org/toolchain@v0.0.1-go${GO_PIN}.linux-${arch}"
dir=$(cd "$tmp" && GOPATH="$tmp/gopath" GOFLAGS=-modcacherw go mod download -json "$mod" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$dir" ] || { echo "install-go: could not fetch $mod" >&2; exit 1; }
$SUDO rm -rf /usr/local/go
$SUDO cp -a "$dir" /usr/local/go
$SUDO chmod +x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/* 2>/dev/null || true
echo "install-go: $(/usr/local/go/bin/go version)"

#!/usr/bin/env bash
# Installs every system dependency Cairn needs to build and test, from Debian's packages,
# skipping what is already there. Idempotent; runs as root or through sudo.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: run as root or install sudo" >&2; exit 1
  fi
fi

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git ca-certificates curl
  clang-format clang-tidy
  # engine
  libwiredtiger-dev wiredtiger
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libnghttp2-dev
  libyaml-cpp-dev libjemalloc-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  etcd-server etcd-client
  # bindings
  python3 python3-venv python3-dev python3-pip pybind11-dev swig
  default-jdk-headless maven
  abigail-tools
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian ships etcd-server enabled as a service; tests start their own etcd.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true
  fi
else
  echo "install-deps: all Debian packages present"
fi

# Go: the Go tests and tools need Go >= 1.26 (etcd 3.6 server for the benchmark and the
# lock/election driver). Debian 12 ships 1.19, so when no
# recent go is on PATH the toolchain comes from the Go module proxy, as a module.
"$(dirname "$0")/install-go.sh"

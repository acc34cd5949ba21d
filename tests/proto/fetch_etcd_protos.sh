#!/usr/bin/env bash
# fetch_etcd_protos.sh VERSION DIR: lays out etcd's own .proto files of VERSION (e.g.
# v3.5.35) under DIR as protoc include root, with the files they import for options
# (gogoproto, google.api, openapiv2), all taken from the Go module proxy. Prints DIR.
# Nothing of this is committed: the test obtains it each time it runs.
set -euo pipefail
version=$1; out=$2
export GOFLAGS=-mod=mod
fetch() { (cd "$out" && go mod download -json "$1") | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'; }
mkdir -p "$out/etcd"
api=$(fetch "go.etcd.io/etcd/api/v3@$version")
server=$(fetch "go.etcd.io/etcd/server/v3@$version")
gogo=$(fetch github.com/gogo/protobuf@v1.3.2)
gw1=$(fetch github.com/grpc-ecosystem/grpc-gateway@v1.16.0)
gw2=$(fetch github.com/grpc-ecosystem/grpc-gateway/v2@v2.29.0)
ln -sfn "$api" "$out/etcd/api"
ln -sfn "$server" "$out/etcd/server"
ln -sfn "$gogo/gogoproto" "$out/gogoproto"
mkdir -p "$out/google"
ln -sfn "$gw1/third_party/googleapis/google/api" "$out/google/api"
ln -sfn "$gw2/protoc-gen-openapiv2" "$out/protoc-gen-openapiv2"
echo "$out"

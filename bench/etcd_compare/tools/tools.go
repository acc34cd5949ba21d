//go:build tools

// Package tools pins the commands the comparison builds: etcd's benchmark tool lives in
// etcd's main module (go.etcd.io/etcd/v3), so it is required here and built by import path.
package tools

import (
	_ "go.etcd.io/etcd/v3/tools/benchmark"
)

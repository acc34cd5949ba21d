// Command etcd is etcd's server, built from the Go module proxy at the version go.mod pins,
// so the comparison runs against a current etcd and not only Debian's older one.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

// Command etcd is the etcd server, built from its published Go module so the end-to-end tests
// need no prebuilt binary. It is etcd's own entry point with nothing added.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

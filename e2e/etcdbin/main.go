// Command etcd is the real etcd server, built from its Go module so the
// control-plane tests need no release download: the same entry point as
// etcd's own main.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

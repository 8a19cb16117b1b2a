// Command etcd is etcd's own server main, built here so that envtest has an
// etcd binary that comes from the Go module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }

// Command tmc is a multi-cluster GitOps reconciler: it projects resources from
// a git repo to many Kubernetes clusters and aggregates them back into one view.
//
// See README.md for the commands.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

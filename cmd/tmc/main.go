// Command tmc is a multi-cluster GitOps reconciler: it projects resources from
// a git repo to many Kubernetes clusters and aggregates them back into one view.
//
// See README.md for the commands.
package main

import (
	"log/slog"
	"os"

	"github.com/kcp-dev/tmc"
)

func main() {
	// controller-runtime warns on stderr unless its logger is set; tmc reports errors itself.
	tmc.SetLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	ctx, stop := interruptible(os.Stderr)
	code := runContext(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

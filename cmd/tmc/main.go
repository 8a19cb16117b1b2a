// Command tmc is a multi-cluster GitOps reconciler: it projects resources from
// a git repo to many Kubernetes clusters and aggregates them back into one view.
//
// See README.md for the commands.
package main

import (
	"log/slog"
	"os"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

func main() {
	// controller-runtime warns on stderr unless its logger is set; tmc reports errors itself.
	ctrllog.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	ctx, stop := interruptible(os.Stderr)
	code := runContext(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

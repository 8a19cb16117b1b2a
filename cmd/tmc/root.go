package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
)

// exitError carries an exit code through cobra; its message has already been printed when silent.
type exitCodeError struct {
	code   int
	silent bool
	err    error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// run executes tmc with args and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ce *exitCodeError
	if errors.As(err, &ce) {
		if !ce.silent && ce.err != nil {
			fmt.Fprintln(stderr, "Error:", ce.err)
		}
		return ce.code
	}
	fmt.Fprintln(stderr, "Error:", err)
	return exitError
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "tmc",
		Short: "Multi-cluster GitOps: project resources to many clusters, aggregate them back",
		Long: `tmc reads policies from a git repo that say which Kubernetes resources are
projected to which clusters (with per-cluster transformations) and how they are
aggregated back into one view, plans and applies the projection with
server-side apply, and writes aggregated reports back to the repo.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newVersionCommand(), newValidateCommand(), newRenderCommand(), newPlanCommand(), newApplyCommand(), newAggregateCommand(), newStatusCommand(), newSyncCommand())
	return root
}

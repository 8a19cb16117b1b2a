package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

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
	return runContext(context.Background(), args, stdout, stderr)
}

// interruptible is tmc's one signal handler. It returns a context that a
// second interrupt (SIGINT or SIGTERM) cancels; the first lets the work in
// flight finish (an apply is never cut in the middle of a cluster), as
// terraform does, and cancels the context stopRequested returns, which
// long-running commands (tmc sync) watch to stop taking new work.
func interruptible(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	stop, stopNow := context.WithCancel(context.Background())
	ctx = context.WithValue(ctx, stopKey{}, stop)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		fmt.Fprintln(stderr, "interrupt: finishing the work in flight; interrupt again to cancel it")
		stopNow()
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(sigs); stopNow(); cancel() }
}

type stopKey struct{}

// stopRequested returns the context the first interrupt cancels; without a
// signal handler (tests) it is ctx itself.
func stopRequested(ctx context.Context) context.Context {
	if stop, ok := ctx.Value(stopKey{}).(context.Context); ok {
		return stop
	}
	return ctx
}

// runContext executes tmc with args under ctx and returns the process exit code.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stdout, stderr = newTermSafe(stdout), newTermSafe(stderr)
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
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
	root.AddCommand(newVersionCommand(), newValidateCommand(), newRenderCommand(), newPlanCommand(), newApplyCommand(), newAggregateCommand(), newStatusCommand(), newSyncCommand(), newRolloutCommand())
	return root
}

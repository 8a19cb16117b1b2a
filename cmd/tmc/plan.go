package main

import (
	"bufio"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kcp-dev/tmc"
)

func newPlanCommand() *cobra.Command {
	var cf clusterFlags
	var output, out string
	var detailed, forceConflicts bool
	var markdownLimit int
	cmd := &cobra.Command{
		Use:   "plan [DIR]",
		Short: "Show what applying DIR would change on every target cluster",
		Long: `plan renders DIR (default .) with live cluster facts and, for every
workspace and target cluster, dry-runs each object with server-side apply and
compares it with the live object. Objects tmc applied earlier that git no
longer holds are planned for deletion. Nothing is written to any cluster.

Exit codes: 0 success, 1 error, and with --detailed-exitcode 0 no changes,
2 changes pending. Every unreachable cluster is shown; one that a planned
workspace targets makes the exit code 1 (with --workspace, only that
workspace's targets count).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" && output != "markdown" {
				return fmt.Errorf("unknown output format %q: use text, json or markdown", output)
			}
			ctx := cmd.Context()
			s, err := cf.open(ctx, cmd, dirArg(args))
			if err != nil {
				return err
			}
			opts := tmc.DefaultPlanOptions()
			opts.ForceConflicts, opts.PerCluster = forceConflicts, cf.perCluster
			progress(cmd, "planning...")
			pl, err := s.Plan(ctx, opts)
			if err != nil {
				return err
			}
			if out != "" {
				if err := pl.Save(out); err != nil {
					return err
				}
				progress(cmd, "plan saved to %s; apply it with: tmc apply --plan %s %s", out, out, dirArg(args))
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			switch output {
			case "json":
				err = writeJSON(w, pl)
			case "markdown":
				err = writePlanMarkdown(w, pl, markdownLimit)
			default:
				err = writePlanText(w, pl, colorful(cmd.OutOrStdout()))
			}
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return err
			}
			if len(s.UnreachableTargets(pl)) > 0 || pl.Summary.Errors > 0 {
				return &exitCodeError{code: exitError, silent: true}
			}
			if detailed && pl.HasChanges() {
				return &exitCodeError{code: exitChanges, silent: true}
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json or markdown")
	cmd.Flags().StringVar(&out, "out", "", "save the plan to FILE for tmc apply --plan")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when there are changes, 0 when none")
	cmd.Flags().BoolVar(&forceConflicts, "force-conflicts", false, "plan as if tmc takes ownership of fields other managers own")
	cmd.Flags().IntVar(&markdownLimit, "markdown-limit", defaultMarkdownLimit, "with -o markdown, keep the output under this many bytes (a GitHub comment takes 65,536 characters); what does not fit is summarised")
	return cmd
}

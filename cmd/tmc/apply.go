package main

import (
	"bufio"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcp-dev/tmc"
)

func newApplyCommand() *cobra.Command {
	var cf clusterFlags
	var planFile, output string
	var wait, forceConflicts, force bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "apply [DIR]",
		Short: "Converge every target cluster with DIR (server-side apply, prune by inventory)",
		Long: `apply plans DIR (default .) and applies the plan: CRDs and Namespaces first,
then the rest, with server-side apply under the field manager "tmc"; objects
tmc applied earlier that git no longer holds are pruned; an inventory per
workspace is kept in each cluster (tmc-system). With --plan FILE it applies a
saved plan instead, refusing clusters that changed since the plan was made.

One cluster failing never stops the others; the exit code is 1 if any failed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q: use text or json", output)
			}
			ctx := cmd.Context()
			s, err := cf.open(ctx, cmd, dirArg(args))
			if err != nil {
				return err
			}
			var pl *tmc.Plan
			var verdict tmc.PlanVerdict
			if planFile != "" {
				progress(cmd, "checking that the clusters did not change since the plan...")
				if pl, verdict, err = s.LoadPlan(ctx, planFile, cf.perCluster); err != nil {
					return err
				}
			} else {
				popts := tmc.PlanOptions{ForceConflicts: forceConflicts, PerCluster: cf.perCluster}
				progress(cmd, "planning...")
				if pl, err = s.Plan(ctx, popts); err != nil {
					return err
				}
				progress(cmd, "plan: %d to create, %d to update, %d to delete, %d unchanged", pl.Summary.Create, pl.Summary.Update, pl.Summary.Delete, pl.Summary.Unchanged)
			}
			aopts := tmc.DefaultApplyOptions()
			aopts.ForceConflicts, aopts.Force, aopts.Wait, aopts.Timeout = forceConflicts, force, wait, timeout
			aopts.PerCluster, aopts.Refused = cf.perCluster, verdict.Refused
			aopts.Progress = func(c tmc.ClusterApplyResult) {
				progress(cmd, "cluster %s done: %d created, %d updated, %d deleted", c.Name, c.Created, c.Updated, c.Deleted)
			}
			res, err := s.Apply(ctx, pl, aopts)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			if output == "json" {
				err = writeJSON(w, res)
			} else {
				writeApplyText(w, res)
			}
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return err
			}
			if res.Failed() {
				return &exitCodeError{code: exitError, silent: true}
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&planFile, "plan", "", "apply this saved plan (from tmc plan --out) instead of planning")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the applied objects to be ready (kstatus)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long --wait waits")
	cmd.Flags().BoolVar(&forceConflicts, "force-conflicts", false, "take ownership of fields other field managers own")
	cmd.Flags().BoolVar(&force, "force", false, "delete and recreate objects whose immutable fields changed")
	return cmd
}

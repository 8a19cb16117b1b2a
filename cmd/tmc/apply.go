package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcp-dev/tmc"
)

func newApplyCommand() *cobra.Command {
	var cf clusterFlags
	var planFile, output string
	var wait, forceConflicts, force, roll bool
	var timeout, rollTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "apply [DIR]",
		Short: "Converge every target cluster with DIR (server-side apply, prune by inventory)",
		Long: `apply plans DIR (default .) and applies the plan: CRDs and Namespaces first,
then the rest, with server-side apply under the field manager "tmc"; objects
tmc applied earlier that git no longer holds are pruned; an inventory per
workspace is kept in each cluster (tmc-system). With --plan FILE it applies a
saved plan instead, refusing clusters that changed since the plan was made.

A workspace with a rollout (spec.rollout) takes the revision wave by wave:
apply applies what its rollout lets be applied now — the current wave —
and says where each rollout stands. With --rollout it goes on, wave after
wave, through gates and bake times, printing progress, until every rollout
is complete (exit 0) or one halts (exit 1).

One cluster failing never stops the others; the exit code is 1 if any failed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q: use text or json", output)
			}
			ctx := cmd.Context()
			if roll && planFile != "" {
				return fmt.Errorf("--rollout plans each step itself: it cannot apply a saved plan")
			}
			if roll {
				return applyRollout(cmd, &cf, dirArg(args), forceConflicts, rollTimeout)
			}
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
				var decisions map[string]*tmc.RolloutDecision
				if pl, decisions, err = s.RolloutStep(ctx, pl); err != nil {
					return err
				}
				for _, key := range sortedKeys(decisions) {
					d := decisions[key]
					progress(cmd, "rollout of %s: %s: %s", key, d.State, line(d.Message))
				}
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
	cmd.Flags().BoolVar(&roll, "rollout", false, "roll every workspace with a rollout out wave by wave, through its gates and bake times, until complete or halted")
	cmd.Flags().DurationVar(&rollTimeout, "rollout-timeout", time.Hour, "how long --rollout may take in all")
	return cmd
}

// applyRollout runs rollouts to their end (tmc.RunRollouts), printing
// each step; a halted rollout exits 1.
func applyRollout(cmd *cobra.Command, cf *clusterFlags, dir string, forceConflicts bool, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), limit)
	defer cancel()
	aopts := tmc.DefaultApplyOptions()
	aopts.ForceConflicts, aopts.PerCluster = forceConflicts, cf.perCluster
	out := cmd.OutOrStdout()
	last := map[string]string{}
	decisions, err := tmc.RunRollouts(ctx, func(ctx context.Context) (*tmc.Session, error) { return cf.open(ctx, cmd, dir) }, tmc.RolloutRunOptions{
		Plan: tmc.PlanOptions{ForceConflicts: forceConflicts, PerCluster: cf.perCluster}, Apply: aopts,
		Step: func(step int, res *tmc.ApplyResult, decisions map[string]*tmc.RolloutDecision) {
			if res != nil {
				for _, c := range res.Clusters {
					if c.Created+c.Updated+c.Deleted > 0 || c.Failed() {
						progress(cmd, "step %d: cluster %s: %d created, %d updated, %d deleted", step, c.Name, c.Created, c.Updated, c.Deleted)
					}
				}
				if res.Failed() {
					w := bufio.NewWriter(out)
					writeApplyText(w, res)
					_ = w.Flush()
				}
			}
			for _, key := range sortedKeys(decisions) {
				d := decisions[key]
				msg := fmt.Sprintf("rollout of %s: wave %s: %s: %s", key, d.Wave, d.State, d.Message)
				if last[key] != msg { // a step that changed nothing prints nothing
					printf(out, "%s\n", line(msg))
					last[key] = msg
				}
			}
		},
	})
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("rollouts not complete after %s", limit)
	}
	if err != nil {
		return &exitCodeError{code: exitError, silent: true}
	}
	for _, d := range decisions {
		if d.State == tmc.RolloutHalted {
			return &exitCodeError{code: exitError, silent: true}
		}
	}
	printf(out, "every rollout is complete\n")
	return nil
}

package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcp-dev/tmc"
)

func newRolloutCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Inspect rollouts in waves and lift their manual gates",
		Long: `A workspace with spec.rollout takes each new revision wave by wave. tmc sync
advances rollouts on its own; tmc apply --rollout runs them in CI. These
commands read where each rollout stands, from the clusters and git, and lift
a wave's manual gate without a new commit.`,
	}
	cmd.AddCommand(newRolloutStatusCommand(), newRolloutResumeCommand())
	return cmd
}

func newRolloutStatusCommand() *cobra.Command {
	var cf clusterFlags
	cmd := &cobra.Command{
		Use:   "status [DIR]",
		Short: "Show where each rollout of DIR's revision stands: state, current wave, each wave's clusters",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := cf.open(ctx, cmd, dirArg(args))
			if err != nil {
				return err
			}
			pl, err := s.Plan(ctx, tmc.PlanOptions{PerCluster: cf.perCluster})
			if err != nil {
				return err
			}
			_, decisions, err := s.RolloutStep(ctx, pl)
			if err != nil {
				return err
			}
			if len(decisions) == 0 {
				printf(cmd.OutOrStdout(), "no workspace of %s has a rollout\n", dirArg(args))
				return nil
			}
			halted := false
			for _, key := range sortedKeys(decisions) {
				d := decisions[key]
				printf(cmd.OutOrStdout(), "rollout of %s (revision %s): %s\n  %s\n", key, d.Revision, d.State, line(d.Message))
				for _, w := range d.Waves {
					printf(cmd.OutOrStdout(), "  wave %-12s %-11s %d/%d at the revision, %d healthy: %s\n", w.Name, w.State, w.AtRevision, len(w.Clusters), w.Healthy, strings.Join(w.Clusters, ", "))
				}
				halted = halted || d.State == tmc.RolloutHalted
			}
			if halted {
				return &exitCodeError{code: exitError, silent: true}
			}
			return nil
		},
	}
	cf.add(cmd)
	return cmd
}

func newRolloutResumeCommand() *cobra.Command {
	var cf clusterFlags
	var wave, revision string
	cmd := &cobra.Command{
		Use:   "resume [DIR] --workspace NAME --wave NAME",
		Short: "Lift a wave's manual gate for the revision of DIR (no new commit)",
		Long: `resume records, on the workspace's inventory on its target clusters, that the
wave's manual gate (manualGate: true) is lifted for the revision DIR holds
(or --revision). tmc sync, every replica and tmc apply --rollout read it
there; a new revision needs its own approval.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			workspace := cf.workspace
			if workspace == "" || wave == "" {
				return fmt.Errorf("--workspace and --wave are required")
			}
			dir := dirArg(args)
			if revision == "" {
				if revision = tmc.Revision(dir); revision == "" {
					return fmt.Errorf("%s is not in a git work tree: name the revision with --revision", dir)
				}
			}
			ctx := cmd.Context()
			s, err := cf.open(ctx, cmd, dir)
			if err != nil {
				return err
			}
			done, err := s.ApproveWave(ctx, workspace, wave, revision)
			if len(done) > 0 {
				printf(cmd.OutOrStdout(), "wave %s of %s lifted for revision %s (recorded on %s)\n", wave, workspace, revision, strings.Join(done, ", "))
			}
			return err
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&wave, "wave", "", "the wave whose manual gate to lift")
	cmd.Flags().StringVar(&revision, "revision", "", "the revision the approval is for (default: DIR's git HEAD)")
	return cmd
}

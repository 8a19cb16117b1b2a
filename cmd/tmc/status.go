package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcp-dev/tmc"
)

func newStatusCommand() *cobra.Command {
	var cf clusterFlags
	var output string
	cmd := &cobra.Command{
		Use:   "status [DIR]",
		Short: "Show each workspace's status: phase, target clusters, aggregated and projected kinds",
		Long: `status plans and aggregates DIR (default .) without changing anything and prints,
per workspace, its phase — Active (converged), Pending (changes wait),
Error (a cluster is unreachable or objects cannot be applied) or Terminating
(removed from git, objects still on clusters) — its target clusters with
health, its aggregated kinds with counts, and its projected kinds with source
and projection counts. tmc sync serves the same JSON at /api/v1/workspaces.

Exit codes: 0 when no workspace is in Error, 1 when one is (or on an error),
as for plan. A workspace is judged on its own target clusters only.`,
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
			rep, err := s.Status(ctx)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			if output == "json" {
				err = writeJSON(w, rep)
			} else {
				writeStatusText(w, rep)
			}
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return err
			}
			for _, ws := range rep.Workspaces {
				if tmc.VirtualWorkspaceStatus(ws.Phase) == tmc.VirtualWorkspaceStatusError {
					return &exitCodeError{code: exitError, silent: true}
				}
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func writeStatusText(w io.Writer, rep tmc.StatusReport) {
	for i, ws := range rep.Workspaces {
		if i > 0 {
			fmt.Fprintln(w)
		}
		printf(w, "Workspace %s/%s: %s\n", ws.LogicalCluster, ws.Name, ws.Phase)
		if ws.Message != "" {
			printf(w, "  %s\n", line(ws.Message))
		}
		if ws.CreatedTime != "" {
			printf(w, "  Created: %s   Last updated: %s\n", ws.CreatedTime, ws.LastUpdated)
		}
		if r := ws.Rollout; r != nil {
			printf(w, "  Rollout of %s: %s", r.Revision, r.State)
			if r.Wave != "" {
				printf(w, " at wave %s (%d of %d)", r.Wave, r.Index+1, len(r.Waves))
			}
			fmt.Fprintln(w)
			if r.Message != "" {
				printf(w, "    %s\n", line(r.Message))
			}
			for _, wv := range r.Waves {
				printf(w, "    wave %-12s %-11s %d/%d at the revision, %d healthy: %s\n", wv.Name, wv.State, wv.AtRevision, len(wv.Clusters), wv.Healthy, strings.Join(wv.Clusters, ", "))
			}
		}
		if ws.Pending != nil {
			p := ws.Pending
			printf(w, "  Changes pending: %d create, %d update, %d delete (%d unchanged, %d skipped)\n", p.Create, p.Update, p.Delete, p.Unchanged, p.Skip)
		}
		if len(ws.TargetClusters) > 0 {
			fmt.Fprintln(w, "  Target clusters:")
			for _, c := range ws.TargetClusters {
				h := c.Label()
				if !c.Reachable {
					h += ": " + line(c.Message())
				}
				printf(w, "    %-20s %s\n", c.Name, h)
			}
		}
		if len(ws.AggregatedKinds) > 0 {
			fmt.Fprintln(w, "  Aggregated resources:")
			for _, k := range ws.AggregatedKinds {
				printf(w, "    %s: %d total, %d healthy, %d unhealthy (Health: %.1f%%); %d instances (%d healthy)",
					k.Kind, k.TotalCount, k.HealthyCount, k.UnhealthyCount, k.HealthyPercent(), k.InstanceCount, k.HealthyInstanceCount)
				if k.MissingCount > 0 {
					printf(w, ", %d missing (%d %s only on some clusters)", k.MissingCount, k.PartialCount, plural(k.PartialCount, "resource", "resources"))
				}
				if k.LastAggregated != "" {
					printf(w, "; aggregated %s", k.LastAggregated)
				}
				fmt.Fprintln(w)
			}
		}
		if len(ws.ProjectedKinds) > 0 {
			fmt.Fprintln(w, "  Projected resources:")
			for _, k := range ws.ProjectedKinds {
				printf(w, "    %s: %d %s → %d projections (%d in sync)\n", k.Kind, k.Sources, plural(k.Sources, "source", "sources"), k.Projections, k.InSync)
				for _, r := range k.Resources {
					name := r.Name
					if r.Namespace != "" {
						name = r.Namespace + "/" + r.Name
					}
					var to []string
					for _, p := range r.ProjectedTo {
						s := p.Cluster
						if p.Name != "" {
							s += " as " + p.Name
						}
						if !p.InSync {
							s += " (not in sync)"
						}
						to = append(to, s)
					}
					printf(w, "      %s → %s\n", name, strings.Join(to, ", "))
				}
			}
		}
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcp-dev/tmc"
)

// aggregateOutput is the JSON and YAML form of `tmc aggregate`.
type aggregateOutput struct {
	FormatVersion string               `json:"formatVersion"`
	Workspaces    []*tmc.WorkspaceView `json:"workspaces"`
}

func newAggregateCommand() *cobra.Command {
	var cf clusterFlags
	var output, author, authorEmail string
	var write, commit, push bool
	cmd := &cobra.Command{
		Use:   "aggregate [DIR]",
		Short: "Read every workspace's resources back from its clusters and merge them into one view",
		Long: `aggregate reads, for each workspace and each of its AggregationPolicies, the
policy's kind from every target cluster (one paged LIST per cluster) and merges
the instances: merged spec and status, conditions, conflicts, health per
cluster and overall, and counts.

--write-reports writes reports/<logicalCluster>/<workspace>/status.yaml and
README.md into DIR (the Config's reports.path); --commit commits the changed
files with go-git (no commit when nothing changed); --push pushes the branch,
re-applying the reports on the remote head if someone pushed first.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" && output != "yaml" {
				return fmt.Errorf("unknown output format %q: use text, json or yaml", output)
			}
			if push {
				commit = true
			}
			if commit {
				write = true
			}
			ctx := cmd.Context()
			dir := dirArg(args)
			s, err := cf.open(ctx, cmd, dir)
			if err != nil {
				return err
			}
			progress(cmd, "aggregating...")
			views, err := s.Aggregate(ctx, tmc.AggregateOptions{})
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			out := aggregateOutput{FormatVersion: tmc.ViewFormatVersion, Workspaces: views}
			switch output {
			case "json":
				err = writeJSON(w, out)
			case "yaml":
				var b []byte
				if b, err = tmc.MarshalYAML(out); err == nil {
					_, err = w.Write(b)
				}
			default:
				writeAggregateText(w, views)
			}
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return err
			}
			if write {
				res, err := tmc.PublishReports(ctx, views, tmc.PublishOptions{
					PolicyRoot: dir, ReportsPath: s.Repo.Policies.Config.Reports.Path,
					Prune: cf.workspace == "" && cf.cluster == "", Commit: commit,
					CommitOptions: tmc.CommitOptions{AuthorName: author, AuthorEmail: authorEmail, Push: push, Message: commitMessage(views)},
				})
				if err != nil {
					return err
				}
				progress(cmd, "reports: %d of %d files changed, %d removed", len(res.Changed), len(res.Files), len(res.Removed))
				if commit {
					switch {
					case res.Commit == "":
						progress(cmd, "reports unchanged: no commit")
					default:
						progress(cmd, "committed %s", res.Commit[:12])
					}
					if res.Pushed {
						progress(cmd, "pushed (%d rebases)", res.Rebased)
					}
				}
			}
			for _, v := range views {
				for _, k := range v.AggregatedResources {
					if k.Error != "" {
						return &exitCodeError{code: exitError, silent: true}
					}
				}
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json or yaml")
	cmd.Flags().BoolVar(&write, "write-reports", false, "write report files into DIR")
	cmd.Flags().BoolVar(&commit, "commit", false, "commit changed report files (implies --write-reports)")
	cmd.Flags().BoolVar(&push, "push", false, "push the commit (implies --commit)")
	cmd.Flags().StringVar(&author, "author-name", "", "commit author name (default: git config user.name)")
	cmd.Flags().StringVar(&authorEmail, "author-email", "", "commit author email (default: git config user.email)")
	return cmd
}

// commitMessage is a one-line summary and the aggregation time.
func commitMessage(views []*tmc.WorkspaceView) string {
	var total, healthy int
	for _, v := range views {
		for _, k := range v.AggregatedResources {
			total += k.TotalCount
			healthy += k.HealthyCount
		}
	}
	return fmt.Sprintf("tmc: reports for %d %s (%d of %d resources healthy)\n\nAggregated at %s.\n",
		len(views), plural(len(views), "workspace", "workspaces"), healthy, total, time.Now().UTC().Format(time.RFC3339))
}

func writeAggregateText(w io.Writer, views []*tmc.WorkspaceView) {
	for i, v := range views {
		if i > 0 {
			fmt.Fprintln(w)
		}
		printf(w, "workspace %s/%s\n", v.LogicalCluster, v.Workspace)
		if v.StaleSince != "" {
			printf(w, "  stale: no target cluster could be read since %s; this is the last view\n", v.StaleSince)
		}
		var tcs []string
		for _, c := range v.TargetClusters {
			tcs = append(tcs, c.Name+" ("+c.Label()+")")
		}
		printf(w, "  target clusters: %s\n", strings.Join(tcs, ", "))
		for _, k := range v.AggregatedResources {
			printf(w, "  %s: %s", k.Kind, kindCounts(k))
			printf(w, "  [%s: %s/%s/%s/%s]\n", k.Policy, k.MergeStrategy, k.ConflictResolution, k.HealthAggregation, k.StatusMerging)
			if k.Error != "" {
				printf(w, "    error: %s\n", line(k.Error))
			}
			for _, r := range k.Resources {
				var in, missing []string
				for _, o := range r.Clusters {
					switch o.Health {
					case string(tmc.ResourceHealthMissing):
						missing = append(missing, o.Cluster)
					default:
						if o.StaleSince != "" {
							in = append(in, o.Cluster+"="+o.Health+" (stale since "+o.StaleSince+")")
						} else {
							in = append(in, o.Cluster+"="+o.Health)
						}
					}
				}
				name := r.Name
				if r.Namespace != "" {
					name = r.Namespace + "/" + r.Name
				}
				printf(w, "    %s  %s  in: %s", name, r.Status, strings.Join(in, " "))
				if len(missing) > 0 {
					printf(w, "  missing: %s (only in %d of %d clusters)", strings.Join(missing, " "), r.Present, r.Targets)
				}
				fmt.Fprintln(w)
				for _, c := range r.Conflicts {
					var vals []string
					for _, cl := range slices.Sorted(maps.Keys(c.Values)) {
						vals = append(vals, cl+"="+compact(c.Values[cl]))
					}
					won := "unresolved"
					if c.Winner != "" {
						won = c.Winner + " wins"
					}
					if c.Manager != "" {
						won += ", written by " + c.Manager + " at " + c.WrittenAt
					}
					class := ""
					if c.Class != "" {
						class = "(" + strings.ToLower(c.Class) + ") "
					}
					printf(w, "      conflict %s%s: %s (%s: %s)\n", class, c.Field, line(strings.Join(vals, " ")), c.Resolution, line(won))
					for _, d := range c.Divergent {
						by := ""
						if d.Manager != "" {
							by = ", written by " + d.Manager + " at " + d.WrittenAt
						}
						printf(w, "        %s holds %s where git means %s%s\n", d.Cluster, line(compact(c.Values[d.Cluster])), line(compact(d.Desired)), line(by))
					}
				}
				for _, v := range r.Variations {
					printf(w, "      varies by policy %s: %s\n", v.Field, line(variation(v)))
				}
			}
		}
	}
}

// variation says what git holds, what each cluster holds, and which
// transformations made them differ.
func variation(v tmc.Variation) string {
	var parts []string
	if v.HasSource {
		parts = append(parts, "git "+compact(v.Source)+";")
	}
	for _, cl := range slices.Sorted(maps.Keys(v.Values)) {
		parts = append(parts, cl+"="+compact(v.Values[cl]))
	}
	var by []string
	for _, b := range v.By {
		by = append(by, fmt.Sprintf("%s transformations[%d] %s on %s", b.Policy, b.Transformation, b.Type, strings.Join(b.Clusters, ",")))
	}
	if len(by) == 0 {
		by = append(by, "rendered differently per cluster")
	}
	return strings.Join(parts, " ") + " (" + strings.Join(by, "; ") + ")"
}

// kindCounts is the seed's summary of a kind: resources judged once by the
// health rule, percent healthy, then instances and what is missing.
func kindCounts(k tmc.KindView) string {
	s := fmt.Sprintf("%d total, %d healthy, %d unhealthy (Health: %.1f%%); %d instances (%d healthy)",
		k.TotalCount, k.HealthyCount, k.UnhealthyCount, k.HealthyPercent(), k.InstanceCount, k.HealthyInstanceCount)
	if k.MissingCount > 0 {
		s += fmt.Sprintf(", %d missing (%d %s not on every cluster)", k.MissingCount, k.PartialCount, plural(k.PartialCount, "resource", "resources"))
	}
	if k.DivergentFields > 0 {
		s += fmt.Sprintf(", %d divergent %s", k.DivergentFields, plural(k.DivergentFields, "field", "fields"))
	}
	if k.VariedFields > 0 {
		s += fmt.Sprintf(", %d %s varying by policy", k.VariedFields, plural(k.VariedFields, "field", "fields"))
	}
	return s
}

// compact renders a value on one line: scalars as they are, the rest as JSON.
func compact(v any) string {
	switch v.(type) {
	case map[string]any, []any:
		b, err := json.Marshal(v)
		if err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}

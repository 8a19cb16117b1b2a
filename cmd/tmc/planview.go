package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/kcp-dev/tmc/internal/apply"
	"github.com/kcp-dev/tmc/internal/plan"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

var symbols = map[plan.Action]string{plan.Create: "+", plan.Update: "~", plan.Delete: "-", plan.Unchanged: "=", plan.Skip: "!"}

const (
	green, yellow, red, dim, reset = "\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[2m", "\x1b[0m"
)

var colors = map[plan.Action]string{plan.Create: green, plan.Update: yellow, plan.Delete: red, plan.Skip: red, plan.Unchanged: dim}

// clusterCounts counts a cluster's changes per action.
func clusterCounts(pl *plan.Plan, name string) map[plan.Action]int {
	m := map[plan.Action]int{}
	for _, ch := range pl.Changes {
		if ch.Cluster == name {
			m[ch.Action]++
		}
	}
	return m
}

func countLine(m map[plan.Action]int) string {
	var parts []string
	for _, a := range plan.Actions {
		if m[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[a], a))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// writePlanText prints a terraform-like plan: per cluster, each change that is
// not unchanged with its diff, then a summary.
func writePlanText(w io.Writer, pl *plan.Plan, color bool) error {
	paint := func(c, s string) string {
		if !color || c == "" {
			return s
		}
		return c + s + reset
	}
	for _, st := range pl.Clusters {
		if !st.Reachable {
			fmt.Fprintf(w, "cluster %s: %s\n", st.Name, paint(red, "unreachable: "+st.Error))
		} else {
			fmt.Fprintf(w, "cluster %s: %s\n", st.Name, countLine(clusterCounts(pl, st.Name)))
		}
		for _, ch := range pl.Changes {
			if ch.Cluster != st.Name || ch.Action == plan.Unchanged {
				continue
			}
			line := fmt.Sprintf("  %s %-6s %s/%s %s", symbols[ch.Action], ch.Action, ch.LogicalCluster, ch.Workspace, ch.ID())
			fmt.Fprintln(w, paint(colors[ch.Action], line))
			for _, note := range []string{ch.Reason, ch.Conflict, ch.Error} {
				if note != "" {
					fmt.Fprintf(w, "      %s\n", note)
				}
			}
			if ch.Diff != "" && ch.Action != plan.Skip {
				for _, l := range strings.SplitAfter(strings.TrimRight(ch.Diff, "\n"), "\n") {
					c := ""
					switch {
					case strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++"):
						c = green
					case strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "---"):
						c = red
					}
					fmt.Fprint(w, "      ", paint(c, strings.TrimRight(l, "\n")), "\n")
				}
			}
		}
	}
	s := pl.Summary
	fmt.Fprintf(w, "\nPlan: %d to create, %d to update, %d to delete, %d unchanged", s.Create, s.Update, s.Delete, s.Unchanged)
	if s.Skip > 0 {
		fmt.Fprintf(w, ", %d skipped", s.Skip)
	}
	fmt.Fprintln(w, ".")
	if n := len(pl.Unreachable()); n > 0 {
		fmt.Fprintf(w, "%d %s unreachable: nothing is applied or pruned there.\n", n, plural(n, "cluster", "clusters"))
	}
	if s.Released > 0 {
		fmt.Fprintf(w, "%d %s released to another workspace that now renders %s: not deleted.\n", s.Released, plural(s.Released, "object is", "objects are"), plural(s.Released, "it", "them"))
	}
	if s.Owned > 0 {
		fmt.Fprintf(w, "%d %s to another workspace on %s cluster: skipped, never updated or pruned.\n", s.Owned, plural(s.Owned, "object belongs", "objects belong"), plural(s.Owned, "its", "their"))
	}
	if s.Conflicts > 0 {
		fmt.Fprintf(w, "%d %s fields another manager owns: apply with --force-conflicts to take them.\n", s.Conflicts, plural(s.Conflicts, "object has", "objects have"))
	}
	if line := comparedLine(s); line != "" {
		fmt.Fprintln(w, line)
	}
	return nil
}

// comparedLine says how existing objects were compared: locally, or with a
// server-side dry-run and why.
func comparedLine(s plan.Summary) string {
	if s.Local == 0 && len(s.DryRuns) == 0 {
		return ""
	}
	line := fmt.Sprintf("Compared: %d unchanged without a request", s.Local)
	n := 0
	for _, c := range s.DryRuns {
		n += c
	}
	if n > 0 {
		var parts []string
		for _, why := range slices.Sorted(maps.Keys(s.DryRuns)) {
			parts = append(parts, fmt.Sprintf("%d %s", s.DryRuns[why], why))
		}
		line += fmt.Sprintf(", %d dry-run on the server (%s)", n, strings.Join(parts, "; "))
	}
	return line + "."
}

// writePlanMarkdown prints the plan for a pull-request comment.
func writePlanMarkdown(w io.Writer, pl *plan.Plan) error {
	s := pl.Summary
	fmt.Fprintf(w, "### tmc plan: %d to create, %d to update, %d to delete\n\n", s.Create, s.Update, s.Delete)
	if pl.Revision != "" {
		fmt.Fprintf(w, "Revision `%s`\n\n", pl.Revision)
	}
	fmt.Fprintln(w, "| cluster | reachable | create | update | delete | unchanged | skip |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	for _, st := range pl.Clusters {
		m := clusterCounts(pl, st.Name)
		reach := "yes"
		if !st.Reachable {
			reach = "**no**: " + strings.ReplaceAll(st.Error, "|", "\\|")
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d |\n", st.Name, reach, m[plan.Create], m[plan.Update], m[plan.Delete], m[plan.Unchanged], m[plan.Skip])
	}
	for _, st := range pl.Clusters {
		var body strings.Builder
		n := 0
		for _, ch := range pl.Changes {
			if ch.Cluster != st.Name || ch.Action == plan.Unchanged {
				continue
			}
			n++
			fmt.Fprintf(&body, "%s %s %s/%s %s\n", symbols[ch.Action], ch.Action, ch.LogicalCluster, ch.Workspace, ch.ID())
			for _, note := range []string{ch.Reason, ch.Conflict, ch.Error} {
				if note != "" {
					fmt.Fprintf(&body, "    %s\n", note)
				}
			}
			if ch.Action != plan.Skip {
				body.WriteString(ch.Diff)
			}
		}
		if n == 0 {
			continue
		}
		fmt.Fprintf(w, "\n<details><summary>%s: %d %s</summary>\n\n```diff\n%s```\n\n</details>\n", st.Name, n, plural(n, "change", "changes"), strings.ReplaceAll(body.String(), "```", "ʼʼʼ"))
	}
	return nil
}

// writeApplyText prints an apply result: a line per cluster, its errors, a summary.
func writeApplyText(w io.Writer, res *apply.Result) {
	var created, updated, deleted, failed int
	for _, c := range res.Clusters {
		status := "ok"
		if c.Failed() {
			status = "FAILED"
			failed++
		}
		fmt.Fprintf(w, "cluster %s: %s: %d created, %d updated, %d deleted, %d unchanged\n", c.Name, status, c.Created, c.Updated, c.Deleted, c.Unchanged)
		if c.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", c.Error)
		}
		for _, e := range c.Errors {
			fmt.Fprintf(w, "  error: %s\n", e)
		}
		created, updated, deleted = created+c.Created, updated+c.Updated, deleted+c.Deleted
	}
	fmt.Fprintf(w, "\nApply: %d created, %d updated, %d deleted; %d of %d clusters failed.\n", created, updated, deleted, failed, len(res.Clusters))
}

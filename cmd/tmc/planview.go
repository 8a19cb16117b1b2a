package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/kcp-dev/tmc"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

var symbols = map[tmc.Action]string{tmc.ActionCreate: "+", tmc.ActionUpdate: "~", tmc.ActionDelete: "-", tmc.ActionUnchanged: "=", tmc.ActionSkip: "!"}

const (
	green, yellow, red, dim, reset = "\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[2m", "\x1b[0m"
)

var colors = map[tmc.Action]string{tmc.ActionCreate: green, tmc.ActionUpdate: yellow, tmc.ActionDelete: red, tmc.ActionSkip: red, tmc.ActionUnchanged: dim}

// clusterCounts counts a cluster's changes per action.
func clusterCounts(pl *tmc.Plan, name string) map[tmc.Action]int {
	m := map[tmc.Action]int{}
	for _, ch := range pl.Changes {
		if ch.Cluster == name {
			m[ch.Action]++
		}
	}
	return m
}

func countLine(m map[tmc.Action]int) string {
	var parts []string
	for _, a := range tmc.Actions {
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
func writePlanText(w io.Writer, pl *tmc.Plan, color bool) error {
	paint := func(c, s string) string {
		if !color || c == "" {
			return s
		}
		return c + s + reset
	}
	for _, st := range pl.Clusters {
		if !st.Reachable {
			printf(w, "cluster %s: %s\n", st.Name, paint(red, st.Label()+": "+line(st.Message())))
		} else {
			printf(w, "cluster %s: %s\n", st.Name, countLine(clusterCounts(pl, st.Name)))
		}
	}
	writeRolloutsText(w, pl)
	for _, ch := range pl.Changes {
		if ch.Drift != nil {
			what := "reverts"
			if ch.DriftReported {
				what = "leaves (spec.drift: Report)"
			}
			printf(w, "drift: %s on %s: the update %s an edit by %s at %s\n", ch.ID(), ch.Cluster, what, line(ch.Drift.Manager), line(ch.Drift.Time))
		}
	}
	for _, sec := range sections(pl) {
		printf(w, "\non %s:\n", sec.title())
		if len(sec.clusters) > 1 {
			printf(w, "  (the same on each; %s is each cluster's name)\n", clusterPlaceholder)
		}
		for _, b := range sec.blocks {
			fmt.Fprintln(w, paint(colors[b.action], "  "+b.head))
			for _, note := range b.notes {
				printf(w, "      %s\n", note)
			}
			if b.diff != "" {
				for _, l := range strings.SplitAfter(strings.TrimRight(b.diff, "\n"), "\n") {
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
	printf(w, "\nPlan: %d to create, %d to update, %d to delete, %d unchanged", s.Create, s.Update, s.Delete, s.Unchanged)
	if s.Skip > 0 {
		printf(w, ", %d skipped", s.Skip)
	}
	fmt.Fprintln(w, ".")
	if n := len(pl.Unreachable()); n > 0 {
		printf(w, "%d %s unreachable: nothing is applied or pruned there.\n", n, plural(n, "cluster", "clusters"))
	}
	if s.Released > 0 {
		printf(w, "%d %s released to another workspace that now renders %s: not deleted.\n", s.Released, plural(s.Released, "object is", "objects are"), plural(s.Released, "it", "them"))
	}
	if s.Owned > 0 {
		printf(w, "%d %s to another workspace on %s cluster: skipped, never updated or pruned.\n", s.Owned, plural(s.Owned, "object belongs", "objects belong"), plural(s.Owned, "its", "their"))
	}
	if s.Conflicts > 0 {
		printf(w, "%d %s fields another manager owns: apply with --force-conflicts to take them.\n", s.Conflicts, plural(s.Conflicts, "object has", "objects have"))
	}
	if line := comparedLine(s); line != "" {
		fmt.Fprintln(w, line)
	}
	return nil
}

// comparedLine says how existing objects were compared: locally, or with a
// server-side dry-run and why.
func comparedLine(s tmc.PlanSummary) string {
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

// defaultMarkdownLimit keeps a markdown plan inside one GitHub pull-request
// comment (65,536 characters), with room for what CI adds around it.
const defaultMarkdownLimit = 60000

// writePlanMarkdown prints the plan for a pull-request comment: the counts
// per cluster, then each set of changes once with the clusters it is on.
// It stays under limit bytes (0: no limit); the sections that do not fit
// are counted and the reader is pointed to the full plan.
func writePlanMarkdown(w io.Writer, pl *tmc.Plan, limit int) error {
	var b strings.Builder
	s := pl.Summary
	fmt.Fprintf(&b, "### tmc plan: %d to create, %d to update, %d to delete\n\n", s.Create, s.Update, s.Delete)
	if pl.Revision != "" {
		fmt.Fprintf(&b, "Revision %s\n\n", tmc.MarkdownCode(pl.Revision))
	}
	b.WriteString("| cluster | reachable | create | update | delete | unchanged | skip |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, st := range pl.Clusters {
		m := clusterCounts(pl, st.Name)
		reach := "yes"
		if !st.Reachable {
			reach = "**no**: " + tmc.MarkdownCodeCell(st.Message())
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d |\n", tmc.MarkdownCell(st.Name), reach, m[tmc.ActionCreate], m[tmc.ActionUpdate], m[tmc.ActionDelete], m[tmc.ActionUnchanged], m[tmc.ActionSkip])
	}
	b.WriteString(rolloutsMarkdown(pl))
	secs := sections(pl)
	for i, sec := range secs {
		var body strings.Builder
		for _, blk := range sec.blocks {
			body.WriteString(blk.text())
		}
		note := ""
		if len(sec.clusters) > 1 {
			note = fmt.Sprintf(" (the same on each; %s is each cluster's name)", clusterPlaceholder)
		}
		part := fmt.Sprintf("\n<details><summary>%s: %d %s%s</summary>\n\n%s\n</details>\n",
			tmc.MarkdownHTML(sec.title()), len(sec.blocks), plural(len(sec.blocks), "change", "changes"), tmc.MarkdownHTML(note), tmc.MarkdownFence("diff", body.String()))
		if limit > 0 && b.Len()+len(part)+len(overflowNote(secs[i:])) > limit {
			b.WriteString(overflowNote(secs[i:]))
			break
		}
		b.WriteString(part)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// overflowNote says what did not fit in a markdown plan and where to find it.
func overflowNote(rest []section) string {
	n := 0
	for _, s := range rest {
		n += len(s.blocks)
	}
	return fmt.Sprintf("\n**%d more %s (%d %s) did not fit in this comment.** The full plan: `tmc plan -o json --out plan.json` (or `-o text`), kept as a CI artifact.\n",
		len(rest), plural(len(rest), "group of changes", "groups of changes"), n, plural(n, "change", "changes"))
}

// writeApplyText prints an apply result: a line per cluster, its errors, a summary.
func writeApplyText(w io.Writer, res *tmc.ApplyResult) {
	var created, updated, deleted, failed int
	for _, c := range res.Clusters {
		status := "ok"
		if c.Failed() {
			status = "FAILED"
			failed++
		}
		printf(w, "cluster %s: %s: %d created, %d updated, %d deleted, %d unchanged\n", c.Name, status, c.Created, c.Updated, c.Deleted, c.Unchanged)
		if c.Err != nil {
			printf(w, "  error: %s\n", line(c.Err.Error()))
		}
		for _, e := range c.Errors {
			printf(w, "  error: %s\n", line(e))
		}
		created, updated, deleted = created+c.Created, updated+c.Updated, deleted+c.Deleted
	}
	printf(w, "\nApply: %d created, %d updated, %d deleted; %d of %d clusters failed.\n", created, updated, deleted, failed, len(res.Clusters))
}

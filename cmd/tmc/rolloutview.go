package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/kcp-dev/tmc"
)

// waveCounts counts a workspace's changes on the clusters of one wave.
func waveCounts(pl *tmc.Plan, lc, ws string, clusters []string) map[tmc.Action]int {
	in := map[string]bool{}
	for _, c := range clusters {
		in[c] = true
	}
	m := map[tmc.Action]int{}
	for _, ch := range pl.Changes {
		if ch.Workspace == ws && ch.LogicalCluster == lc && in[ch.Cluster] {
			m[ch.Action]++
		}
	}
	return m
}

// writeRolloutsText prints, per workspace that rolls out in waves, each
// wave's clusters (with why each is in it) and its changes.
func writeRolloutsText(w io.Writer, pl *tmc.Plan) {
	for _, r := range pl.Rollouts {
		printf(w, "\nrollout of %s/%s, wave by wave:\n", r.LogicalCluster, r.Workspace)
		for i, wv := range r.Waves {
			names := strings.Join(wv.Clusters, ", ")
			if names == "" {
				names = "(no target cluster)"
			}
			printf(w, "  wave %d %s: %s: %s\n", i+1, wv.Name, names, countLine(waveCounts(pl, r.LogicalCluster, r.Workspace, wv.Clusters)))
			for _, c := range wv.Clusters {
				printf(w, "      %s: %s\n", c, wv.Reasons[c])
			}
		}
	}
}

// rolloutsMarkdown is a table per rolling workspace: wave, clusters, changes.
func rolloutsMarkdown(pl *tmc.Plan) string {
	var b strings.Builder
	for _, r := range pl.Rollouts {
		fmt.Fprintf(&b, "\n**Rollout of %s, wave by wave**\n\n| wave | clusters | create | update | delete |\n|---|---|---:|---:|---:|\n", tmc.MarkdownText(r.LogicalCluster+"/"+r.Workspace))
		for _, wv := range r.Waves {
			m := waveCounts(pl, r.LogicalCluster, r.Workspace, wv.Clusters)
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d |\n", tmc.MarkdownCell(wv.Name), tmc.MarkdownCell(strings.Join(wv.Clusters, ", ")), m[tmc.ActionCreate], m[tmc.ActionUpdate], m[tmc.ActionDelete])
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

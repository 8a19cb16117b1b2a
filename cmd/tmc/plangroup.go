package main

import (
	"fmt"
	"strings"

	"github.com/kcp-dev/tmc"
)

// clusterPlaceholder stands for each cluster's own name in a change shown
// once for several clusters.
const clusterPlaceholder = "{cluster}"

// section is a set of changes that are identical on every cluster it
// names, once each cluster's own name is read as {cluster}: a fleet review
// shows them once instead of once per cluster.
type section struct {
	clusters []string
	blocks   []changeBlock
}

// changeBlock is one change as the views print it.
type changeBlock struct {
	action tmc.Action
	head   string   // "~ update root/web Deployment/web/web"
	notes  []string // reason, conflict, error
	diff   string   // "" for skips
}

func (b changeBlock) text() string {
	var s strings.Builder
	s.WriteString(b.head + "\n")
	for _, n := range b.notes {
		s.WriteString("    " + n + "\n")
	}
	s.WriteString(b.diff)
	return s.String()
}

// blockOf prints a change, with its cluster's name replaced by
// {cluster}. Names shorter than 3 characters are left alone: they would
// match inside words.
func blockOf(ch *tmc.Change) changeBlock {
	norm := func(s string) string {
		if len(ch.Cluster) < 3 {
			return s
		}
		return strings.ReplaceAll(s, ch.Cluster, clusterPlaceholder)
	}
	b := changeBlock{action: ch.Action, head: norm(line(fmt.Sprintf("%s %s %s/%s %s", symbols[ch.Action], ch.Action, ch.LogicalCluster, ch.Workspace, ch.ID())))}
	for _, n := range []string{ch.Reason, ch.Conflict, ch.Error} {
		if n != "" {
			b.notes = append(b.notes, norm(line(n)))
		}
	}
	if ch.Action != tmc.ActionSkip {
		b.diff = norm(ch.Diff)
	}
	return b
}

// sections groups the plan's changes (unchanged objects aside): identical
// changes across clusters first, then the changes by the set of clusters
// they are on, in plan order.
func sections(pl *tmc.Plan) []section {
	type group struct {
		block    changeBlock
		clusters []string
	}
	var groups []*group
	byText := map[string]*group{}
	for _, ch := range pl.Changes {
		if ch.Action == tmc.ActionUnchanged {
			continue
		}
		b := blockOf(ch)
		g := byText[b.text()]
		if g == nil {
			g = &group{block: b}
			byText[b.text()] = g
			groups = append(groups, g)
		}
		g.clusters = append(g.clusters, ch.Cluster)
	}
	var out []section
	bySet := map[string]int{}
	for _, g := range groups {
		key := strings.Join(g.clusters, ",")
		i, ok := bySet[key]
		if !ok {
			i = len(out)
			bySet[key] = i
			out = append(out, section{clusters: g.clusters})
		}
		out[i].blocks = append(out[i].blocks, g.block)
	}
	// A change on one cluster reads better with the name written out.
	for i := range out {
		if len(out[i].clusters) == 1 {
			for j := range out[i].blocks {
				out[i].blocks[j] = expand(out[i].blocks[j], out[i].clusters[0])
			}
		}
	}
	return out
}

func expand(b changeBlock, cluster string) changeBlock {
	r := strings.NewReplacer(clusterPlaceholder, cluster)
	b.head, b.diff = r.Replace(b.head), r.Replace(b.diff)
	for i := range b.notes {
		b.notes[i] = r.Replace(b.notes[i])
	}
	return b
}

// title names a section's clusters: "prod-east", or "3 clusters: a, b, c".
func (s section) title() string {
	if len(s.clusters) == 1 {
		return s.clusters[0]
	}
	return fmt.Sprintf("%d clusters: %s", len(s.clusters), strings.Join(s.clusters, ", "))
}

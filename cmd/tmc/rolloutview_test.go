package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/kcp-dev/tmc"
)

// TestRolloutPlanMarkdownOn50Clusters: the plan comment of a rollout on
// 50 clusters names every wave's clusters with its changes and stays under
// the comment limit, however large the diffs.
func TestRolloutPlanMarkdownOn50Clusters(t *testing.T) {
	pl := fleetPlan()
	for i, ch := range pl.Changes {
		ch.Diff += strings.Repeat(fmt.Sprintf("+  line-%d: %s\n", i, strings.Repeat("x", 60)), 20)
	}
	waves := []tmc.RolloutWave{{Name: "canary", Clusters: []string{"edge-1"}}, {Name: "early", Clusters: nil}, {Name: "rest"}}
	for i := 2; i <= 10; i++ {
		waves[1].Clusters = append(waves[1].Clusters, fmt.Sprintf("edge-%d", i))
	}
	for i := 11; i <= 50; i++ {
		waves[2].Clusters = append(waves[2].Clusters, fmt.Sprintf("edge-%d", i))
	}
	pl.Rollouts = []tmc.PlanRollout{{Workspace: "web-app", LogicalCluster: "root", Waves: waves}}
	var md bytes.Buffer
	if err := writePlanMarkdown(&md, pl, defaultMarkdownLimit); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	if md.Len() > defaultMarkdownLimit {
		t.Errorf("%d bytes, over the %d limit", md.Len(), defaultMarkdownLimit)
	}
	for _, want := range []string{"**Rollout of root/web-app, wave by wave**", "| canary | edge-1 | 1 | 1 | 0 |",
		"| early | edge-2, edge-3, edge-4, edge-5, edge-6, edge-7, edge-8, edge-9, edge-10 | 9 | 9 | 0 |", "| rest | edge-11, edge-12,", "edge-50 | 40 | 40 | 0 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	var text bytes.Buffer
	if err := writePlanText(&text, pl, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "wave 1 canary: edge-1: 1 create, 1 update") || !strings.Contains(text.String(), "wave 3 rest: edge-11, edge-12") {
		t.Errorf("text plan:\n%s", text.String()[:min(text.Len(), 2000)])
	}
}

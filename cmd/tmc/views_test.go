package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc"
)

// testPlan is a plan with every kind of change, built by hand (no cluster).
func testPlan() *tmc.Plan {
	ch := func(cluster string, a tmc.Action, kind, ns, name string) *tmc.Change {
		return &tmc.Change{Workspace: "web-app", LogicalCluster: "root:production", Cluster: cluster, Action: a, APIVersion: "v1", Kind: kind, Namespace: ns, Name: name}
	}
	create := ch("edge-1", tmc.ActionCreate, "ConfigMap", "web", "web-config-edge-1")
	create.Diff = "--- ConfigMap/web/web-config-edge-1 (live)\n+++ ConfigMap/web/web-config-edge-1 (desired)\n@@ -0,0 +1,3 @@\n+data:\n+  color: blue\n+  password: '***'\n"
	update := ch("prod-east", tmc.ActionUpdate, "Deployment", "web", "web")
	update.APIVersion = "apps/v1"
	update.Diff = "--- Deployment/web/web (live)\n+++ Deployment/web/web (desired)\n@@ -1,1 +1,1 @@\n-  replicas: 1\n+  replicas: 3\n"
	update.Conflict = `Apply failed with 1 conflict: conflict with "kubectl-edit": .spec.replicas`
	del := ch("prod-east", tmc.ActionDelete, "ConfigMap", "web", "old")
	del.Reason = "no longer in git"
	owned := ch("prod-east", tmc.ActionSkip, "Secret", "web", "shared")
	owned.Owner, owned.Reason = "root:production/other", "workspace root:production/other owns this object on this cluster (its inventory records it); one object on a cluster belongs to one workspace"
	skip := ch("prod-west", tmc.ActionSkip, "ConfigMap", "web", "web-config-prod-west")
	skip.Reason = "cluster unreachable: nothing is applied or pruned there"
	update.DryRun = tmc.DryRunChanged
	unchanged := ch("edge-1", tmc.ActionUnchanged, "Namespace", "", "web")
	unchanged.Local = true
	secret := ch("edge-1", tmc.ActionUnchanged, "Secret", "web", "creds")
	secret.DryRun = tmc.DryRunWriteOnly
	changes := []*tmc.Change{create, unchanged, secret, update, del, owned, skip}
	return &tmc.Plan{FormatVersion: tmc.PlanFormatVersion, Changes: changes,
		Clusters: []tmc.ClusterState{{State: tmc.ClusterReached("edge-1", true)}, {State: tmc.ClusterReached("prod-east", true)}, {State: tmc.ClusterUnreached("prod-west", errors.New("dial tcp 10.0.0.3:6443: connect: connection refused"))}},
		Summary:  tmc.Summarize(changes)}
}

// TestHumanViewsGolden prints every human-readable view from constructed
// values and compares it with its golden file (go test ./cmd/tmc -update).
func TestHumanViewsGolden(t *testing.T) {
	var b bytes.Buffer
	if err := writePlanText(&b, testPlan(), false); err != nil {
		t.Fatal(err)
	}
	golden(t, "view-plan.txt", b.Bytes())

	b.Reset()
	if err := writePlanMarkdown(&b, testPlan(), defaultMarkdownLimit); err != nil {
		t.Fatal(err)
	}
	golden(t, "view-plan.md", b.Bytes())

	b.Reset()
	writeApplyText(&b, &tmc.ApplyResult{Clusters: []tmc.ClusterApplyResult{
		{Name: "edge-1", Created: 4, Unchanged: 1},
		{Name: "prod-east", Updated: 1, Deleted: 1, Errors: []string{"Secret/web/shared: apply failed: conflict"}},
		{Name: "prod-west", Err: tmc.ClusterProblem(errors.New("cluster unreachable"))},
	}})
	golden(t, "view-apply.txt", b.Bytes())

	views := []*tmc.WorkspaceView{{
		Workspace: "web-app", LogicalCluster: "root:production",
		TargetClusters: []tmc.TargetCluster{{State: tmc.ClusterReached("edge-1", true)}, {State: tmc.ClusterUnreached("prod-west", errors.New("connection refused"))}},
		AggregatedResources: []tmc.KindView{{
			Policy: "deployments", APIVersion: "apps/v1", Kind: "Deployment", MergeStrategy: "Union", ConflictResolution: "LastWriter",
			HealthAggregation: "Majority", StatusMerging: "Combined", TotalCount: 2, HealthyCount: 1, UnhealthyCount: 1, InstanceCount: 3, HealthyInstanceCount: 2, UnhealthyInstanceCount: 1, MissingCount: 1, PartialCount: 1,
			Resources: []tmc.MergedResource{{Namespace: "web", Name: "web", Status: "Healthy", Present: 2, Targets: 2,
				Clusters: []tmc.Origin{{Cluster: "edge-1", Health: "Healthy"}, {Cluster: "prod-west", Health: "Healthy", StaleSince: "2026-11-27T12:00:00Z"}},
			}, {Namespace: "web", Name: "api", Status: "Unhealthy", Present: 1, Targets: 2,
				Clusters:  []tmc.Origin{{Cluster: "edge-1", Health: "Unhealthy"}, {Cluster: "prod-west", Health: "Missing"}},
				Conflicts: []tmc.Conflict{{Field: "spec.replicas", Values: map[string]any{"edge-1": 1, "prod-west": 3}, Resolution: "LastWriter", Winner: "edge-1", Manager: "kubectl-scale", WrittenAt: "2026-11-27T11:00:00Z"}},
			}},
		}},
	}}
	b.Reset()
	writeAggregateText(&b, views)
	golden(t, "view-aggregate.txt", b.Bytes())

	b.Reset()
	writeStatusText(&b, tmc.StatusReport{FormatVersion: tmc.StatusFormatVersion, Revision: "0123456789abcdef", Workspaces: []tmc.WorkspaceStatus{
		{Name: "web-app", LogicalCluster: "root:production", Phase: string(tmc.VirtualWorkspaceStatusError), Message: "target clusters unreachable: [prod-west] (skipped, nothing pruned there)",
			TargetClusters: views[0].TargetClusters,
			CreatedTime:    "2026-11-20T08:00:00Z", LastUpdated: "2026-11-27T11:00:00Z",
			AggregatedKinds: []tmc.AggregatedKind{{APIVersion: "apps/v1", Kind: "Deployment", TotalCount: 2, HealthyCount: 1, UnhealthyCount: 1, InstanceCount: 3, HealthyInstanceCount: 2,
				MissingCount: 1, PartialCount: 1, LastAggregated: "2026-11-27T12:00:00Z"}},
			ProjectedKinds: []tmc.ProjectedKind{{APIVersion: "v1", Kind: "ConfigMap", Sources: 1, Projections: 3, InSync: 2, Resources: []tmc.ProjectedResource{
				{Namespace: "web", Name: "web-config", ProjectedTo: []tmc.Projection{
					{Cluster: "edge-1", Name: "web-config-edge-1", InSync: true}, {Cluster: "prod-east", Name: "web-config-prod-east", InSync: true},
					{Cluster: "prod-west", Name: "web-config-prod-west"}}}}}}},
		{Name: "batch", LogicalCluster: "root", Phase: string(tmc.VirtualWorkspaceStatusActive), TargetClusters: []tmc.TargetCluster{}, AggregatedKinds: []tmc.AggregatedKind{}, ProjectedKinds: []tmc.ProjectedKind{}},
	}})
	golden(t, "view-status.txt", b.Bytes())
}

// fleetPlan is a 50-cluster change: a ConfigMap named per cluster created on
// all 50, a Deployment update on 49, and on edge-7 a different update.
func fleetPlan() *tmc.Plan {
	var changes []*tmc.Change
	var clusters []tmc.ClusterState
	for i := 1; i <= 50; i++ {
		name := fmt.Sprintf("edge-%d", i)
		clusters = append(clusters, tmc.ClusterState{State: tmc.ClusterReached(name, true)})
		cm := &tmc.Change{Workspace: "web-app", LogicalCluster: "root", Cluster: name, Action: tmc.ActionCreate, APIVersion: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-config-" + name,
			Diff: fmt.Sprintf("--- ConfigMap/web/web-config-%[1]s (live)\n+++ ConfigMap/web/web-config-%[1]s (desired)\n@@ -0,0 +1,2 @@\n+data:\n+  cluster: %[1]s\n", name)}
		replicas := "3"
		if name == "edge-7" {
			replicas = "5"
		}
		dep := &tmc.Change{Workspace: "web-app", LogicalCluster: "root", Cluster: name, Action: tmc.ActionUpdate, APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "web",
			Diff: "--- Deployment/web/web (live)\n+++ Deployment/web/web (desired)\n@@ -1,1 +1,1 @@\n-  replicas: 1\n+  replicas: " + replicas + "\n"}
		changes = append(changes, cm, dep)
	}
	return &tmc.Plan{FormatVersion: tmc.PlanFormatVersion, Changes: changes, Clusters: clusters, Summary: tmc.Summarize(changes)}
}

// TestPlanViewsGroupFleets: changes identical across clusters (the
// cluster's own name read as {cluster}) show once with their clusters.
func TestPlanViewsGroupFleets(t *testing.T) {
	secs := sections(fleetPlan())
	var got []string
	for _, s := range secs {
		var heads []string
		for _, b := range s.blocks {
			heads = append(heads, b.head)
		}
		got = append(got, fmt.Sprintf("%d clusters: %s", len(s.clusters), strings.Join(heads, "; ")))
	}
	// The ConfigMap is on all 50 (edge-7 too), so it forms a section of its own.
	want := []string{
		"50 clusters: + create root/web-app ConfigMap/web/web-config-{cluster}",
		"49 clusters: ~ update root/web-app Deployment/web/web",
		"1 clusters: ~ update root/web-app Deployment/web/web",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sections (-want +got):\n%s", diff)
	}
	if secs[2].clusters[0] != "edge-7" || !strings.Contains(secs[2].blocks[0].diff, "replicas: 5") {
		t.Errorf("the odd cluster: %v %q", secs[2].clusters, secs[2].blocks[0].diff)
	}
	var md bytes.Buffer
	if err := writePlanMarkdown(&md, fleetPlan(), defaultMarkdownLimit); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(md.String(), "<details>"); n != 3 || strings.Contains(md.String(), "did not fit") {
		t.Errorf("markdown: %d blocks, want 3, all fitting:\n%s", n, md.String())
	}
	var text bytes.Buffer
	if err := writePlanText(&text, fleetPlan(), false); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(text.String(), "+  replicas: 3"); n != 1 {
		t.Errorf("text view repeats the shared update %d times", n)
	}
}

// TestPlanMarkdownStaysUnderItsLimit: changes that cannot be grouped (every
// cluster different) are cut at the limit with a note pointing to the full plan.
func TestPlanMarkdownStaysUnderItsLimit(t *testing.T) {
	pl := fleetPlan()
	for i, ch := range pl.Changes {
		ch.Diff += strings.Repeat(fmt.Sprintf("+  line-%d: %s\n", i, strings.Repeat("x", 60)), 20)
	}
	for _, limit := range []int{defaultMarkdownLimit, 8000} {
		var md bytes.Buffer
		if err := writePlanMarkdown(&md, pl, limit); err != nil {
			t.Fatal(err)
		}
		if md.Len() > limit {
			t.Errorf("limit %d: %d bytes", limit, md.Len())
		}
		if !strings.Contains(md.String(), "did not fit in this comment.** The full plan: `tmc plan -o json --out plan.json`") {
			t.Errorf("limit %d: no note on what did not fit", limit)
		}
		if !strings.Contains(md.String(), "| edge-50 | yes |") {
			t.Errorf("limit %d: the per-cluster table must always be whole", limit)
		}
	}
}

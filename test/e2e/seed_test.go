package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kcp-dev/logicalcluster/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"

	. "github.com/kcp-dev/tmc"
	"github.com/kcp-dev/tmc/examples/seed"
	"github.com/kcp-dev/tmc/test/harness"
)

const seedRepo = `apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: east, labels: {env: prod}}
spec: {logicalCluster: "root:production", priority: 30}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: west, labels: {env: prod}}
spec: {logicalCluster: "root:production", priority: 20}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: edge, labels: {env: prod}}
spec: {logicalCluster: "root:edge", priority: 10}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: web-app-placement}
spec:
  logicalCluster: root:production
  placement: {clusterSelector: {matchLabels: {env: prod}}}
  sources: [{path: apps}]
  aggregationPolicies: [deployments]
---
apiVersion: tmc.kcp.io/v1alpha1
kind: AggregationPolicy
metadata: {name: deployments}
spec:
  gvk: {group: apps, version: v1, kind: Deployment}
  mergeStrategy: Union
  conflictResolution: LastWriter
  healthAggregation: Majority
  statusMerging: Combined
`

// captureStdout runs fn and returns what it printed (the seed's snippets print with fmt.Printf).
func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	fn()
	os.Stdout = old
	w.Close()
	return <-done
}

// TestSeedSnippets runs the seed's "Viewing Aggregated Deployments",
// "Cross-Cluster Health Assessment" and "Virtual Workspace Status API"
// snippets, as the document writes them, against a VirtualWorkspaceManager
// on three real workload clusters (controllers, scheduler, kwok Nodes), and
// checks the figures they print. Right after the first converged reconcile
// GetVirtualWorkspace already has the creation, update and projection times.
func TestSeedSnippets(t *testing.T) {
	ctx := context.Background()
	cs := harness.StartT(t, "east", "west", "edge")
	cs.StartWorkloadsT(t)
	for _, c := range cs.Clusters {
		if err := c.CreateWorkerNodes(ctx, harness.NodeSpec{Name: c.Name + "-worker", CPU: "8", Memory: "32Gi", Pods: "110"}, 1); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"policies.yaml": seedRepo, "apps/web.yaml": workloadApps} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitInit(t, dir)
	copts := DefaultClusterOptions()
	copts.Kubeconfig = cs.KubeconfigPath
	logs := &safeBuffer{}
	vwm, err := NewVirtualWorkspaceManager(ManagerOptions{Repo: dir, Branch: "main", WorkDir: t.TempDir(), Cluster: copts, ForceConflicts: true,
		Interval: 2 * time.Second, HealthInterval: 2 * time.Second, Logf: func(f string, args ...any) { fmt.Fprintf(logs, f+"\n", args...) }})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = vwm.Start(runCtx, 2) }()
	t.Cleanup(func() {
		stop()
		<-done
		if t.Failed() {
			t.Logf("manager logs:\n%s", logs.String())
		}
	})
	cluster := logicalcluster.Name("root:production")
	deploymentGVK := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}

	var first *VirtualWorkspace
	eventually(t, "the first reconcile converged", 90*time.Second, func() (bool, string) {
		vw, ok := vwm.GetVirtualWorkspace(cluster, "web-app-placement")
		if !ok || vw.Status != VirtualWorkspaceStatusActive {
			return false, "not active yet"
		}
		first = vw
		return true, ""
	})
	if first.CreatedTime.IsZero() || first.LastUpdated.IsZero() || first.LastReconciled.IsZero() {
		t.Errorf("right after the first apply: created %v, updated %v, reconciled %v", first.CreatedTime, first.LastUpdated, first.LastReconciled)
	}
	pv := first.ProjectedResources[deploymentGVK]
	if pv == nil || len(pv.ProjectedTo) != 3 || pv.LastProjected.IsZero() {
		t.Fatalf("projected Deployments right after the first apply: %+v", pv)
	}
	for key, p := range pv.ProjectedTo {
		if !p.InSync || p.LastProjected.IsZero() || p.Resource.GetName() != "web" {
			t.Errorf("projection %s: inSync %v, lastProjected %v, object %s", key, p.InSync, p.LastProjected, p.Resource.GetName())
		}
	}
	if src := pv.SourceResources["web/web"]; src == nil || src.GetKind() != "Deployment" {
		t.Errorf("source resources: %v", pv.SourceResources)
	}

	// The controllers roll the Deployment out; the aggregated view follows.
	eventually(t, "every instance healthy in the aggregated view", 120*time.Second, func() (bool, string) {
		vw, ok := vwm.GetVirtualWorkspace(cluster, "web-app-placement")
		if !ok {
			return false, "gone"
		}
		av := vw.AggregatedResources[deploymentGVK]
		if av == nil || av.TotalCount != 1 {
			return false, "no aggregated Deployment yet"
		}
		r := av.Resources["web/web"]
		if r == nil || len(r.ClusterOrigins) != 3 {
			return false, "origins missing"
		}
		for _, o := range r.ClusterOrigins {
			if o.Health != ResourceHealthHealthy {
				return false, o.ClusterName + " " + string(o.Health)
			}
		}
		return av.HealthyCount == 1, "not healthy yet"
	})

	viewing := captureStdout(t, func() { seed.ViewingAggregatedDeployments(vwm, cluster) })
	for _, want := range []string{"Total deployments: 1\n", "Healthy deployments: 1\n", "Deployment web/web:\n", "  Status: Healthy\n"} {
		if !strings.Contains(viewing, want) {
			t.Errorf("Viewing Aggregated Deployments printed no %q:\n%s", want, viewing)
		}
	}
	m := regexp.MustCompile(`  Clusters: \[(.*)\]`).FindStringSubmatch(viewing)
	if m == nil {
		t.Fatalf("no cluster list:\n%s", viewing)
	}
	got := strings.Fields(m[1])
	sort.Strings(got)
	if strings.Join(got, ",") != "east,edge,west" {
		t.Errorf("cluster origins %v, want the 3 clusters", got)
	}

	vw, _ := vwm.GetVirtualWorkspace(cluster, "web-app-placement")
	health := captureStdout(t, func() { seed.AssessCrossClusterHealth(vw) })
	for _, want := range []string{"Resource type: apps/v1, Kind=Deployment\n", "Health: 100.0% (1/1 healthy)\n"} {
		if !strings.Contains(health, want) {
			t.Errorf("Cross-Cluster Health Assessment printed no %q:\n%s", want, health)
		}
	}
	if strings.Contains(health, "Warning:") {
		t.Errorf("a Deployment on all 3 clusters was reported incomplete:\n%s", health)
	}

	st := captureStdout(t, func() { seed.GetVirtualWorkspaceStatus(vwm, cluster, "web-app-placement") })
	for _, want := range []string{"Virtual Workspace: root:production/web-app-placement\n", "Status: Active\n", "Target Clusters (3):\n",
		"  - east (root:production) - healthy\n", "  - edge (root:edge) - healthy\n", "Aggregated Resources (1 types):\n",
		"  - Deployment: 1 total (1 healthy, 0 unhealthy)\n", "Projected Resources (2 types):\n", "  - Deployment: 1 source, 3 projections\n",
		"  - Namespace: 1 source, 3 projections\n"} {
		if !strings.Contains(st, want) {
			t.Errorf("Virtual Workspace Status API printed no %q:\n%s", want, st)
		}
	}
	if strings.Contains(st, "Created: 0001") || strings.Contains(st, "Last Updated: 0001") {
		t.Errorf("times unset:\n%s", st)
	}

	// The seed's GetHealth: healthy, one virtual workspace.
	h := vwm.GetHealth(ctx)
	if h.Status != HealthStatusHealthy || h.ComponentType != ComponentTypeVirtualWorkspaceManager || h.Details["virtualWorkspaces"] != 1 || h.Timestamp.IsZero() {
		t.Errorf("GetHealth: %+v", h)
	}
}

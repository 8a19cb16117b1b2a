package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/test/harness"
)

const workloadRepo = `apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: east, labels: {env: prod}}
spec: {priority: 30}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: west, labels: {env: prod}}
spec: {priority: 20}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: edge, labels: {env: prod}}
spec: {priority: 10}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: web}
spec:
  placement: {clusterSelector: {matchLabels: {env: prod}}}
  sources: [{path: apps}]
  aggregationPolicies: [deployments, pods]
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
---
apiVersion: tmc.kcp.io/v1alpha1
kind: AggregationPolicy
metadata: {name: pods}
spec:
  gvk: {version: v1, kind: Pod}
  scope: Selected
  namespaces: [web]
  labelSelectors: [{matchLabels: {app: web}}]
`

const workloadApps = `apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.local/web:v1
        args: [--port=80, --verbose]
`

// TestWorkloadsRealHealth runs a Deployment on three clusters with real
// controllers and a scheduler, kwok simulating the Nodes: east and west have
// room for its 3 Pods, edge for 2. Aggregation judges it from the status the
// controllers wrote — healthy by Majority, counted once — and reads the
// Pods, which tmc did not apply, with scope Selected.
func TestWorkloadsRealHealth(t *testing.T) {
	ctx := context.Background()
	cs := harness.StartT(t, "east", "west", "edge")
	cs.StartWorkloadsT(t)
	for _, c := range cs.Clusters {
		pods := "110"
		if c.Name == "edge" {
			pods = "2"
		}
		if err := c.CreateWorkerNodes(ctx, harness.NodeSpec{Name: c.Name + "-worker", CPU: "8", Memory: "32Gi", Pods: pods}, 1); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"policies.yaml": workloadRepo, "apps/web.yaml": workloadApps} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, errOut, code := tmc(t, "apply", dir, "--kubeconfig", cs.KubeconfigPath); code != 0 {
		t.Fatalf("apply exit %d\n%s\n%s", code, out, errOut)
	}
	wantReady := map[string]int32{"east": 3, "west": 3, "edge": 2}
	eventually(t, "the controllers roll the Deployment out", 90*time.Second, func() (bool, string) {
		got := map[string]int32{}
		for _, c := range cs.Clusters {
			d := &appsv1.Deployment{}
			if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "web", Name: "web"}, d); err != nil {
				return false, err.Error()
			}
			got[c.Name] = d.Status.ReadyReplicas
		}
		return cmp.Equal(wantReady, got), fmt.Sprintf("ready replicas %v", got)
	})

	out, errOut, code := tmc(t, "aggregate", "-o", "json", dir, "--kubeconfig", cs.KubeconfigPath)
	if code != 0 {
		t.Fatalf("aggregate exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Workspaces []aggregate.WorkspaceView `json:"workspaces"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]aggregate.KindView{}
	for _, k := range res.Workspaces[0].AggregatedResources {
		kinds[k.Policy] = k
	}
	type counts struct{ Total, Healthy, Unhealthy, Instances, HealthyInstances, Missing int }
	dep := kinds["deployments"]
	if diff := cmp.Diff(counts{1, 1, 0, 3, 2, 0}, counts{dep.TotalCount, dep.HealthyCount, dep.UnhealthyCount, dep.InstanceCount, dep.HealthyInstanceCount, dep.MissingCount}); diff != "" {
		t.Errorf("deployment counts (-want +got):\n%s", diff)
	}
	if len(dep.Resources) != 1 {
		t.Fatalf("deployments: %d resources", len(dep.Resources))
	}
	web := dep.Resources[0]
	health := map[string]string{}
	for _, o := range web.Clusters {
		health[o.Cluster] = o.Health
	}
	if diff := cmp.Diff(map[string]string{"east": aggregate.Healthy, "west": aggregate.Healthy, "edge": aggregate.Progressing}, health); diff != "" {
		t.Errorf("instance health from the controllers' status (-want +got):\n%s", diff)
	}
	if web.Status != aggregate.Healthy {
		t.Errorf("Majority: %s, want Healthy", web.Status)
	}
	st := web.AggregatedStatus
	for field, want := range map[string]float64{"replicas": 9, "readyReplicas": 8, "availableReplicas": 8, "updatedReplicas": 9, "observedGeneration": 1} {
		if st[field] != want {
			t.Errorf("Combined status %s = %v, want %v", field, st[field], want)
		}
	}
	containers, _ := web.Spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)
	if len(containers) != 1 || !cmp.Equal(containers[0].(map[string]any)["args"], []any{"--port=80", "--verbose"}) {
		t.Errorf("merged containers: %v (args kept once)", containers)
	}

	pods := kinds["pods"]
	if pods.TotalCount != 9 || pods.HealthyCount != 8 || pods.MissingCount != 0 {
		t.Errorf("pods: total %d healthy %d missing %d, want 9 8 0 (one edge Pod cannot be scheduled)", pods.TotalCount, pods.HealthyCount, pods.MissingCount)
	}
	for _, p := range pods.Resources {
		if p.Present != 1 || p.Targets != 3 || len(p.Clusters) != 1 {
			t.Errorf("pod %s: present %d of %d, origins %v; want only in 1 of 3", p.Name, p.Present, p.Targets, p.Clusters)
		}
	}
	text, _, _ := tmc(t, "aggregate", dir, "--kubeconfig", cs.KubeconfigPath)
	t.Logf("tmc aggregate:\n%s", text)
}

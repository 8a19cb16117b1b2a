package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/test/harness"
)

const aggPolicies = `apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: a, labels: {agg: "yes"}}
spec: {priority: 100, aggregationWeight: 0.5}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: b, labels: {agg: "yes"}}
spec: {priority: 50, aggregationWeight: 0.5}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: c, labels: {agg: "yes"}}
spec: {priority: 10, aggregationWeight: 3}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: agg}
spec:
  placement: {clusterSelector: {matchLabels: {agg: "yes"}}}
  sources: [{path: empty}]
  aggregationPolicies: [union-lastwriter, union-priority, union-report, intersection, priority, latest, all, any, weighted, per-cluster, status-priority, secrets]
`

func aggPolicy(name, spec string) string {
	return "---\napiVersion: tmc.kcp.io/v1alpha1\nkind: AggregationPolicy\nmetadata: {name: " + name + "}\nspec:\n  gvk: {group: apps, version: v1, kind: Deployment}\n" + spec
}

// deployment creates a Deployment labelled for the workspace and writes its
// status through the status subresource.
func deployment(t *testing.T, c *harness.Cluster, name string, replicas int32, healthy bool) {
	t.Helper()
	ctx := context.Background()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name, Labels: map[string]string{"tmc.kcp.io/workspace": "agg", "app": name}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.local/" + name + ":v1"}}},
			},
		},
	}
	if err := c.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	if healthy {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas, UpdatedReplicas: replicas,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastUpdateTime: now, LastTransitionTime: now},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: now, LastTransitionTime: now},
			}}
	} else {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable", LastUpdateTime: now, LastTransitionTime: now},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "crash looping", LastUpdateTime: now, LastTransitionTime: now},
			}}
	}
	if err := c.Client.Status().Update(ctx, d); err != nil {
		t.Fatal(err)
	}
}

// TestAggregateStrategies checks exact counts, statuses, merged specs and
// conflicts for every mergeStrategy, conflictResolution, healthAggregation and
// statusMerging value, on three real API servers where Deployment "api" is
// healthy in a and b and failing in c (with fewer replicas), and "web" is
// healthy in a and b and missing in c.
func TestAggregateStrategies(t *testing.T) {
	ctx := context.Background()
	cs := harness.StartT(t, "a", "b", "c")
	for _, c := range cs.Clusters {
		if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}); err != nil {
			t.Fatal(err)
		}
	}
	deployment(t, cs.Get("a"), "api", 3, true)
	deployment(t, cs.Get("b"), "api", 3, true)
	deployment(t, cs.Get("a"), "web", 2, true)
	deployment(t, cs.Get("b"), "web", 2, true)
	time.Sleep(1100 * time.Millisecond) // managedFields times have a one-second resolution: c changes last
	deployment(t, cs.Get("c"), "api", 1, false)
	for _, n := range []string{"a", "c"} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "creds", Labels: map[string]string{"tmc.kcp.io/workspace": "agg"}},
			StringData: map[string]string{"password": canary + "-" + n}}
		if err := cs.Get(n).Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	pols := aggPolicies +
		aggPolicy("union-lastwriter", "  mergeStrategy: Union\n  conflictResolution: LastWriter\n") +
		aggPolicy("union-priority", "  mergeStrategy: Union\n  conflictResolution: Priority\n") +
		aggPolicy("union-report", "  mergeStrategy: Union\n  conflictResolution: Report\n") +
		aggPolicy("intersection", "  mergeStrategy: Intersection\n") +
		aggPolicy("priority", "  mergeStrategy: Priority\n") +
		aggPolicy("latest", "  mergeStrategy: Latest\n") +
		aggPolicy("all", "  healthAggregation: All\n") +
		aggPolicy("any", "  healthAggregation: Any\n") +
		aggPolicy("weighted", "  healthAggregation: Weighted\n") +
		aggPolicy("per-cluster", "  statusMerging: PerCluster\n") +
		aggPolicy("status-priority", "  statusMerging: Priority\n  fieldSelectors: [metadata.name=api]\n  transformations: [{type: Delete, jsonPath: spec.replicas}]\n") +
		"---\napiVersion: tmc.kcp.io/v1alpha1\nkind: AggregationPolicy\nmetadata: {name: secrets}\nspec:\n  gvk: {version: v1, kind: Secret}\n  healthExpression: \"len(resource.data) > 0\"\n"
	if err := os.WriteFile(filepath.Join(dir, "policies.yaml"), []byte(pols), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := tmc(t, "aggregate", "-o", "json", dir, "--kubeconfig", cs.KubeconfigPath)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, canary) {
		t.Fatalf("aggregate output leaks the canary Secret value:\n%s", out)
	}
	var res struct {
		FormatVersion string                    `json:"formatVersion"`
		Workspaces    []aggregate.WorkspaceView `json:"workspaces"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]aggregate.KindView{}
	for _, k := range res.Workspaces[0].AggregatedResources {
		kinds[k.Policy] = k
	}
	// Instances, HealthyInstances, UnhealthyInstances and Missing count resource × cluster.
	type summary struct {
		Instances, HealthyInstances, UnhealthyInstances, Missing int
		Status                                                   map[string]string // resource → status
		Replicas                                                 map[string]any    // resource → merged spec.replicas
		Conflicts                                                []string
	}
	sum := func(k aggregate.KindView) summary {
		s := summary{k.InstanceCount, k.HealthyInstanceCount, k.UnhealthyInstanceCount, k.MissingCount, map[string]string{}, map[string]any{}, nil}
		for _, r := range k.Resources {
			s.Status[r.Name] = r.Status
			s.Replicas[r.Name] = r.Spec["replicas"]
			for _, c := range r.Conflicts {
				s.Conflicts = append(s.Conflicts, r.Name+" "+c.Field+" "+compactValues(c.Values)+" "+c.Resolution+"→"+c.Winner)
			}
		}
		return s
	}
	apiConflict := func(res, winner string) []string {
		return []string{"api spec.replicas a=3,b=3,c=1 " + res + "→" + winner}
	}
	want := map[string]summary{
		"union-lastwriter": {5, 4, 1, 1, map[string]string{"api": "Healthy", "web": "Healthy"}, map[string]any{"api": 1.0, "web": 2.0}, apiConflict("LastWriter", "c")},
		"union-priority":   {5, 4, 1, 1, map[string]string{"api": "Healthy", "web": "Healthy"}, map[string]any{"api": 3.0, "web": 2.0}, apiConflict("Priority", "a")},
		"union-report":     {5, 4, 1, 1, map[string]string{"api": "Healthy", "web": "Healthy"}, map[string]any{"api": nil, "web": 2.0}, apiConflict("Report", "")},
		"intersection":     {3, 2, 1, 0, map[string]string{"api": "Healthy"}, map[string]any{"api": nil}, apiConflict("Intersection", "")},
		"priority":         {5, 4, 1, 1, map[string]string{"api": "Healthy", "web": "Healthy"}, map[string]any{"api": 3.0, "web": 2.0}, apiConflict("Priority", "a")},
		"latest":           {5, 4, 1, 1, map[string]string{"api": "Healthy", "web": "Healthy"}, map[string]any{"api": 1.0, "web": 2.0}, apiConflict("Latest", "c")},
		"all":              {5, 4, 1, 1, map[string]string{"api": "Unhealthy", "web": "Unhealthy"}, map[string]any{"api": 1.0, "web": 2.0}, apiConflict("LastWriter", "c")},
		"any":              {5, 4, 1, 1, map[string]string{"api": "Healthy", "web": "Healthy"}, map[string]any{"api": 1.0, "web": 2.0}, apiConflict("LastWriter", "c")},
		// Weights a=0.5 b=0.5 c=3: two healthy clusters of three hold a quarter of the weight.
		"weighted":    {5, 4, 1, 1, map[string]string{"api": "Unhealthy", "web": "Unhealthy"}, map[string]any{"api": 1.0, "web": 2.0}, apiConflict("LastWriter", "c")},
		"per-cluster": {5, 4, 1, 1, map[string]string{"api": "Healthy", "web": "Healthy"}, map[string]any{"api": 1.0, "web": 2.0}, apiConflict("LastWriter", "c")},
		// A field selector narrows to api; the transformation deletes the volatile field, so no conflict.
		"status-priority": {3, 2, 1, 0, map[string]string{"api": "Healthy"}, map[string]any{"api": nil}, nil},
	}
	for name, w := range want {
		if diff := cmp.Diff(w, sum(kinds[name])); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
		// Resources are counted once each, judged by the policy's health rule.
		healthy := 0
		for _, st := range w.Status {
			if st == aggregate.Healthy {
				healthy++
			}
		}
		k := kinds[name]
		if k.TotalCount != len(w.Status) || k.HealthyCount != healthy || k.UnhealthyCount != len(w.Status)-healthy {
			t.Errorf("%s: resources total %d healthy %d unhealthy %d, want %d %d %d", name, k.TotalCount, k.HealthyCount, k.UnhealthyCount, len(w.Status), healthy, len(w.Status)-healthy)
		}
	}
	// Status merging.
	api := func(policy string) aggregate.Resource {
		for _, r := range kinds[policy].Resources {
			if r.Name == "api" {
				return r
			}
		}
		t.Fatalf("%s: no api", policy)
		return aggregate.Resource{}
	}
	combined := api("union-lastwriter").AggregatedStatus
	for field, want := range map[string]float64{"replicas": 7, "readyReplicas": 6, "availableReplicas": 6, "updatedReplicas": 7} {
		if combined[field] != want {
			t.Errorf("Combined status %s = %v, want %v", field, combined[field], want)
		}
	}
	wantConds := []aggregate.Condition{
		{Type: "Available", Status: "False", Clusters: []string{"c"}, Reason: "MinimumReplicasUnavailable"},
		{Type: "Progressing", Status: "False", Clusters: []string{"c"}, Reason: "ProgressDeadlineExceeded", Message: "crash looping"},
	}
	if diff := cmp.Diff(wantConds, api("union-lastwriter").Conditions); diff != "" {
		t.Errorf("merged conditions (-want +got):\n%s", diff)
	}
	if pc := api("per-cluster").AggregatedStatus; len(pc) != 3 || pc["c"].(map[string]any)["replicas"] != 1.0 {
		t.Errorf("PerCluster status: %v", pc)
	}
	if ps := api("status-priority").AggregatedStatus; ps["replicas"] != 3.0 {
		t.Errorf("Priority status replicas = %v, want a's 3", ps["replicas"])
	}
	var origins []string
	for _, o := range kinds["union-lastwriter"].Resources[1].Clusters {
		origins = append(origins, o.Cluster+"="+o.Health)
	}
	if diff := cmp.Diff([]string{"a=Healthy", "b=Healthy", "c=Missing"}, origins); diff != "" {
		t.Errorf("web origins (-want +got):\n%s", diff)
	}
	sec := kinds["secrets"]
	if sec.TotalCount != 1 || sec.HealthyCount != 1 || sec.InstanceCount != 2 || len(sec.Resources) != 1 || len(sec.Resources[0].Conflicts) != 1 || sec.Resources[0].Conflicts[0].Values["a"] != "***" {
		t.Errorf("secrets view: %+v", sec)
	}
}

func compactValues(m map[string]any) string {
	var parts []string
	for _, k := range []string{"a", "b", "c"} {
		if v, ok := m[k]; ok {
			b, _ := json.Marshal(v)
			parts = append(parts, k+"="+string(b))
		}
	}
	return strings.Join(parts, ",")
}

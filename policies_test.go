package tmc_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/labels"

	. "github.com/kcp-dev/tmc"
	"github.com/kcp-dev/tmc/examples/seed"
)

const hdr = "apiVersion: tmc.kcp.io/v1alpha1\n"

// seedTree is the seed's two projection examples as a policy tree; with
// yamlPolicies false the tree holds no policies (they come from Go).
func seedTree(t *testing.T, yamlPolicies bool) string {
	t.Helper()
	files := map[string]string{
		"clusters.yaml": hdr + "kind: Cluster\nmetadata: {name: cluster-a}\nspec: {capacity: {cpu: 8}}\n---\n" +
			hdr + "kind: Cluster\nmetadata: {name: cluster-b}\nspec: {capacity: {cpu: 2}}\n---\n" +
			hdr + "kind: Cluster\nmetadata: {name: cluster-c}\nspec: {capacity: {cpu: 16}}\n",
		"ws.yaml": hdr + "kind: VirtualWorkspace\nmetadata: {name: web-app-placement}\nspec:\n  logicalCluster: root:production\n  sources: [{path: app}]\n  projectionPolicies: [configmaps, capacity]\n  aggregationPolicies: [deployments]\n",
		"app/objs.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: web, labels: {app.kubernetes.io/component: config}}\ndata: {a: b}\n---\n" +
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: web}\ndata: {a: b}\n---\n" +
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: web, labels: {workload.kcp.io/auto-project: \"true\"}}\nspec: {replicas: 2}\n",
	}
	if yamlPolicies {
		files["pp.yaml"] = hdr + `kind: ProjectionPolicy
metadata: {name: configmaps}
spec:
  mode: Selective
  targetClusters: [cluster-a, cluster-b]
  resourceSelectors:
  - {group: core, version: v1, kind: ConfigMap, labelSelector: {matchLabels: {app.kubernetes.io/component: config}}}
  transformations:
  - {type: Set, jsonPath: metadata.labels.workload.kcp.io/projected, value: "true"}
  - {type: Template, jsonPath: metadata.name, value: "{{.OriginalName}}-{{.TargetCluster}}"}
---
` + hdr + `kind: ProjectionPolicy
metadata: {name: capacity}
spec:
  mode: Conditional
  resourceSelectors:
  - {group: apps, version: v1, kind: Deployment, labelSelector: {matchLabels: {workload.kcp.io/auto-project: "true"}}}
  transformations:
  - {type: Set, jsonPath: spec.replicas, conditional: "cluster.capacity.cpu > 4", value: 3}
  - {type: Set, jsonPath: spec.replicas, conditional: "cluster.capacity.cpu <= 4", value: 1}
---
` + hdr + `kind: AggregationPolicy
metadata: {name: deployments}
spec:
  gvk: {group: apps, version: v1, kind: Deployment}
  mergeStrategy: Union
  conflictResolution: LastWriter
  healthAggregation: Majority
  statusMerging: Combined
`
	}
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// renderBytes is every rendered object of a repo as YAML, with the
// transformations that acted, in render order.
func renderBytes(t *testing.T, repo *Repo) string {
	t.Helper()
	r, err := repo.Render(context.Background(), RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, ws := range r.Workspaces {
		for _, c := range ws.Clusters {
			for _, o := range c.Objects {
				b.WriteString("# " + ws.Name + " on " + c.Name + "\n" + o.Node.MustString())
				for _, a := range o.Transformations {
					b.WriteString("#   " + a.Policy + " " + string(a.Type) + " " + a.Path + " " + a.Effect + "\n")
				}
			}
		}
	}
	return b.String()
}

// TestPoliciesAsGoValuesRenderAsYAML: the seed's two projection policies
// and its aggregation policy, built in Go as the seed writes them, render
// byte for byte as the same policies written in YAML, and aggregate with
// the same settings.
func TestPoliciesAsGoValuesRenderAsYAML(t *testing.T) {
	ctx := context.Background()
	fromYAML, err := Open(ctx, seedTree(t, true))
	if err != nil {
		t.Fatal(err)
	}
	fromGo, err := OpenWithPolicies(ctx, seedTree(t, false), PolicySet{
		ProjectionPolicies:  map[string]ProjectionPolicy{"configmaps": seed.ProjectingConfigMaps(), "capacity": seed.SetupConditionalProjection()},
		AggregationPolicies: map[string]*AggregationPolicy{"deployments": seed.AggregationPolicyExample()},
	})
	if err != nil {
		t.Fatal(err)
	}
	want, got := renderBytes(t, fromYAML), renderBytes(t, fromGo)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("render from Go policies differs from YAML (-yaml +go):\n%s", diff)
	}
	for _, s := range []string{"name: settings-cluster-a", "name: settings-cluster-b", "workload.kcp.io/projected: \"true\"", "replicas: 3", "replicas: 1"} {
		if !strings.Contains(got, s) {
			t.Errorf("render lacks %q:\n%s", s, got)
		}
	}
	if strings.Contains(got, "settings-cluster-c") || strings.Contains(got, "name: other-") {
		t.Errorf("Selective projected beyond its clusters or selector:\n%s", got)
	}
	y, g := fromYAML.Policies.AggregationPolicy("deployments").Spec, fromGo.Policies.AggregationPolicy("deployments").Spec
	if y.GVK != g.GVK || y.MergeStrategy != g.MergeStrategy || y.ConflictResolution != g.ConflictResolution || y.HealthAggregation != g.HealthAggregation || y.StatusMerging != g.StatusMerging {
		t.Errorf("aggregation policy from Go %+v, from YAML %+v", g, y)
	}
}

// TestPoliciesAsGoValuesValidated: a Go-built policy is validated like a
// file, and its errors name the policy and the Go field path.
func TestPoliciesAsGoValuesValidated(t *testing.T) {
	bad := seed.ProjectingConfigMaps()
	bad.Transformations[0].JSONPath = "metadata.labels[oops"
	bad.Transformations = append(bad.Transformations, ResourceTransformation{Type: "Paint", JSONPath: "spec.replicas"})
	conditional := seed.SetupConditionalProjection()
	conditional.Transformations[0].Conditional = "cluster.capacity.cpu >"
	agg := seed.AggregationPolicyExample()
	agg.GVK.Version = ""
	agg.LabelSelectors = []labels.Selector{labels.SelectorFromSet(labels.Set{"app": "web"})}
	_, err := OpenWithPolicies(context.Background(), seedTree(t, false), PolicySet{
		ProjectionPolicies:  map[string]ProjectionPolicy{"configmaps": bad, "capacity": conditional},
		AggregationPolicies: map[string]*AggregationPolicy{"deployments": agg},
	})
	if err == nil {
		t.Fatal("invalid Go policies were accepted")
	}
	for _, want := range []string{
		`ProjectionPolicies["configmaps"]: ProjectionPolicy/configmaps: Transformations[0].JSONPath: `,
		`ProjectionPolicies["configmaps"]: ProjectionPolicy/configmaps: Transformations[2].Type: `,
		`ProjectionPolicies["capacity"]: ProjectionPolicy/capacity: Transformations[0].Conditional: `,
		`AggregationPolicies["deployments"]: AggregationPolicy/deployments: GVK.Version: `,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), `"]:1`) || strings.Contains(err.Error(), `"]:2`) {
		t.Errorf("errors of Go-built policies carry line numbers of a file that does not exist:\n%v", err)
	}
	// A selector term with no label selector form is refused before loading.
	gt, _ := labels.Parse("replicas>3")
	odd := seed.ProjectingConfigMaps()
	odd.ResourceSelectors[0].LabelSelector = gt
	_, err = OpenWithPolicies(context.Background(), seedTree(t, false), PolicySet{ProjectionPolicies: map[string]ProjectionPolicy{"configmaps": odd, "capacity": seed.SetupConditionalProjection()}})
	if err == nil || !strings.Contains(err.Error(), `ProjectionPolicies["configmaps"]: ProjectionPolicy/configmaps: ResourceSelectors[0].LabelSelector: operator "gt"`) {
		t.Errorf("a gt selector: %v", err)
	}
}

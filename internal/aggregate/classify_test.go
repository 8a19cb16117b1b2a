package aggregate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/fieldpath"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
)

// classifyRepo is a workspace on three clusters: edge (an edge cluster,
// which edge-tuning changes) and big and small; naming sets a per-cluster
// env value with a template on all three.
const classifyRepo = `apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: edge}
spec: {type: edge, capacity: {cpu: "2"}}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: big}
spec: {capacity: {cpu: "16"}}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: small}
spec: {capacity: {cpu: "4"}}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: web}
spec:
  sources: [{path: app}]
  projectionPolicies: [edge-tuning, naming]
  aggregationPolicies: [deployments]
---
apiVersion: tmc.kcp.io/v1alpha1
kind: ProjectionPolicy
metadata: {name: edge-tuning}
spec:
  mode: Conditional
  conditional: cluster.type == 'edge'
  resourceSelectors: [{group: apps, kind: Deployment}]
  transformations:
  - {type: Replace, jsonPath: "spec.template.spec.containers[name=web].image", value: "nginx:slim"}
  - {type: Set, jsonPath: "spec.template.spec.containers[name=web].args", value: ["--edge"]}
  - {type: Set, jsonPath: "spec.template.spec.nodeSelector.pool", value: edge}
  - {type: Set, jsonPath: "spec.template.spec.containers[name=web].resources.limits.cpu", value: "0.5"}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: ProjectionPolicy
metadata: {name: naming}
spec:
  mode: All
  resourceSelectors: [{group: apps, kind: Deployment}]
  transformations:
  - {type: Template, jsonPath: "spec.template.spec.containers[name=web].env[name=CLUSTER].value", value: "{{.TargetCluster}}"}
`

const classifyApp = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {pool: std}
      tolerations: [{key: gpu, operator: Exists}]
      containers:
      - name: web
        image: nginx:1.27
        args: ["--std"]
        env: [{name: CLUSTER, value: unset}]
        resources: {limits: {cpu: "1"}}
`

// classifyFixture renders classifyRepo and returns, per cluster, a copy of
// what tmc rendered there, as an API server would return it after apply.
func classifyFixture(t *testing.T, resolution string) (*policy.AggregationPolicy, *render.Workspace, map[string]map[string]any) {
	t.Helper()
	dir := t.TempDir()
	agg := fmt.Sprintf(`apiVersion: tmc.kcp.io/v1alpha1
kind: AggregationPolicy
metadata: {name: deployments}
spec:
  gvk: {group: apps, version: v1, kind: Deployment}
  %s
`, resolution)
	for name, content := range map[string]string{"policies.yaml": classifyRepo + "---\n" + agg, "app/deploy.yaml": classifyApp} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := policy.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := render.Render(context.Background(), p, render.Options{SkipLive: true})
	if err != nil {
		t.Fatal(err)
	}
	ws := r.Workspaces[0]
	live := map[string]map[string]any{}
	for _, c := range ws.Clusters {
		v, err := fieldpath.FromNode(c.Objects[0].Node.YNode())
		if err != nil {
			t.Fatal(err)
		}
		obj := v.(map[string]any)
		// What the API server adds: defaults git does not set, and the
		// managedFields of tmc's apply.
		spec := obj["spec"].(map[string]any)
		spec["progressDeadlineSeconds"] = int64(600)
		c0 := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
		c0["imagePullPolicy"] = "IfNotPresent"
		if lim := c0["resources"].(map[string]any)["limits"].(map[string]any); lim["cpu"] == "0.5" {
			lim["cpu"] = "500m" // the API server's canonical form
		}
		web := map[string]any{"f:image": map[string]any{}, "f:args": map[string]any{}, "f:env": map[string]any{`k:{"name":"CLUSTER"}`: map[string]any{"f:value": map[string]any{}}},
			"f:resources": map[string]any{"f:limits": map[string]any{"f:cpu": map[string]any{}}}}
		obj["metadata"].(map[string]any)["managedFields"] = []any{map[string]any{"manager": "tmc", "operation": "Apply", "time": "2026-12-01T10:00:00Z", "fieldsType": "FieldsV1",
			"fieldsV1": map[string]any{"f:spec": map[string]any{"f:template": map[string]any{"f:spec": map[string]any{
				"f:nodeSelector": map[string]any{"f:pool": map[string]any{}}, "f:containers": map[string]any{`k:{"name":"web"}`: web}}}}}}}
		live[c.Name] = obj
	}
	return loadAggregationOf(t, p), ws, live
}

func loadAggregationOf(t *testing.T, p *policy.Policies) *policy.AggregationPolicy {
	t.Helper()
	if len(p.AggregationPolicies) != 1 {
		t.Fatalf("want one aggregation policy, got %d", len(p.AggregationPolicies))
	}
	return p.AggregationPolicies[0]
}

// container returns the web container of a live Deployment.
func container(obj map[string]any) map[string]any {
	return obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
}

// aggregateLive merges the live objects as Build does after reading them.
func aggregateLive(t *testing.T, ap *policy.AggregationPolicy, ws *render.Workspace, live map[string]map[string]any, rendered bool) Resource {
	t.Helper()
	desired := indexRendered(ws)
	if !rendered {
		desired = desiredIndex{}
	}
	vals, err := values(ap)
	if err != nil {
		t.Fatal(err)
	}
	var insts []*instance
	targets := map[string]TargetCluster{}
	var names []string
	for _, name := range []string{"big", "edge", "small"} {
		tc := TargetCluster{State: cluster.Reached(name, true)}
		targets[name] = tc
		names = append(names, name)
		inst, err := newInstance(ap, ws, tc, policy.ClusterFacts{}, desired, vals, live[name])
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, inst)
	}
	return resource(ap, insts, names, targets, map[string]error{})
}

type classified struct {
	field, class string
	detail       string
}

func summarize(res Resource) []classified {
	var out []classified
	for _, c := range res.Conflicts {
		var d []string
		for _, x := range c.Divergent {
			d = append(d, fmt.Sprintf("%s want %v by %s", x.Cluster, x.Desired, x.Manager))
		}
		out = append(out, classified{c.Field, c.Class, strings.Join(d, "; ")})
	}
	for _, v := range res.Variations {
		var by []string
		for _, b := range v.By {
			by = append(by, fmt.Sprintf("%s[%d] %s on %s", b.Policy, b.Transformation, b.Type, strings.Join(b.Clusters, ",")))
		}
		src := "no source"
		if v.HasSource {
			src = fmt.Sprintf("source %v", v.Source)
		}
		out = append(out, classified{v.Field, Intended, src + "; " + strings.Join(by, "; ")})
	}
	slices.SortFunc(out, func(a, b classified) int { return strings.Compare(a.field, b.field) })
	return out
}

// TestClassifyDifferencesAcrossClusters: each difference is intended (every
// cluster holds what tmc rendered for it), divergent (one does not) or
// unmanaged (git does not set the field), on named lists (containers,
// env), lists without names (args), maps (nodeSelector) and fields set by
// templates — under each conflict resolution.
func TestClassifyDifferencesAcrossClusters(t *testing.T) {
	const image = "spec.template.spec.containers[name=web].image"
	const args = "spec.template.spec.containers[name=web].args"
	const env = "spec.template.spec.containers[name=web].env[name=CLUSTER].value"
	const pool = "spec.template.spec.nodeSelector.pool"
	const cpu = "spec.template.spec.containers[name=web].resources.limits.cpu"
	intended := []classified{
		{args, Intended, "source [--std]; edge-tuning[1] Set on edge"},
		{cpu, Intended, "source 1; edge-tuning[3] Set on edge"},
		{env, Intended, "source unset; naming[0] Template on big,edge,small"},
		{image, Intended, "source nginx:1.27; edge-tuning[0] Replace on edge"},
		{pool, Intended, "source std; edge-tuning[2] Set on edge"},
	}
	for _, tc := range []struct {
		name       string
		resolution string
		edit       func(live map[string]map[string]any)
		rendered   bool
		want       []classified
	}{
		{"intended, LastWriter", "conflictResolution: LastWriter", nil, true, intended},
		{"intended, Report", "conflictResolution: Report", nil, true, intended},
		{"intended, Priority strategy", "mergeStrategy: Priority", nil, true, intended},
		{"intended, Intersection", "mergeStrategy: Intersection", nil, true, intended},
		{"hand edit of a named list item", "conflictResolution: LastWriter", func(live map[string]map[string]any) {
			c := container(live["big"])
			c["image"] = "nginx:hacked"
			live["big"]["metadata"].(map[string]any)["managedFields"] = append(live["big"]["metadata"].(map[string]any)["managedFields"].([]any),
				map[string]any{"manager": "kubectl-edit", "operation": "Update", "time": "2026-12-01T11:00:00Z", "fieldsType": "FieldsV1",
					"fieldsV1": map[string]any{"f:spec": map[string]any{"f:template": map[string]any{"f:spec": map[string]any{"f:containers": map[string]any{`k:{"name":"web"}`: map[string]any{"f:image": map[string]any{}}}}}}}})
		}, true, replace(intended, classified{image, Divergent, "big want nginx:1.27 by kubectl-edit"})},
		{"hand edit of a list without names", "conflictResolution: Report", func(live map[string]map[string]any) {
			container(live["small"])["args"] = []any{"--std", "--debug"}
		}, true, replace(intended, classified{args, Divergent, "small want [--std] by tmc"})},
		{"hand edit of a list without names, merged item by item", "conflictResolution: LastWriter", func(live map[string]map[string]any) {
			container(live["small"])["args"] = []any{"--std", "--debug"}
		}, true, replace(intended, classified{args, Divergent, "small want [--std] by tmc"})},
		{"hand edit of a map key", "mergeStrategy: Priority", func(live map[string]map[string]any) {
			live["edge"]["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["nodeSelector"] = map[string]any{"pool": "gpu"}
		}, true, replace(intended, classified{pool, Divergent, "edge want edge by tmc"})},
		{"a templated value edited", "conflictResolution: LastWriter", func(live map[string]map[string]any) {
			container(live["small"])["env"] = []any{map[string]any{"name": "CLUSTER", "value": "big"}}
		}, true, replace(intended, classified{env, Divergent, "small want small by tmc"})},
		{"a field git does not set", "conflictResolution: LastWriter", func(live map[string]map[string]any) {
			live["small"]["spec"].(map[string]any)["progressDeadlineSeconds"] = int64(900)
		}, true, append(slices.Clone(intended), classified{"spec.progressDeadlineSeconds", Unmanaged, ""})},
		// As before classification: lists without names merge item by item under LastWriter.
		{"objects tmc did not render", "conflictResolution: LastWriter", nil, false, []classified{
			{cpu, Unmanaged, ""}, {env, Unmanaged, ""}, {image, Unmanaged, ""}, {pool, Unmanaged, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ap, ws, live := classifyFixture(t, tc.resolution)
			if tc.edit != nil {
				tc.edit(live)
			}
			res := aggregateLive(t, ap, ws, live, tc.rendered)
			want := slices.Clone(tc.want)
			slices.SortFunc(want, func(a, b classified) int { return strings.Compare(a.field, b.field) })
			if diff := cmp.Diff(want, summarize(res), cmp.AllowUnexported(classified{})); diff != "" {
				t.Errorf("classes (-want +got):\n%s", diff)
			}
			divergent := 0
			for _, c := range want {
				if c.class == Divergent {
					divergent++
				}
			}
			if res.DivergentFields != divergent {
				t.Errorf("DivergentFields %d, want %d", res.DivergentFields, divergent)
			}
		})
	}
}

func replace(list []classified, c classified) []classified {
	out := slices.Clone(list)
	for i := range out {
		if out[i].field == c.field {
			out[i] = c
		}
	}
	return out
}

// TestClassifyMergedSpecShowsGitsValue: where the values vary as git
// meant, the merged spec holds the source value from git, whichever
// cluster the conflict rule would have picked; a divergent field keeps the
// rule's pick.
func TestClassifyMergedSpecShowsGitsValue(t *testing.T) {
	for _, resolution := range []string{"conflictResolution: LastWriter", "conflictResolution: Report", "mergeStrategy: Priority", "mergeStrategy: Latest", "mergeStrategy: Intersection"} {
		ap, ws, live := classifyFixture(t, resolution)
		res := aggregateLive(t, ap, ws, live, true)
		c := container(map[string]any{"spec": res.Spec})
		if c["image"] != "nginx:1.27" || fmt.Sprint(c["args"]) != "[--std]" {
			t.Errorf("%s: merged container %v, want git's image nginx:1.27 and args [--std]", resolution, c)
		}
		// The instances are shared with the merged view: they keep their own values.
		if got := container(live["edge"])["image"]; got != "nginx:slim" {
			t.Errorf("%s: setting git's value changed edge's instance: %v", resolution, got)
		}
	}
}

// TestClassifySkipsClustersARolloutHoldsBack: a cluster that does not hold
// the rendered revision yet is not judged against it — its older value is
// no divergence.
func TestClassifySkipsClustersARolloutHoldsBack(t *testing.T) {
	ap, ws, live := classifyFixture(t, "conflictResolution: LastWriter")
	container(live["big"])["image"] = "nginx:1.26" // big still runs the revision before
	desired := indexRendered(ws)
	delete(desired, "big") // as Build does for Options.Behind
	vals, _ := values(ap)
	var insts []*instance
	targets := map[string]TargetCluster{}
	for _, name := range []string{"big", "edge", "small"} {
		tc := TargetCluster{State: cluster.Reached(name, true)}
		targets[name] = tc
		inst, err := newInstance(ap, ws, tc, policy.ClusterFacts{}, desired, vals, live[name])
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, inst)
	}
	res := resource(ap, insts, []string{"big", "edge", "small"}, targets, map[string]error{})
	if res.DivergentFields != 0 {
		t.Errorf("a held-back cluster counted as divergent: %+v", res.Conflicts)
	}
	// Judged against the new revision, the same value is a divergence.
	res = aggregateLive(t, ap, ws, live, true)
	if res.DivergentFields != 1 {
		t.Errorf("judged, big's old image must diverge: %+v", res.Conflicts)
	}
}

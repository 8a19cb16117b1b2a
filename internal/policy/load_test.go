package policy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/limits"
)

const header = "apiVersion: tmc.kcp.io/v1alpha1\n"

// base is a valid tree that each case extends.
var base = map[string]string{
	"clusters.yaml": header + `kind: Cluster
metadata:
  name: east
  labels: {env: prod}
spec:
  capacity: {cpu: 8}
---
` + header + `kind: Cluster
metadata:
  name: west
`,
	"apps/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
	"pp.yaml": header + `kind: ProjectionPolicy
metadata:
  name: pp
spec:
  transformations:
    - type: Set
      jsonPath: spec.replicas
      value: 3
      conditional: cluster.capacity.cpu > 4
`,
	"ws.yaml": header + `kind: VirtualWorkspace
metadata:
  name: ws
spec:
  placement:
    clusterSelector: {matchLabels: {env: prod}}
  sources: [{path: apps}]
  projectionPolicies: [pp]
`,
}

func load(t *testing.T, extra map[string]string) (*Policies, error) {
	t.Helper()
	files := map[string][]byte{}
	for k, v := range base {
		files[k] = []byte(v)
	}
	for k, v := range extra {
		if v == "" {
			delete(files, k)
		} else {
			files[k] = []byte(v)
		}
	}
	return LoadFiles(files)
}

func TestLoadValid(t *testing.T) {
	p, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"Cluster": 2, "VirtualWorkspace": 1, "ProjectionPolicy": 1, "AggregationPolicy": 0, "Config": 0}, p.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	// Defaults are applied.
	west := p.Cluster("west")
	if west.Spec.Kubeconfig.Context != "west" || west.Spec.Type != "standard" || !*west.Spec.ProjectionEnabled || west.Spec.HealthCheckTimeout != "10s" {
		t.Errorf("cluster defaults not applied: %+v", west.Spec)
	}
	if ws := p.Workspace("ws"); ws.Spec.LogicalCluster != "root" || !*ws.Spec.Prune {
		t.Errorf("workspace defaults not applied: %+v", ws.Spec)
	}
	if p.Config.SyncInterval != "5m" || p.Config.MaxWorkers != 4 {
		t.Errorf("config defaults not applied: %+v", p.Config)
	}
	// The expression is compiled and runs against cluster facts.
	tr := p.ProjectionPolicy("pp").Spec.Transformations[0]
	for cpu, want := range map[float64]bool{8: true, 4: false} {
		got, err := tr.Program.Bool(&Env{Cluster: ClusterFacts{Capacity: CapacityFacts{CPU: cpu}}})
		if err != nil || got != want {
			t.Errorf("cpu=%v: got %v, %v; want %v", cpu, got, err, want)
		}
	}
	// value keeps its YAML type.
	v, _ := tr.Value.Interface()
	if v != 3 {
		t.Errorf("value = %#v (%T), want int 3", v, v)
	}
}

// TestLoadErrors has one case per class of bad input, each asserting the exact file:line:column and message.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"malformed YAML", map[string]string{"bad.yaml": "a: [b\n"},
			[]string{"bad.yaml:1: invalid YAML: did not find expected ',' or ']'"}},
		{"unknown field", map[string]string{"c.yaml": header + "kind: Cluster\nmetadata:\n  name: c\nspec:\n  regoin: x\n"},
			[]string{`c.yaml:6:3: Cluster/c: spec.regoin: unknown field "regoin" (did you mean "region"?)`}},
		{"wrong type", map[string]string{"c.yaml": header + "kind: Cluster\nmetadata:\n  name: c\nspec:\n  priority: high\n  projectionEnabled: yes\n"},
			[]string{
				`c.yaml:6:13: Cluster/c: spec.priority: must be an integer, not the string "high"`,
				`c.yaml:7:22: Cluster/c: spec.projectionEnabled: must be true or false, not the string "yes"`,
			}},
		{"duplicate object", map[string]string{"dup.yaml": header + "kind: Cluster\nmetadata:\n  name: east\n"},
			[]string{`dup.yaml:4:9: Cluster/east: metadata.name: duplicate Cluster "east": already defined at clusters.yaml:1:1`}},
		{"duplicate key", map[string]string{"c.yaml": header + "kind: Cluster\nmetadata:\n  name: c\nspec:\n  region: a\n  region: b\n"},
			[]string{`c.yaml:7:3: Cluster/c: spec.region: field "region" is set twice`}},
		{"missing reference", map[string]string{"ws.yaml": header + "kind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  placement:\n    clusters: [esat]\n  sources: [{path: apps}]\n  projectionPolicies: [nope]\n  aggregationPolicies: [agg]\n"},
			[]string{
				`ws.yaml:7:16: VirtualWorkspace/ws: spec.placement.clusters[0]: Cluster "esat" does not exist (did you mean "east"?)`,
				`ws.yaml:9:24: VirtualWorkspace/ws: spec.projectionPolicies[0]: ProjectionPolicy "nope" does not exist`,
				`ws.yaml:10:25: VirtualWorkspace/ws: spec.aggregationPolicies[0]: AggregationPolicy "agg" does not exist`,
			}},
		{"invalid enum", map[string]string{"pp.yaml": header + "kind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  mode: Sometimes\n"},
			[]string{`pp.yaml:6:9: ProjectionPolicy/pp: spec.mode: invalid value "Sometimes": must be one of All, Selective, Conditional`}},
		{"invalid duration", map[string]string{"cfg.yaml": header + "kind: Config\nmetadata:\n  name: c\nspec:\n  syncInterval: 5 minutes\n"},
			[]string{`cfg.yaml:6:17: Config/c: spec.syncInterval: invalid duration "5 minutes": use a Go duration such as 30s, 5m or 1h`}},
		{"invalid quantity", map[string]string{"c.yaml": header + "kind: Cluster\nmetadata:\n  name: c\nspec:\n  capacity:\n    memory: lots\n"},
			[]string{`c.yaml:7:13: Cluster/c: spec.capacity.memory: invalid quantity "lots": use a Kubernetes quantity such as 8, 7500m or 32Gi`}},
		{"invalid label selector", map[string]string{"ws.yaml": header + "kind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  placement:\n    clusterSelector:\n      matchExpressions:\n        - {key: env, operator: In}\n  sources: [{path: apps}]\n"},
			[]string{`ws.yaml:8:7: VirtualWorkspace/ws: spec.placement.clusterSelector: invalid label selector: values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty`}},
		{"invalid jsonPath", map[string]string{"pp.yaml": header + "kind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  transformations:\n    - {type: Delete, jsonPath: 'spec.containers[x'}\n"},
			[]string{`pp.yaml:7:32: ProjectionPolicy/pp: spec.transformations[0].jsonPath: invalid jsonPath "spec.containers[x": unclosed '['`}},
		{"bad expression", map[string]string{"pp.yaml": header + "kind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  mode: Conditional\n  conditional: cluster.capacity.cpu >\n"},
			[]string{"pp.yaml:7:16: ProjectionPolicy/pp: spec.conditional: invalid expression: unexpected token EOF (1:22)\n | cluster.capacity.cpu >\n | .....................^"}},
		{"expression of wrong type", map[string]string{"pp.yaml": header + "kind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  mode: Conditional\n  conditional: cluster.name\n"},
			[]string{"pp.yaml:7:16: ProjectionPolicy/pp: spec.conditional: invalid expression: expected bool, but got string"}},
		{"resource in placement", map[string]string{"pp.yaml": header + "kind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  mode: Conditional\n  conditional: resource.kind == 'x'\n"},
			[]string{"pp.yaml:7:16: ProjectionPolicy/pp: spec.conditional: invalid expression: `resource` is not available here: placement and policy conditionals choose clusters, before any object is read; only `cluster` and `workspace` are"}},
		{"unknown variable", map[string]string{"pp.yaml": header + "kind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  mode: Conditional\n  conditional: cluster.cpu > 4\n"},
			[]string{"pp.yaml:7:16: ProjectionPolicy/pp: spec.conditional: invalid expression: type policy.ClusterFacts has no field cpu (1:9)\n | cluster.cpu > 4\n | ........^"}},
		{"bad template", map[string]string{"pp.yaml": header + "kind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  transformations:\n    - {type: Template, jsonPath: metadata.name, value: '{{.OriginalName'}\n"},
			[]string{"pp.yaml:7:56: ProjectionPolicy/pp: spec.transformations[0].value: invalid template: template:1: unclosed action"}},
		{"path escaping the repo", map[string]string{"ws.yaml": header + "kind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  sources: [{path: ../etc}, {path: /etc}]\n"},
			[]string{
				`ws.yaml:6:20: VirtualWorkspace/ws: spec.sources[0].path: path "../etc" leaves the repo`,
				`ws.yaml:6:36: VirtualWorkspace/ws: spec.sources[1].path: path "/etc" is absolute: paths are relative to the repo root`,
			}},
		{"unknown kind", map[string]string{"k.yaml": header + "kind: Clutser\nmetadata:\n  name: c\n"},
			[]string{`k.yaml:2:7: kind: unknown kind "Clutser": must be one of Cluster, VirtualWorkspace, ProjectionPolicy, AggregationPolicy, Config (did you mean "Cluster"?)`}},
		{"unsupported version", map[string]string{"k.yaml": "apiVersion: tmc.kcp.io/v2\nkind: Cluster\n"},
			[]string{`k.yaml:1:13: apiVersion: unsupported apiVersion "tmc.kcp.io/v2": this tmc reads tmc.kcp.io/v1alpha1`}},
		{"missing required", map[string]string{"a.yaml": header + "kind: AggregationPolicy\nmetadata:\n  name: a\nspec:\n  gvk: {kind: Deployment}\n"},
			[]string{`a.yaml:6:8: AggregationPolicy/a: spec.gvk.version: required field "version" is missing`}},
		{"scope Selected needs a narrowing", map[string]string{"a.yaml": header + "kind: AggregationPolicy\nmetadata:\n  name: pods\nspec:\n  gvk: {version: v1, kind: Pod}\n  scope: Selected\n  namespaces: [web, Bad_NS]\n---\n" + header + "kind: AggregationPolicy\nmetadata:\n  name: all-secrets\nspec:\n  gvk: {version: v1, kind: Secret}\n  scope: Selected\n"},
			[]string{`a.yaml:8:21: AggregationPolicy/pods: spec.namespaces[1]: "Bad_NS" is not a valid namespace: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
				`a.yaml:16:10: AggregationPolicy/all-secrets: spec.scope: scope Selected reads objects tmc did not apply: narrow it with labelSelectors or namespaces`}},
		{"mode needs field", map[string]string{"pp.yaml": header + "kind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  mode: Selective\n"},
			[]string{`pp.yaml:6:3: ProjectionPolicy/pp: spec.targetClusters: mode Selective needs targetClusters`}},
		{"invalid name", map[string]string{"c.yaml": header + "kind: Cluster\nmetadata:\n  name: Prod_East\n"},
			[]string{`c.yaml:4:9: Cluster/Prod_East: metadata.name: invalid name "Prod_East": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"two configs", map[string]string{"cfg.yaml": header + "kind: Config\nmetadata:\n  name: a\n---\n" + header + "kind: Config\nmetadata:\n  name: b\n"},
			[]string{`cfg.yaml:6:1: Config/b: a policy tree holds at most one Config; another is at cfg.yaml:1:1`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.files)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("want an ErrorList, got %v", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadReportsAllErrors checks that one run reports every problem, sorted, not just the first.
func TestLoadReportsAllErrors(t *testing.T) {
	_, err := load(t, map[string]string{
		"z.yaml": header + "kind: Cluster\nmetadata:\n  name: z\nspec:\n  bogus: 1\n",
		"a.yaml": header + "kind: ProjectionPolicy\nmetadata:\n  name: a\nspec:\n  mode: Conditional\n  conditional: '1 +'\n",
		"m.yaml": header + "kind: Cluster\nmetadata:\n  name: east\n",
	})
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want ErrorList, got %v", err)
	}
	var files []string
	for _, e := range list {
		files = append(files, e.File)
	}
	if diff := cmp.Diff([]string{"a.yaml", "m.yaml", "z.yaml"}, files); diff != "" {
		t.Errorf("error files (-want +got):\n%s", diff)
	}
}

func TestLoadDirSymlinks(t *testing.T) {
	dir := t.TempDir()
	for name, content := range base {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load(context.Background(), dir); err != nil {
		t.Fatalf("valid dir: %v", err)
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "x.yaml"), []byte("a: b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "x.yaml"), filepath.Join(dir, "escape.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "apps", "etc")); err != nil {
		t.Fatal(err)
	}
	ws := header + "kind: VirtualWorkspace\nmetadata:\n  name: ws2\nspec:\n  sources: [{path: apps/etc}, {path: missing}]\n"
	if err := os.WriteFile(filepath.Join(dir, "ws2.yaml"), []byte(ws), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), dir)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want ErrorList, got %v", err)
	}
	got := strings.ReplaceAll(list.Error(), outside, "OUTSIDE")
	want := strings.Join([]string{
		`escape.yaml: symlink points outside the policy directory (to OUTSIDE/x.yaml)`,
		`ws2.yaml:6:20: VirtualWorkspace/ws2: spec.sources[0].path: path "apps/etc" leaves the repo through a symlink (to OUTSIDE)`,
		`ws2.yaml:6:38: VirtualWorkspace/ws2: spec.sources[1].path: path "missing" does not exist in the repo`,
	}, "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLoadExamples(t *testing.T) {
	p, err := Load(context.Background(), "../../examples/policies")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range p.Clusters {
		names = append(names, c.Metadata.Name)
	}
	if diff := cmp.Diff([]string{"edge-1", "prod-east", "prod-west"}, names); diff != "" {
		t.Errorf("clusters (-want +got):\n%s", diff)
	}
}

// TestAliasBomb feeds a "billion laughs" document: loading must neither hang
// nor blow up memory, and refuse it with its file and line.
func TestAliasBomb(t *testing.T) {
	doc := header + "kind: ProjectionPolicy\nmetadata:\n  name: bomb\nspec:\n  transformations:\n    - type: Set\n      jsonPath: spec.x\n      value:\n        l0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 9; i++ {
		doc += fmt.Sprintf("        l%d: &a%d [%s*a%d]\n", i, i, strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 9), i-1)
	}
	_, err := LoadFiles(map[string][]byte{"bomb.yaml": []byte(doc)})
	if err == nil || !strings.Contains(err.Error(), "bomb.yaml:15:13: document expands to more than 1000000 nodes") {
		t.Fatalf("want the alias budget's error, got %v", err)
	}
}

// TestAggregationNamespacesBounded: each namespace is a LIST per cluster on
// every aggregation, so a repo cannot list without bound.
func TestAggregationNamespacesBounded(t *testing.T) {
	var nss []string
	for i := range limits.MaxPolicyNamespaces + 1 {
		nss = append(nss, fmt.Sprintf("ns-%d", i))
	}
	doc := header + "kind: AggregationPolicy\nmetadata:\n  name: pods\nspec:\n  gvk: {version: v1, kind: Pod}\n  scope: Selected\n  namespaces: [" + strings.Join(nss, ", ") + "]\n"
	_, err := LoadFiles(map[string][]byte{"a.yaml": []byte(doc)})
	if err == nil || !strings.Contains(err.Error(), "a.yaml:8:15: AggregationPolicy/pods: spec.namespaces: 101 namespaces: at most 100") {
		t.Errorf("error %v", err)
	}
}

// TestReportsPathNotIntoGit: reports.path may not be or enter .git.
func TestReportsPathNotIntoGit(t *testing.T) {
	for _, p := range []string{".git", ".git/refs/heads", "x/../.GIT/hooks"} {
		doc := header + "kind: Config\nmetadata:\n  name: c\nspec:\n  reports: {path: \"" + p + "\"}\n"
		_, err := LoadFiles(map[string][]byte{"c.yaml": []byte(doc)})
		if err == nil || !strings.Contains(err.Error(), "c.yaml:") || !strings.Contains(err.Error(), "spec.reports.path: ") || !strings.Contains(err.Error(), "enters .git") {
			t.Errorf("%s: error %v", p, err)
		}
	}
}

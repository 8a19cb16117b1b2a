package render

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/fieldpath"
	"github.com/kcp-dev/tmc/internal/policy"
)

func loadDir(t testing.TB, dir string) *policy.Policies {
	t.Helper()
	p, err := policy.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeTree writes files (relative path → content) under a new directory.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// summary is what a cluster holds, as "Kind/ns/name field=value ..." lines.
func summary(t *testing.T, c *Cluster, fields ...string) []string {
	t.Helper()
	var out []string
	for _, o := range c.Objects {
		line := o.ID.String()
		for _, f := range fields {
			if n := fieldpath.Get(o.Node.YNode(), mustPath(f)); n != nil {
				line += " " + f + "=" + n.Value
			}
		}
		out = append(out, line)
	}
	return out
}

func TestRenderExamples(t *testing.T) {
	p := loadDir(t, "../../examples/policies")
	res, err := Render(context.Background(), p, Options{Workspace: "web-app"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Workspaces) != 1 || len(res.Workspaces[0].Clusters) != 3 {
		t.Fatalf("want 1 workspace on 3 clusters, got %+v", res.Workspaces)
	}
	fields := []string{"spec.replicas", "metadata.labels['workload.kcp.io/projected']", "spec.template.spec.containers[name=web].image", "metadata.annotations['tmc.kcp.io/tier']"}
	want := map[string][]string{
		"edge-1": {
			"Namespace/web",
			"ConfigMap/web/web-config-edge-1 metadata.labels['workload.kcp.io/projected']=true",
			"ConfigMap/web/web-content-edge-1 metadata.labels['workload.kcp.io/projected']=true",
			"Service/web/web",
			"Deployment/web/web spec.replicas=1 spec.template.spec.containers[name=web].image=nginx:1.27-alpine-slim metadata.annotations['tmc.kcp.io/tier']=edge",
		},
		"prod-east": {
			"Namespace/web",
			"ConfigMap/web/web-config-prod-east metadata.labels['workload.kcp.io/projected']=true",
			"ConfigMap/web/web-content-prod-east metadata.labels['workload.kcp.io/projected']=true",
			"Service/web/web",
			"Deployment/web/web spec.replicas=3 spec.template.spec.containers[name=web].image=nginx:1.27",
		},
		"prod-west": {
			"Namespace/web",
			"ConfigMap/web/web-config-prod-west metadata.labels['workload.kcp.io/projected']=true",
			"ConfigMap/web/web-content-prod-west metadata.labels['workload.kcp.io/projected']=true",
			"Service/web/web",
			"Deployment/web/web spec.replicas=3 spec.template.spec.containers[name=web].image=nginx:1.27",
		},
	}
	for _, c := range res.Workspaces[0].Clusters {
		if diff := cmp.Diff(want[c.Name], summary(t, c, fields...)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.Name, diff)
		}
	}
	// The integer stays an integer.
	dep := res.Workspaces[0].Clusters[1].Objects[4]
	if n := fieldpath.Get(dep.Node.YNode(), mustPath("spec.replicas")); n.Tag != "!!int" {
		t.Errorf("spec.replicas tag = %s, want !!int", n.Tag)
	}
}

func mustPath(s string) fieldpathPath { return parsePath(s) }

func TestRenderFactsFileAndPlacement(t *testing.T) {
	p := loadDir(t, "../../examples/policies")
	dir := t.TempDir()
	facts := filepath.Join(dir, "facts.yaml")
	// prod-west is unhealthy and drops out; edge-1 does not declare... every cluster declares cpu, so the file's cpu is overridden.
	if err := os.WriteFile(facts, []byte("prod-west:\n  healthy: false\nedge-1:\n  nodes: 2\n  capacity: {cpu: 64}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ff, err := ReadFactsFile(facts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Render(context.Background(), p, Options{Facts: ff})
	if err != nil {
		t.Fatal(err)
	}
	var selected []string
	for _, c := range res.Workspaces[0].Clusters {
		selected = append(selected, c.Name)
	}
	if diff := cmp.Diff([]string{"edge-1", "prod-east"}, selected); diff != "" {
		t.Errorf("selected (-want +got):\n%s", diff)
	}
	edge := res.Workspaces[0].Placement[0]
	if edge.Facts.Capacity.CPU != 2 || edge.Facts.Nodes != 2 {
		t.Errorf("declared cpu must win over observed, observed nodes kept: %+v", edge.Facts)
	}
	west := res.Workspaces[0].Placement[2]
	if west.Selected || !strings.Contains(strings.Join(west.Reasons, ";"), "unhealthy") {
		t.Errorf("prod-west: %+v", west)
	}
	if _, err := ReadFactsFile(writeTree(t, map[string]string{"f.yaml": "x:\n  cpus: 3\n"}) + "/f.yaml"); err == nil || !strings.Contains(err.Error(), `unknown field "cpus"`) {
		t.Errorf("unknown field in facts file: %v", err)
	}
}

const hdr = "apiVersion: tmc.kcp.io/v1alpha1\n"

// tree is a minimal policy repo with one cluster, one workspace and one projection policy.
func tree(transformations string) map[string]string {
	return map[string]string{
		"cluster.yaml": hdr + "kind: Cluster\nmetadata:\n  name: c1\n  labels: {env: prod}\nspec:\n  type: edge\n  capacity: {cpu: 2}\n",
		"ws.yaml":      hdr + "kind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  sources: [{path: app}]\n  projectionPolicies: [pp]\n",
		"pp.yaml":      hdr + "kind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  transformations:\n" + transformations,
		"app/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: ns\ndata:\n  a: b\n",
	}
}

// TestHostileInput feeds loops, huge outputs, huge expressions and paths out
// of the repo: each must give a clear error naming the policy file and
// transformation, fast, never a hang or a crash.
func TestHostileInput(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		loadErr string // an error from policy.Load
		err     string // an error from Render
	}{
		{name: "template range over a number",
			files:   tree("    - {type: Template, jsonPath: metadata.name, value: '{{range 100000000}}x{{end}}'}\n"),
			loadErr: "pp.yaml:7:56: ProjectionPolicy/pp: spec.transformations[0].value: invalid template: range 100000000: range may only walk a map or list of the template data, such as .Cluster.Labels"},
		{name: "template range over a variable",
			files:   tree("    - {type: Template, jsonPath: metadata.name, value: '{{$n := 9}}{{range $n}}x{{end}}'}\n"),
			loadErr: "invalid template: range $n: range may only walk a map or list of the template data"},
		{name: "template recursion",
			files:   tree("    - {type: Template, jsonPath: metadata.name, value: '{{define \"a\"}}{{template \"a\"}}{{end}}{{template \"a\"}}'}\n"),
			loadErr: "invalid template: define and block are not allowed in transformation templates"},
		{name: "template printf of megabytes",
			files: tree("    - {type: Template, jsonPath: metadata.name, value: '{{printf \"%099999999d\" 1}}'}\n"),
			err:   `pp.yaml:7:7: ProjectionPolicy/pp: spec.transformations[0]: ConfigMap/ns/cm on cluster c1: template: template:1:2: executing "template" at <printf "%099999999d" 1>: error calling printf: printf width or precision too large in "%099999999d"`},
		{name: "template output of megabytes",
			files: tree("    - {type: Template, jsonPath: data.big, value: '{{range .Cluster.Labels}}" + strings.Repeat("x", 70000) + "{{end}}'}\n"),
			err:   "pp.yaml:7:7: ProjectionPolicy/pp: spec.transformations[0]: ConfigMap/ns/cm on cluster c1: template output is longer than 64 KiB"},
		{name: "nested template replace calls",
			files: tree("    - {type: Template, jsonPath: data.big, value: '{{(replace \"a\" \"aaaaaaaaaa\" (replace \"a\" \"aaaaaaaaaa\" (replace \"a\" \"aaaaaaaaaa\" (replace \"a\" \"aaaaaaaaaa\" (replace \"a\" \"aaaaaaaaaa\" (replace \"a\" \"aaaaaaaaaa\" (replace \"a\" \"aaaaaaaaaa\" (replace \"a\" \"aaaaaaaaaa\" \"a\"))))))))}}'}\n"),
			err:   "template function output would be longer than 64 KiB"},
		{name: "nested printf",
			files: tree("    - {type: Template, jsonPath: data.big, value: '{{printf \"%s%s%s%s%s%s%s%s\" (printf \"%9999d%9999d%9999d%9999d\" 1 2 3 4) (printf \"%9999d%9999d%9999d%9999d\" 1 2 3 4) \"\" \"\" \"\" \"\" \"\" \"\"}}'}\n"),
			err:   "template function output would be longer than 64 KiB"},
		{name: "template missing key",
			files: tree("    - {type: Template, jsonPath: metadata.name, value: '{{.Cluster.Labels.nope}}'}\n"),
			err:   `ConfigMap/ns/cm on cluster c1: template: template:1:10: executing "template" at <.Cluster.Labels.nope>: map has no entry for key "nope"`},
		{name: "template output not UTF-8",
			files: tree("    - {type: Template, jsonPath: metadata.name, value: '{{\"\\xff\"}}'}\n"),
			err:   "ConfigMap/ns/cm on cluster c1: template output is not valid UTF-8"},
		{name: "expression over a huge range",
			files: tree("    - {type: Delete, jsonPath: data.a, conditional: 'len(1..100000000) > 0'}\n"),
			err:   "pp.yaml:7:7: ProjectionPolicy/pp: spec.transformations[0]: ConfigMap/ns/cm on cluster c1: expression \"len(1..100000000) > 0\": memory budget exceeded"},
		{name: "expression with nested huge ranges",
			files: tree("    - {type: Delete, jsonPath: data.a, conditional: 'all(1..100000, {all(1..100000, {# > 0})})'}\n"),
			err:   "memory budget exceeded"},
		{name: "resource expression fails at run time",
			files: tree("    - {type: Delete, jsonPath: data.a, conditional: 'resource.data.a > 1'}\n"),
			err:   "pp.yaml:7:7: ProjectionPolicy/pp: spec.transformations[0]: ConfigMap/ns/cm on cluster c1: expression \"resource.data.a > 1\": invalid operation: string > int"},
		{name: "set through a scalar",
			files: tree("    - {type: Set, jsonPath: data.a.b, value: 1}\n"),
			err:   "pp.yaml:7:7: ProjectionPolicy/pp: spec.transformations[0]: ConfigMap/ns/cm on cluster c1: cannot set data.a.b: data.a is a scalar, not a mapping"},
		{name: "template removes the name",
			files: tree("    - {type: Template, jsonPath: metadata.name, value: ''}\n"),
			err:   "app/cm.yaml:1: ConfigMap/ns/cm on cluster c1: transformations left the object without apiVersion, kind or metadata.name"},
		{name: "two objects render to one",
			files: func() map[string]string {
				f := tree("    - {type: Template, jsonPath: metadata.name, value: 'same'}\n")
				f["app/cm2.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm2\n  namespace: ns\n"
				return f
			}(),
			err: "app/cm2.yaml:1: ConfigMap/ns/cm2 renders to ConfigMap/ns/same on cluster c1, as does ConfigMap/ns/cm from app/cm.yaml:1"},
		{name: "malformed manifest",
			files: func() map[string]string {
				f := tree("    - {type: Delete, jsonPath: data.a}\n")
				f["app/bad.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n"
				return f
			}(),
			loadErr: "app/bad.yaml:3: invalid YAML: did not find expected node content"},
		{name: "manifest without a name",
			files: func() map[string]string {
				f := tree("    - {type: Delete, jsonPath: data.a}\n")
				f["app/noname.yaml"] = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: x\n"
				return f
			}(),
			err: "app/noname.yaml:2: ConfigMap has no metadata.name"},
		{name: "duplicate object in sources",
			files: func() map[string]string {
				f := tree("    - {type: Delete, jsonPath: data.a}\n")
				f["app/dup.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: ns\n"
				return f
			}(),
			err: "app/dup.yaml:1: ConfigMap/ns/cm is also defined at app/cm.yaml:1"},
		{name: "kustomize remote base",
			files: func() map[string]string {
				f := tree("    - {type: Delete, jsonPath: data.a}\n")
				f["app/kustomization.yaml"] = "resources:\n- cm.yaml\n- https://github.com/example/repo//base?ref=main\n"
				return f
			}(),
			loadErr: `app/kustomization.yaml:3:3: resources: "https://github.com/example/repo//base?ref=main" is a https URL; render never touches the network, so every file must be in the repo`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			dir := writeTree(t, tc.files)
			p, err := policy.Load(context.Background(), dir)
			if tc.loadErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.loadErr) {
					t.Fatalf("load error = %v\nwant it to contain %q", err, tc.loadErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = Render(context.Background(), p, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("render error = %v\nwant it to contain %q", err, tc.err)
			}
			var list policy.ErrorList
			if !errors.As(err, &list) {
				t.Errorf("want a policy.ErrorList, got %T", err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Logf("took %v", d) // reported, not asserted: tests never assert wall-clock times
			}
		})
	}
}

func TestSourcePathsStayInRepo(t *testing.T) {
	files := tree("    - {type: Delete, jsonPath: data.a}\n")
	dir := writeTree(t, files)
	// A symlink to /etc inside a source directory is refused.
	if err := os.Symlink("/etc", filepath.Join(dir, "app", "etc")); err != nil {
		t.Fatal(err)
	}
	p := loadDir(t, dir)
	_, err := Render(context.Background(), p, Options{})
	if err == nil || !strings.Contains(err.Error(), `ws.yaml:6:20: VirtualWorkspace/ws: spec.sources[0].path: path "app/etc" leaves the repo through a symlink (to /etc)`) {
		t.Fatalf("got %v", err)
	}
	// The source directory itself as a symlink to /etc is refused when loading.
	os.RemoveAll(filepath.Join(dir, "app"))
	if err := os.Symlink("/etc", filepath.Join(dir, "app")); err != nil {
		t.Fatal(err)
	}
	_, err = policy.Load(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), `spec.sources[0].path: path "app" leaves the repo through a symlink (to /etc)`) {
		t.Fatalf("got %v", err)
	}
}

func TestKustomizeSource(t *testing.T) {
	files := tree("    - {type: Template, jsonPath: metadata.name, value: '{{.OriginalName}}-{{.TargetCluster}}'}\n")
	files["base/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base-cm\ndata:\n  a: b\n"
	files["base/kustomization.yaml"] = "resources:\n- cm.yaml\n"
	files["app/kustomization.yaml"] = "namespace: kns\nresources:\n- ../base\n- cm.yaml\nlabels:\n- pairs: {team: web}\n"
	p := loadDir(t, writeTree(t, files))
	res, err := Render(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := summary(t, res.Workspaces[0].Clusters[0], "metadata.labels.team")
	want := []string{"ConfigMap/kns/base-cm-c1 metadata.labels.team=web", "ConfigMap/kns/cm-c1 metadata.labels.team=web"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestModesAndSelectors(t *testing.T) {
	files := map[string]string{
		"clusters.yaml": hdr + "kind: Cluster\nmetadata: {name: a, labels: {env: prod}}\nspec: {type: standard, capacity: {cpu: 8}}\n---\n" +
			hdr + "kind: Cluster\nmetadata: {name: b, labels: {env: prod}}\nspec: {type: edge, capacity: {cpu: 2}}\n---\n" +
			hdr + "kind: Cluster\nmetadata: {name: c, labels: {env: dev}}\nspec: {projectionEnabled: true}\n---\n" +
			hdr + "kind: Cluster\nmetadata: {name: d, labels: {env: prod}}\nspec: {projectionEnabled: false}\n",
		"ws.yaml": hdr + "kind: VirtualWorkspace\nmetadata: {name: ws}\nspec:\n  placement:\n    clusters: [c]\n    clusterSelector: {matchLabels: {env: prod}}\n    conditional: \"cluster.name != 'zzz'\"\n  sources: [{path: app}]\n  projectionPolicies: [only-a, edge-only, by-field]\n",
		"pp.yaml": hdr + "kind: ProjectionPolicy\nmetadata: {name: only-a}\nspec:\n  mode: Selective\n  targetClusters: [a]\n  resourceSelectors: [{kind: Secret}]\n---\n" +
			hdr + "kind: ProjectionPolicy\nmetadata: {name: edge-only}\nspec:\n  mode: Conditional\n  conditional: \"cluster.type == 'edge'\"\n  resourceSelectors: [{kind: ConfigMap, namePattern: 'edge-*'}]\n---\n" +
			hdr + "kind: ProjectionPolicy\nmetadata: {name: by-field}\nspec:\n  resourceSelectors: [{group: core, fieldSelector: 'metadata.namespace=web,data.x!=skip', labelSelector: {matchLabels: {tier: fe}}}]\n  transformations: [{type: Set, jsonPath: metadata.annotations.marked, value: 'yes'}]\n",
		"app/objs.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: web}\n---\n" +
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: edge-cfg, namespace: web}\n---\n" +
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fe, namespace: web, labels: {tier: fe}}\ndata: {x: y}\n---\n" +
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fe-skip, namespace: web, labels: {tier: fe}}\ndata: {x: skip}\n---\n" +
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain, namespace: other}\n",
	}
	p := loadDir(t, writeTree(t, files))
	res, err := Render(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, c := range res.Workspaces[0].Clusters {
		got[c.Name] = summary(t, c, "metadata.annotations.marked")
	}
	want := map[string][]string{
		// a: Selective policy puts the Secret here only; edge-only ConfigMap not here.
		"a": {"Secret/web/s", "ConfigMap/other/plain", "ConfigMap/web/fe metadata.annotations.marked=yes", "ConfigMap/web/fe-skip"},
		"b": {"ConfigMap/other/plain", "ConfigMap/web/edge-cfg", "ConfigMap/web/fe metadata.annotations.marked=yes", "ConfigMap/web/fe-skip"},
		"c": {"ConfigMap/other/plain", "ConfigMap/web/fe metadata.annotations.marked=yes", "ConfigMap/web/fe-skip"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	d := res.Workspaces[0].Placement[3]
	if d.Cluster != "d" || d.Selected || d.Reasons[len(d.Reasons)-1] != "cluster has projectionEnabled: false" {
		t.Errorf("d: %+v", d)
	}
}

// failingFacts answers for every cluster but one.
type failingFacts struct{ down string }

func (f failingFacts) Facts(ctx context.Context, c *policy.Cluster) (policy.ClusterFacts, error) {
	if c.Metadata.Name == f.down {
		return policy.ClusterFacts{}, errors.New("dial tcp: connection refused")
	}
	return Declared{}.Facts(ctx, c)
}

// TestResultDecidesReachability: the render's probe is the one answer a run
// has about reachability; plan and aggregate read Result.Reachable.
func TestResultDecidesReachability(t *testing.T) {
	p := loadDir(t, "../../examples/policies")
	r, err := Render(context.Background(), p, Options{Facts: failingFacts{down: "prod-west"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reachable("prod-west"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("prod-west: %v, want its probe's error", err)
	}
	for _, c := range []string{"prod-east", "edge-1"} {
		if err := r.Reachable(c); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	var down []string
	for _, c := range r.Unreachable() {
		down = append(down, c.Name+": "+c.Message()+" ("+c.Label()+")")
	}
	if diff := cmp.Diff([]string{"prod-west: dial tcp: connection refused (unreachable)"}, down); diff != "" {
		t.Errorf("Unreachable (-want +got):\n%s", diff)
	}
	// The probe's error stays an error value (errors.As sees it) and reads
	// back from JSON with its message.
	b, err := json.Marshal(r.State("prod-west"))
	if err != nil {
		t.Fatal(err)
	}
	var back cluster.State
	if err := json.Unmarshal(b, &back); err != nil || back.Reachable || back.Message() != "dial tcp: connection refused" || back.Label() != cluster.LabelUnreachable {
		t.Errorf("round trip of %s: %+v, %v", b, back, err)
	}
}

// TestSeedExamplesAsWritten renders the seed's two projection examples as it
// writes them: the Selective ConfigMap projection to cluster-a and cluster-b
// (label, {{.OriginalName}}-{{.TargetCluster}}), and the capacity example —
// mode Conditional with no policy conditional, each transformation guarded.
func TestSeedExamplesAsWritten(t *testing.T) {
	files := map[string]string{
		"clusters.yaml": hdr + "kind: Cluster\nmetadata: {name: cluster-a}\nspec: {capacity: {cpu: 8}}\n---\n" +
			hdr + "kind: Cluster\nmetadata: {name: cluster-b}\nspec: {capacity: {cpu: 2}}\n---\n" +
			hdr + "kind: Cluster\nmetadata: {name: cluster-c}\nspec: {capacity: {cpu: 16}}\n",
		"ws.yaml": hdr + "kind: VirtualWorkspace\nmetadata: {name: ws}\nspec:\n  sources: [{path: app}]\n  projectionPolicies: [configmaps, capacity]\n",
		"pp.yaml": hdr + `kind: ProjectionPolicy
metadata: {name: configmaps}
spec:
  mode: Selective
  targetClusters: [cluster-a, cluster-b]
  resourceSelectors:
  - {group: "", version: v1, kind: ConfigMap, labelSelector: {matchLabels: {app.kubernetes.io/component: config}}}
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
`,
		"app/objs.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: web, labels: {app.kubernetes.io/component: config}}\ndata: {a: b}\n---\n" +
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: web, labels: {workload.kcp.io/auto-project: \"true\"}}\nspec: {replicas: 2}\n",
	}
	p := loadDir(t, writeTree(t, files))
	res, err := Render(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, c := range res.Workspaces[0].Clusters {
		got[c.Name] = summary(t, c, "spec.replicas", "metadata.labels['workload.kcp.io/projected']")
	}
	want := map[string][]string{
		"cluster-a": {"ConfigMap/web/settings-cluster-a metadata.labels['workload.kcp.io/projected']=true", "Deployment/web/api spec.replicas=3"},
		"cluster-b": {"ConfigMap/web/settings-cluster-b metadata.labels['workload.kcp.io/projected']=true", "Deployment/web/api spec.replicas=1"},
		"cluster-c": {"Deployment/web/api spec.replicas=3"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// A Conditional policy with no conditional anywhere is refused.
	files["pp.yaml"] = hdr + "kind: ProjectionPolicy\nmetadata: {name: capacity}\nspec:\n  mode: Conditional\n  transformations: [{type: Set, jsonPath: spec.replicas, value: 1}]\n"
	files["ws.yaml"] = hdr + "kind: VirtualWorkspace\nmetadata: {name: ws}\nspec:\n  sources: [{path: app}]\n  projectionPolicies: [capacity]\n"
	_, err = policy.Load(context.Background(), writeTree(t, files))
	if err == nil || !strings.Contains(err.Error(), "mode Conditional needs a conditional expression, here or on its transformations") {
		t.Errorf("Conditional without any conditional: %v", err)
	}
}

// TestListsExpandIntoTheirItems: published manifests as kubectl takes
// them — a kind List and typed lists (RoleList, ConfigMapList, whose items
// may leave apiVersion and kind to the list) — render as their items; an
// object of a kind that merely ends in List is an object; an error in an
// item names the item's line.
func TestListsExpandIntoTheirItems(t *testing.T) {
	files := map[string]string{
		"clusters.yaml": hdr + "kind: Cluster\nmetadata: {name: a}\n",
		"ws.yaml":       hdr + "kind: VirtualWorkspace\nmetadata: {name: ws}\nspec:\n  sources: [{path: app}]\n",
		"app/list.yaml": `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: one, namespace: web}
- apiVersion: v1
  kind: Service
  metadata: {name: svc, namespace: web}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleList
metadata: {resourceVersion: "7"}
items:
- metadata: {name: reader, namespace: web}
  rules: []
---
apiVersion: v1
kind: ConfigMapList
items:
- metadata: {name: two, namespace: web}
- metadata: {name: three, namespace: web}
---
apiVersion: example.com/v1
kind: ShoppingList
metadata: {name: groceries, namespace: web}
items: [milk]
`,
	}
	p := loadDir(t, writeTree(t, files))
	res, err := Render(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range res.Workspaces[0].Clusters[0].Objects {
		got = append(got, o.ID.String()+" @"+strconv.Itoa(o.Source.Line))
		if o.ID.Kind == "Role" && o.ID.Group != "rbac.authorization.k8s.io" {
			t.Errorf("a RoleList item took group %q, want the list's", o.ID.Group)
		}
	}
	sort.Strings(got)
	want := []string{"ConfigMap/web/one @4", "ConfigMap/web/three @22", "ConfigMap/web/two @21", "Role/web/reader @15", "Service/web/svc @7", "ShoppingList/web/groceries @24"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	files["app/list.yaml"] = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: ok}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {namespace: web}\n"
	_, err = Render(context.Background(), loadDir(t, writeTree(t, files)), Options{})
	if err == nil || !strings.Contains(err.Error(), "app/list.yaml:7: ConfigMap has no metadata.name") {
		t.Errorf("an item without a name: %v", err)
	}
}

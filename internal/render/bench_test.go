package render

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// benchTree is 3 clusters, one workspace, and 1,000 Deployments that one
// projection policy changes with 5 transformations each.
func benchTree() map[string]string {
	files := map[string]string{
		"clusters.yaml": hdr + "kind: Cluster\nmetadata: {name: east, labels: {env: prod}}\nspec: {capacity: {cpu: 16}}\n---\n" +
			hdr + "kind: Cluster\nmetadata: {name: west, labels: {env: prod}}\nspec: {capacity: {cpu: 8}}\n---\n" +
			hdr + "kind: Cluster\nmetadata: {name: edge, labels: {env: prod}}\nspec: {type: edge, capacity: {cpu: 2}}\n",
		"ws.yaml": hdr + "kind: VirtualWorkspace\nmetadata: {name: ws}\nspec:\n  placement: {clusterSelector: {matchLabels: {env: prod}}}\n  sources: [{path: app}]\n  projectionPolicies: [pp]\n",
		"pp.yaml": hdr + `kind: ProjectionPolicy
metadata: {name: pp}
spec:
  resourceSelectors: [{group: apps, kind: Deployment}]
  transformations:
    - {type: Set, jsonPath: spec.replicas, value: 3, conditional: "cluster.capacity.cpu > 4"}
    - {type: Template, jsonPath: metadata.name, value: "{{.OriginalName}}-{{.TargetCluster}}"}
    - {type: Set, jsonPath: metadata.labels.workload.kcp.io/projected, value: "true"}
    - {type: Replace, jsonPath: "spec.template.spec.containers[name=app].image", value: "registry.local/app:v2"}
    - {type: Delete, jsonPath: "metadata.annotations['volatile']"}
`,
	}
	for f := 0; f < 10; f++ {
		var b strings.Builder
		for i := 0; i < 100; i++ {
			fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%03d-%02d
  namespace: ns-%d
  labels: {app: app-%d}
  annotations: {volatile: "x"}
spec:
  replicas: 1
  selector: {matchLabels: {app: app-%d}}
  template:
    metadata: {labels: {app: app-%d}}
    spec:
      containers:
        - name: app
          image: registry.local/app:v1
          ports: [{containerPort: 8080}]
          resources: {requests: {cpu: 100m, memory: 64Mi}}
`, f, i, f, i, i, i)
		}
		files[fmt.Sprintf("app/deploy-%d.yaml", f)] = b.String()
	}
	return files
}

// BenchmarkRender renders 1,000 objects × 3 clusters × 5 transformations
// (sources read from disk, placement, selection, transformations, templates).
func BenchmarkRender(b *testing.B) {
	p := loadDir(b, writeTree(b, benchTree()))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := Render(ctx, p, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if n := len(res.Workspaces[0].Clusters[2].Objects); n != 1000 {
			b.Fatalf("objects = %d", n)
		}
	}
}

// TestRenderDeterministic renders the same tree twice and compares the bytes.
func TestRenderDeterministic(t *testing.T) {
	p := loadDir(t, writeTree(t, benchTree()))
	var outs [2][]byte
	for i := range outs {
		p2 := p
		if i == 1 {
			p2 = loadDir(t, p.Root) // a fresh load, too
		}
		res, err := Render(context.Background(), p2, Options{})
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = dump(t, res)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatal("two renders of the same input differ")
	}
	if !bytes.Contains(outs[0], []byte("name: app-009-99-edge")) {
		t.Fatal("render output lacks a templated name")
	}
}

func dump(t *testing.T, res *Result) []byte {
	var b bytes.Buffer
	for _, ws := range res.Workspaces {
		for _, c := range ws.Clusters {
			fmt.Fprintf(&b, "# cluster: %s\n", c.Name)
			for _, o := range c.Objects {
				b.WriteString(o.Node.MustString())
				b.WriteString("---\n")
			}
		}
	}
	return b.Bytes()
}

// BenchmarkHelmChartRender20Clusters renders a large chart — 50 templates,
// each a range over 10 items through shared helpers, 500 objects and 5
// values per item — for 20 target clusters with a cluster value each (a
// child process per cluster, as many at once as there are cores).
func BenchmarkHelmChartRender20Clusters(b *testing.B) {
	files := map[string]string{
		"charts/big/Chart.yaml":             "apiVersion: v2\nname: big\nversion: 1.0.0\n",
		"charts/big/templates/_helpers.tpl": "{{- define \"big.labels\" -}}\napp.kubernetes.io/name: {{ .Chart.Name }}\napp.kubernetes.io/instance: {{ .Release.Name }}\nhelm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}\n{{- end -}}\n",
	}
	var vals strings.Builder
	vals.WriteString("items:\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&vals, "  - {name: item-%d, a: x%d, b: y%d, c: %d, d: true}\n", i, i, i, i)
	}
	vals.WriteString("replicas: 1\n")
	files["charts/big/values.yaml"] = vals.String()
	for t := 0; t < 50; t++ {
		files[fmt.Sprintf("charts/big/templates/t%02d.yaml", t)] = fmt.Sprintf(`{{- range .Values.items }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $.Release.Name }}-t%02d-{{ .name }}
  labels:
{{ include "big.labels" $ | indent 4 }}
data:
  a: {{ .a | quote }}
  b: {{ .b | upper | quote }}
  c: {{ .c | quote }}
  d: {{ .d | quote }}
  replicas: {{ $.Values.replicas | quote }}
  kube: {{ $.Capabilities.KubeVersion.Version | quote }}
{{- end }}
`, t)
	}
	var clusters strings.Builder
	for c := 0; c < 20; c++ {
		fmt.Fprintf(&clusters, "---\napiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: c%02d}\nspec: {capacity: {cpu: %d}}\n", c, 2+c)
	}
	files["policies.yaml"] = clusters.String() + `---
apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: big}
spec:
  sources:
    - chart:
        path: charts/big
        namespace: big
        clusterValues:
          - {type: Set, jsonPath: replicas, value: 3, conditional: "cluster.capacity.cpu > 8"}
`
	dir := writeTree(b, files)
	p := loadDir(b, dir)
	b.ResetTimer()
	objects := 0
	for i := 0; i < b.N; i++ {
		r, err := Render(context.Background(), p, Options{})
		if err != nil {
			b.Fatal(err)
		}
		objects = 0
		for _, c := range r.Workspaces[0].Clusters {
			objects += len(c.Objects)
		}
	}
	b.ReportMetric(float64(objects), "objects")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/render")
}

package render

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/chart"
	"github.com/kcp-dev/tmc/internal/policy"
)

const chartRepo = `apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: big}
spec: {capacity: {cpu: "16"}}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: small}
spec: {capacity: {cpu: "2"}}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: edge}
spec: {type: edge, capacity: {cpu: "4"}}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: shop}
spec:
  sources:
    - chart:
        path: charts/web
        namespace: shop
        valuesFiles: [values/prod.yaml]
        values: {image: {tag: "1.28"}}
        clusterValues:
          - {type: Set, jsonPath: replicaCount, value: 3, conditional: "cluster.capacity.cpu > 4"}
          - {type: Template, jsonPath: host, value: "{{.TargetCluster}}.shop.example.com"}
  projectionPolicies: [edge-label]
---
apiVersion: tmc.kcp.io/v1alpha1
kind: ProjectionPolicy
metadata: {name: edge-label}
spec:
  mode: All
  resourceSelectors: [{group: apps, kind: Deployment}]
  transformations:
    - {type: Set, jsonPath: "metadata.labels.tier", value: edge, conditional: "cluster.type == 'edge'"}
`

// chartTree is a repo holding internal/chart's test chart under charts/web.
func chartTree(t *testing.T) string {
	t.Helper()
	dir := writeTree(t, map[string]string{"policies.yaml": chartRepo, "values/prod.yaml": "replicaCount: 2\nimage: {repository: registry.local/nginx}\n"})
	if err := os.CopyFS(filepath.Join(dir, "charts/web"), os.DirFS("../chart/testdata/web")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func chartFacts() FileFacts {
	yes := true
	return FileFacts{
		"big":   {Healthy: &yes, KubernetesVersion: "v1.37.2"},
		"small": {Healthy: &yes, KubernetesVersion: "v1.35.0"},
		"edge":  {Healthy: &yes, KubernetesVersion: "v1.33.4-k3s1"},
	}
}

// TestHelmChartPerCluster: a chart source renders once per target cluster
// with that cluster's Kubernetes version and its values (values files,
// inline values, cluster values from facts and templates); its objects then
// go through projection policies like any other; CRDs and the pre-install
// hook are objects, the test hook is not; namespaced objects without a
// namespace go to the release namespace; render --explain's data says
// which values each cluster got.
func TestHelmChartPerCluster(t *testing.T) {
	dir := chartTree(t)
	r, err := Render(context.Background(), loadDir(t, dir), Options{Facts: chartFacts()})
	if err != nil {
		t.Fatal(err)
	}
	ws := r.Workspaces[0]
	got := map[string][]string{}
	deploy := map[string]string{}
	for _, c := range ws.Clusters {
		for _, o := range c.Objects {
			got[c.Name] = append(got[c.Name], o.ID.String()+" @ "+o.Source.String())
			if o.ID.Kind == "Deployment" {
				s, _ := o.Node.String()
				deploy[c.Name] = s
			}
		}
	}
	want := []string{
		"CustomResourceDefinition/widgets.example.com @ charts/web/crds/widgets.yaml:1",
		"Service/shop/shop-redis @ charts/web/charts/redis/templates/service.yaml:1",
		"Deployment/shop/shop-web @ charts/web/templates/deployment.yaml:1",
		"Job/shop/shop-migrate @ charts/web/templates/job.yaml:1",
	}
	for _, c := range []string{"big", "edge", "small"} {
		if diff := cmp.Diff(want, got[c]); diff != "" {
			t.Errorf("%s objects (-want +got):\n%s", c, diff)
		}
	}
	for c, wantIn := range map[string][]string{
		"big":   {"replicas: 3", `value: "v1.37.2"`, `value: "big.shop.example.com"`, `image: "registry.local/nginx:1.28"`},
		"small": {"replicas: 2", `value: "v1.35.0"`, `value: "small.shop.example.com"`},
		"edge":  {"replicas: 2", `value: "v1.33.4-k3s1"`, "tier: edge"},
	} {
		for _, s := range wantIn {
			if !strings.Contains(deploy[c], s) {
				t.Errorf("%s Deployment lacks %q:\n%s", c, s, deploy[c])
			}
		}
	}
	if strings.Contains(deploy["big"], "tier: edge") {
		t.Errorf("the edge policy acted on big")
	}
	if len(ws.Charts) != 3 {
		t.Fatalf("charts explained: %+v", ws.Charts)
	}
	for _, cr := range ws.Charts {
		if cr.Source != "charts/web" || cr.Digest == "" || cr.Objects != 4 || len(cr.Dropped) != 1 || cr.Values["host"] != cr.Cluster+".shop.example.com" {
			t.Errorf("chart render of %s: %+v", cr.Cluster, cr)
		}
	}
}

// TestHelmChartRendersDeterministically: a chart calling randAlphaNum
// renders the same bytes twice with the operator's key.
func TestHelmChartRendersDeterministically(t *testing.T) {
	dir := chartTree(t)
	if err := os.WriteFile(filepath.Join(dir, "charts/web/templates/secret.yaml"), []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: pw}\nstringData: {password: {{ randAlphaNum 24 | quote }}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("operator-secret-key-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(chart.EnvKeyFile, keyFile)
	render := func() string {
		r, err := Render(context.Background(), loadDir(t, dir), Options{Facts: chartFacts()})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, c := range r.Workspaces[0].Clusters {
			for _, o := range c.Objects {
				s, _ := o.Node.String()
				fmt.Fprintf(&b, "%s %s\n%s", c.Name, o.ID, s)
			}
		}
		return b.String()
	}
	a, b := render(), render()
	if a != b || !strings.Contains(a, "password: ") {
		t.Errorf("two renders differ or lack the password:\n%s\n%s", a, b)
	}
	// Without the key the generated password is refused, naming the template.
	t.Setenv(chart.EnvKeyFile, "")
	_, err := Render(context.Background(), loadDir(t, dir), Options{Facts: chartFacts()})
	if err == nil || !strings.Contains(err.Error(), "web/templates/secret.yaml: randAlphaNum draws a random value") {
		t.Errorf("unkeyed: %v", err)
	}
}

// TestHelmChartSourceValidation: chart fields are checked at load time.
func TestHelmChartSourceValidation(t *testing.T) {
	bad := strings.Replace(chartRepo, "        path: charts/web\n", "        path: charts/missing\n        releaseName: Not_Valid\n", 1)
	dir := writeTree(t, map[string]string{"policies.yaml": bad})
	_, err := policy.Load(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "spec.sources[0].chart.path") || !strings.Contains(err.Error(), "spec.sources[0].chart.releaseName") {
		t.Errorf("want errors naming chart.path and chart.releaseName, got %v", err)
	}
}

package render

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kcp-dev/tmc/internal/policy"
)

// secretTree is a repo with one Secret in git and transformations guarded
// by its value.
func secretTree(password, transformations string) map[string]string {
	files := tree(transformations)
	delete(files, "app/cm.yaml")
	files["app/secret.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: ns\n  annotations: {note: " + password + "}\ndata:\n  password: " + password + "\n"
	return files
}

// TestSecretTaintTransformationsKeepKind: no transformation may change an
// object's apiVersion or kind (that would turn a Secret into a ConfigMap
// that every view prints), in projection and aggregation policies alike.
func TestSecretTaintTransformationsKeepKind(t *testing.T) {
	for _, tr := range []string{
		"    - {type: Set, jsonPath: kind, value: ConfigMap}\n",
		"    - {type: Replace, jsonPath: apiVersion, value: v2}\n",
		"    - {type: Delete, jsonPath: kind}\n",
		"    - {type: Template, jsonPath: kind, value: '{{.Kind}}x'}\n",
	} {
		dir := writeTree(t, tree(tr))
		_, err := policy.Load(context.Background(), dir)
		if err == nil || !strings.Contains(err.Error(), "pp.yaml:") || !strings.Contains(err.Error(), "spec.transformations[0].jsonPath: a transformation may not change") {
			t.Errorf("%s: load error = %v", strings.TrimSpace(tr), err)
		}
	}
	files := tree("    - {type: Delete, jsonPath: data.zz}\n")
	files["ap.yaml"] = hdr + "kind: AggregationPolicy\nmetadata:\n  name: secrets\nspec:\n  gvk: {version: v1, kind: Secret}\n  transformations:\n    - {type: Set, jsonPath: kind, value: ConfigMap}\n"
	_, err := policy.Load(context.Background(), writeTree(t, files))
	if err == nil || !strings.Contains(err.Error(), "ap.yaml:") || !strings.Contains(err.Error(), "AggregationPolicy/secrets: spec.transformations[0].jsonPath: a transformation may not change kind") {
		t.Errorf("aggregation: load error = %v", err)
	}
}

// TestSecretTaintNoOracle: a conditional that reads a Secret's data sees
// "***", so the render (objects, explain facts, errors) is the same whatever
// the Secret holds: no transformation can reveal a value a guess at a time.
func TestSecretTaintNoOracle(t *testing.T) {
	guards := "" +
		"    - {type: Set, jsonPath: metadata.labels.guess, value: hit, conditional: 'resource.data.password startsWith \"czNj\"'}\n" +
		"    - {type: Set, jsonPath: metadata.labels.len, value: long, conditional: 'len(resource.data.password) > 4'}\n" +
		"    - {type: Set, jsonPath: metadata.labels.note, value: hit, conditional: 'resource.metadata.annotations.note startsWith \"czNj\"'}\n" +
		"    - {type: Set, jsonPath: metadata.labels.any, value: hit, conditional: 'toJSON(resource) contains \"czNj\"'}\n"
	var renders []string
	for _, pw := range []string{"czNjcmV0", "b3RoZXI="} {
		p := loadDir(t, writeTree(t, secretTree(pw, guards)))
		res, err := Render(context.Background(), p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		c := res.Workspaces[0].Clusters[0]
		if len(c.Objects) != 1 {
			t.Fatalf("objects: %v", summary(t, c))
		}
		o := c.Objects[0]
		if labels := o.Node.GetLabels(); len(labels) != 0 {
			t.Errorf("password %s: a guard on the Secret's value fired: labels %v", pw, labels)
		}
		explain, _ := json.Marshal(o.Transformations)
		if strings.Contains(string(explain), pw) {
			t.Errorf("explain shows the value: %s", explain)
		}
		renders = append(renders, string(explain))
	}
	if renders[0] != renders[1] {
		t.Errorf("the explanation depends on the Secret's value:\n%s\n%s", renders[0], renders[1])
	}
}

// fakeLive serves fixed objects as a source cluster's (a pure unit below
// the cluster; the e2e suite reads real Secrets).
type fakeLive []map[string]any

func (f fakeLive) Objects(context.Context, string, []policy.ResourceSelector) ([]map[string]any, error) {
	return f, nil
}

// TestSecretTaintLiveSource: a live Secret read from a source cluster is
// seen by conditionals through the same masked view, and an error of an
// expression over it does not quote its value.
func TestSecretTaintLiveSource(t *testing.T) {
	files := tree("    - {type: Set, jsonPath: metadata.labels.n, value: x, conditional: 'int(resource.data.password) > 0'}\n")
	delete(files, "app/cm.yaml")
	files["cluster-hub.yaml"] = hdr + "kind: Cluster\nmetadata:\n  name: hub\nspec:\n  projectionEnabled: false\n"
	files["ws.yaml"] = hdr + "kind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  placement: {clusters: [c1]}\n  sources:\n    - cluster: hub\n      resourceSelectors: [{version: v1, kind: Secret}]\n  projectionPolicies: [pp]\n"
	p := loadDir(t, writeTree(t, files))
	live := fakeLive{{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "kc", "namespace": "kube-system"}, "data": map[string]any{"password": "MTIzNDU2Nzg="}}}
	_, err := Render(context.Background(), p, Options{Live: live})
	if err == nil {
		t.Fatal("int() of a masked value should fail")
	}
	if strings.Contains(err.Error(), "MTIzNDU2Nzg") || strings.Contains(err.Error(), "12345678") {
		t.Errorf("error quotes the Secret: %v", err)
	}
}

// TestTemplateSourceCluster: {{.SourceCluster}} names the cluster a live
// source object was read from, as the seed's projected-from label does;
// it is empty for objects in git.
func TestTemplateSourceCluster(t *testing.T) {
	files := tree("    - {type: Template, jsonPath: metadata.labels.projected-from, value: 'from-{{.SourceCluster}}'}\n")
	files["cluster-hub.yaml"] = hdr + "kind: Cluster\nmetadata:\n  name: hub\nspec:\n  projectionEnabled: false\n"
	files["ws.yaml"] = hdr + "kind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  placement: {clusters: [c1]}\n  sources:\n    - path: app\n    - cluster: hub\n      resourceSelectors: [{version: v1, kind: ConfigMap}]\n  projectionPolicies: [pp]\n"
	p := loadDir(t, writeTree(t, files))
	live := fakeLive{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "shared", "namespace": "ns"}, "data": map[string]any{"a": "b"}}}
	res, err := Render(context.Background(), p, Options{Live: live})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range res.Workspaces[0].Clusters[0].Objects {
		got[o.ID.Name] = o.Node.GetLabels()["projected-from"]
	}
	if got["shared"] != "from-hub" || got["cm"] != "from-" {
		t.Errorf("projected-from labels %v: want from-hub for the live object, from- for git's", got)
	}
}

package fieldpath

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	yaml3 "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, a.b/c: x}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: 80}]
      - name: sidecar
        image: envoy
      - image: nameless
`

func parseNode(t *testing.T, s string) *yaml3.Node {
	t.Helper()
	var doc yaml3.Node
	if err := yaml3.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// jsonNode is how aggregation sees the same object: JSON-decoded data
// (as a cluster returns it) turned into nodes.
func jsonNode(t *testing.T, s string) *yaml3.Node {
	t.Helper()
	j, err := sigsyaml.YAMLToJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	d := json.NewDecoder(bytesReader(j))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return ToNode(unNumber(m))
}

// plain is a node as JSON-shaped data, for comparisons.
func plain(t *testing.T, n *yaml3.Node) any {
	t.Helper()
	v, err := FromNode(n)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOneEngineForYAMLAndObjects runs the same operations on an object as
// render holds it (parsed YAML) and as aggregation holds it (JSON-decoded
// data from a cluster) and requires the same results on both.
func TestOneEngineForYAMLAndObjects(t *testing.T) {
	type op struct {
		name, verb, path, value string
		effect                  Effect
		wantErr                 bool
	}
	ops := []op{
		{"set existing int", "Set", "spec.replicas", "5", EffectSet, false},
		{"set by selector takes the first match", "Set", "spec.template.spec.containers[name=sidecar].image", "envoy:2", EffectSet, false},
		{"selector never matches a missing field", "Set", "spec.template.spec.containers[name=<nil>].image", "x", EffectCreated, false},
		{"set creates a path", "Set", "spec.template.spec.containers[name=web].env[name=A].value", `"1"`, EffectCreated, false},
		{"set a dotted label", "Set", "metadata.labels['workload.kcp.io/projected']", `"true"`, EffectCreated, false},
		{"set through a scalar fails", "Set", "spec.replicas.x", "1", "", true},
		{"set past the end fails", "Set", "spec.template.spec.containers[7].image", "x", "", true},
		{"append at the end", "Set", "spec.template.spec.containers[4]", "{name: extra}", EffectCreated, false},
		{"delete by selector", "Delete", "spec.template.spec.containers[name=web].ports", "", EffectDeleted, false},
		{"delete a list item", "Delete", "spec.template.spec.containers[2]", "", EffectDeleted, false},
		{"delete a missing field", "Delete", "status.conditions[0]", "", EffectNoop, false},
	}
	y, j := parseNode(t, deployment), jsonNode(t, deployment)
	if diff := cmp.Diff(plain(t, y), plain(t, j)); diff != "" {
		t.Fatalf("the two forms differ before any operation (-yaml +json):\n%s", diff)
	}
	for _, o := range ops {
		p := MustParse(o.path)
		var effs [2]Effect
		var errs [2]error
		for i, n := range []*yaml3.Node{y, j} {
			switch o.verb {
			case "Set":
				effs[i], errs[i] = Set(n, p, CopyValue(parseNode(t, o.value)))
			case "Delete":
				effs[i] = Delete(n, p)
			}
		}
		for i, form := range []string{"yaml", "json"} {
			if (errs[i] != nil) != o.wantErr || effs[i] != o.effect {
				t.Errorf("%s on %s: effect %q err %v, want effect %q err %v", o.name, form, effs[i], errs[i], o.effect, o.wantErr)
			}
		}
		if diff := cmp.Diff(plain(t, y), plain(t, j)); diff != "" {
			t.Fatalf("after %q the two forms differ (-yaml +json):\n%s", o.name, diff)
		}
	}
	if v, ok := Scalar(j, MustParse("spec.template.spec.containers[name=sidecar].image")); !ok || v != "envoy:2" {
		t.Errorf("Scalar = %q %v", v, ok)
	}
	if _, ok := Scalar(j, MustParse("spec.template.spec")); ok {
		t.Error("Scalar of a mapping reported a scalar")
	}
}

func TestNodeRoundTripKeepsJSONTypes(t *testing.T) {
	in := map[string]any{
		"i": int64(3), "f": 1.5, "b": true, "s": "007", "n": nil, "big": int64(1) << 62,
		"l": []any{"a", int64(1), map[string]any{"k": "v"}},
	}
	got, err := FromNode(ToNode(in))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// A value a policy writes as YAML becomes int64, never int.
	v, err := FromNode(parseNode(t, "{replicas: 3, ratio: 0.5, tag: '3'}"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"replicas": int64(3), "ratio": 0.5, "tag": "3"}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("decode (-want +got):\n%s", diff)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// unNumber turns json.Numbers into int64 or float64, as client-go's decoder does.
func unNumber(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = unNumber(e)
		}
	case []any:
		for i, e := range x {
			x[i] = unNumber(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

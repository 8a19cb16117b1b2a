package render

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	yaml3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kcp-dev/tmc/internal/fieldpath"
	"github.com/kcp-dev/tmc/internal/policy"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.27
        env:
        - name: A
          value: "1"
      - name: sidecar
        image: envoy
`

func parseValue(t *testing.T, s string) *yaml3.Node {
	t.Helper()
	var doc yaml3.Node
	if err := yaml3.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatal(err)
	}
	return fieldpath.CopyValue(&doc)
}

// TestTransformations covers every transformation type and path form.
func TestTransformations(t *testing.T) {
	cases := []struct {
		name, op, path, value string
		effect                fieldpath.Effect
		want                  string // the changed lines, as a diff of the YAML
		wantErr               string
	}{
		{name: "set int keeps type", op: "Set", path: "spec.replicas", value: "3", effect: fieldpath.EffectSet,
			want: "-  replicas: 2\n+  replicas: 3\n"},
		{name: "set quoted string stays string", op: "Set", path: "spec.replicas", value: `"3"`, effect: fieldpath.EffectSet,
			want: "-  replicas: 2\n+  replicas: \"3\"\n"},
		{name: "set creates parents", op: "Set", path: "spec.strategy.rollingUpdate.maxSurge", value: "1", effect: fieldpath.EffectCreated,
			want: "+  strategy:\n+    rollingUpdate:\n+      maxSurge: 1\n"},
		{name: "set index", op: "Set", path: "spec.template.spec.containers[1].image", value: "envoy:v2", effect: fieldpath.EffectSet,
			want: "-        image: envoy\n+        image: envoy:v2\n"},
		{name: "set selector", op: "Set", path: "spec.template.spec.containers[name=web].image", value: "nginx:1.28", effect: fieldpath.EffectSet,
			want: "-        image: nginx:1.27\n+        image: nginx:1.28\n"},
		{name: "set nested selector", op: "Set", path: "spec.template.spec.containers[name=web].env[name=A].value", value: `"2"`, effect: fieldpath.EffectSet,
			want: "-          value: \"1\"\n+          value: \"2\"\n"},
		{name: "set selector appends missing item", op: "Set", path: "spec.template.spec.containers[name=web].env[name=B].value", value: "x", effect: fieldpath.EffectCreated,
			want: "+        - name: B\n+          value: x\n"},
		{name: "set quoted key", op: "Set", path: "metadata.labels['workload.kcp.io/projected']", value: `"true"`, effect: fieldpath.EffectCreated,
			want: "+    workload.kcp.io/projected: \"true\"\n"},
		{name: "set label convenience", op: "Set", path: "metadata.labels.workload.kcp.io/projected", value: `"true"`, effect: fieldpath.EffectCreated,
			want: "+    workload.kcp.io/projected: \"true\"\n"},
		{name: "set mapping value", op: "Set", path: "spec.template.spec.containers[name=web].resources", value: "{limits: {memory: 128Mi}}", effect: fieldpath.EffectCreated,
			want: "+        resources:\n+          limits:\n+            memory: 128Mi\n"},
		{name: "set through scalar fails", op: "Set", path: "spec.replicas.x", value: "1",
			wantErr: "cannot set spec.replicas.x: spec.replicas is a scalar, not a mapping"},
		{name: "set index past end fails", op: "Set", path: "spec.template.spec.containers[5].image", value: "x",
			wantErr: "cannot set spec.template.spec.containers[5].image: index 5 is past the end of a list of 2"},
		{name: "replace existing", op: "Replace", path: "spec.template.spec.containers[name=sidecar].image", value: "envoy:v3", effect: fieldpath.EffectSet,
			want: "-        image: envoy\n+        image: envoy:v3\n"},
		{name: "replace missing is a no-op", op: "Replace", path: "spec.template.spec.containers[name=web].resources.limits.cpu", value: "1", effect: fieldpath.EffectNoop},
		{name: "replace missing list item is a no-op", op: "Replace", path: "spec.template.spec.containers[name=nope].image", value: "1", effect: fieldpath.EffectNoop},
		{name: "delete field", op: "Delete", path: "spec.replicas", effect: fieldpath.EffectDeleted,
			want: "-  replicas: 2\n"},
		{name: "delete list item by selector", op: "Delete", path: "spec.template.spec.containers[name=sidecar]", effect: fieldpath.EffectDeleted,
			want: "-      - name: sidecar\n-        image: envoy\n"},
		{name: "delete list item by index", op: "Delete", path: "spec.template.spec.containers[0].env[0]", effect: fieldpath.EffectDeleted,
			want: "-        env:\n-        - name: A\n-          value: \"1\"\n+        env: []\n"},
		{name: "delete label", op: "Delete", path: "metadata.labels.app", effect: fieldpath.EffectDeleted,
			want: "-  labels:\n-    app: web\n+  labels: {}\n"},
		{name: "delete missing is a no-op", op: "Delete", path: "spec.paused", effect: fieldpath.EffectNoop},
		{name: "delete under missing parent is a no-op", op: "Delete", path: "status.conditions[0]", effect: fieldpath.EffectNoop},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rn := yaml.MustParse(deployment)
			p := fieldpath.MustParse(tc.path)
			var eff fieldpath.Effect
			var err error
			switch tc.op {
			case "Set":
				eff, err = fieldpath.Set(rn.YNode(), p, parseValue(t, tc.value))
			case "Replace":
				if fieldpath.Get(rn.YNode(), p) == nil {
					eff = fieldpath.EffectNoop
				} else {
					eff, err = fieldpath.Set(rn.YNode(), p, parseValue(t, tc.value))
				}
			case "Delete":
				eff = fieldpath.Delete(rn.YNode(), p)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if eff != tc.effect {
				t.Errorf("effect = %s, want %s", eff, tc.effect)
			}
			if diff := cmp.Diff(tc.want, lineDiff(deployment, rn.MustString())); diff != "" {
				t.Errorf("changed lines (-want +got):\n%s\nresult:\n%s", diff, rn.MustString())
			}
		})
	}
}

// lineDiff returns "-old\n" / "+new\n" for the lines that differ, in order
// (a simple LCS diff, enough for small fixtures).
func lineDiff(a, b string) string {
	x, y := strings.Split(strings.TrimSuffix(a, "\n"), "\n"), strings.Split(strings.TrimSuffix(b, "\n"), "\n")
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] > lcs[i+1][j]):
			out.WriteString("+" + y[j] + "\n")
			j++
		default:
			out.WriteString("-" + x[i] + "\n")
			i++
		}
	}
	return out.String()
}

// FuzzTransform applies arbitrary paths and values to a Deployment: the
// engine must never panic, and a successful Set must be readable back.
func FuzzTransform(f *testing.F) {
	f.Add("spec.replicas", "3")
	f.Add("spec.template.spec.containers[name=web].env[name=B].value", "x")
	f.Add("metadata.labels.a.b/c", `"true"`)
	f.Add("spec.template.spec.containers[1]", "{name: x}")
	f.Add("a[0][0].b", "[1, 2]")
	f.Fuzz(func(t *testing.T, path, value string) {
		p, err := fieldpath.Parse(path)
		if err != nil {
			return
		}
		var doc yaml3.Node
		if yaml3.Unmarshal([]byte(value), &doc) != nil || len(doc.Content) == 0 {
			return
		}
		v, err := (&policy.Value{Node: &doc}).Expanded()
		if err != nil {
			return
		}
		rn := yaml.MustParse(deployment)
		if _, err := fieldpath.Set(rn.YNode(), p, fieldpath.CopyValue(v)); err == nil {
			if got := fieldpath.Get(rn.YNode(), p); got == nil {
				// A selector whose value the set item does not carry cannot be read back.
				if p.Segments[len(p.Segments)-1].Kind != fieldpath.Select {
					t.Fatalf("set %s but cannot read it back", path)
				}
			}
		}
		fieldpath.Delete(rn.YNode(), p)
		if _, err := rn.String(); err != nil {
			t.Fatalf("object no longer encodes after %s: %v", path, err)
		}
	})
}

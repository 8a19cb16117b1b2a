package render

import (
	"context"
	"errors"
	"testing"

	"github.com/kcp-dev/tmc/internal/limits"
	"github.com/kcp-dev/tmc/internal/policy"
)

// FuzzManifests feeds arbitrary bytes as a workspace manifest: render must
// never panic, a failure must be an ErrorList whose entries name a file, and
// what it renders stays within the object size limit.
func FuzzManifests(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: ns\ndata: {a: b}\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: &m\n  name: x\ndata: {a: *m, b: *m}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: []\n---\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\nstringData: {p: q}\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n"))
	dir := writeTree(f, tree("    - {type: Template, jsonPath: metadata.labels.c, value: '{{.TargetCluster}}'}\n"))
	p := loadDir(f, dir)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		r := &renderer{root: p.Root}
		srcs, errs := r.readData("app/fuzz.yaml", data)
		for _, e := range errs {
			if e.File != "app/fuzz.yaml" || e.Message == "" {
				t.Fatalf("error without file or message: %#v", e)
			}
		}
		for _, s := range srcs {
			sh, err := limits.Measure(s.Node.YNode())
			if err != nil || sh.JSONSize() > limits.MaxObjectSize {
				t.Fatalf("accepted an object past the limits: %v %+v", err, sh)
			}
		}
		_, err := Render(context.Background(), p, Options{})
		var list policy.ErrorList
		if err != nil && !errors.As(err, &list) {
			t.Fatalf("error is %T", err)
		}
	})
}

// FuzzFacts feeds arbitrary bytes as a --facts file: no panic, and a file
// that parses and passes Check has finite, non-negative figures.
func FuzzFacts(f *testing.F) {
	f.Add([]byte("c1:\n  healthy: true\n  nodes: 3\n  capacity: {cpu: 4, memory: 1e9, pods: 110}\n"))
	f.Add([]byte("c1: &a {nodes: 1}\nc2: *a\n"))
	f.Add([]byte("c1:\n  capacity: {cpu: -1}\n"))
	p := loadDir(f, writeTree(f, tree("    - {type: Delete, jsonPath: data.a}\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		ff, err := ParseFacts("fuzz.yaml", data)
		if err != nil {
			return
		}
		if ff.Check("fuzz.yaml", p) != nil {
			return
		}
		for name, o := range ff {
			if o.Nodes < 0 || o.Capacity.CPU < 0 || o.Capacity.CPU > limits.MaxCapacity {
				t.Fatalf("%s: checked facts out of range: %+v", name, o)
			}
		}
	})
}

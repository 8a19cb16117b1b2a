package policy

import (
	"testing"
)

// FuzzLoad feeds arbitrary bytes as a policy file next to a valid tree: the
// loader must never panic, and a failure must be an ErrorList whose every
// entry names a file.
func FuzzLoad(f *testing.F) {
	for _, s := range base {
		f.Add([]byte(s))
	}
	f.Add([]byte(header + "kind: Cluster\nmetadata: {name: x}\nspec: {capacity: {cpu: [1]}}\n"))
	f.Add([]byte(header + "kind: ProjectionPolicy\nmetadata: {name: p}\nspec:\n  transformations: [{type: Template, jsonPath: 'a[0].b', value: '{{.X}}', conditional: 'cluster.nodes > 1'}]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		files := map[string][]byte{"fuzz.yaml": data}
		for k, v := range base {
			files[k] = []byte(v)
		}
		p, err := LoadFiles(files)
		if err == nil {
			if p == nil {
				t.Fatal("nil policies without error")
			}
			return
		}
		list, ok := err.(ErrorList)
		if !ok || len(list) == 0 {
			t.Fatalf("error is %T %v, want a non-empty ErrorList", err, err)
		}
		for _, e := range list {
			if e.File == "" || e.Message == "" {
				t.Fatalf("error without file or message: %#v", e)
			}
		}
	})
}

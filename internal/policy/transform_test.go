package policy

import (
	"testing"

	yaml3 "go.yaml.in/yaml/v3"

	"github.com/kcp-dev/tmc/internal/fieldpath"
)

// TestTransformationApply: the one interpreter of transformations, as
// render and aggregation call it.
func TestTransformationApply(t *testing.T) {
	doc := func() *yaml3.Node {
		var n yaml3.Node
		if err := yaml3.Unmarshal([]byte("metadata: {name: a}\ndata: {x: \"1\"}\n"), &n); err != nil {
			t.Fatal(err)
		}
		return n.Content[0]
	}
	val := &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!str", Value: "v"}
	for _, tc := range []struct {
		typ  TransformationType
		path string
		want fieldpath.Effect
		get  string // the value at path afterwards; "" absent
	}{
		{TransformSet, "data.y", fieldpath.EffectCreated, "v"},
		{TransformSet, "data.x", fieldpath.EffectSet, "v"},
		{TransformReplace, "data.x", fieldpath.EffectSet, "v"},
		{TransformReplace, "data.y", fieldpath.EffectNoop, ""},
		{TransformDelete, "data.x", fieldpath.EffectDeleted, ""},
		{TransformDelete, "data.y", fieldpath.EffectNoop, ""},
		{TransformTemplate, "metadata.name", fieldpath.EffectSet, "v"},
	} {
		n := doc()
		tr := &Transformation{Type: tc.typ, Path: fieldpath.MustParse(tc.path)}
		eff, err := tr.Apply(n, val)
		if err != nil || eff != tc.want {
			t.Errorf("%s %s: %s, %v; want %s", tc.typ, tc.path, eff, err, tc.want)
		}
		got := ""
		if g := fieldpath.Get(n, tr.Path); g != nil {
			got = g.Value
		}
		if got != tc.get {
			t.Errorf("%s %s: %q afterwards, want %q", tc.typ, tc.path, got, tc.get)
		}
	}
	if _, err := (&Transformation{Type: "Rename"}).Apply(doc(), val); err == nil {
		t.Error("an unknown type should be an error")
	}
}

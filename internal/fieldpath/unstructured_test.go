package fieldpath

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func obj() map[string]any {
	return map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
		"spec": map[string]any{
			"replicas": int64(2),
			"containers": []any{
				map[string]any{"name": "web", "image": "nginx"},
				map[string]any{"name": "sidecar", "image": "envoy"},
			},
		},
	}
}

func TestMapOps(t *testing.T) {
	o := obj()
	if v, ok := Get(o, MustParse("spec.containers[name=sidecar].image")); !ok || v != "envoy" {
		t.Errorf("get selector: %v %v", v, ok)
	}
	if v, ok := Get(o, MustParse("spec.containers[0].name")); !ok || v != "web" {
		t.Errorf("get index: %v %v", v, ok)
	}
	if _, ok := Get(o, MustParse("spec.nope.x")); ok {
		t.Error("get missing")
	}
	if existed, err := Set(o, MustParse("spec.containers[name=web].image"), "nginx:2"); err != nil || !existed {
		t.Errorf("set selector: %v %v", existed, err)
	}
	if existed, err := Set(o, MustParse("spec.containers[name=web].env[name=A].value"), "1"); err != nil || existed {
		t.Errorf("set creates: %v %v", existed, err)
	}
	if _, err := Set(o, MustParse("metadata.labels['a.b/c']"), "x"); err != nil {
		t.Error(err)
	}
	if !Delete(o, MustParse("spec.replicas")) || Delete(o, MustParse("spec.replicas")) {
		t.Error("delete field once")
	}
	if !Delete(o, MustParse("spec.containers[name=sidecar]")) {
		t.Error("delete list item")
	}
	want := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"app": "web", "a.b/c": "x"}},
		"spec": map[string]any{"containers": []any{
			map[string]any{"name": "web", "image": "nginx:2", "env": []any{map[string]any{"name": "A", "value": "1"}}},
		}},
	}
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := Set(o, MustParse("spec.containers[0].name.x"), 1); err == nil {
		t.Error("set through a scalar must fail")
	}
}

package aggregate

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/policy"
)

func loadAggregation(t *testing.T, doc string) *policy.AggregationPolicy {
	t.Helper()
	p, err := policy.LoadFiles(map[string][]byte{"agg.yaml": []byte(doc)})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.AggregationPolicies) != 1 {
		t.Fatalf("want one aggregation policy, got %d", len(p.AggregationPolicies))
	}
	return p.AggregationPolicies[0]
}

// TestTransformUsesTheRenderEngine checks aggregation's transformations on an
// object as a cluster returns it: [key=value] takes the first match and never
// matches a missing field, values keep JSON types (int64), and a conditional
// sees the object as earlier transformations left it.
func TestTransformUsesTheRenderEngine(t *testing.T) {
	ap := loadAggregation(t, `apiVersion: tmc.kcp.io/v1alpha1
kind: AggregationPolicy
metadata: {name: deployments}
spec:
  gvk: {group: apps, version: v1, kind: Deployment}
  transformations:
  - {type: Set, jsonPath: "spec.template.spec.containers[name=web].image", value: redacted}
  - {type: Set, jsonPath: spec.replicas, value: 7}
  - {type: Delete, jsonPath: metadata.annotations}
  - {type: Replace, jsonPath: spec.paused, value: true}
  - {type: Set, jsonPath: "metadata.labels['seen-seven']", value: "yes", conditional: "resource.spec.replicas == 7"}
`)
	obj := map[string]any{
		"metadata": map[string]any{"name": "web", "annotations": map[string]any{"a": "b"}},
		"spec": map[string]any{"replicas": int64(3), "template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"image": "nameless"},
			map[string]any{"name": "web", "image": "nginx:1"},
			map[string]any{"name": "web", "image": "nginx:2"},
		}}}},
	}
	vals, err := values(ap)
	if err != nil {
		t.Fatal(err)
	}
	got, err := transform(ap, obj, &policy.Env{}, vals)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"metadata": map[string]any{"name": "web", "labels": map[string]any{"seen-seven": "yes"}},
		"spec": map[string]any{"replicas": int64(7), "template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"image": "nameless"},
			map[string]any{"name": "web", "image": "redacted"},
			map[string]any{"name": "web", "image": "nginx:2"},
		}}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transformed object (-want +got):\n%s", diff)
	}
}

func TestFieldSelectorsReadScalars(t *testing.T) {
	reqs, err := policy.ParseFieldSelector("metadata.namespace=web,spec.replicas!=0")
	if err != nil {
		t.Fatal(err)
	}
	obj := func(ns string, replicas any) map[string]any {
		return map[string]any{"metadata": map[string]any{"namespace": ns}, "spec": map[string]any{"replicas": replicas}}
	}
	for _, tc := range []struct {
		obj  map[string]any
		want bool
	}{
		{obj("web", int64(2)), true},
		{obj("web", int64(0)), false},
		{obj("db", int64(2)), false},
		{obj("web", nil), true}, // a null field reads as "", which is not "0"
	} {
		if got := matchFields(tc.obj, reqs); got != tc.want {
			t.Errorf("matchFields(%v) = %v, want %v", tc.obj, got, tc.want)
		}
	}
}

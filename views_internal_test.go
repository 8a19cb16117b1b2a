package tmc

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kcp-dev/tmc/internal/aggregate"
)

// TestAggregatedViewCarriesWhatGitMeant: the Go API's view of a kind keeps
// the variations apart from the conflicts, the divergent clusters of a
// conflict, the divergence counts, and git's value in the merged spec.
func TestAggregatedViewCarriesWhatGitMeant(t *testing.T) {
	k := aggregate.KindView{Policy: "deployments", APIVersion: "apps/v1", Kind: "Deployment", DivergentFields: 1, VariedFields: 1,
		Resources: []aggregate.Resource{{Namespace: "web", Name: "web", Status: "Healthy", DivergentFields: 1,
			Spec: map[string]any{"image": "nginx:1.27"},
			Conflicts: []aggregate.Conflict{{Field: "spec.image", Class: aggregate.Divergent, Values: map[string]any{"a": "x", "b": "nginx:1.27"},
				Divergent: []aggregate.Divergence{{Cluster: "a", Desired: "nginx:1.27", Manager: "kubectl-edit"}}}},
			Variations: []aggregate.Variation{{Field: "spec.memory", Source: "256Mi", HasSource: true, Values: map[string]any{"a": "128Mi", "b": "256Mi"},
				By: []aggregate.VariedBy{{Policy: "edge-tuning", Clusters: []string{"a"}}}}},
			Clusters: []aggregate.Origin{{Cluster: "a", Health: "Healthy", Object: map[string]any{"spec": map[string]any{}}}}}}}
	v := aggregatedView(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, k, time.Now())
	r := v.Resources["web/web"]
	if r == nil {
		t.Fatalf("no resource web/web in %v", v.Resources)
	}
	if v.DivergentFields != 1 || r.DivergentFields != 1 || len(r.Conflicts) != 1 || r.Conflicts[0].Divergent[0].Manager != "kubectl-edit" {
		t.Errorf("divergence lost: view %d, resource %d, conflicts %+v", v.DivergentFields, r.DivergentFields, r.Conflicts)
	}
	if len(r.Variations) != 1 || r.Variations[0].By[0].Policy != "edge-tuning" {
		t.Errorf("variations lost: %+v", r.Variations)
	}
	if got := r.AggregatedSpec.Object["spec"].(map[string]any)["image"]; got != "nginx:1.27" {
		t.Errorf("merged spec image %v", got)
	}
}

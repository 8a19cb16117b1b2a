package syncer

import (
	"testing"
	"time"

	"github.com/kcp-dev/tmc/internal/policy"
)

// TestClusterOverridesReplaceTheRepos: the cluster settings an embedder
// applies from trusted configuration (ApplyClusterConfigs) win over what
// the repo's Cluster objects say, for the named clusters only, without
// changing the loaded policies.
func TestClusterOverridesReplaceTheRepos(t *testing.T) {
	w, on := 1.0, true
	p := &policy.Policies{Clusters: []*policy.Cluster{
		{Metadata: policy.ObjectMeta{Name: "east"}, Spec: policy.ClusterSpec{Priority: 10, AggregationWeight: &w, ProjectionEnabled: &on, HealthCheckTimeout: "10s"}},
		{Metadata: policy.ObjectMeta{Name: "west"}, Spec: policy.ClusterSpec{Priority: 5, AggregationWeight: &w, ProjectionEnabled: &on, HealthCheckTimeout: "10s"}},
	}}
	s := New(Options{})
	s.SetClusterOverrides(map[string]ClusterOverride{"east": {Priority: 90, HealthCheckTimeout: 30 * time.Second, AggregationWeight: 0.3, ProjectionEnabled: false}, "nowhere": {Priority: 1}})
	got := s.withClusterOverrides(p)
	east, west := got.Cluster("east").Spec, got.Cluster("west").Spec
	if east.Priority != 90 || *east.AggregationWeight != 0.3 || *east.ProjectionEnabled || east.HealthCheckTimeout != "30s" {
		t.Errorf("east: %+v", east)
	}
	if west.Priority != 5 || *west.AggregationWeight != 1 || !*west.ProjectionEnabled {
		t.Errorf("west changed: %+v", west)
	}
	if p.Cluster("east").Spec.Priority != 10 || !*p.Cluster("east").Spec.ProjectionEnabled {
		t.Errorf("the loaded policies were changed: %+v", p.Cluster("east").Spec)
	}
	s.SetClusterOverrides(nil)
	if s.withClusterOverrides(p) != p {
		t.Error("nil did not go back to the repo's settings")
	}
}

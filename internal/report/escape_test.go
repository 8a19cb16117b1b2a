package report

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/markdown/mdcheck"
)

// hostileView is a workspace view whose every string from the repo or a
// cluster is v: names, health, errors, conflict fields and values (a live
// ConfigMap's value), drift managers.
func hostileView(v string) *aggregate.WorkspaceView {
	return &aggregate.WorkspaceView{
		Workspace: "w" + v, LogicalCluster: v,
		TargetClusters: []aggregate.TargetCluster{{State: cluster.Reached("a"+v, true)}, {State: cluster.Unreached("b"+v, errors.New(v))}},
		AggregatedResources: []aggregate.KindView{{
			Policy: v, APIVersion: v, Kind: "K" + v, MergeStrategy: v, ConflictResolution: v, HealthAggregation: v, StatusMerging: v, Error: "e" + v,
			Resources: []aggregate.Resource{{Namespace: v, Name: v, Status: v,
				Clusters:  []aggregate.Origin{{Cluster: "a" + v, Health: v}, {Cluster: "b" + v, Health: v}},
				Conflicts: []aggregate.Conflict{{Field: v, Values: map[string]any{"a" + v: v, "b" + v: map[string]any{"k": v}}, Resolution: v, Winner: v}},
			}},
		}},
		Drift:   []aggregate.DriftRecord{{Cluster: v, Object: v, Manager: v, Operation: v, Time: v}},
		Rollout: &aggregate.RolloutSummary{Revision: v, State: v, Wave: v, Message: v, Waves: []aggregate.RolloutWaveSummary{{Name: v, Clusters: []string{"a" + v, v}, State: v}}},
	}
}

// TestReportReadmeEscapesHostileData: the README committed to git parses to
// the same headings, tables and quotes whatever the clusters and the repo
// put in its fields, with no image, link, HTML or mention from data.
func TestReportReadmeEscapesHostileData(t *testing.T) {
	want := mdcheck.Parse(readme(hostileView("benign")), "status.yaml")
	if len(want.Forbidden) != 0 || len(want.Blocks) < 8 {
		t.Fatalf("benign README: %+v", want)
	}
	for _, h := range mdcheck.Hostile {
		got := readme(hostileView(h))
		if diff := cmp.Diff(want, mdcheck.Parse(got, "status.yaml")); diff != "" {
			t.Errorf("%q changed the README (-want +got):\n%s\n%s", h, diff, got)
		}
	}
}

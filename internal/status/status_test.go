package status

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/render"
)

func ws(name string, clusters ...string) *render.Workspace {
	w := &render.Workspace{Name: name, LogicalCluster: "root"}
	for _, c := range clusters {
		w.Placement = append(w.Placement, render.Decision{Cluster: c, Selected: true})
		w.Clusters = append(w.Clusters, &render.Cluster{Name: c, Objects: []*render.Object{
			{ID: object.ID{Version: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "cm-" + c}, SourceID: object.ID{Version: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "cm"}},
		}})
	}
	return w
}

func change(ws, cluster string, a plan.Action) *plan.Change {
	return &plan.Change{Workspace: ws, LogicalCluster: "root", Cluster: cluster, Action: a, APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "cm-" + cluster}
}

// TestBuildPhases: the phase of each workspace follows from the plan and
// the views, in one place.
func TestBuildPhases(t *testing.T) {
	r := &render.Result{Workspaces: []*render.Workspace{ws("active", "a", "b"), ws("pending", "a"), ws("failing", "a"), ws("owned", "a"), ws("releasing", "a"), ws("cut", "a", "b")}}
	released := change("releasing", "a", plan.Skip)
	released.Release, released.Owner, released.Name = true, "root/other", "old"
	owned := change("owned", "a", plan.Skip)
	owned.Owner = "root/other"
	failing := change("failing", "a", plan.Skip)
	failing.Error = "dry-run failed"
	changes := []*plan.Change{
		change("active", "a", plan.Unchanged), change("active", "b", plan.Unchanged),
		change("pending", "a", plan.Create),
		failing, owned,
		change("releasing", "a", plan.Unchanged), released,
		change("cut", "a", plan.Unchanged),
		change("gone", "a", plan.Delete),
	}
	changes[0].LastApplied = "2026-11-29T10:00:00Z"
	pl := &plan.Plan{Revision: "abc", Changes: changes, Clusters: []plan.ClusterState{
		{State: cluster.Reached("a", true), Applied: map[string]plan.AppliedTimes{"root/active": {Created: "2026-11-20T08:00:00Z", Updated: "2026-11-28T09:00:00Z"}}},
		{State: cluster.Reached("b", true), Applied: map[string]plan.AppliedTimes{"root/active": {Created: "2026-11-21T08:00:00Z", Updated: "2026-11-29T09:00:00Z"}}},
	}}
	views := []*aggregate.WorkspaceView{{Workspace: "cut", LogicalCluster: "root",
		TargetClusters: []aggregate.TargetCluster{{State: cluster.Reached("a", true)}, {State: cluster.Unreached("b", errors.New("down"))}}}}
	rep := Build(Outcome{Rendered: r, Plan: pl, Views: views})
	got := map[string]string{}
	for _, w := range rep.Workspaces {
		got[w.Name] = w.Phase
	}
	want := map[string]string{"active": Active, "pending": Pending, "failing": Error, "owned": Error, "releasing": Active, "cut": Error, "gone": Terminating}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("phases (-want +got):\n%s", diff)
	}
	if rep.Revision != "abc" {
		t.Errorf("revision %q", rep.Revision)
	}
	for _, w := range rep.Workspaces {
		if w.Name == "active" && (w.CreatedTime != "2026-11-20T08:00:00Z" || w.LastUpdated != "2026-11-29T09:00:00Z") {
			t.Errorf("active: created %q, last updated %q: want the oldest creation and the newest update", w.CreatedTime, w.LastUpdated)
		}
		if w.Name == "active" {
			want := []ProjectedKind{{APIVersion: "v1", Kind: "ConfigMap", Sources: 1, Projections: 2, InSync: 2, Resources: []ProjectedResource{
				{Namespace: "ns", Name: "cm", ProjectedTo: []Projection{{Cluster: "a", Name: "cm-a", InSync: true, LastProjected: "2026-11-29T10:00:00Z"}, {Cluster: "b", Name: "cm-b", InSync: true}}}}}}
			if diff := cmp.Diff(want, w.ProjectedKinds); diff != "" {
				t.Errorf("projected kinds (-want +got):\n%s", diff)
			}
		}
	}
}

// TestStatusTerminatingUntilPrunedEverywhere: a workspace git dropped is
// Terminating while a delete of its objects is pending or failed, and —
// once an earlier outcome showed it (Leaving) — while a cluster of the plan
// could not be read; when every cluster was pruned it is gone.
func TestStatusTerminatingUntilPrunedEverywhere(t *testing.T) {
	r := &render.Result{Workspaces: []*render.Workspace{ws("kept", "a")}}
	del := change("gone", "a", plan.Delete)
	reached := []plan.ClusterState{{State: cluster.Reached("a", true)}, {State: cluster.Reached("b", true)}}
	cut := []plan.ClusterState{{State: cluster.Reached("a", true)}, {State: cluster.Unreached("b", errors.New("refused"))}}
	phase := func(o Outcome) (string, string) {
		for _, w := range Build(o).Workspaces {
			if w.Name == "gone" {
				return w.Phase, w.Message
			}
		}
		return "", ""
	}
	for _, tc := range []struct {
		name  string
		o     Outcome
		phase string
		msg   string
	}{
		{"delete planned", Outcome{Rendered: r, Plan: &plan.Plan{Changes: []*plan.Change{del}, Clusters: reached}}, Terminating, ""},
		{"delete failed", Outcome{Rendered: r, Applied: true, Plan: &plan.Plan{Changes: []*plan.Change{del}, Clusters: reached}}, Terminating, ""},
		{"pruned, all reached", Outcome{Rendered: r, Applied: true, Done: map[plan.Key]bool{del.Key(): true}, Plan: &plan.Plan{Changes: []*plan.Change{del}, Clusters: reached}, Leaving: []string{"root/gone"}}, "", ""},
		{"pruned, one cluster cut", Outcome{Rendered: r, Applied: true, Done: map[plan.Key]bool{del.Key(): true}, Plan: &plan.Plan{Changes: []*plan.Change{del}, Clusters: cut}, Leaving: []string{"root/gone"}}, Terminating, "(waiting for b)"},
		{"nothing left to plan, one cluster cut", Outcome{Rendered: r, Applied: true, Plan: &plan.Plan{Clusters: cut}, Leaving: []string{"root/gone"}}, Terminating, "(waiting for b)"},
		{"never shown, nothing planned", Outcome{Rendered: r, Applied: true, Plan: &plan.Plan{Clusters: cut}}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, m := phase(tc.o)
			if p != tc.phase || !strings.Contains(m, tc.msg) {
				t.Errorf("gone: %q %q, want %q containing %q", p, m, tc.phase, tc.msg)
			}
		})
	}
}

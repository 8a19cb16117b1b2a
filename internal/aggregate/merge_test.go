package aggregate

import (
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/policy"
)

func TestResourceHealth(t *testing.T) {
	targets := map[string]TargetCluster{"a": {Weight: 3}, "b": {Weight: 1}, "c": {Weight: 1}}
	o := func(hs ...string) []Origin {
		var out []Origin
		for i, h := range hs {
			out = append(out, Origin{Cluster: string(rune('a' + i)), Health: h})
		}
		return out
	}
	cases := []struct {
		rule    policy.HealthAggregation
		origins []Origin
		want    string
	}{
		{"Majority", o(Healthy, Healthy, Unhealthy), Healthy},
		{"Majority", o(Healthy, Missing, Unreachable), Unhealthy},
		{"Majority", o(Healthy, Progressing, Progressing), Progressing},
		{"All", o(Healthy, Healthy, Healthy), Healthy},
		{"All", o(Healthy, Healthy, Missing), Unhealthy},
		{"Any", o(Unhealthy, Missing, Healthy), Healthy},
		{"Any", o(Unknown, Missing, Unreachable), Unhealthy},
		{"Weighted", o(Healthy, Unhealthy, Unhealthy), Healthy}, // 3 of 5
		{"Weighted", o(Unhealthy, Healthy, Healthy), Unhealthy}, // 2 of 5
		{"Weighted", o(Progressing, Healthy, Healthy), Progressing},
	}
	for _, tc := range cases {
		if got := resourceHealth(tc.rule, tc.origins, targets); got != tc.want {
			t.Errorf("%s %v: %s, want %s", tc.rule, tc.origins, got, tc.want)
		}
	}
}

func TestMergeUnionByNameAndConflicts(t *testing.T) {
	older, newer := &instance{cluster: "a", priority: 1, changed: time.Unix(100, 0)}, &instance{cluster: "b", priority: 9, changed: time.Unix(200, 0)}
	vals := map[string]any{
		"a": map[string]any{"replicas": 2, "labels": map[string]any{"x": "1"}, "containers": []any{
			map[string]any{"name": "web", "image": "v1"}, map[string]any{"name": "log", "image": "l1"}}},
		"b": map[string]any{"replicas": 3, "labels": map[string]any{"y": "2"}, "containers": []any{
			map[string]any{"name": "web", "image": "v2"}}},
	}
	for _, tc := range []struct {
		resolution string
		order      []*instance
		want       map[string]any
		winner     string
	}{
		{"LastWriter", []*instance{newer, older}, map[string]any{"replicas": 3, "labels": map[string]any{"x": "1", "y": "2"}, "containers": []any{
			map[string]any{"name": "log", "image": "l1"}, map[string]any{"name": "web", "image": "v2"}}}, "b"},
		{"Priority", []*instance{older, newer}, map[string]any{"replicas": 2, "labels": map[string]any{"x": "1", "y": "2"}, "containers": []any{
			map[string]any{"name": "log", "image": "l1"}, map[string]any{"name": "web", "image": "v1"}}}, "a"},
		{"Report", nil, map[string]any{"labels": map[string]any{"x": "1", "y": "2"}, "containers": []any{
			map[string]any{"name": "log", "image": "l1"}, map[string]any{"name": "web"}}}, ""},
	} {
		m := &merger{resolution: tc.resolution, order: tc.order}
		got, _ := m.merge("spec", vals, 2)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s merged (-want +got):\n%s", tc.resolution, diff)
		}
		var fields []string
		for _, c := range m.conflicts {
			if c.Winner != tc.winner {
				t.Errorf("%s: %s won by %q, want %q", tc.resolution, c.Field, c.Winner, tc.winner)
			}
			fields = append(fields, c.Field)
		}
		if diff := cmp.Diff([]string{"spec.containers[name=web].image", "spec.replicas"}, fields); diff != "" {
			t.Errorf("%s conflicts (-want +got):\n%s", tc.resolution, diff)
		}
	}
	// Intersection keeps only what every instance holds alike.
	m := &merger{resolution: "Intersection"}
	got, _ := m.merge("spec", vals, 2)
	want := map[string]any{"labels": map[string]any{}, "containers": []any{map[string]any{"name": "web"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Intersection (-want +got):\n%s", diff)
	}
}

func TestCombinedStatusSumsOnlyCounts(t *testing.T) {
	inst := func(cluster string, priority int, status map[string]any) *instance {
		return &instance{cluster: cluster, priority: priority, obj: map[string]any{"status": status}}
	}
	insts := []*instance{
		inst("a", 10, map[string]any{"replicas": int64(3), "readyReplicas": int64(3), "unavailableReplicas": int64(0), "observedGeneration": int64(4),
			"collisionCount": int64(1), "currentCPUUtilizationPercentage": int64(40), "numberReady": int64(2), "succeeded": int64(1), "phase": "Running"}),
		inst("b", 5, map[string]any{"replicas": int64(3), "readyReplicas": int64(2), "unavailableReplicas": int64(1), "observedGeneration": int64(7),
			"collisionCount": int64(0), "currentCPUUtilizationPercentage": int64(90), "numberReady": int64(1), "succeeded": int64(2), "phase": "Pending"}),
	}
	got := mergeStatus(policy.StatusCombined, insts)
	want := map[string]any{
		"replicas": int64(6), "readyReplicas": int64(5), "unavailableReplicas": int64(1), "numberReady": int64(3), "succeeded": int64(3),
		// not counts: the highest-priority instance's (a)
		"observedGeneration": int64(4), "collisionCount": int64(1), "currentCPUUtilizationPercentage": int64(40), "phase": "Running",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Combined status (-want +got):\n%s", diff)
	}
}

func TestListsWithoutNamesMergeItemByItem(t *testing.T) {
	a, b := &instance{cluster: "a", changed: time.Unix(200, 0)}, &instance{cluster: "b", changed: time.Unix(100, 0)}
	vals := func() map[string]any {
		return map[string]any{
			"a": map[string]any{"args": []any{"--x", "--y"}, "ports": []any{map[string]any{"containerPort": int64(80)}}},
			"b": map[string]any{"args": []any{"--x", "--z"}, "ports": []any{map[string]any{"containerPort": int64(80)}, map[string]any{"containerPort": int64(443)}}},
		}
	}
	for _, tc := range []struct {
		resolution string
		want       map[string]any
		conflicts  int
	}{
		{"LastWriter", map[string]any{"args": []any{"--x", "--y", "--z"}, "ports": []any{map[string]any{"containerPort": int64(80)}, map[string]any{"containerPort": int64(443)}}}, 0},
		{"Intersection", map[string]any{"args": []any{"--x"}, "ports": []any{map[string]any{"containerPort": int64(80)}}}, 0},
		{"Report", map[string]any{}, 2},
	} {
		m := &merger{resolution: tc.resolution}
		if tc.resolution == "LastWriter" {
			m.order = byLatest([]*instance{a, b})
		}
		got, _ := m.merge("spec", vals(), 2)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.resolution, diff)
		}
		if len(m.conflicts) != tc.conflicts {
			t.Errorf("%s: %d conflicts, want %d: %v", tc.resolution, len(m.conflicts), tc.conflicts, m.conflicts)
		}
	}
}

// TestLastWriterDecidesPerFieldFromManagedFields: cluster b's object changed
// last (a status update), but a's replicas were written last; b's image was.
// Each field goes to the cluster that wrote it last.
func TestLastWriterDecidesPerFieldFromManagedFields(t *testing.T) {
	mf := func(entries ...map[string]any) map[string]any {
		l := []any{}
		for _, e := range entries {
			l = append(l, e)
		}
		return map[string]any{"metadata": map[string]any{"managedFields": l}}
	}
	entry := func(manager, at string, fields map[string]any) map[string]any {
		return map[string]any{"manager": manager, "operation": "Update", "time": at, "fieldsType": "FieldsV1", "fieldsV1": fields}
	}
	replicas := map[string]any{"f:spec": map[string]any{"f:replicas": map[string]any{}}}
	image := map[string]any{"f:spec": map[string]any{"f:template": map[string]any{"f:spec": map[string]any{"f:containers": map[string]any{
		`k:{"name":"web"}`: map[string]any{"f:image": map[string]any{}}}}}}}
	a := &instance{cluster: "a", priority: 1, changed: time.Unix(1000, 0), writes: writes(mf(
		entry("tmc", "2026-01-01T10:00:00Z", image),
		entry("kubectl-scale", "2026-01-01T12:00:00Z", replicas)))}
	b := &instance{cluster: "b", priority: 2, changed: time.Unix(2000, 0), writes: writes(mf(
		entry("tmc", "2026-01-01T11:00:00Z", replicas),
		entry("kubectl-set-image", "2026-01-01T11:30:00Z", image),
		entry("kube-controller-manager", "2026-01-01T13:00:00Z", map[string]any{"f:status": map[string]any{"f:replicas": map[string]any{}}})))}
	spec := func(replicas int64, img string) map[string]any {
		return map[string]any{"replicas": replicas, "template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": img}}}}}
	}
	m := &merger{resolution: "LastWriter", order: byLatest([]*instance{a, b})}
	got, _ := m.merge("spec", map[string]any{"a": spec(5, "web:1"), "b": spec(3, "web:2")}, 2)
	if diff := cmp.Diff(spec(5, "web:2"), got); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
	var won []string
	for _, c := range m.conflicts {
		won = append(won, c.Field+" "+c.Winner+" "+c.Manager+" "+c.WrittenAt)
	}
	want := []string{
		"spec.replicas a kubectl-scale 2026-01-01T12:00:00Z",
		"spec.template.spec.containers[name=web].image b kubectl-set-image 2026-01-01T11:30:00Z",
	}
	sort.Strings(won)
	if diff := cmp.Diff(want, won); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
}

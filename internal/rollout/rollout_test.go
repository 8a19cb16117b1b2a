package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) // a Tuesday

func waves(specs ...policy.Wave) []render.Wave {
	var out []render.Wave
	clusters := map[string][]string{"canary": {"c1"}, "second": {"c2", "c3"}, "rest": {"c4", "c5", "c6", "c7"}}
	for i := range specs {
		out = append(out, render.Wave{Name: specs[i].Name, Clusters: clusters[specs[i].Name], Spec: &specs[i]})
	}
	return out
}

func std() []render.Wave {
	return waves(policy.Wave{Name: "canary", BakeTime: "10m"}, policy.Wave{Name: "second", BakeTime: "10m"}, policy.Wave{Name: "rest", MaxConcurrency: "50%"})
}

// fleet: clusters at the revision (applied at the given time, healthy or not); the rest at the old one.
type at struct {
	when    time.Time
	healthy bool
}

func fleet(m map[string]at) map[string]Cluster {
	out := map[string]Cluster{}
	for _, n := range []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7"} {
		c := Cluster{Name: n, Reachable: true, Healthy: true, Weight: 1}
		if a, ok := m[n]; ok {
			c.AtRevision, c.Took, c.Updated, c.Healthy = true, true, a.when, a.healthy
		}
		out[n] = c
	}
	return out
}

// TestRolloutWavesInOrder: the canary takes the revision first; the next
// wave starts only once it is healthy and baked; the last wave goes 50% at a time.
func TestRolloutWavesInOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fleet   map[string]at
		now     time.Time
		state   State
		wave    string
		apply   []string
		message string
	}{
		{"start: canary only", nil, t0, Progressing, "canary", []string{"c1"}, "applying to c1"},
		{"canary applied, not healthy yet", map[string]at{"c1": {t0, false}}, t0.Add(time.Minute), Progressing, "canary", []string{"c1"}, "waiting for it to be healthy"},
		{"canary healthy, baking", map[string]at{"c1": {t0, true}}, t0.Add(5 * time.Minute), Baking, "canary", []string{"c1"}, "baking until 2026-12-01T12:10:00Z"},
		{"canary baked: second wave", map[string]at{"c1": {t0, true}}, t0.Add(11 * time.Minute), Progressing, "second", []string{"c1", "c2", "c3"}, "applying to c2, c3"},
		{"second baked: half of the rest", map[string]at{"c1": {t0, true}, "c2": {t0, true}, "c3": {t0, true}}, t0.Add(11 * time.Minute), Progressing, "rest", []string{"c1", "c2", "c3", "c4", "c5"}, "applying to c4, c5"},
		{"half of the rest unhealthy: no more", map[string]at{"c1": {t0, true}, "c2": {t0, true}, "c3": {t0, true}, "c4": {t0.Add(10 * time.Minute), false}, "c5": {t0.Add(10 * time.Minute), false}}, t0.Add(11 * time.Minute), Progressing, "rest", []string{"c1", "c2", "c3", "c4", "c5"}, "2 of 4 clusters"},
		{"half of the rest healthy: the other half", map[string]at{"c1": {t0, true}, "c2": {t0, true}, "c3": {t0, true}, "c4": {t0, true}, "c5": {t0, true}}, t0.Add(11 * time.Minute), Progressing, "rest", []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7"}, "applying to c6, c7"},
		{"all healthy", map[string]at{"c1": {t0, true}, "c2": {t0, true}, "c3": {t0, true}, "c4": {t0, true}, "c5": {t0, true}, "c6": {t0, true}, "c7": {t0, true}}, t0.Add(11 * time.Minute), Complete, "", []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7"}, "every wave holds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(Input{Revision: "r2", Waves: std(), Clusters: fleet(tc.fleet), Now: tc.now})
			if d.State != tc.state || d.Wave != tc.wave || !strings.Contains(d.Message, tc.message) {
				t.Errorf("%s %s %q, want %s %s containing %q", d.State, d.Wave, d.Message, tc.state, tc.wave, tc.message)
			}
			if diff := cmp.Diff(tc.apply, d.Apply); diff != "" {
				t.Errorf("apply (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRolloutHaltsOnCanary: a canary whose gate does not hold within the
// timeout halts the rollout, naming it; nothing of a later wave is applied.
// A failure budget lets one cluster of a wave fail.
func TestRolloutHaltsOnCanary(t *testing.T) {
	ws := waves(policy.Wave{Name: "canary", Timeout: "2m"}, policy.Wave{Name: "second"})
	d := Decide(Input{Revision: "r2", Waves: ws, Clusters: fleet(map[string]at{"c1": {t0, false}}), Now: t0.Add(3 * time.Minute)})
	if d.State != Halted || d.Wave != "canary" || !cmp.Equal(d.Failing, []string{"c1"}) || !cmp.Equal(d.Apply, []string{"c1"}) {
		t.Errorf("%+v", d)
	}
	d = Decide(Input{Revision: "r2", Waves: ws, Clusters: fleet(map[string]at{"c1": {t0, false}}), Now: t0.Add(time.Minute)})
	if d.State != Progressing {
		t.Errorf("within the timeout: %s", d.State)
	}
	budget := waves(policy.Wave{Name: "canary"}, policy.Wave{Name: "second", Timeout: "2m", MaxFailures: 1})
	d = Decide(Input{Revision: "r2", Waves: budget, Clusters: fleet(map[string]at{"c1": {t0, true}, "c2": {t0, false}, "c3": {t0, true}}), Now: t0.Add(3 * time.Minute)})
	if d.State != Complete {
		t.Errorf("one failure within a budget of one: %s at %s (%s)", d.State, d.Wave, d.Message)
	}
}

// TestRolloutWindowAndManualGate: a wave waits for its window and for its
// manual gate before it starts; lifting the gate starts it.
func TestRolloutWindowAndManualGate(t *testing.T) {
	ws := waves(policy.Wave{Name: "canary", Window: &policy.Window{Days: []string{"Mon", "Tue", "Wed", "Thu", "Fri"}, Start: "09:00", End: "16:00", TimeZone: "Europe/Berlin"}})
	d := Decide(Input{Revision: "r2", Waves: ws, Clusters: fleet(nil), Now: t0.Add(5 * time.Hour)}) // 17:00 UTC = 18:00 Berlin
	if d.State != Waiting || len(d.Apply) != 0 || !strings.Contains(d.Message, "opens 2026-12-02T08:00:00Z") {
		t.Errorf("outside the window: %+v", d)
	}
	if d := Decide(Input{Revision: "r2", Waves: ws, Clusters: fleet(nil), Now: t0}); d.State != Progressing {
		t.Errorf("inside the window: %+v", d)
	}
	gated := waves(policy.Wave{Name: "canary", ManualGate: true})
	if d := Decide(Input{Revision: "r2", Waves: gated, Clusters: fleet(nil), Now: t0}); d.State != Waiting || len(d.Apply) != 0 {
		t.Errorf("manual gate: %+v", d)
	}
	if d := Decide(Input{Revision: "r2", Waves: gated, Clusters: fleet(nil), Now: t0, Approved: map[string]bool{"canary": true}}); d.State != Progressing || !cmp.Equal(d.Apply, []string{"c1"}) {
		t.Errorf("gate lifted: %+v", d)
	}
}

// TestRolloutClusterJoinsMidway: a cluster that joins an earlier wave
// during a rollout takes the revision with that wave, and later waves wait
// for it.
func TestRolloutClusterJoinsMidway(t *testing.T) {
	ws := std()
	ws[0].Clusters = []string{"c1", "c8"} // c8 joined the canary wave
	cl := fleet(map[string]at{"c1": {t0, true}, "c2": {t0, true}, "c3": {t0, true}})
	cl["c8"] = Cluster{Name: "c8", Reachable: true}
	d := Decide(Input{Revision: "r2", Waves: ws, Clusters: cl, Now: t0.Add(time.Hour)})
	if d.Wave != "canary" || !cmp.Equal(d.Apply, []string{"c1", "c8"}) {
		t.Errorf("%s %s %v", d.State, d.Wave, d.Apply)
	}
}

// TestRolloutClusterLeavesMidway: a cluster that leaves the placement
// during a rollout is dropped from its wave's gate: the wave is judged on
// the clusters it still holds.
func TestRolloutClusterLeavesMidway(t *testing.T) {
	ws := std()
	cl := fleet(map[string]at{"c1": {t0, true}, "c2": {t0, true}, "c3": {t0, false}})
	if d := Decide(Input{Revision: "r2", Waves: ws, Clusters: cl, Now: t0.Add(11 * time.Minute)}); d.Wave != "second" {
		t.Fatalf("with c3 unhealthy: %s %s", d.State, d.Wave)
	}
	ws[1].Clusters = []string{"c2"} // c3 left the placement
	delete(cl, "c3")
	if d := Decide(Input{Revision: "r2", Waves: ws, Clusters: cl, Now: t0.Add(11 * time.Minute)}); d.Wave != "rest" || d.State != Progressing {
		t.Errorf("after c3 left: %s %s (%s)", d.State, d.Wave, d.Message)
	}
}

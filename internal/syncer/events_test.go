package syncer

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/notify"
	"github.com/kcp-dev/tmc/internal/rollout"
	"github.com/kcp-dev/tmc/internal/status"
)

// TestNotificationsOnTransitionsOnly: rollout waves, cluster health and
// workspace phases are announced when they change, once, however many
// times the same state is seen again.
func TestNotificationsOnTransitionsOnly(t *testing.T) {
	s := New(Options{})
	var got []string
	s.onEvent = func(ev notify.Event) { got = append(got, ev.Type+" "+ev.Workspace+ev.Cluster+" "+ev.Wave) }
	wave := func(canary, rest rollout.State) *rollout.Decision {
		return &rollout.Decision{Revision: "r2", Waves: []rollout.Wave{{Name: "canary", State: canary}, {Name: "rest", State: rest}}}
	}
	s.mu.Lock()
	for _, d := range []*rollout.Decision{
		wave(rollout.Progressing, rollout.Waiting), wave(rollout.Progressing, rollout.Waiting), // seen twice: one start
		wave(rollout.Baking, rollout.Waiting),
		wave(rollout.Complete, rollout.Progressing), wave(rollout.Complete, rollout.Progressing),
		wave(rollout.Complete, rollout.Halted), wave(rollout.Complete, rollout.Halted),
	} {
		s.waveEventsLocked("root/web", d)
	}
	s.statuses["root/web"] = status.Workspace{Name: "web", Phase: status.Active}
	for i := 0; i < 3; i++ {
		s.clusterEventLocked("east", errors.New("connection refused"), "t1")
		s.statuses["root/web"] = status.Workspace{Name: "web", Phase: status.Error, Message: "east is unreachable"}
		s.phaseEventsLocked()
	}
	s.clusterEventLocked("east", nil, "t2")
	s.statuses["root/web"] = status.Workspace{Name: "web", Phase: status.Active}
	s.phaseEventsLocked()
	s.phaseEventsLocked()
	s.rejectedLocked("bad", errors.New("ws.yaml:3: broken"))
	s.rejectedLocked("bad", errors.New("ws.yaml:3: broken"))
	s.mu.Unlock()
	want := []string{
		"WaveStarted root/web canary", "WaveCompleted root/web canary", "WaveStarted root/web rest", "WaveHalted root/web rest",
		"ClusterUnreachable east ", "WorkspaceError root/web ", "ClusterBack east ", "WorkspaceRecovered root/web ", "RevisionRejected  ",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

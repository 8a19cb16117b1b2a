package syncer

import (
	"testing"

	"github.com/kcp-dev/tmc/internal/status"
)

// TestSynchronizingIsAFlag: while a reconcile runs, each workspace it
// covers keeps the phase of its last outcome with synchronizing laid over
// it (an Error stays Error, so an alert's clock is not reset); only a
// workspace with no outcome yet shows Synchronizing; the flag goes with the
// reconcile.
func TestSynchronizingIsAFlag(t *testing.T) {
	s := New(Options{})
	s.statuses["root/a"] = status.Workspace{Name: "a", LogicalCluster: "root", Phase: status.Error, Message: "target clusters unreachable: x"}
	s.statuses["root/b"] = status.Workspace{Name: "b", LogicalCluster: "root", Phase: status.Pending}
	s.statuses["root/c"] = status.Workspace{Name: "c", LogicalCluster: "root", Phase: status.Active}
	s.mu.Lock()
	s.syncing = map[string]bool{"root/a": true, "root/b": true}
	s.mu.Unlock()
	got := map[string]status.Workspace{}
	for _, w := range s.Statuses().Workspaces {
		got[w.Name] = w
	}
	if w := got["a"]; w.Phase != status.Error || !w.Synchronizing || w.Message == "" {
		t.Errorf("a: %+v, want Error with the flag and its message", w)
	}
	if w := got["b"]; w.Phase != status.Synchronizing || !w.Synchronizing {
		t.Errorf("b: %+v, want Synchronizing (no outcome yet)", w)
	}
	if w := got["c"]; w.Phase != status.Active || w.Synchronizing {
		t.Errorf("c: %+v, want Active without the flag (not covered)", w)
	}
	s.doneSynchronizing()
	for _, w := range s.Statuses().Workspaces {
		if w.Synchronizing {
			t.Errorf("%s: the flag outlived the reconcile", w.Name)
		}
	}
	if s.statuses["root/a"].Phase != status.Error {
		t.Error("the stored outcome was overwritten")
	}
}

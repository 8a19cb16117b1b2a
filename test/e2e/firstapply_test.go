package e2e

import (
	"strings"
	"testing"
)

// TestSyncStatusAfterFirstApply: right after the first converged interval
// of tmc sync (the interval is long: no second reconcile has run), the
// status API already has createdTime and lastUpdated, and every projection
// is in sync with its lastProjected time — read from what the reconcile's
// own apply did, not from the plan made before it.
func TestSyncStatusAfterFirstApply(t *testing.T) {
	f := newFixture(t)
	gitInit(t, f.dir)
	addr := freePort(t)
	_, logs := startTMC(t, "tmc sync", "sync", "--repo", f.dir, "--branch", "main", "--kubeconfig", f.kubeconfig, "--workdir", t.TempDir(),
		"--interval", "10m", "--health-interval", "10m", "--listen", addr, "--request-timeout", "5s", "--no-push-reports")
	waitReady(t, addr)
	var resp struct {
		Workspaces []struct {
			Name, Status, CreatedTime, LastUpdated string
			ProjectedKinds                         []struct {
				Kind                string
				Projections, InSync int
				Resources           []struct {
					Name        string
					ProjectedTo []struct {
						Cluster       string
						InSync        bool
						LastProjected string
					}
				}
			}
		}
	}
	_, body := syncAPI{base: "http://" + addr}.get("/api/v1/workspaces", &resp)
	if n := strings.Count(logs.String(), "reconciling revision"); n != 1 {
		t.Fatalf("%d reconciles ran: the test must read the status of the first", n)
	}
	if len(resp.Workspaces) != 1 {
		t.Fatalf("workspaces: %s", body)
	}
	w := resp.Workspaces[0]
	if w.Status != "Active" || w.CreatedTime == "" || w.LastUpdated == "" {
		t.Errorf("after the first apply: status %s, createdTime %q, lastUpdated %q:\n%s", w.Status, w.CreatedTime, w.LastUpdated, body)
	}
	projections := 0
	for _, k := range w.ProjectedKinds {
		if k.InSync != k.Projections {
			t.Errorf("%s: %d of %d projections in sync right after the apply", k.Kind, k.InSync, k.Projections)
		}
		for _, r := range k.Resources {
			for _, p := range r.ProjectedTo {
				projections++
				if !p.InSync || p.LastProjected == "" {
					t.Errorf("%s/%s on %s: inSync %v, lastProjected %q", k.Kind, r.Name, p.Cluster, p.InSync, p.LastProjected)
				}
			}
		}
	}
	if projections == 0 {
		t.Fatalf("no projections in the status:\n%s", body)
	}
}

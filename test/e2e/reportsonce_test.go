package e2e

import (
	"regexp"
	"testing"
	"time"
)

// TestSyncReportsWithoutPushCommitOnce runs tmc sync with reports committed
// but not pushed for 15 intervals of an unchanged world (a full reconcile
// runs every 10): the revision is loaded once and the reports are committed
// once; tmc's own local commit is never taken for a new revision.
func TestSyncReportsWithoutPushCommitOnce(t *testing.T) {
	f := newFixture(t)
	gitInit(t, f.dir)
	addr := freePort(t)
	_, logs := startTMC(t, "tmc sync", "sync", "--repo", f.dir, "--branch", "main", "--kubeconfig", f.kubeconfig, "--workdir", t.TempDir(),
		"--interval", "1s", "--health-interval", "1s", "--listen", addr, "--request-timeout", "5s", "--no-push-reports")
	waitReady(t, addr)
	time.Sleep(15 * time.Second)
	out := logs.String()
	loads := regexp.MustCompile(`revision [0-9a-f]+ loaded`).FindAllString(out, -1)
	commits := regexp.MustCompile(`reports committed as`).FindAllString(out, -1)
	reconciles := regexp.MustCompile(`reconciling revision`).FindAllString(out, -1)
	if len(loads) != 1 || len(commits) != 1 || len(reconciles) < 2 {
		t.Fatalf("%d revision loads, %d report commits, %d reconciles (want 1, 1 and a full reconcile after the first):\n%s", len(loads), len(commits), len(reconciles), out)
	}
}

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	stdsync "sync"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/test/harness"
)

// safeBuffer is a log sink two goroutines may write.
type safeBuffer struct {
	mu stdsync.Mutex
	b  strings.Builder
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLeaderElection runs two `tmc sync --leader-elect` replicas: one leads
// through a Lease; SIGTERM makes it release the Lease and the other takes over.
func TestLeaderElection(t *testing.T) {
	cs := harness.StartT(t, "home")
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	if err := os.MkdirAll(filepath.Join(repo, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"policies.yaml": "apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: home}\n---\napiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: ws}\nspec:\n  sources: [{path: app}]\n",
		"app/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: led, namespace: default}\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	// The leader reaches the cluster through a proxy that can slow it down,
	// so that a reconcile is in flight when SIGTERM comes.
	proxy := harness.ProxyT(t, cs.Get("home"))
	slowKubeconfig := filepath.Join(dir, "slow-kubeconfig")
	if err := cs.WriteKubeconfig(slowKubeconfig, map[string]string{"home": "https://" + proxy.Addr}); err != nil {
		t.Fatal(err)
	}
	start := func(name string) (*exec.Cmd, *safeBuffer) {
		kubeconfig := cs.KubeconfigPath
		if name == "a" {
			kubeconfig = slowKubeconfig
		}
		return startTMC(t, name, "sync", "--repo", repo, "--no-push-reports", "--kubeconfig", kubeconfig, "--interval", "1s",
			"--leader-elect", "--leader-elect-namespace", "default", "--leader-elect-lease-duration", "6s", "--listen", freePort(t),
			"--workdir", filepath.Join(dir, "work-"+name))
	}
	a, aLogs := start("a")
	time.Sleep(500 * time.Millisecond)
	_, bLogs := start("b")
	leading := func(b *safeBuffer) bool { return strings.Contains(b.String(), "leading (Lease default/tmc-sync)") }
	eventually(t, "one replica leads and syncs", 30*time.Second, func() (bool, string) {
		ok := exists(t, cs.Get("home"), &corev1.ConfigMap{}, "default", "led")
		return ok && leading(aLogs) != leading(bLogs), aLogs.String() + bLogs.String()
	})
	leader, standby, leaderCmd := aLogs, bLogs, a
	if !leading(aLogs) {
		t.Fatal("the first replica should have taken the Lease")
	}
	lease := &coordinationv1.Lease{}
	if err := cs.Get("home").Client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "tmc-sync"}, lease); err != nil || lease.Spec.HolderIdentity == nil {
		t.Fatalf("lease: %v %+v", err, lease.Spec)
	}
	// Hold a reconcile: slow the leader's connection, commit a change, and
	// send SIGTERM once the reconcile of the new revision has started.
	eventually(t, "the first reconcile finished", 30*time.Second, func() (bool, string) {
		return strings.Contains(leader.String(), "reconcile of revision"), leader.String()
	})
	proxy.SetDelay(300 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(repo, "app/cm2.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: led2, namespace: default}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "second"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	rev, _ := exec.Command("git", "-C", repo, "rev-parse", "--short=12", "HEAD").Output()
	started := "reconciling revision " + strings.TrimSpace(string(rev))
	eventually(t, "the reconcile of the new revision started", 30*time.Second, func() (bool, string) {
		return strings.Contains(leader.String(), started), leader.String()
	})
	sigterm := time.Now()
	_ = leaderCmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- leaderCmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the leader exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the leader did not exit after SIGTERM:\n%s", leader.String())
	}
	logs := leader.String()
	finished := "reconcile of revision " + strings.TrimSpace(string(rev)) + " finished"
	order := []string{started, "interrupt: finishing the work in flight", finished, "released the Lease default/tmc-sync", "stopped serving; exiting"}
	last := -1
	for _, line := range order {
		i := strings.Index(logs, line)
		if i < 0 || i < last {
			t.Fatalf("want, in order: %q\nlogs:\n%s", order, logs)
		}
		last = i
	}
	if !exists(t, cs.Get("home"), &corev1.ConfigMap{}, "default", "led2") {
		t.Error("the reconcile in flight at SIGTERM did not finish its apply")
	}
	eventually(t, "the standby takes over within the lease duration", 6*time.Second+5*time.Second, func() (bool, string) {
		return leading(standby), standby.String()
	})
	t.Logf("standby leading %s after SIGTERM", time.Since(sigterm).Round(100*time.Millisecond))
}

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	stdsync "sync"
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
	start := func(name string) (*exec.Cmd, *safeBuffer) {
		cmd := exec.Command(tmcBin, "sync", "--repo", repo, "--no-push-reports", "--kubeconfig", cs.KubeconfigPath, "--interval", "1s",
			"--leader-elect", "--leader-elect-namespace", "default", "--listen", freePort(t))
		buf := &safeBuffer{}
		cmd.Stdout, cmd.Stderr = buf, buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
			if t.Failed() {
				t.Logf("%s logs:\n%s", name, buf.String())
			}
		})
		return cmd, buf
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
	_ = leaderCmd.Process.Signal(os.Interrupt)
	eventually(t, "the standby takes over once the leader releases the Lease", 30*time.Second, func() (bool, string) {
		return leading(standby), standby.String()
	})
	done := make(chan error, 1)
	go func() { done <- leaderCmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Errorf("the leader did not exit after SIGINT:\n%s", leader.String())
	}
}

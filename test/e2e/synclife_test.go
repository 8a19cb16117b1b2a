package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/test/harness"
)

// git runs the git CLI in dir.
func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=dev", "-c", "user.email=dev@example.com"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestSyncLife runs the syncer the way it lives for months: with its policy
// tree below the repo root, events instead of polling (a capacity change on
// a cluster and a change on a live source cluster each propagate well
// before the full resync could explain it), a kill -9 in the middle of a
// reconcile and a restart on the same workdir that converges without
// re-applying anything, and report folders that follow the workspaces.
func TestSyncLife(t *testing.T) {
	ctx := context.Background()
	cs := harness.StartT(t, "hub", "t1", "t2")
	if _, err := cs.Get("t1").CreateNode(ctx, harness.NodeSpec{Name: "n1", CPU: "8", Memory: "16Gi", Pods: "110"}); err != nil {
		t.Fatal(err)
	}
	if err := cs.Get("hub").Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shared"}}); err != nil {
		t.Fatal(err)
	}
	if err := cs.Get("hub").Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shared", Name: "settings", Labels: map[string]string{"share": "yes"}}, Data: map[string]string{"region": "eu"}}); err != nil {
		t.Fatal(err)
	}
	// t2 is reached through a proxy that can slow it, to hold a reconcile.
	proxy := harness.ProxyT(t, cs.Get("t2"))
	base := t.TempDir()
	kubeconfig := filepath.Join(base, "kubeconfig")
	if err := cs.WriteKubeconfig(kubeconfig, map[string]string{"t2": "https://" + proxy.Addr}); err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(base, "remote.git")
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", bare).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	work := filepath.Join(base, "work")
	gitCLI(t, base, "clone", "-q", bare, work)
	files := map[string]string{
		"README.md": "the policy tree is in tree/\n",
		"tree/clusters.yaml": "apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: hub}\nspec: {projectionEnabled: false}\n---\n" +
			"apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: t1}\n---\napiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: t2}\n",
		"tree/ws.yaml": `apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: app}
spec:
  sources:
    - path: app
    - cluster: hub
      resourceSelectors:
        - {version: v1, kind: ConfigMap, labelSelector: {matchLabels: {share: "yes"}}, fieldSelector: metadata.namespace=shared}
  projectionPolicies: [replicas]
  aggregationPolicies: [deployments]
---
apiVersion: tmc.kcp.io/v1alpha1
kind: ProjectionPolicy
metadata: {name: replicas}
spec:
  resourceSelectors: [{group: apps, kind: Deployment}]
  transformations:
    - {type: Set, jsonPath: spec.replicas, value: 3, conditional: cluster.capacity.cpu > 4}
    - {type: Set, jsonPath: spec.replicas, value: 1, conditional: cluster.capacity.cpu <= 4}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: AggregationPolicy
metadata: {name: deployments}
spec:
  gvk: {group: apps, version: v1, kind: Deployment}
`,
		"tree/other.yaml":    "apiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: other}\nspec:\n  placement: {clusters: [t1]}\n  sources: [{path: other}]\n  aggregationPolicies: [deployments]\n",
		"tree/other/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n",
		"tree/app/ns.yaml":   "apiVersion: v1\nkind: Namespace\nmetadata: {name: shared}\n",
		"tree/app/web.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shared}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n" +
			"    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n",
	}
	for name, content := range files {
		p := filepath.Join(work, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitCLI(t, work, "add", "-A")
	gitCLI(t, work, "commit", "-qm", "init")
	gitCLI(t, work, "push", "-q", "origin", "main")
	commit := func(msg string, edit func()) string {
		t.Helper()
		gitCLI(t, work, "pull", "-q", "--rebase", "origin", "main")
		edit()
		gitCLI(t, work, "add", "-A")
		gitCLI(t, work, "commit", "-qm", msg)
		gitCLI(t, work, "push", "-q", "origin", "main")
		return gitCLI(t, work, "rev-parse", "--short=12", "HEAD")
	}

	workdir := filepath.Join(base, "workdir")
	addr := freePort(t)
	api := syncAPI{base: "http://" + addr}
	start := func() (*exec.Cmd, *safeBuffer) {
		return startTMC(t, "sync", "sync", "--repo", bare, "--branch", "main", "--path", "tree", "--workdir", workdir,
			"--kubeconfig", kubeconfig, "--interval", "3s", "--health-interval", "500ms", "--listen", addr, "--request-timeout", "10s")
	}
	deployment := func(cluster string) *appsv1.Deployment {
		d := &appsv1.Deployment{}
		if err := cs.Get(cluster).Client.Get(ctx, client.ObjectKey{Namespace: "shared", Name: "web"}, d); err != nil {
			return nil
		}
		return d
	}
	replicas := func() int32 {
		if d := deployment("t1"); d != nil && d.Spec.Replicas != nil {
			return *d.Spec.Replicas
		}
		return -1
	}
	remoteFile := func(p string) (string, error) {
		out, err := exec.Command("git", "--git-dir", bare, "show", "main:"+p).CombinedOutput()
		return string(out), err
	}
	cmd, logs := start()

	t.Run("converges with the tree below the repo root", func(t *testing.T) {
		eventually(t, "replicas 3 on t1 and the live source projected", 60*time.Second, func() (bool, string) {
			return replicas() == 3 && exists(t, cs.Get("t2"), &corev1.ConfigMap{}, "shared", "settings"), logs.String()
		})
		eventually(t, "reports committed under tree/reports", 30*time.Second, func() (bool, string) {
			_, err1 := remoteFile("tree/reports/root/app/status.yaml")
			_, err2 := remoteFile("tree/reports/root/other/status.yaml")
			return err1 == nil && err2 == nil, fmt.Sprint(err1, err2)
		})
		if _, err := remoteFile("reports/root/app/status.yaml"); err == nil {
			t.Error("reports were committed at the repo root, not below the policy tree")
		}
	})

	t.Run("a capacity change re-renders without waiting for the full resync", func(t *testing.T) {
		n, err := cs.Get("t1").Clientset.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Status.Allocatable[corev1.ResourceCPU] = resource.MustParse("2")
		n.Status.Capacity[corev1.ResourceCPU] = resource.MustParse("2")
		if _, err := cs.Get("t1").Clientset.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The full resync runs after 10 idle intervals (30 s); this must come from the facts probe.
		eventually(t, "replicas 1 on t1 after its capacity dropped", 10*time.Second, func() (bool, string) {
			return replicas() == 1, fmt.Sprint(replicas())
		})
	})

	t.Run("a change on a live source cluster propagates within an interval", func(t *testing.T) {
		cm := &corev1.ConfigMap{}
		if err := cs.Get("hub").Client.Get(ctx, client.ObjectKey{Namespace: "shared", Name: "settings"}, cm); err != nil {
			t.Fatal(err)
		}
		cm.Data["region"] = "us"
		if err := cs.Get("hub").Client.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the new value on t1 and t2", 10*time.Second, func() (bool, string) {
			got := map[string]string{}
			for _, c := range []string{"t1", "t2"} {
				p := &corev1.ConfigMap{}
				if exists(t, cs.Get(c), p, "shared", "settings") {
					got[c] = p.Data["region"]
				}
			}
			return got["t1"] == "us" && got["t2"] == "us", fmt.Sprint(got)
		})
	})

	t.Run("kill -9 mid-reconcile, restart on the same workdir", func(t *testing.T) {
		generation := deployment("t2").Generation
		proxy.SetDelay(200 * time.Millisecond) // hold the reconcile on t2
		rev := commit("add a ConfigMap", func() {
			_ = os.WriteFile(filepath.Join(work, "tree/app/extra.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: shared}\ndata: {k: v}\n"), 0o644)
		})
		eventually(t, "the reconcile of the new revision started", 30*time.Second, func() (bool, string) {
			return strings.Contains(logs.String(), "reconciling revision "+rev), logs.String()
		})
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_, _ = cmd.Process.Wait()
		if strings.Contains(logs.String(), "reconcile of revision "+rev+" finished") {
			t.Log("the reconcile finished before the kill; the restart is still exercised")
		}
		proxy.SetDelay(0)
		cmd, logs = start()
		eventually(t, "converged after the restart", 60*time.Second, func() (bool, string) {
			var w wsAPI
			_, body := api.get("/api/v1/workspaces", &w)
			return w.phase("app") == "Active" && exists(t, cs.Get("t1"), &corev1.ConfigMap{}, "shared", "extra") &&
				exists(t, cs.Get("t2"), &corev1.ConfigMap{}, "shared", "extra"), body
		})
		if strings.Contains(logs.String(), "repository already exists") || !strings.Contains(logs.String(), "cloned") {
			t.Errorf("restart logs:\n%s", logs.String())
		}
		if g := deployment("t2").Generation; g != generation {
			t.Errorf("the Deployment on t2 went from generation %d to %d: something was applied twice or changed", generation, g)
		}
	})

	t.Run("a deleted workspace's report folder goes", func(t *testing.T) {
		commit("drop other", func() {
			_ = os.Remove(filepath.Join(work, "tree/other.yaml"))
			_ = os.RemoveAll(filepath.Join(work, "tree/other"))
		})
		eventually(t, "the report folder of other removed on the remote", 30*time.Second, func() (bool, string) {
			_, err := remoteFile("tree/reports/root/other/status.yaml")
			_, kept := remoteFile("tree/reports/root/app/status.yaml")
			return err != nil && kept == nil, fmt.Sprint(err, kept)
		})
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_, _ = cmd.Process.Wait()
		// The clone in the workdir is clean: what was written was committed.
		if out := gitCLI(t, filepath.Join(workdir, "repo"), "status", "--porcelain"); out != "" {
			t.Errorf("git status in the syncer's clone:\n%s", out)
		}
	})
}

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/test/harness"
)

func rolloutRepo(bake, onFailure string) string {
	var b strings.Builder
	for i, c := range []string{"c1", "c2", "c3", "c4", "c5"} {
		wave := map[int]string{0: "canary", 1: "two", 2: "two"}[i]
		fmt.Fprintf(&b, "apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: %s, labels: {wave: %q}}\n---\n", c, wave)
	}
	b.WriteString(`apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: web}
spec:
  sources: [{path: apps}]
  aggregationPolicies: [deployments]
  rollout:
    onFailure: ` + onFailure + `
    waves:
    - {name: canary, clusters: [c1], bakeTime: ` + bake + `, timeout: 25s}
    - {name: two, clusterSelector: {matchLabels: {wave: two}}, bakeTime: 3s, timeout: 25s}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: AggregationPolicy
metadata: {name: deployments}
spec:
  gvk: {group: apps, version: v1, kind: Deployment}
  healthAggregation: All
`)
	return b.String()
}

func rolloutApp(image, nodeSelector string) string {
	return `apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web}
spec:
  replicas: 1
  progressDeadlineSeconds: 8
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: ` + nodeSelector + `
      containers:
      - {name: web, image: ` + image + `}
`
}

// rolloutFixture is five workload clusters (controllers, scheduler, kwok
// Nodes) and a git repo of the rolling workspace.
type rolloutFixture struct {
	t   *testing.T
	cs  *harness.Clusters
	dir string
}

func (f *rolloutFixture) deployment(c string) *appsv1.Deployment {
	d := &appsv1.Deployment{}
	if err := f.cs.Get(c).Client.Get(context.Background(), client.ObjectKey{Namespace: "web", Name: "web"}, d); err != nil {
		return nil
	}
	return d
}

func (f *rolloutFixture) image(c string) string {
	if d := f.deployment(c); d != nil {
		return d.Spec.Template.Spec.Containers[0].Image
	}
	return ""
}

// tmcApplied is when tmc last wrote the Deployment on c (its field manager's time).
func (f *rolloutFixture) tmcApplied(c string) time.Time {
	d := f.deployment(c)
	if d == nil {
		return time.Time{}
	}
	var last time.Time
	for _, mf := range d.ManagedFields {
		if strings.HasPrefix(mf.Manager, "tmc") && mf.Time != nil && mf.Time.After(last) && mf.Subresource == "" {
			last = mf.Time.Time
		}
	}
	return last
}

func (f *rolloutFixture) commit(msg, app string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "apps", "web.yaml"), []byte(app), 0o644); err != nil {
		f.t.Fatal(err)
	}
	gitCommit(f.t, f.dir, msg)
}

func gitCommit(t *testing.T, dir, msg string) {
	t.Helper()
	for _, args := range [][]string{{"add", "-A"}, {"-c", "user.name=e2e", "-c", "user.email=e2e@example.com", "commit", "-qm", msg}} {
		if out, err := execGit(dir, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// TestRolloutWavesOnWorkloadClusters: on five workload clusters, with the
// waves canary (c1), two (c2, c3) and the rest (c4, c5):
//   - a good revision rolls wave by wave: each wave's Deployments are
//     written by tmc only after the wave before was healthy at the revision
//     (its Pods Available) and baked — read from the objects on the
//     clusters, not from tmc's logs;
//   - a bad revision (new Pods no Node can take, past a short
//     progressDeadlineSeconds) halts after the canary: no later wave gets
//     it, the status and the metric say halted;
//   - a syncer killed with SIGKILL while the canary bakes the fixed
//     revision and started again on the same workdir goes on with wave two
//     and never writes the canary again;
//   - with onFailure: Rollback, a bad revision halts on the canary and the
//     canary is put back on the revision it held before; no later wave
//     ever takes the bad one.
func TestRolloutWavesOnWorkloadClusters(t *testing.T) {
	ctx := context.Background()
	cs := harness.StartT(t, "c1", "c2", "c3", "c4", "c5")
	cs.StartWorkloadsT(t)
	for _, c := range cs.Clusters {
		if err := c.CreateWorkerNodes(ctx, harness.NodeSpec{Name: c.Name + "-worker", CPU: "8", Memory: "32Gi", Pods: "110"}, 1); err != nil {
			t.Fatal(err)
		}
	}
	f := &rolloutFixture{t: t, cs: cs, dir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(f.dir, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "policies.yaml"), []byte(rolloutRepo("4s", "Halt")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "apps", "web.yaml"), []byte(rolloutApp("registry.local/web:v1", "{}")), 0o644); err != nil {
		t.Fatal(err)
	}
	gitInit(t, f.dir)

	// The plan names each wave's clusters and why.
	out, errOut, code := tmc(t, "plan", f.dir, "--kubeconfig", cs.KubeconfigPath)
	for _, want := range []string{"rollout of root/web, wave by wave:", "wave 1 canary: c1:", "c1: named in the wave's clusters",
		"wave 2 two: c2, c3:", "wave 3 rest: c4, c5:", "c4: no wave chooses it: it rolls last"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q (exit %d):\n%s\n%s", want, code, out, errOut)
		}
	}

	workdir := t.TempDir()
	addr := freePort(t)
	args := []string{"sync", "--repo", f.dir, "--branch", "main", "--kubeconfig", cs.KubeconfigPath, "--workdir", workdir,
		"--interval", "2s", "--health-interval", "2s", "--listen", addr, "--no-push-reports"}
	syncer, _ := startTMC(t, "tmc sync", args...)
	api := syncAPI{base: "http://" + addr}
	type wsRollout struct {
		Workspaces []struct {
			Name, Status, Message string
			Rollout               *struct {
				Revision, State, Wave, Message string
				Failing                        []string
			}
		}
	}
	rolloutState := func() (string, string, string) {
		var w wsRollout
		api.get("/api/v1/workspaces", &w)
		for _, ws := range w.Workspaces {
			if ws.Name == "web" && ws.Rollout != nil {
				return ws.Rollout.State, ws.Rollout.Wave, ws.Status + ": " + ws.Message + " / " + ws.Rollout.Message
			}
		}
		return "", "", ""
	}

	// A good revision, wave by wave.
	eventually(t, "revision 1 on every cluster", 150*time.Second, func() (bool, string) {
		st, wave, msg := rolloutState()
		return st == "Complete", st + " " + wave + " " + msg
	})
	available := func(c string) time.Time {
		d := f.deployment(c)
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentAvailable && cond.Status == "True" {
				return cond.LastTransitionTime.Time
			}
		}
		t.Fatalf("%s: Deployment not available: %+v", c, d.Status)
		return time.Time{}
	}
	created := func(c string) time.Time { return f.deployment(c).CreationTimestamp.Time }
	order := [][]string{{"c1"}, {"c2", "c3"}, {"c4", "c5"}}
	for i := 1; i < len(order); i++ {
		var healthy, start time.Time
		for _, c := range order[i-1] {
			if a := available(c); a.After(healthy) {
				healthy = a
			}
		}
		for _, c := range order[i] {
			if cr := created(c); start.IsZero() || cr.Before(start) {
				start = cr
			}
		}
		// Times are to the second: the next wave starts no sooner than the
		// second the previous one became available.
		if start.Before(healthy) {
			t.Errorf("wave %d created at %s, before wave %d was available (%s)", i+1, start, i, healthy)
		}
	}
	if c1, c2 := created("c1"), created("c2"); c2.Sub(c1) < 4*time.Second {
		t.Errorf("wave two created %s after the canary: the canary's 4s bake was not waited", c2.Sub(c1))
	}

	// A bad revision halts after the canary.
	f.commit("bad", rolloutApp("registry.local/web:v2", "{nope: \"true\"}"))
	eventually(t, "the rollout halted on the canary", 90*time.Second, func() (bool, string) {
		st, wave, msg := rolloutState()
		return st == "Halted" && wave == "canary", st + " " + wave + " " + msg
	})
	if img := f.image("c1"); img != "registry.local/web:v2" {
		t.Errorf("canary image %s, want the bad revision's", img)
	}
	for _, c := range []string{"c2", "c3", "c4", "c5"} {
		if img := f.image(c); img != "registry.local/web:v1" {
			t.Errorf("%s holds %s: no later wave may take a halted revision", c, img)
		}
	}
	var ws wsRollout
	api.get("/api/v1/workspaces", &ws)
	if w := ws.Workspaces[0]; w.Status != "Error" || !strings.Contains(w.Message, "rollout halted") || len(w.Rollout.Failing) != 1 || w.Rollout.Failing[0] != "c1" {
		t.Errorf("halted workspace status: %+v %+v", w, w.Rollout)
	}
	_, metrics := api.get("/metrics", nil)
	if !strings.Contains(metrics, `tmc_rollout_halted{workspace="web"} 1`) {
		t.Errorf("/metrics lacks tmc_rollout_halted 1")
	}
	// The report committed in the syncer's clone shows the halted rollout.
	eventually(t, "the report shows the halted rollout", 30*time.Second, func() (bool, string) {
		b, err := os.ReadFile(filepath.Join(workdir, "repo", "reports", "root", "web", "README.md"))
		return err == nil && strings.Contains(string(b), "## Rollout of `") && strings.Contains(string(b), "| canary | c1 | Halted | 1/1 | 0 |"), string(b)
	})
	// The CLI reads the same standing from the clusters and git.
	out, errOut, code = tmc(t, "rollout", "status", f.dir, "--kubeconfig", cs.KubeconfigPath)
	if code != 1 || !strings.Contains(out, "rollout of root/web (revision ") || !strings.Contains(out, ": Halted") || !regexp.MustCompile(`wave canary\s+Halted\s+1/1 at the revision`).MatchString(out) {
		t.Errorf("tmc rollout status of a halted rollout: exit %d\n%s\n%s", code, out, errOut)
	}

	// The fixed revision: kill the syncer while the canary bakes, start it again.
	if err := os.WriteFile(filepath.Join(f.dir, "policies.yaml"), []byte(rolloutRepo("25s", "Halt")), 0o644); err != nil {
		t.Fatal(err)
	}
	f.commit("fixed", rolloutApp("registry.local/web:v3", "{}"))
	eventually(t, "the canary baking the fixed revision", 90*time.Second, func() (bool, string) {
		st, wave, msg := rolloutState()
		return st == "Baking" && wave == "canary", st + " " + wave + " " + msg
	})
	canaryWrite := f.tmcApplied("c1")
	if err := syncer.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = syncer.Process.Wait()
	startTMC(t, "tmc sync (restarted)", args...)
	eventually(t, "wave two takes the fixed revision after the restart", 120*time.Second, func() (bool, string) {
		return f.image("c2") == "registry.local/web:v3" && f.image("c3") == "registry.local/web:v3", f.image("c2") + " " + f.image("c3")
	})
	if w := f.tmcApplied("c1"); !w.Equal(canaryWrite) {
		t.Errorf("the restarted syncer wrote the canary again (%s, before %s)", w, canaryWrite)
	}
	if c2 := f.tmcApplied("c2"); c2.Sub(canaryWrite) < 24*time.Second {
		t.Errorf("wave two written %s after the canary: the 25s bake did not survive the restart", c2.Sub(canaryWrite))
	}
	eventually(t, "the fixed revision everywhere", 120*time.Second, func() (bool, string) {
		st, wave, msg := rolloutState()
		return st == "Complete", st + " " + wave + " " + msg
	})

	// Rollback: a bad revision halts on the canary and the canary goes back.
	if err := os.WriteFile(filepath.Join(f.dir, "policies.yaml"), []byte(rolloutRepo("4s", "Rollback")), 0o644); err != nil {
		t.Fatal(err)
	}
	f.commit("bad again", rolloutApp("registry.local/web:v4", "{nope: \"true\"}"))
	eventually(t, "the canary rolled back to the fixed revision", 120*time.Second, func() (bool, string) {
		st, wave, msg := rolloutState()
		return st == "Halted" && wave == "canary" && strings.Contains(msg, "rolled back") && f.image("c1") == "registry.local/web:v3", st + " " + wave + " " + msg + " c1=" + f.image("c1")
	})
	for _, c := range []string{"c1", "c2", "c3", "c4", "c5"} {
		d := f.deployment(c)
		if img := f.image(c); img != "registry.local/web:v3" || len(d.Spec.Template.Spec.NodeSelector) != 0 {
			t.Errorf("%s holds %s %v after the rollback, want the fixed revision", c, img, d.Spec.Template.Spec.NodeSelector)
		}
	}
	time.Sleep(5 * time.Second) // intervals pass: the rolled-back canary is not rolled forward again
	if img := f.image("c1"); img != "registry.local/web:v3" {
		t.Errorf("the canary took the failed revision again after its rollback: %s", img)
	}
	for _, c := range []string{"c4", "c5"} {
		if img := f.image(c); img == "registry.local/web:v3" {
			// The rest may only follow wave two once it is healthy and baked.
			twoDone := f.tmcApplied("c2")
			if w := f.tmcApplied(c); w.Before(twoDone) {
				t.Errorf("%s written at %s, before wave two (%s)", c, w, twoDone)
			}
		}
	}
}

func execGit(dir string, args ...string) ([]byte, error) {
	return exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
}

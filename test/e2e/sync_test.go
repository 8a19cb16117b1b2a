package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/gittestserver"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/aggregate"
)

// gitRepo is a working clone the test commits policy changes through.
type gitRepo struct {
	t    *testing.T
	url  string
	auth *githttp.BasicAuth
}

// change fetches the remote head, lets edit change the tree, commits and pushes; it retries when the syncer pushed reports in between.
func (g *gitRepo) change(msg string, edit func(dir string)) {
	g.t.Helper()
	for attempt := 0; attempt < 10; attempt++ {
		dir := filepath.Join(g.t.TempDir(), "w")
		repo, err := git.PlainClone(dir, false, &git.CloneOptions{URL: g.url, Auth: g.auth, ReferenceName: plumbing.NewBranchReferenceName("main"), SingleBranch: true})
		if err != nil {
			g.t.Fatal(err)
		}
		edit(dir)
		wt, _ := repo.Worktree()
		if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
			g.t.Fatal(err)
		}
		if _, err := wt.Commit(msg, &git.CommitOptions{All: true, Author: &object.Signature{Name: "dev", Email: "dev@example.com", When: time.Now()}}); err != nil {
			g.t.Fatal(err)
		}
		if err := repo.Push(&git.PushOptions{Auth: g.auth}); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	g.t.Fatalf("could not push %q", msg)
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last state: %s", what, last)
}

type syncAPI struct {
	base string
}

func (a syncAPI) get(path string, v any) (int, string) {
	resp, err := http.Get(a.base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil {
		_ = json.Unmarshal(body, v)
	}
	return resp.StatusCode, string(body)
}

type wsAPI struct {
	Revision       string `json:"revision"`
	FailedRevision string `json:"failedRevision"`
	RevisionError  string `json:"revisionError"`
	Workspaces     []struct {
		Name, Status, Message string
	} `json:"workspaces"`
}

func (w wsAPI) phase(name string) string {
	for _, ws := range w.Workspaces {
		if ws.Name == name {
			return ws.Status
		}
	}
	return ""
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSync runs `tmc sync` against a real git server and three real API
// servers: commits converge the clusters and report commits appear on the
// remote; a hand edit is reverted; a bad commit leaves the last good revision
// running with the error visible; a cluster that goes away is marked
// unhealthy and reconciled when it returns; a workspace deleted from git is
// Terminating until its objects are pruned everywhere, then gone.
func TestSync(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t) // three clusters, prod-west behind a proxy, examples in f.dir
	srv, err := gittestserver.NewTempGitServer()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(srv.Root())
	srv.Auth("tmc", "s3cret")
	if err := srv.StartHTTP(); err != nil {
		t.Fatal(err)
	}
	defer srv.StopHTTP()
	if err := srv.InitRepo(f.dir, "main", "org/policies.git"); err != nil {
		t.Fatal(err)
	}
	remote := srv.HTTPAddress() + "/org/policies.git"
	g := &gitRepo{t: t, url: remote, auth: &githttp.BasicAuth{Username: "tmc", Password: "s3cret"}}

	addr := freePort(t)
	api := syncAPI{base: "http://" + addr}
	passFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(passFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tmcBin, "sync", "--repo", remote, "--branch", "main", "--git-username", "tmc", "--git-password", "@"+passFile,
		"--kubeconfig", f.kubeconfig, "--interval", "1s", "--health-interval", "500ms", "--listen", addr, "--request-timeout", "5s")
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("tmc sync did not exit after SIGINT")
		}
		if strings.Contains(logs.String(), canary) {
			t.Error("sync logs leak the canary Secret value")
		}
		if t.Failed() {
			t.Logf("sync logs:\n%s", logs.String())
		}
	}()
	replicas := func(cluster string) int32 {
		d := &appsv1.Deployment{}
		if err := f.cs.Get(cluster).Client.Get(ctx, client.ObjectKey{Namespace: "web", Name: "web"}, d); err != nil {
			return -1
		}
		return *d.Spec.Replicas
	}

	t.Run("a commit converges the clusters and reports are pushed", func(t *testing.T) {
		eventually(t, "web-app Active and deployed", 60*time.Second, func() (bool, string) {
			var w wsAPI
			_, body := api.get("/api/v1/workspaces", &w)
			return w.phase("web-app") == "Active" && replicas("prod-east") == 3 && replicas("edge-1") == 1, body
		})
		eventually(t, "a report commit on the remote", 30*time.Second, func() (bool, string) {
			dir := filepath.Join(t.TempDir(), "check")
			repo, err := git.PlainClone(dir, false, &git.CloneOptions{URL: remote, Auth: g.auth, ReferenceName: plumbing.NewBranchReferenceName("main"), SingleBranch: true})
			if err != nil {
				return false, err.Error()
			}
			head, _ := repo.Head()
			c, _ := repo.CommitObject(head.Hash())
			data, err := os.ReadFile(filepath.Join(dir, "reports/root:production/web-app/status.yaml"))
			if err != nil || strings.Contains(string(data), canary) {
				return false, fmt.Sprintf("%v", err)
			}
			return strings.HasPrefix(c.Message, "tmc: reports") && c.Author.Name == "tmc", c.Message
		})
		if code, body := api.get("/readyz", nil); code != 200 {
			t.Errorf("/readyz %d %s", code, body)
		}
		_, metrics := api.get("/metrics", nil)
		for _, want := range []string{`tmc_virtual_workspaces_total{status="active"} 1`, `tmc_cluster_health{cluster="prod-west",workspace="web-app"} 1`,
			`tmc_projected_resources_total{gvk="apps/v1/Deployment"} 3`, `tmc_aggregated_resources_total{gvk="apps/v1/Deployment"} 1`,
			"tmc_aggregation_duration_seconds{workspace=\"web-app\"} ", "tmc_projection_duration_seconds{workspace=\"web-app\"} ",
			"tmc_aggregation_latency_seconds_count{workspace=\"web-app\"}", "tmc_projection_latency_seconds_count{workspace=\"web-app\"}",
			`tmc_reconciles_total{result="success"}`, `tmc_api_requests_total{cluster="edge-1",verb="list"}`, "go_goroutines", "process_cpu_seconds_total"} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		var one struct{ Name, Status string }
		if code, body := api.get("/api/v1/workspaces/root:production/web-app", &one); code != 200 || one.Status != "Active" {
			t.Errorf("single workspace: %d %s", code, body)
		}
		if code, _ := api.get("/api/v1/workspaces/root:production/nope", nil); code != 404 {
			t.Errorf("unknown workspace: %d, want 404", code)
		}
	})

	t.Run("a new commit is applied", func(t *testing.T) {
		g.change("more replicas", func(dir string) {
			p := filepath.Join(dir, "policies/replicas-by-capacity.yaml")
			b, _ := os.ReadFile(p)
			_ = os.WriteFile(p, []byte(strings.Replace(string(b), "value: 3", "value: 4", 1)), 0o644)
		})
		eventually(t, "prod-east replicas 4", 30*time.Second, func() (bool, string) {
			return replicas("prod-east") == 4, fmt.Sprint(replicas("prod-east"))
		})
	})

	t.Run("a hand edit is reverted", func(t *testing.T) {
		d := &appsv1.Deployment{}
		if err := f.cs.Get("prod-east").Client.Get(ctx, client.ObjectKey{Namespace: "web", Name: "web"}, d); err != nil {
			t.Fatal(err)
		}
		d.Spec.Replicas = ptr(int32(9))
		if err := f.cs.Get("prod-east").Client.Update(ctx, d, client.FieldOwner("kubectl-edit")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the hand edit reverted", 30*time.Second, func() (bool, string) {
			return replicas("prod-east") == 4, fmt.Sprint(replicas("prod-east"))
		})
		// The revert is recorded as drift: in the status, the metric and the page.
		eventually(t, "the drift recorded", 15*time.Second, func() (bool, string) {
			var ws struct {
				Drift []aggregate.DriftRecord `json:"drift"`
			}
			api.get("/api/v1/workspaces/root:production/web-app", &ws)
			for _, d := range ws.Drift {
				if d.Cluster == "prod-east" && d.Object == "Deployment/web/web" && d.Manager == "kubectl-edit" && d.Corrected {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%+v", ws.Drift)
		})
		_, metrics := api.get("/metrics", nil)
		if !strings.Contains(metrics, `tmc_drift_corrections_total{cluster="prod-east",workspace="web-app"} 1`) {
			t.Errorf("metrics lack the drift correction")
		}
		_, page := api.get("/", nil)
		if !strings.Contains(page, "kubectl-edit (Update)") || !strings.Contains(page, "reverted to git") {
			t.Errorf("the status page does not show the drift")
		}
	})

	t.Run("steady state: no writes, no polling", func(t *testing.T) {
		count := func(verbs ...string) int {
			_, metrics := api.get("/metrics", nil)
			n := 0
			for _, line := range strings.Split(metrics, "\n") {
				if !strings.HasPrefix(line, "tmc_api_requests_total{") {
					continue
				}
				for _, verb := range verbs {
					if strings.Contains(line, verb) {
						var v float64
						fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v)
						n += int(v)
					}
				}
			}
			return n
		}
		writes := []string{`verb="create"`, `verb="update"`, `verb="patch"`, `verb="delete"`}
		reads := []string{`verb="get"`, `verb="list"`, `verb="dry-run"`}
		time.Sleep(2 * time.Second) // let the revert's reconcile and its report commit settle
		wr0, r0 := count(writes...), count(reads...)
		var ws0 wsAPI
		api.get("/api/v1/workspaces", &ws0)
		time.Sleep(4 * time.Second) // four sync intervals
		wr1, r1 := count(writes...), count(reads...)
		if wr1 != wr0 {
			t.Errorf("%d write requests during idle intervals", wr1-wr0)
		}
		// Watches stand in for polling: idle intervals skip the reconcile. Health probes
		// (/readyz, /version and a cached LIST of Nodes for the facts: three reads per
		// cluster and probe) are the only reads left.
		if probes := 3 * 4 * 2 * 3; r1-r0 > probes+3 {
			t.Errorf("%d read requests during four idle intervals; want only health probes (about %d)", r1-r0, probes)
		}
		w0 := ws0
		var w1x wsAPI
		api.get("/api/v1/workspaces", &w1x)
		if w0.Revision != w1x.Revision {
			t.Errorf("idle reconciles moved the revision %s → %s (a report commit on an unchanged world?)", w0.Revision, w1x.Revision)
		}
	})

	t.Run("a bad commit keeps the last good revision", func(t *testing.T) {
		g.change("broken policy", func(dir string) {
			_ = os.WriteFile(filepath.Join(dir, "policies/broken.yaml"), []byte("apiVersion: tmc.kcp.io/v1alpha1\nkind: ProjectionPolicy\nmetadata: {name: broken}\nspec: {mode: Sometimes}\n"), 0o644)
			p := filepath.Join(dir, "policies/replicas-by-capacity.yaml")
			b, _ := os.ReadFile(p)
			_ = os.WriteFile(p, []byte(strings.Replace(string(b), "value: 4", "value: 5", 1)), 0o644)
		})
		eventually(t, "the revision error in the API and /healthz degraded", 30*time.Second, func() (bool, string) {
			var w wsAPI
			_, body := api.get("/api/v1/workspaces", &w)
			var h struct{ Status, Message string }
			api.get("/healthz", &h)
			return strings.Contains(w.RevisionError, `policies/broken.yaml:4:14: ProjectionPolicy/broken: spec.mode: invalid value "Sometimes"`) &&
				w.FailedRevision != "" && w.phase("web-app") == "Active" && h.Status == "degraded" && strings.Contains(h.Message, "newest revision rejected"), body
		})
		time.Sleep(2 * time.Second)
		if r := replicas("prod-east"); r != 4 {
			t.Errorf("prod-east replicas %d: nothing of the bad revision may be applied", r)
		}
		g.change("fix policy", func(dir string) { _ = os.Remove(filepath.Join(dir, "policies/broken.yaml")) })
		eventually(t, "healthy again with the fixed revision", 30*time.Second, func() (bool, string) {
			var h struct{ Status, Message string }
			_, body := api.get("/healthz", &h)
			return h.Status == "healthy" && replicas("prod-east") == 5, body
		})
	})

	t.Run("a cluster goes away and comes back", func(t *testing.T) {
		f.proxy.Cut()
		eventually(t, "prod-west unhealthy", 30*time.Second, func() (bool, string) {
			var w wsAPI
			_, body := api.get("/api/v1/workspaces", &w)
			_, metrics := api.get("/metrics", nil)
			return w.phase("web-app") == "Error" && strings.Contains(metrics, `tmc_cluster_health{cluster="prod-west",workspace="web-app"} 0`), body
		})
		g.change("extra config", func(dir string) {
			_ = os.WriteFile(filepath.Join(dir, "apps/web-app/extra.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: web}\n"), 0o644)
		})
		eventually(t, "extra ConfigMap on the reachable clusters", 30*time.Second, func() (bool, string) {
			return exists(t, f.cs.Get("prod-east"), &corev1.ConfigMap{}, "web", "extra-prod-east"), ""
		})
		if err := f.proxy.Restore(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "prod-west reconciled after it returned", 30*time.Second, func() (bool, string) {
			var w wsAPI
			_, body := api.get("/api/v1/workspaces", &w)
			return w.phase("web-app") == "Active" && exists(t, f.cs.Get("prod-west"), &corev1.ConfigMap{}, "web", "extra-prod-west"), body
		})
	})

	t.Run("a workspace deleted from git is pruned", func(t *testing.T) {
		f.proxy.Cut()
		g.change("drop web-app", func(dir string) { _ = os.Remove(filepath.Join(dir, "workspaces/web-app.yaml")) })
		eventually(t, "Terminating while prod-west is away, pruned elsewhere", 30*time.Second, func() (bool, string) {
			var w wsAPI
			_, body := api.get("/api/v1/workspaces", &w)
			return w.phase("web-app") == "Terminating" && replicas("prod-east") == -1, body
		})
		if r := replicas("prod-west"); r == -1 {
			t.Error("nothing may be pruned on an unreachable cluster")
		}
		if err := f.proxy.Restore(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "gone once pruned everywhere", 30*time.Second, func() (bool, string) {
			var w wsAPI
			_, body := api.get("/api/v1/workspaces", &w)
			return w.phase("web-app") == "" && replicas("prod-west") == -1, body
		})
	})
}

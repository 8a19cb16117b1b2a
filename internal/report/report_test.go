package report

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/gittestserver"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/cluster"
)

func view(ws string, healthy int) *aggregate.WorkspaceView {
	return &aggregate.WorkspaceView{
		Workspace: ws, LogicalCluster: "root:production",
		TargetClusters: []aggregate.TargetCluster{{State: cluster.Reached("east", true), Priority: 10, Weight: 1}, {State: cluster.Unreached("west", errors.New("connection refused"))}},
		AggregatedResources: []aggregate.KindView{{
			Policy: "deployments", APIVersion: "apps/v1", Kind: "Deployment", MergeStrategy: "Union", ConflictResolution: "LastWriter",
			HealthAggregation: "Majority", StatusMerging: "Combined", TotalCount: 2, HealthyCount: healthy, UnhealthyCount: 2 - healthy, InstanceCount: 3, HealthyInstanceCount: healthy + 1, MissingCount: 1,
			Resources: []aggregate.Resource{{Namespace: "web", Name: "api", Status: "Healthy",
				Clusters:  []aggregate.Origin{{Cluster: "east", Health: "Healthy"}, {Cluster: "west", Health: "Unreachable"}},
				Spec:      map[string]any{"replicas": 3, "paused": false},
				Conflicts: []aggregate.Conflict{{Field: "spec.replicas", Values: map[string]any{"east": 3, "west": 1}, Resolution: "LastWriter", Winner: "east"}},
			}},
		}},
	}
}

func TestFilesAreDeterministic(t *testing.T) {
	a, err := Files("reports", []*aggregate.WorkspaceView{view("web", 1), view("api", 2)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Files("reports", []*aggregate.WorkspaceView{view("web", 1), view("api", 2)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("two renders differ:\n%s", diff)
	}
	if diff := cmp.Diff([]string{"reports/root:production/api/README.md", "reports/root:production/api/status.yaml", "reports/root:production/web/README.md", "reports/root:production/web/status.yaml"}, slices.Sorted(maps.Keys(a))); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	readme := string(a["reports/root:production/web/README.md"])
	for _, want := range []string{"| east | healthy | 10 | 1 |", "| west | **unreachable** |", "| Deployment | deployments | 2 | 1 | 1 | 50.0% | 3 (2) | 1 | Union / LastWriter | Majority |", "| web/api | Healthy | Healthy | Unreachable |", "| web/api | `spec.replicas` | not set by git | east=`3`, west=`1` | east wins (LastWriter) |"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README lacks %q:\n%s", want, readme)
		}
	}
	if !strings.HasPrefix(string(a["reports/root:production/web/status.yaml"]), "aggregatedResources:") || !strings.Contains(string(a["reports/root:production/web/status.yaml"]), "formatVersion: \"1\"") {
		t.Errorf("status.yaml:\n%s", a["reports/root:production/web/status.yaml"])
	}
	dir := t.TempDir()
	changed, err := Write(dir, a)
	if err != nil || len(changed) != 4 {
		t.Fatalf("first write: %v %v", changed, err)
	}
	if changed, err := Write(dir, b); err != nil || len(changed) != 0 {
		t.Fatalf("second write of the same files changed %v (%v)", changed, err)
	}
	if _, err := Write(dir, map[string][]byte{"../escape": nil}); err == nil {
		t.Fatal("a path out of the repo must be refused")
	}
}

var sig = &object.Signature{Name: "seed", Email: "seed@example.com", When: time.Unix(1700000000, 0)}

// bareRemote makes a bare repo with one commit on main and returns its path.
func bareRemote(t *testing.T) string {
	t.Helper()
	bare := filepath.Join(t.TempDir(), "remote.git")
	if _, err := git.PlainInitWithOptions(bare, &git.PlainInitOptions{Bare: true, InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}}); err != nil {
		t.Fatal(err)
	}
	seed := t.TempDir()
	repo, err := git.PlainInitWithOptions(seed, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seed, "README.md"), []byte("policies\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	if _, err := wt.Add("README.md"); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Commit("seed", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{bare}}); err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(&git.PushOptions{RemoteName: "origin"}); err != nil {
		t.Fatal(err)
	}
	return bare
}

func clone(t *testing.T, url string, auth *http.BasicAuth) string {
	t.Helper()
	dir := t.TempDir()
	opts := &git.CloneOptions{URL: url}
	if auth != nil {
		opts.Auth = auth
	}
	if _, err := git.PlainClone(dir, false, opts); err != nil {
		t.Fatal(err)
	}
	return dir
}

// remoteLog returns the commit subjects on the remote's main, newest first.
func remoteLog(t *testing.T, url string, auth *http.BasicAuth) []string {
	t.Helper()
	dir := clone(t, url, auth)
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	iter, err := repo.Log(&git.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	_ = iter.ForEach(func(c *object.Commit) error {
		out = append(out, strings.SplitN(c.Message, "\n", 2)[0])
		return nil
	})
	return out
}

func testCommitAndPush(t *testing.T, url string, auth *http.BasicAuth, seedMsg string) {
	ctx := context.Background()
	opts := func(msg string) CommitOptions {
		o := CommitOptions{AuthorName: "tmc", AuthorEmail: "tmc@example.com", Message: msg, Push: true, Backoff: 10 * time.Millisecond}
		if auth != nil {
			o.Auth = auth
		}
		return o
	}
	a := clone(t, url, auth)
	files, err := Files("reports", []*aggregate.WorkspaceView{view("web", 1)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Commit(ctx, a, files, opts("reports 1"))
	if err != nil || res.Commit == "" || !res.Pushed {
		t.Fatalf("first commit: %+v %v", res, err)
	}
	// Nothing changed: no commit.
	res, err = Commit(ctx, a, files, opts("reports 2"))
	if err != nil || res.Commit != "" {
		t.Fatalf("unchanged reports made a commit: %+v %v", res, err)
	}
	if diff := cmp.Diff([]string{"reports 1", seedMsg}, remoteLog(t, url, auth)); diff != "" {
		t.Fatalf("remote log (-want +got):\n%s", diff)
	}
	// Two writers push to the same branch at once: both land.
	b, c := clone(t, url, auth), clone(t, url, auth)
	fb, _ := Files("reports", []*aggregate.WorkspaceView{view("web", 2)})
	fc, _ := Files("reports", []*aggregate.WorkspaceView{view("api", 0)})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	results := make([]CommitResult, 2)
	for i, w := range []struct {
		dir   string
		files map[string][]byte
		msg   string
	}{{b, fb, "writer b"}, {c, fc, "writer c"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Commit(ctx, w.dir, w.files, opts(w.msg))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if results[0].Rebased+results[1].Rebased == 0 {
		t.Log("neither writer was rejected this time; the race did not happen")
	}
	log := remoteLog(t, url, auth)
	if len(log) != 4 || !strings.Contains(strings.Join(log, ","), "writer b") || !strings.Contains(strings.Join(log, ","), "writer c") {
		t.Fatalf("remote log %v: want both writers' commits on top of reports 1 and seed", log)
	}
	final := clone(t, url, auth)
	for _, f := range []string{"reports/root:production/web/status.yaml", "reports/root:production/api/status.yaml"} {
		if _, err := os.Stat(filepath.Join(final, f)); err != nil {
			t.Errorf("remote lacks %s: %v", f, err)
		}
	}
}

func TestCommitAndPushLocalBareRepo(t *testing.T) {
	testCommitAndPush(t, bareRemote(t), nil, "seed")
}

func TestCommitAndPushHTTP(t *testing.T) {
	url, auth, fixture := httpRemote(t)
	testCommitAndPush(t, url, auth, "Fixtures from "+fixture)
}

// httpRemote is a repo with a README on a gittestserver over HTTP with
// basic auth; the server stops with the test. It returns the repo's URL,
// the credentials and the fixture directory it was made from.
func httpRemote(t *testing.T) (string, *http.BasicAuth, string) {
	t.Helper()
	srv, err := gittestserver.NewTempGitServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(srv.Root()) })
	srv.Auth("tmc", "s3cret")
	srv.AutoCreate()
	if err := srv.StartHTTP(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.StopHTTP)
	fixture := t.TempDir()
	if err := os.WriteFile(filepath.Join(fixture, "README.md"), []byte("policies\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.InitRepo(fixture, "main", "org/policies.git"); err != nil {
		t.Fatal(err)
	}
	return srv.HTTPAddress() + "/org/policies.git", &http.BasicAuth{Username: "tmc", Password: "s3cret"}, fixture
}

// TestPushRaceIsHandled forces the rejection: a writer whose clone is behind must rebase.
func TestPushRaceIsHandled(t *testing.T) {
	ctx := context.Background()
	url := bareRemote(t)
	behind := clone(t, url, nil)
	ahead := clone(t, url, nil)
	f1, _ := Files("reports", []*aggregate.WorkspaceView{view("api", 1)})
	if _, err := Commit(ctx, ahead, f1, CommitOptions{Message: "ahead", Push: true}); err != nil {
		t.Fatal(err)
	}
	f2, _ := Files("reports", []*aggregate.WorkspaceView{view("web", 1)})
	res, err := Commit(ctx, behind, f2, CommitOptions{Message: "behind", Push: true, Backoff: time.Millisecond})
	if err != nil || res.Rebased != 1 || !res.Pushed {
		t.Fatalf("%+v %v", res, err)
	}
	if diff := cmp.Diff([]string{"behind", "ahead", "seed"}, remoteLog(t, url, nil)); diff != "" {
		t.Errorf("remote log (-want +got):\n%s", diff)
	}
	// A worktree with other uncommitted changes is never reset.
	dirty := clone(t, url, nil)
	stale := clone(t, url, nil)
	f3, _ := Files("reports", []*aggregate.WorkspaceView{view("x", 1)})
	if _, err := Commit(ctx, stale, f3, CommitOptions{Message: "stale first", Push: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirty, "README.md"), []byte("local edit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f4, _ := Files("reports", []*aggregate.WorkspaceView{view("y", 1)})
	_, err = Commit(ctx, dirty, f4, CommitOptions{Message: "dirty", Push: true, Backoff: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "uncommitted changes") {
		t.Fatalf("want a refusal to reset a dirty worktree, got %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dirty, "README.md")); string(b) != "local edit\n" {
		t.Error("the local edit was lost")
	}
}

// TestReportConflictsApartFromPolicyVariation: the README lists the
// divergent field (naming the cluster and its writer) under Conflicts,
// first, and the per-cluster values a policy set under "Varies by policy".
func TestReportConflictsApartFromPolicyVariation(t *testing.T) {
	v := view("web", 1)
	r := &v.AggregatedResources[0].Resources[0]
	r.Conflicts = []aggregate.Conflict{{Field: "spec.template.spec.containers[name=web].image", Class: aggregate.Divergent, Values: map[string]any{"east": "nginx:hacked", "west": "nginx:1.27"},
		Resolution: "LastWriter", Winner: "east", Divergent: []aggregate.Divergence{{Cluster: "east", Desired: "nginx:1.27", Manager: "kubectl-edit", WrittenAt: "2026-12-01T11:00:00Z"}}}}
	r.Variations = []aggregate.Variation{{Field: "spec.template.spec.containers[name=web].resources.limits.memory", Source: "256Mi", HasSource: true,
		Values: map[string]any{"east": "256Mi", "west": "128Mi"}, By: []aggregate.VariedBy{{Policy: "edge-tuning", Transformation: 1, Type: "Set", Clusters: []string{"west"}}}}}
	files, err := Files("reports", []*aggregate.WorkspaceView{v})
	if err != nil {
		t.Fatal(err)
	}
	readme := string(files["reports/root:production/web/README.md"])
	conflict := "| web/api | `spec.template.spec.containers[name=web].image` | **divergent** | **east** holds `nginx:hacked`, git means `nginx:1.27` (written by kubectl-edit at 2026-12-01T11\\:00\\:00Z) | east wins (LastWriter) |"
	varied := "| web/api | `spec.template.spec.containers[name=web].resources.limits.memory` | `256Mi` | east=`256Mi`, west=`128Mi` | edge-tuning transformations[1] (Set) on west |"
	ci, vi := strings.Index(readme, "### Conflicts"), strings.Index(readme, "### Varies by policy")
	if ci < 0 || vi < ci || !strings.Contains(readme[ci:vi], conflict) || !strings.Contains(readme[vi:], varied) {
		t.Errorf("README must list the divergence under Conflicts, then the variation under Varies by policy:\n%s", readme)
	}
	if !strings.Contains(string(files["reports/root:production/web/status.yaml"]), "class: Divergent") {
		t.Errorf("status.yaml lacks the class:\n%s", files["reports/root:production/web/status.yaml"])
	}
}

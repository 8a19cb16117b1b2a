package report

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/aggregate"
)

// TestPublishBelowTheRepoRoot: with the policy tree in a subfolder of the
// work tree, the paths written are the paths committed (git status stays
// clean); a workspace that is gone loses its report folder in the next
// commit; a view whose every cluster is unreachable keeps the last report,
// marked stale, and an unchanged outage makes no new commit.
func TestPublishBelowTheRepoRoot(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	repo, err := git.PlainInit(root, false)
	if err != nil {
		t.Fatal(err)
	}
	policyRoot := filepath.Join(root, "clusters", "policies")
	if err := os.MkdirAll(policyRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(policyRoot, "keep.yaml"), []byte("a: 1\n"), 0o644)
	wt, _ := repo.Worktree()
	_, _ = wt.Add("clusters/policies/keep.yaml")
	sig := &object.Signature{Name: "t", Email: "t@t", When: time.Now()}
	if _, err := wt.Commit("init", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
	opts := PublishOptions{PolicyRoot: policyRoot, ReportsPath: "reports", Prune: true, Commit: true,
		CommitOptions: CommitOptions{AuthorName: "tmc", AuthorEmail: "tmc@localhost", Message: "reports"},
		Now:           time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	clean := func() {
		t.Helper()
		st, err := wt.Status()
		if err != nil || !st.IsClean() {
			t.Fatalf("git status after publishing: %v\n%s", err, st)
		}
	}
	committed := func() []string {
		t.Helper()
		head, _ := repo.Head()
		c, _ := repo.CommitObject(head.Hash())
		tree, _ := c.Tree()
		var out []string
		_ = tree.Files().ForEach(func(f *object.File) error { out = append(out, f.Name); return nil })
		return out
	}
	web, api := view("web", 1), view("api", 2)
	web.TargetClusters[1].Reachable = true
	res, err := Publish(ctx, []*aggregate.WorkspaceView{web, api}, opts)
	if err != nil {
		t.Fatal(err)
	}
	clean()
	want := "clusters/policies/reports/root:production/web/status.yaml"
	if _, ok := res.Files[want]; !ok || !slices.Contains(committed(), want) || res.Commit == "" {
		t.Fatalf("files %v, committed %v", res.Files, committed())
	}

	// api is gone: its folder goes in the same commit as the other changes.
	res, err = Publish(ctx, []*aggregate.WorkspaceView{view("web", 2)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	clean()
	if slices.ContainsFunc(committed(), func(f string) bool { return strings.Contains(f, "/api/") }) || len(res.Removed) != 2 {
		t.Fatalf("removed %v, committed %v", res.Removed, committed())
	}
	if _, err := os.Stat(filepath.Join(policyRoot, "reports", "root:production", "api")); !os.IsNotExist(err) {
		t.Errorf("the api report folder is still on disk: %v", err)
	}

	// Every cluster cut: the last good report stays, marked stale.
	cut := view("web", 0)
	for i := range cut.TargetClusters {
		cut.TargetClusters[i].Reachable, cut.TargetClusters[i].Healthy = false, false
	}
	cut.AggregatedResources[0].TotalCount, cut.AggregatedResources[0].Resources = 0, nil
	res, err = Publish(ctx, []*aggregate.WorkspaceView{cut}, opts)
	if err != nil {
		t.Fatal(err)
	}
	clean()
	data, _ := os.ReadFile(filepath.Join(policyRoot, "reports", "root:production", "web", "status.yaml"))
	if !strings.Contains(string(data), "staleSince: \"2026-11-27T12:00:00Z\"") || !strings.Contains(string(data), "totalCount: 2") || !strings.Contains(string(data), "name: api") {
		t.Fatalf("status.yaml after every cluster was cut:\n%s", data)
	}
	opts.Now = opts.Now.Add(time.Hour)
	res, err = Publish(ctx, []*aggregate.WorkspaceView{cut}, opts)
	if err != nil || res.Commit != "" {
		t.Fatalf("an unchanged outage made commit %q (%v)", res.Commit, err)
	}
}

// TestCarryStaleOneCluster: an unreachable cluster's instances keep their last reading.
func TestCarryStaleOneCluster(t *testing.T) {
	prev := view("web", 2)
	prev.AggregatedResources[0].Resources[0].Clusters[1] = aggregate.Origin{Cluster: "west", Health: "Healthy", LastChanged: "2026-11-26T10:00:00Z"}
	cur := view("web", 1)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	CarryStale(prev, cur, now)
	got := cur.AggregatedResources[0].Resources[0].Clusters[1]
	want := aggregate.Origin{Cluster: "west", Health: "Healthy", LastChanged: "2026-11-26T10:00:00Z", StaleSince: "2026-11-27T12:00:00Z"}
	if !cmp.Equal(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if cur.StaleSince != "" {
		t.Error("one cluster of two cut: the view itself is not stale")
	}
}

// TestPublishRefusesSymlinksOut: a report folder the repo plants as a
// symlink out of the repo is never written through, committing or not.
func TestPublishRefusesSymlinksOut(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	for _, commit := range []bool{false, true} {
		root := t.TempDir()
		if _, err := git.PlainInit(root, false); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "reports", "root:production"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(root, "reports", "root:production", "web")); err != nil {
			t.Fatal(err)
		}
		_, err := Publish(ctx, []*aggregate.WorkspaceView{view("web", 1)}, PublishOptions{PolicyRoot: root, ReportsPath: "reports", Commit: commit,
			CommitOptions: CommitOptions{AuthorName: "tmc", AuthorEmail: "tmc@localhost", Message: "reports"}})
		if err == nil || !strings.Contains(err.Error(), "leaves the repo through a symlink") {
			t.Errorf("commit=%v: error %v", commit, err)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Fatalf("commit=%v: wrote outside the repo: %v", commit, entries)
		}
	}
}

// TestPublishConfinedToTheRepo: the reports folder itself planted as a
// symlink out of the repo, or reports.path into .git, is refused and nothing
// is written outside; a relative policy directory commits (tmc aggregate .
// --commit).
func TestPublishConfinedToTheRepo(t *testing.T) {
	ctx := context.Background()
	co := CommitOptions{AuthorName: "tmc", AuthorEmail: "tmc@localhost", Message: "reports"}
	for _, commit := range []bool{false, true} {
		outside := t.TempDir()
		root := t.TempDir()
		if _, err := git.PlainInit(root, false); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(root, "reports")); err != nil {
			t.Fatal(err)
		}
		_, err := Publish(ctx, []*aggregate.WorkspaceView{view("web", 1)}, PublishOptions{PolicyRoot: root, ReportsPath: "reports", Commit: commit, CommitOptions: co})
		if err == nil || !strings.Contains(err.Error(), "leaves the repo through a symlink") {
			t.Errorf("commit=%v: error %v", commit, err)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Fatalf("commit=%v: wrote outside the repo: %v", commit, entries)
		}
		for _, p := range []string{".git", ".git/refs/heads", "a/../.git"} {
			_, err = Publish(ctx, []*aggregate.WorkspaceView{view("web", 1)}, PublishOptions{PolicyRoot: root, ReportsPath: p, Commit: commit, CommitOptions: co})
			if err == nil || !strings.Contains(err.Error(), "enters .git") {
				t.Errorf("commit=%v reports.path %s: error %v", commit, p, err)
			}
		}
		if _, err := os.Stat(filepath.Join(root, ".git", "refs", "heads", "root:production")); err == nil {
			t.Fatalf("commit=%v: wrote into .git", commit)
		}
	}
	root := t.TempDir()
	if _, err := git.PlainInit(root, false); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	res, err := Publish(ctx, []*aggregate.WorkspaceView{view("web", 1)}, PublishOptions{PolicyRoot: ".", ReportsPath: "reports", Commit: true, CommitOptions: co})
	if err != nil || res.Commit == "" {
		t.Fatalf("relative policy root: %+v, %v", res, err)
	}
}

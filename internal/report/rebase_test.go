package report

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/aggregate"
)

// TestPushRaceKeepsTheOtherCommit: a report push that lost a race is
// re-applied on the commit that won it, which keeps that commit's tree
// whole (its new and removed files) under the reports.
func TestPushRaceKeepsTheOtherCommit(t *testing.T) {
	t.Run("bare repo", func(t *testing.T) { pushRaceKeepsTheOtherCommit(t, bareRemote(t), nil) })
	t.Run("http", func(t *testing.T) {
		url, auth, _ := httpRemote(t)
		pushRaceKeepsTheOtherCommit(t, url, auth)
	})
}

func pushRaceKeepsTheOtherCommit(t *testing.T, url string, auth *http.BasicAuth) {
	ctx := context.Background()
	seed := clone(t, url, auth)
	for _, f := range []string{"workspaces/web-app.yaml", "apps/web-app/a.yaml", "policies/p.yaml"} {
		p := filepath.Join(seed, f)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte("x: "+f+"\n"), 0o644)
	}
	push := func(dir, msg string) {
		repo, _ := git.PlainOpen(dir)
		wt, _ := repo.Worktree()
		_ = wt.AddWithOptions(&git.AddOptions{All: true})
		if _, err := wt.Commit(msg, &git.CommitOptions{All: true, Author: &object.Signature{Name: "d", Email: "d@x", When: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		if err := repo.Push(&git.PushOptions{Auth: authMethod(auth)}); err != nil {
			t.Fatal(err)
		}
	}
	push(seed, "tree")
	syncer := clone(t, url, auth)
	// the syncer commits reports once (pushed)
	f1, _ := Files("reports", []*aggregate.WorkspaceView{view("web-app", 1)})
	if _, err := Commit(ctx, syncer, f1, CommitOptions{Message: "r1", Push: true, Auth: authMethod(auth)}); err != nil {
		t.Fatal(err)
	}
	// someone removes a file and adds another
	other := clone(t, url, auth)
	_ = os.Remove(filepath.Join(other, "policies/p.yaml"))
	_ = os.WriteFile(filepath.Join(other, "apps/web-app/extra.yaml"), []byte("x: 1\n"), 0o644)
	push(other, "extra")
	f2, _ := Files("reports", []*aggregate.WorkspaceView{view("web-app", 2)})
	res, err := Commit(ctx, syncer, f2, CommitOptions{Message: "r2", Push: true, Backoff: time.Millisecond, Auth: authMethod(auth)})
	if err != nil || res.Rebased != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	final := clone(t, url, auth)
	for _, f := range []string{"workspaces/web-app.yaml", "apps/web-app/a.yaml", "apps/web-app/extra.yaml"} {
		if _, err := os.Stat(filepath.Join(final, f)); err != nil {
			t.Errorf("remote lacks %s", f)
		}
	}
	if _, err := os.Stat(filepath.Join(final, "policies/p.yaml")); err == nil {
		t.Errorf("remote holds the removed policies/p.yaml")
	}
	if diff := cmp.Diff([]string{"r2", "extra", "r1", "tree"}, remoteLog(t, url, auth)[:4]); diff != "" {
		t.Errorf("remote log (-want +got):\n%s", diff)
	}
}

func authMethod(a *http.BasicAuth) transport.AuthMethod {
	if a == nil {
		return nil
	}
	return a
}

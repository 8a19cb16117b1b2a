package syncer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/kcp-dev/tmc/internal/report"
)

// TestSyncReportRebaseKeepsTheWorkTree: the syncer's report commit lost a
// push race (a commit landed meanwhile), was rebased onto it through the
// report package's own Repository and pushed; the next fetch must see
// that commit whole. A Repository kept open across the rebase did not
// see the objects it fetched and emptied the work tree, so every later
// revision loaded with no workspace and no cluster (TestSync flaked on
// it, one run in ten).
func TestSyncReportRebaseKeepsTheWorkTree(t *testing.T) {
	ctx := context.Background()
	bare := filepath.Join(t.TempDir(), "remote.git")
	if _, err := git.PlainInitWithOptions(bare, &git.PlainInitOptions{Bare: true, InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}}); err != nil {
		t.Fatal(err)
	}
	dev := t.TempDir()
	devRepo, err := git.PlainInitWithOptions(dev, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = devRepo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{bare}})
	write := func(rel, data string) {
		p := filepath.Join(dev, rel)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte(data), 0o644)
	}
	commit := func(msg string) {
		wt, _ := devRepo.Worktree()
		_ = wt.AddWithOptions(&git.AddOptions{All: true})
		if _, err := wt.Commit(msg, &git.CommitOptions{All: true, Author: &object.Signature{Name: "d", Email: "d@x", When: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			err := devRepo.Push(&git.PushOptions{})
			if err == nil || err == git.NoErrAlreadyUpToDate {
				return
			}
			// pull
			wt, _ := devRepo.Worktree()
			if err := wt.Pull(&git.PullOptions{RemoteName: "origin"}); err != nil && err != git.NoErrAlreadyUpToDate {
				t.Logf("pull: %v", err)
			}
		}
		t.Fatal("push")
	}
	for _, f := range []string{"clusters.yaml", "workspaces/web-app.yaml", "policies/a.yaml", "apps/web-app/d.yaml", "config.yaml"} {
		write(f, "x: "+f+"\n")
	}
	commit("tree")
	src, err := newSource(ctx, bare, "main", filepath.Join(t.TempDir(), "repo"), GitAuth{})
	if err != nil {
		t.Fatal(err)
	}
	files := func() int {
		n := 0
		_ = filepath.WalkDir(src.dir, func(p string, d os.DirEntry, err error) error {
			if d != nil && d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			if d != nil && !d.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	pub := func(n int) report.CommitResult {
		res, err := report.Commit(ctx, src.dir, map[string][]byte{"reports/root/web-app/status.yaml": []byte("n: " + string(rune('0'+n)) + "\n")}, report.CommitOptions{Message: "reports", Push: true, Backoff: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	fetch := func() {
		if _, err := src.fetch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fetch()
	pub(1)
	// broken commit
	wt, _ := devRepo.Worktree()
	_ = wt.Pull(&git.PullOptions{RemoteName: "origin"})
	write("policies/broken.yaml", "broken\n")
	write("policies/a.yaml", "x: changed\n")
	commit("broken")
	fetch()
	pub(2)
	_ = wt.Pull(&git.PullOptions{RemoteName: "origin"})
	_ = os.Remove(filepath.Join(dev, "policies/broken.yaml"))
	commit("fix")
	fetch()
	_ = wt.Pull(&git.PullOptions{RemoteName: "origin"})
	write("apps/web-app/extra.yaml", "extra\n")
	commit("extra")
	if res := pub(3); res.Rebased != 1 {
		t.Fatalf("the third report push was not rebased: %+v", res)
	}
	fetch()
	if n := files(); n != 7 {
		t.Errorf("work tree holds %d files after the fetch, want the commit's 7", n)
	}
	for _, f := range []string{"clusters.yaml", "workspaces/web-app.yaml", "apps/web-app/extra.yaml", "reports/root/web-app/status.yaml"} {
		if _, err := os.Stat(filepath.Join(src.dir, f)); err != nil {
			t.Errorf("work tree lacks %s", f)
		}
	}
}

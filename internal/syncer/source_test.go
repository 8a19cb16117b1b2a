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
)

// commitFile writes a file into a work tree and commits it.
func commitFile(t *testing.T, repo *git.Repository, dir, name, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	if _, err := wt.Add(name); err != nil {
		t.Fatal(err)
	}
	h, err := wt.Commit("add "+name, &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// TestSourceSurvivesRestarts: a second start on the same workdir reuses the
// clone; a clone that a crash left corrupt, half-written or pointing
// elsewhere is replaced; leftovers that are in no commit are cleaned.
func TestSourceSurvivesRestarts(t *testing.T) {
	ctx := context.Background()
	upstreamDir := t.TempDir()
	upstream, err := git.PlainInit(upstreamDir, false)
	if err != nil {
		t.Fatal(err)
	}
	rev1 := commitFile(t, upstream, upstreamDir, "a.yaml", "a: 1\n")
	head, _ := upstream.Head()
	branch := head.Name().Short()
	work := filepath.Join(t.TempDir(), "repo")

	start := func(wantRev string) *source {
		t.Helper()
		s, err := newSource(ctx, upstreamDir, branch, work, GitAuth{})
		if err != nil {
			t.Fatal(err)
		}
		rev, err := s.fetch(ctx)
		if err != nil || rev != wantRev {
			t.Fatalf("fetch: %s %v, want %s", rev, err, wantRev)
		}
		return s
	}
	start(rev1)
	marker := filepath.Join(work, ".git", "tmc-marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A crash left a half-written report in the work tree.
	if err := os.MkdirAll(filepath.Join(work, "reports"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(work, "reports", "half.yaml"), []byte("x"), 0o644)
	rev2 := commitFile(t, upstream, upstreamDir, "b.yaml", "b: 2\n")
	start(rev2)
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the clone was not reused on restart")
	}
	if _, err := os.Stat(filepath.Join(work, "reports", "half.yaml")); !os.IsNotExist(err) {
		t.Errorf("a file in no commit survived the fetch: %v", err)
	}

	// Corrupt clones are replaced by a fresh one.
	for name, corrupt := range map[string]func(){
		"HEAD garbage":    func() { _ = os.WriteFile(filepath.Join(work, ".git", "HEAD"), []byte("garbage"), 0o644) },
		"no .git":         func() { _ = os.RemoveAll(filepath.Join(work, ".git")) },
		"objects removed": func() { _ = os.RemoveAll(filepath.Join(work, ".git", "objects")) },
		"another remote": func() {
			r, _ := git.PlainOpen(work)
			_ = r.DeleteRemote("origin")
			_, _ = r.CreateRemote(remoteConfig("/elsewhere"))
		},
		"a file, not a dir": func() { _ = os.RemoveAll(work); _ = os.WriteFile(work, []byte("x"), 0o644) },
	} {
		t.Run(name, func(t *testing.T) {
			start(rev2)
			corrupt()
			start(rev2)
		})
	}
}

func remoteConfig(url string) *config.RemoteConfig {
	return &config.RemoteConfig{Name: "origin", URLs: []string{url}}
}

// TestSourceRestoresADamagedWorkTree: files of the commit that went missing
// or changed in the work tree behind the index's back are never loaded as
// the revision: fetch's hard reset puts the commit's files back, so the
// next load reads them.
func TestSourceRestoresADamagedWorkTree(t *testing.T) {
	ctx := context.Background()
	upstreamDir := t.TempDir()
	upstream, err := git.PlainInit(upstreamDir, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(upstreamDir, "workspaces"), 0o755); err != nil {
		t.Fatal(err)
	}
	commitFile(t, upstream, upstreamDir, "workspaces/web.yaml", "kind: VirtualWorkspace\n")
	rev := commitFile(t, upstream, upstreamDir, "clusters.yaml", "kind: Cluster\n")
	head, _ := upstream.Head()
	work := filepath.Join(t.TempDir(), "repo")
	s, err := newSource(ctx, upstreamDir, head.Name().Short(), work, GitAuth{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.fetch(ctx); err != nil || got != rev {
		t.Fatalf("fetch: %s %v", got, err)
	}
	for name, damage := range map[string]func(string) error{
		"a file deleted": os.Remove,
		"a file changed": func(p string) error { return os.WriteFile(p, []byte("kind: Tampered\n"), 0o644) },
		"every file gone": func(string) error {
			for _, f := range []string{"workspaces/web.yaml", "clusters.yaml"} {
				if err := os.Remove(filepath.Join(work, f)); err != nil {
					return err
				}
			}
			return os.Remove(filepath.Join(work, "workspaces"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			if err := damage(filepath.Join(work, "workspaces/web.yaml")); err != nil {
				t.Fatal(err)
			}
			if got, err := s.fetch(ctx); err != nil || got != rev {
				t.Fatalf("fetch: %s %v", got, err)
			}
			for f, want := range map[string]string{"workspaces/web.yaml": "kind: VirtualWorkspace\n", "clusters.yaml": "kind: Cluster\n"} {
				if b, err := os.ReadFile(filepath.Join(work, f)); err != nil || string(b) != want {
					t.Errorf("%s after fetch: %q %v, want the commit's", f, b, err)
				}
			}
		})
	}
}

package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// GitAuth says how to authenticate to the git remote.
type GitAuth struct {
	// Username and Password (or a token as the password) for https.
	Username, Password string
	// SSHKeyFile is a private key for ssh; SSHKnownHostsFile checks the server's key.
	SSHKeyFile, SSHKnownHostsFile string
}

// AuthFromEnvAndFiles reads credentials: a value of the form @FILE is read from FILE.
// TMC_GIT_USERNAME, TMC_GIT_PASSWORD and TMC_GIT_TOKEN fill what flags left empty.
func AuthFromEnvAndFiles(a GitAuth) (GitAuth, error) {
	if a.Username == "" {
		a.Username = os.Getenv("TMC_GIT_USERNAME")
	}
	if a.Password == "" {
		a.Password = os.Getenv("TMC_GIT_PASSWORD")
	}
	if a.Password == "" {
		a.Password = os.Getenv("TMC_GIT_TOKEN")
	}
	for _, v := range []*string{&a.Username, &a.Password} {
		if strings.HasPrefix(*v, "@") {
			b, err := os.ReadFile((*v)[1:])
			if err != nil {
				return a, err
			}
			*v = strings.TrimSpace(string(b))
		}
	}
	if a.Password != "" && a.Username == "" {
		a.Username = "git" // a token: most servers ignore the user name
	}
	return a, nil
}

func (a GitAuth) method(url string) (transport.AuthMethod, error) {
	switch {
	case a.SSHKeyFile != "":
		keys, err := gitssh.NewPublicKeysFromFile("git", a.SSHKeyFile, "")
		if err != nil {
			return nil, fmt.Errorf("ssh key %s: %w", a.SSHKeyFile, err)
		}
		if a.SSHKnownHostsFile == "" {
			return nil, errors.New("ssh needs a known_hosts file (--ssh-known-hosts) to check the server")
		}
		cb, err := knownhosts.New(a.SSHKnownHostsFile)
		if err != nil {
			return nil, fmt.Errorf("known_hosts %s: %w", a.SSHKnownHostsFile, err)
		}
		keys.HostKeyCallback = cb
		return keys, nil
	case a.Password != "" && (strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")):
		return &http.BasicAuth{Username: a.Username, Password: a.Password}, nil
	}
	return nil, nil
}

// source is the syncer's own clone of the repo.
type source struct {
	url, branch, dir string
	auth             transport.AuthMethod
	repo             *git.Repository
	// keptOn is the remote head a local, unpushed report commit sits on:
	// while the remote stays there, fetch keeps the commit and returns keptOn.
	keptOn string
}

func newSource(ctx context.Context, url, branch, dir string, a GitAuth) (*source, error) {
	if st, err := os.Stat(url); err == nil && st.IsDir() {
		abs, err := filepath.Abs(url)
		if err != nil {
			return nil, err
		}
		url = abs
	}
	auth, err := a.method(url)
	if err != nil {
		return nil, err
	}
	s := &source{url: url, branch: branch, dir: dir, auth: auth}
	repo, err := s.reuse()
	if err != nil {
		// Nothing to reuse, or a clone that is corrupt, half-written or of
		// another repo or branch: start over. The workdir may survive
		// restarts (an emptyDir does); nothing in it is precious.
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("clear %s: %w", dir, err)
		}
		repo, err = s.clone(ctx)
		if err != nil {
			_ = os.RemoveAll(dir) // never leave a half-written clone behind
			return nil, err
		}
	}
	s.repo = repo
	if s.branch == "" {
		head, err := repo.Head()
		if err != nil {
			return nil, err
		}
		s.branch = head.Name().Short()
	}
	return s, nil
}

// reuse opens an existing clone of the same remote (and branch, when one
// is asked for). fetch then brings it to the remote head and cleans it.
func (s *source) reuse() (*git.Repository, error) {
	if _, err := os.Stat(s.dir); err != nil {
		return nil, err
	}
	repo, err := git.PlainOpen(s.dir)
	if err != nil {
		return nil, err
	}
	remote, err := repo.Remote("origin")
	if err != nil {
		return nil, err
	}
	if urls := remote.Config().URLs; len(urls) == 0 || urls[0] != s.url {
		return nil, fmt.Errorf("clone of %v, not %s", urls, s.url)
	}
	head, err := repo.Head()
	if err != nil {
		return nil, err
	}
	if s.branch != "" && head.Name().Short() != s.branch {
		return nil, fmt.Errorf("clone of branch %s, not %s", head.Name().Short(), s.branch)
	}
	if _, err := repo.Worktree(); err != nil {
		return nil, err
	}
	// A clone whose objects are damaged fails here or at the first fetch.
	if _, err := repo.CommitObject(head.Hash()); err != nil {
		return nil, err
	}
	return repo, nil
}

func (s *source) clone(ctx context.Context) (*git.Repository, error) {
	opts := &git.CloneOptions{URL: s.url, Auth: s.auth}
	if s.branch != "" {
		opts.ReferenceName = plumbing.NewBranchReferenceName(s.branch)
		opts.SingleBranch = true
	}
	repo, err := git.PlainCloneContext(ctx, s.dir, false, opts)
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", s.url, err)
	}
	return repo, nil
}

// fetch brings the clone to the remote branch's head and returns its commit.
func (s *source) fetch(ctx context.Context) (string, error) {
	// Open the clone afresh: the report commit writes to it through a
	// Repository of its own (fetching and committing on a rebase), and
	// go-git caches what a Repository knows of the object store, so a
	// Repository kept across that write may not see the objects it wrote
	// — a hard reset then takes the work tree for changed and a clean
	// empties it.
	repo, err := git.PlainOpen(s.dir)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", s.dir, err)
	}
	s.repo = repo
	remoteRef := plumbing.NewRemoteReferenceName("origin", s.branch)
	err = s.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{config.RefSpec("+refs/heads/" + s.branch + ":" + remoteRef.String())},
		Auth:       s.auth,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return "", fmt.Errorf("fetch %s: %w", s.url, err)
	}
	ref, err := s.repo.Reference(remoteRef, true)
	if err != nil {
		return "", err
	}
	wt, err := s.repo.Worktree()
	if err != nil {
		return "", err
	}
	if ref.Hash().String() == s.keptOn && s.keptOn != "" {
		// The remote has not moved since tmc committed reports on top of
		// it without pushing: keep that commit (resetting would make the
		// next reconcile commit the same reports again).
		if err := wt.Clean(&git.CleanOptions{Dir: true}); err != nil {
			return "", fmt.Errorf("clean %s: %w", s.dir, err)
		}
		return s.keptOn, nil
	}
	s.keptOn = ""
	if err := wt.Reset(&git.ResetOptions{Commit: ref.Hash(), Mode: git.HardReset}); err != nil {
		return "", fmt.Errorf("check out %s: %w", ref.Hash(), err)
	}
	// Files a crash left half-written (reports) are not part of any commit.
	if err := wt.Clean(&git.CleanOptions{Dir: true}); err != nil {
		return "", fmt.Errorf("clean %s: %w", s.dir, err)
	}
	return ref.Hash().String(), nil
}

// head returns the commit checked out.
func (s *source) head() string {
	h, err := s.repo.Head()
	if err != nil {
		return ""
	}
	return h.Hash().String()
}

// checkoutInto writes the files of revision rev (a commit of the clone)
// into dir, which exists and is empty: the tree a rollout's Rollback
// renders the previous revision from. Nothing outside dir is written.
func (s *source) checkoutInto(rev, dir string) error {
	repo, err := git.PlainOpen(s.dir)
	if err != nil {
		return err
	}
	c, err := repo.CommitObject(plumbing.NewHash(rev))
	if err != nil {
		return fmt.Errorf("revision %s: %w", short(rev), err)
	}
	tree, err := c.Tree()
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return tree.Files().ForEach(func(f *object.File) error {
		if !filepath.IsLocal(f.Name) {
			return fmt.Errorf("revision %s holds a path that leaves the tree: %q", short(rev), f.Name)
		}
		if d := filepath.Dir(f.Name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if f.Mode == filemode.Symlink {
			target, err := f.Contents()
			if err != nil {
				return err
			}
			return root.Symlink(target, f.Name) // the loader confines where symlinks lead
		}
		r, err := f.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		w, err := root.Create(f.Name)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, r); err != nil {
			w.Close()
			return err
		}
		return w.Close()
	})
}

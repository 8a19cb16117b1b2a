package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
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
	opts := &git.CloneOptions{URL: url, Auth: auth}
	if branch != "" {
		opts.ReferenceName = plumbing.NewBranchReferenceName(branch)
		opts.SingleBranch = true
	}
	repo, err := git.PlainCloneContext(ctx, dir, false, opts)
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", url, err)
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

// fetch brings the clone to the remote branch's head and returns its commit.
func (s *source) fetch(ctx context.Context) (string, error) {
	remoteRef := plumbing.NewRemoteReferenceName("origin", s.branch)
	err := s.repo.FetchContext(ctx, &git.FetchOptions{
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
	if err := wt.Reset(&git.ResetOptions{Commit: ref.Hash(), Mode: git.HardReset}); err != nil {
		return "", fmt.Errorf("check out %s: %w", ref.Hash(), err)
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

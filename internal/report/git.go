package report

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// CommitOptions say how report files are committed and pushed.
type CommitOptions struct {
	// AuthorName and AuthorEmail sign the commit; empty reads user.name and
	// user.email from git config, then falls back to tmc <tmc@localhost>.
	AuthorName, AuthorEmail string
	// Message is the commit message.
	Message string
	// Push pushes the branch to Remote after committing.
	Push bool
	// Remote is the remote to push to (default origin).
	Remote string
	// Auth authenticates the push (nil for file and local remotes).
	Auth transport.AuthMethod
	// Attempts bounds the push retries after non-fast-forward rejections (default 5).
	Attempts int
	// Backoff is the first retry delay, doubled each retry (default 200ms).
	Backoff time.Duration
	// Remove are files (relative to the work tree root) removed in the same commit.
	Remove []string
}

// CommitResult says what Commit did.
type CommitResult struct {
	// Commit is the new commit, "" when nothing changed.
	Commit string
	// Pushed is true when the remote branch holds the commit.
	Pushed bool
	// Rebased counts the times the report files were re-applied on a newer remote head.
	Rebased int
}

// Commit writes the files into the repo holding dir, commits them if any
// changed, and pushes when asked; a rejected push fetches the remote, re-applies
// the files on its head and retries with backoff.
func Commit(ctx context.Context, dir string, files map[string][]byte, opts CommitOptions) (CommitResult, error) {
	var res CommitResult
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return res, fmt.Errorf("open git repo at %s: %w", dir, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return res, err
	}
	root := wt.Filesystem.Root()
	if opts.Remote == "" {
		opts.Remote = "origin"
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 200 * time.Millisecond
	}
	sig, err := signature(repo, opts)
	if err != nil {
		return res, err
	}
	hash, err := commitFiles(repo, wt, root, files, opts.Remove, opts.Message, sig)
	if err != nil {
		return res, err
	}
	res.Commit = hash
	if !opts.Push {
		return res, nil
	}
	head, err := repo.Head()
	if err != nil {
		return res, err
	}
	branch := head.Name()
	if !branch.IsBranch() {
		return res, fmt.Errorf("cannot push: HEAD is not a branch")
	}
	delay := opts.Backoff
	for attempt := 1; ; attempt++ {
		err := repo.PushContext(ctx, &git.PushOptions{
			RemoteName: opts.Remote,
			RefSpecs:   []config.RefSpec{config.RefSpec(branch.String() + ":" + branch.String())},
			Auth:       opts.Auth,
		})
		if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
			res.Pushed = true
			return res, nil
		}
		if !rejected(err) {
			// Some servers answer a push that lost a race with a malformed
			// report; what counts is whether the remote branch moved on.
			moved, landed := remoteMoved(ctx, repo, branch, opts)
			if landed {
				res.Pushed = true
				return res, nil
			}
			if !moved {
				return res, fmt.Errorf("push %s to %s: %w", branch.Short(), opts.Remote, err)
			}
		}
		if attempt >= opts.Attempts {
			return res, fmt.Errorf("push %s to %s (attempt %d of %d): %w", branch.Short(), opts.Remote, attempt, opts.Attempts, err)
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(delay + time.Duration(rand.Int64N(int64(delay)))):
		}
		delay *= 2
		if res.Commit, err = rebase(ctx, repo, wt, root, branch, files, opts, sig); err != nil {
			return res, err
		}
		res.Rebased++
	}
}

// rejected reports whether a push failed because the remote moved on.
func rejected(err error) bool {
	if errors.Is(err, git.ErrNonFastForwardUpdate) {
		return true
	}
	s := err.Error()
	// A concurrent push to the same ref can also fail the remote's ref update
	// (go-git's file transport says "failed to update ref"); retrying on the
	// new head is right for both.
	for _, m := range []string{"non-fast-forward", "fetch first", "rejected", "failed to update ref", "reference has changed concurrently"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// remoteMoved fetches the remote branch and tells whether it moved past
// what this repo holds (moved), or already holds this repo's HEAD (landed).
func remoteMoved(ctx context.Context, repo *git.Repository, branch plumbing.ReferenceName, opts CommitOptions) (moved, landed bool) {
	remoteRef := plumbing.NewRemoteReferenceName(opts.Remote, branch.Short())
	before, _ := repo.Reference(remoteRef, true)
	if err := fetchBranch(ctx, repo, branch, opts); err != nil {
		return false, false
	}
	after, err := repo.Reference(remoteRef, true)
	if err != nil {
		return false, false
	}
	head, err := repo.Head()
	if err == nil && after.Hash() == head.Hash() {
		return false, true
	}
	return before == nil || before.Hash() != after.Hash(), false
}

// fetchBranch updates the remote-tracking ref of branch from opts.Remote.
func fetchBranch(ctx context.Context, repo *git.Repository, branch plumbing.ReferenceName, opts CommitOptions) error {
	remoteRef := plumbing.NewRemoteReferenceName(opts.Remote, branch.Short())
	err := repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: opts.Remote,
		RefSpecs:   []config.RefSpec{config.RefSpec("+" + branch.String() + ":" + remoteRef.String())},
		Auth:       opts.Auth,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("fetch %s: %w", opts.Remote, err)
	}
	return nil
}

// rebase fetches the remote branch, resets to it and re-applies the report
// files. It refuses when the worktree holds other uncommitted changes.
func rebase(ctx context.Context, repo *git.Repository, wt *git.Worktree, root string, branch plumbing.ReferenceName, files map[string][]byte, opts CommitOptions, sig *object.Signature) (string, error) {
	st, err := wt.Status()
	if err != nil {
		return "", err
	}
	if !st.IsClean() {
		return "", fmt.Errorf("push rejected and the worktree has uncommitted changes; tmc will not reset it: pull and run again")
	}
	remoteRef := plumbing.NewRemoteReferenceName(opts.Remote, branch.Short())
	if err := fetchBranch(ctx, repo, branch, opts); err != nil {
		return "", err
	}
	ref, err := repo.Reference(remoteRef, true)
	if err != nil {
		return "", err
	}
	if err := wt.Reset(&git.ResetOptions{Commit: ref.Hash(), Mode: git.HardReset}); err != nil {
		return "", fmt.Errorf("reset to %s: %w", remoteRef.Short(), err)
	}
	return commitFiles(repo, wt, root, files, opts.Remove, opts.Message, sig)
}

// commitFiles writes and stages the files, and commits when the index changed.
func commitFiles(repo *git.Repository, wt *git.Worktree, root string, files map[string][]byte, remove []string, msg string, sig *object.Signature) (string, error) {
	for _, rel := range remove {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			continue
		}
		if _, err := wt.Remove(rel); err != nil {
			// Never committed: just delete it.
			if err := os.Remove(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
				return "", fmt.Errorf("git rm %s: %w", rel, err)
			}
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		if err := writeConfined(root, rel, files[rel]); err != nil {
			return "", err
		}
		if _, err := wt.Add(rel); err != nil {
			return "", fmt.Errorf("git add %s: %w", rel, err)
		}
	}
	st, err := wt.Status()
	if err != nil {
		return "", err
	}
	staged := false
	for _, rel := range append(slices.Sorted(maps.Keys(files)), remove...) {
		if s := st.File(rel); s.Staging != git.Unmodified && s.Staging != git.Untracked {
			staged = true
		}
	}
	if !staged {
		return "", nil
	}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

func signature(repo *git.Repository, opts CommitOptions) (*object.Signature, error) {
	name, email := opts.AuthorName, opts.AuthorEmail
	if name == "" || email == "" {
		if cfg, err := repo.ConfigScoped(config.GlobalScope); err == nil {
			if name == "" {
				name = cfg.User.Name
			}
			if email == "" {
				email = cfg.User.Email
			}
		}
	}
	if name == "" {
		name = "tmc"
	}
	if email == "" {
		email = "tmc@localhost"
	}
	return &object.Signature{Name: name, Email: email, When: time.Now()}, nil
}

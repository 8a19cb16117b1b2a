package report

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/internal/aggregate"
)

// PublishOptions say where reports go and whether they are committed.
type PublishOptions struct {
	// PolicyRoot is the directory of the policy tree (it may lie below the
	// root of its git work tree).
	PolicyRoot string
	// ReportsPath is the Config's reports.path, relative to PolicyRoot.
	ReportsPath string
	// Prune removes the report folders of workspaces not among the views;
	// set it only when every workspace was aggregated.
	Prune bool
	// Keep are workspaces (logicalCluster/name) whose reports Prune leaves
	// alone though they are not among the views: those another replica of a
	// sharded syncer owns and reports.
	Keep map[string]bool
	// Commit commits the changes (and pushes them when CommitOptions.Push).
	Commit bool
	// CommitOptions are used when Commit is set.
	CommitOptions CommitOptions
	// Now stamps instances that become stale; zero means time.Now.
	Now time.Time
}

// PublishResult says what Publish did. Paths are relative to the git work
// tree's root when committing, else to PolicyRoot.
type PublishResult struct {
	// Files are every report file, by path.
	Files map[string][]byte
	// Changed are the paths written because their content changed.
	Changed []string
	// Removed are the report files of workspaces that are gone.
	Removed []string
	CommitResult
}

// Publish is the one way reports are written, by `tmc aggregate` and
// `tmc sync` alike: it carries the last known instances of unreachable
// clusters over from the reports on disk (marked stale, with since when),
// renders every view as files under PolicyRoot/ReportsPath, removes the
// folders of workspaces that are gone, and commits exactly the paths it
// wrote and removed, relative to the work tree root.
func Publish(ctx context.Context, views []*aggregate.WorkspaceView, opts PublishOptions) (PublishResult, error) {
	var res PublishResult
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	policyRoot, err := filepath.Abs(opts.PolicyRoot)
	if err != nil {
		return res, err
	}
	// Every file is reached through an os.Root at root: the policy tree, or
	// the git work tree when committing; prefix is the reports folder in it.
	root, prefix := policyRoot, path.Clean(filepath.ToSlash(opts.ReportsPath))
	if opts.Commit {
		repo, err := git.PlainOpenWithOptions(policyRoot, &git.PlainOpenOptions{DetectDotGit: true})
		if err != nil {
			return res, fmt.Errorf("open git repo at %s: %w", opts.PolicyRoot, err)
		}
		wt, err := repo.Worktree()
		if err != nil {
			return res, err
		}
		root = wt.Filesystem.Root()
		below, err := relTo(root, policyRoot)
		if err != nil {
			return res, err
		}
		prefix = path.Join(below, prefix)
	}
	if err := checkRel(path.Join(prefix, "x")); err != nil {
		return res, fmt.Errorf("reports folder %s: %w", opts.ReportsPath, err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return res, err
	}
	defer r.Close()
	for _, v := range views {
		prev, err := readStatus(r, path.Join(prefix, Dir("", v.LogicalCluster, v.Workspace), "status.yaml"))
		if err == nil && prev != nil {
			CarryStale(prev, v, now)
		}
	}
	files, err := Files("", views)
	if err != nil {
		return res, err
	}
	var removed []string
	if opts.Prune {
		keep := map[string]bool{}
		for k := range opts.Keep {
			lc, name, _ := strings.Cut(k, "/")
			keep[Dir("", lc, name)] = true
		}
		if removed, err = staleFiles(r, prefix, files, keep); err != nil {
			return res, err
		}
	}
	res.Files = map[string][]byte{}
	for rel, data := range files {
		res.Files[path.Join(prefix, rel)] = data
	}
	for _, rel := range removed {
		res.Removed = append(res.Removed, path.Join(prefix, rel))
	}
	if res.Changed, err = Write(root, res.Files); err != nil {
		return res, err
	}
	if !opts.Commit {
		for _, rel := range res.Removed {
			if err := removeFile(r, prefix, rel); err != nil {
				return res, err
			}
		}
		return res, nil
	}
	co := opts.CommitOptions
	co.Remove = res.Removed
	res.CommitResult, err = Commit(ctx, root, res.Files, co)
	for _, rel := range res.Removed {
		_ = removeFile(r, prefix, rel) // git removed the files; drop the folders they leave empty
	}
	return res, err
}

// relTo returns the directory p (which exists) relative to root, with
// slashes; both are resolved through symlinks, so a policy tree reached
// through a symlinked path still lies inside its work tree.
func relTo(root, p string) (string, error) {
	rr, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	rp, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(rr, rp)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("policy tree %s is outside the git work tree %s", p, root)
	}
	return filepath.ToSlash(rel), nil
}

// staleFiles lists the report files (status.yaml, README.md of
// LOGICALCLUSTER/WORKSPACE folders) under base in r that files does not
// hold, as paths relative to base.
func staleFiles(r *os.Root, base string, files map[string][]byte, keep map[string]bool) ([]string, error) {
	var out []string
	err := fs.WalkDir(r.FS(), base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || d.Name() != "status.yaml" {
			return nil
		}
		rel := strings.TrimPrefix(p, base+"/")
		if base == "." {
			rel = p
		}
		if strings.Count(rel, "/") != 2 {
			return nil // not LOGICALCLUSTER/WORKSPACE/status.yaml
		}
		if _, ok := files[rel]; ok {
			return nil
		}
		dir := path.Dir(rel)
		if keep[dir] {
			return nil
		}
		out = append(out, rel)
		if _, err := r.Stat(path.Join(base, dir, "README.md")); err == nil {
			out = append(out, path.Join(dir, "README.md"))
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// removeFile removes a report file (a path below root) and the folders
// below base it leaves empty.
func removeFile(r *os.Root, base, rel string) error {
	if err := r.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for dir := path.Dir(rel); dir != base && dir != "." && len(dir) > len(base); dir = path.Dir(dir) {
		if r.Remove(dir) != nil {
			break // not empty
		}
	}
	return nil
}

// readStatus reads a workspace's status.yaml; nil, nil when there is none.
func readStatus(r *os.Root, p string) (*aggregate.WorkspaceView, error) {
	data, err := r.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v aggregate.WorkspaceView
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// CarryStale keeps what the last report knew of clusters that could not be
// read now, instead of erasing it: when no target cluster was reachable the
// previous view stays whole, marked stale; otherwise each instance of an
// unreachable cluster takes its last known reading, marked stale. The
// stale-since time is kept from the previous report, so that an unchanged
// outage makes no new commit.
func CarryStale(prev, cur *aggregate.WorkspaceView, now time.Time) {
	stamp := now.UTC().Format(time.RFC3339)
	unreachable := map[string]bool{}
	for _, tc := range cur.TargetClusters {
		if !tc.Reachable {
			unreachable[tc.Name] = true
		}
	}
	if len(unreachable) == 0 {
		return
	}
	if len(unreachable) == len(cur.TargetClusters) {
		since := prev.StaleSince
		if since == "" {
			since = stamp
		}
		targets := cur.TargetClusters
		*cur = *prev
		cur.TargetClusters, cur.StaleSince = targets, since
		return
	}
	old := map[string]aggregate.Origin{}
	for _, k := range prev.AggregatedResources {
		for _, r := range k.Resources {
			for _, o := range r.Clusters {
				old[k.Policy+"/"+r.Namespace+"/"+r.Name+"/"+o.Cluster] = o
			}
		}
	}
	for ki := range cur.AggregatedResources {
		k := &cur.AggregatedResources[ki]
		for ri := range k.Resources {
			r := &k.Resources[ri]
			for oi, o := range r.Clusters {
				if !unreachable[o.Cluster] {
					continue
				}
				p, ok := old[k.Policy+"/"+r.Namespace+"/"+r.Name+"/"+o.Cluster]
				if !ok || p.Health == aggregate.Unreachable {
					continue
				}
				if p.StaleSince == "" {
					p.StaleSince = stamp
				}
				r.Clusters[oi] = p
			}
		}
	}
}

package report

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
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
	base := filepath.Join(opts.PolicyRoot, filepath.FromSlash(opts.ReportsPath))
	for _, v := range views {
		prev, err := readStatus(filepath.Join(base, filepath.FromSlash(Dir("", v.LogicalCluster, v.Workspace)), "status.yaml"))
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
		if removed, err = staleFiles(base, files); err != nil {
			return res, err
		}
	}
	prefix := ""
	var repoRoot string
	if opts.Commit {
		repo, err := git.PlainOpenWithOptions(opts.PolicyRoot, &git.PlainOpenOptions{DetectDotGit: true})
		if err != nil {
			return res, fmt.Errorf("open git repo at %s: %w", opts.PolicyRoot, err)
		}
		wt, err := repo.Worktree()
		if err != nil {
			return res, err
		}
		repoRoot = wt.Filesystem.Root()
		if prefix, err = relTo(repoRoot, base); err != nil {
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
	if !opts.Commit {
		if res.Changed, err = Write(base, files); err != nil {
			return res, err
		}
		for _, rel := range removed {
			if err := removeFile(base, rel); err != nil {
				return res, err
			}
		}
		return res, nil
	}
	if res.Changed, err = Write(repoRoot, res.Files); err != nil {
		return res, err
	}
	co := opts.CommitOptions
	co.Remove = res.Removed
	res.CommitResult, err = Commit(ctx, repoRoot, res.Files, co)
	for _, rel := range removed {
		_ = removeFile(base, rel) // git removed the files; drop the folders they leave empty
	}
	return res, err
}

// relTo returns p relative to root, with slashes; both are resolved through symlinks.
func relTo(root, p string) (string, error) {
	rr, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	// The reports folder may not exist yet: resolve its nearest existing parent.
	dir, rest := p, ""
	for {
		if rp, err := filepath.EvalSymlinks(dir); err == nil {
			dir = filepath.Join(rp, rest)
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("cannot resolve %s", p)
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
	rel, err := filepath.Rel(rr, dir)
	if err != nil || rel == ".." || len(rel) > 2 && rel[:3] == "../" {
		return "", fmt.Errorf("reports folder %s is outside the git work tree %s", p, root)
	}
	return filepath.ToSlash(rel), nil
}

// staleFiles lists the report files (status.yaml, README.md of
// LOGICALCLUSTER/WORKSPACE folders) under base that files does not hold.
func staleFiles(base string, files map[string][]byte) ([]string, error) {
	var out []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() || d.Name() != "status.yaml" {
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		rel = filepath.ToSlash(rel)
		if n := len(slices.DeleteFunc([]byte(rel), func(b byte) bool { return b != '/' })); n != 2 {
			return nil // not LOGICALCLUSTER/WORKSPACE/status.yaml
		}
		if _, ok := files[rel]; ok {
			return nil
		}
		dir := path.Dir(rel)
		out = append(out, rel)
		if _, err := os.Stat(filepath.Join(base, filepath.FromSlash(dir), "README.md")); err == nil {
			out = append(out, path.Join(dir, "README.md"))
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// removeFile removes a report file and the folders it leaves empty.
func removeFile(base, rel string) error {
	full := filepath.Join(base, filepath.FromSlash(rel))
	if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
		return err
	}
	for dir := filepath.Dir(full); dir != base && len(dir) > len(base); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty
		}
	}
	return nil
}

// readStatus reads a workspace's status.yaml; nil, nil when there is none.
func readStatus(p string) (*aggregate.WorkspaceView, error) {
	data, err := os.ReadFile(p)
	if os.IsNotExist(err) {
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

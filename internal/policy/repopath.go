package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// CleanRepoPath checks that a repo-relative path is not absolute and does not
// leave the repo with `..`, and returns it cleaned, slash-separated.
func CleanRepoPath(rel string) (string, error) {
	clean := path.Clean(filepath.ToSlash(rel))
	switch {
	case filepath.IsAbs(rel) || strings.HasPrefix(rel, "/"):
		return "", fmt.Errorf("path %q is absolute: paths are relative to the repo root", rel)
	case clean == ".." || strings.HasPrefix(clean, "../"):
		return "", fmt.Errorf("path %q leaves the repo", rel)
	}
	return clean, nil
}

// ResolveInRepo resolves a repo-relative path under root (absolute, its own
// symlinks already resolved), following symlinks and refusing any path that
// is absolute, leaves the repo with `..` or through a symlink, or does not exist.
func ResolveInRepo(root, rel string) (string, error) {
	clean, err := CleanRepoPath(rel)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(clean)))
	switch {
	case os.IsNotExist(err):
		return "", fmt.Errorf("path %q does not exist in the repo", rel)
	case err != nil:
		return "", fmt.Errorf("path %q: %v", rel, UnwrapPathError(err))
	case !within(root, real):
		return "", fmt.Errorf("path %q leaves the repo through a symlink (to %s)", rel, real)
	}
	return real, nil
}

// UnwrapPathError drops the operation and path of a *fs.PathError, for
// messages that name the path themselves.
func UnwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// within reports whether p is root or below it; both must be clean absolute or both relative.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

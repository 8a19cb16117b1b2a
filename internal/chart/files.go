package chart

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/ignore"
)

// Read reads a chart of the repo: a directory holding Chart.yaml, or a
// packaged .tgz. Every path is opened through an os.Root at the repo root;
// a symlink is followed only when it stays inside the chart (anything else
// is an error naming it); .helmignore applies as in Helm. digest is the
// SHA-256 over the files' names and contents (or the archive).
func Read(repoRoot, rel string) (files []File, archive []byte, digest string, err error) {
	r, err := os.OpenRoot(repoRoot)
	if err != nil {
		return nil, nil, "", err
	}
	defer r.Close()
	rel = path.Clean(rel)
	st, err := r.Stat(rel)
	if err != nil {
		return nil, nil, "", fmt.Errorf("chart %s: %v", rel, unwrap(err))
	}
	if !st.IsDir() {
		if !strings.HasSuffix(rel, ".tgz") && !strings.HasSuffix(rel, ".tar.gz") {
			return nil, nil, "", fmt.Errorf("chart %s: not a directory or a packaged chart (.tgz)", rel)
		}
		if st.Size() > MaxChartBytes {
			return nil, nil, "", fmt.Errorf("chart %s: larger than %d MiB", rel, MaxChartBytes>>20)
		}
		data, err := r.ReadFile(rel)
		if err != nil {
			return nil, nil, "", fmt.Errorf("chart %s: %v", rel, unwrap(err))
		}
		sum := sha256.Sum256(data)
		return nil, data, hex.EncodeToString(sum[:]), nil
	}
	if _, err := r.Stat(path.Join(rel, "Chart.yaml")); err != nil {
		return nil, nil, "", fmt.Errorf("chart %s: no Chart.yaml in it", rel)
	}
	rules := ignore.Empty()
	if data, err := r.ReadFile(path.Join(rel, ignore.HelmIgnore)); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, nil, "", fmt.Errorf("chart %s: .helmignore: %v", rel, err)
		}
	}
	rules.AddDefaults()
	total := int64(0)
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := fs.ReadDir(r.FS(), path.Join(rel, dir))
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := path.Join(dir, e.Name())
			full := path.Join(rel, name)
			fi, err := r.Lstat(full)
			if err != nil {
				return err
			}
			if fi.Mode()&fs.ModeSymlink != 0 {
				target, err := r.Readlink(full)
				if err != nil {
					return err
				}
				resolved := path.Clean(path.Join(path.Dir(name), target))
				if path.IsAbs(target) || resolved == ".." || strings.HasPrefix(resolved, "../") {
					return fmt.Errorf("chart %s: %s is a symlink to %s, outside the chart: tmc reads only the chart's own files", rel, name, target)
				}
				if fi, err = r.Stat(full); err != nil {
					return fmt.Errorf("chart %s: %s: %v", rel, name, unwrap(err))
				}
			}
			if rules.Ignore(name, fi) {
				continue
			}
			if fi.IsDir() {
				if err := walk(name); err != nil {
					return err
				}
				continue
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("chart %s: %s is not a regular file", rel, name)
			}
			if total += fi.Size(); total > MaxChartBytes {
				return fmt.Errorf("chart %s: its files hold more than %d MiB", rel, MaxChartBytes>>20)
			}
			data, err := r.ReadFile(full)
			if err != nil {
				return err
			}
			files = append(files, File{Name: name, Data: bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))})
		}
		return nil
	}
	if err := walk("."); err != nil {
		return nil, nil, "", err
	}
	for i := range files {
		files[i].Name = strings.TrimPrefix(files[i].Name, "./")
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.Name, len(f.Data))
		h.Write(f.Data)
	}
	return files, nil, hex.EncodeToString(h.Sum(nil)), nil
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if strings.Contains(pe.Err.Error(), "escapes") {
			return errors.New("path leaves the repo")
		}
		return pe.Err
	}
	return err
}

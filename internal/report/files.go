package report

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/internal/aggregate"
	md "github.com/kcp-dev/tmc/internal/markdown"
)

// statusFile is status.yaml: the view, versioned.
type statusFile struct {
	FormatVersion string `json:"formatVersion"`
	*aggregate.WorkspaceView
}

// Dir is the report directory of a workspace, relative to the repo root.
func Dir(base, logicalCluster, workspace string) string {
	return path.Join(base, logicalCluster, workspace)
}

// Files renders every view as files, keyed by path relative to the repo root.
func Files(base string, views []*aggregate.WorkspaceView) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, v := range views {
		dir := Dir(base, v.LogicalCluster, v.Workspace)
		data, err := yaml.Marshal(statusFile{FormatVersion: aggregate.FormatVersion, WorkspaceView: v})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		out[path.Join(dir, "status.yaml")] = data
		out[path.Join(dir, "README.md")] = readme(v)
	}
	return out, nil
}

// Write writes the files under root, only those whose content changed, and
// returns the paths it wrote, sorted. Every path is opened through an
// os.Root at root: the repo is untrusted, and a report folder planted as a
// symlink (to /etc, or to a mounted Secret) cannot make tmc read or write
// outside it; a path into .git is refused.
func Write(root string, files map[string][]byte) ([]string, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var changed []string
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		if err := checkRel(rel); err != nil {
			return changed, err
		}
		if old, err := r.ReadFile(rel); err == nil && bytes.Equal(old, files[rel]) {
			continue
		}
		if err := writeIn(r, rel, files[rel]); err != nil {
			return changed, err
		}
		changed = append(changed, rel)
	}
	return changed, nil
}

// checkRel refuses a report path that leaves the repo or enters .git.
func checkRel(rel string) error {
	c := path.Clean(rel)
	if c == ".." || strings.HasPrefix(c, "../") || path.IsAbs(rel) {
		return fmt.Errorf("report path %q leaves the repo", rel)
	}
	for _, seg := range strings.Split(c, "/") {
		if strings.EqualFold(seg, ".git") {
			return fmt.Errorf("report path %q enters .git", rel)
		}
	}
	return nil
}

// writeConfined writes root/rel through an os.Root at root.
func writeConfined(root, rel string, data []byte) error {
	if err := checkRel(rel); err != nil {
		return err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	return writeIn(r, rel, data)
}

// writeIn writes rel inside r, refusing to write through a symlink.
func writeIn(r *os.Root, rel string, data []byte) error {
	if err := r.MkdirAll(path.Dir(rel), 0o755); err != nil {
		if strings.Contains(err.Error(), "path escapes") {
			return fmt.Errorf("report path %q leaves the repo through a symlink", rel)
		}
		return fmt.Errorf("report path %q: %w", rel, err)
	}
	if st, err := r.Lstat(rel); err == nil && st.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("report path %q is a symlink; tmc does not write through it", rel)
	}
	if err := r.WriteFile(rel, data, 0o644); err != nil {
		return fmt.Errorf("report path %q: %w", rel, err)
	}
	return nil
}

// readme renders the tables a reviewer reads.
func readme(v *aggregate.WorkspaceView) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Workspace %s\n\n", md.Text(v.LogicalCluster+"/"+v.Workspace))
	fmt.Fprintf(&b, "Written by `tmc aggregate`; do not edit. The machine-readable view is [status.yaml](status.yaml).\n\n")
	if r := v.Rollout; r != nil {
		fmt.Fprintf(&b, "## Rollout of %s: %s\n\n", md.Code(r.Revision), md.Text(r.State))
		fmt.Fprintf(&b, "Where it stands: %s\n\n", md.Text(r.Message))
		b.WriteString("| wave | clusters | state | at the revision | healthy |\n|---|---|---|---:|---:|\n")
		for _, w := range r.Waves {
			fmt.Fprintf(&b, "| %s | %s | %s | %d/%d | %d |\n", md.Cell(w.Name), md.Cell(strings.Join(w.Clusters, ", ")), md.Cell(w.State), w.AtRevision, len(w.Clusters), w.Healthy)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Target clusters\n\n| cluster | health | priority | weight |\n|---|---|---:|---:|\n")
	for _, c := range v.TargetClusters {
		h := c.Label()
		if !c.Reachable || !c.Healthy {
			h = "**" + h + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %g |\n", md.Cell(c.Name), h, c.Priority, c.Weight)
	}
	b.WriteString("\n## Aggregated resources\n\nResources are counted once, judged by the health rule across their clusters; instances are resource × cluster.\n\n| kind | policy | total | healthy | unhealthy | health | instances (healthy) | missing | merge | health rule |\n|---|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, k := range v.AggregatedResources {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %.1f%% | %d (%d) | %d | %s / %s | %s |\n", md.Cell(k.Kind), md.Cell(k.Policy), k.TotalCount, k.HealthyCount, k.UnhealthyCount, k.HealthyPercent(), k.InstanceCount, k.HealthyInstanceCount, k.MissingCount, md.Cell(k.MergeStrategy), md.Cell(k.ConflictResolution), md.Cell(k.HealthAggregation))
	}
	for _, k := range v.AggregatedResources {
		fmt.Fprintf(&b, "\n## %s\n\n", md.Text(k.Kind))
		if k.Error != "" {
			fmt.Fprintf(&b, "> Could not read everywhere: %s\n\n", md.Code(k.Error))
		}
		if len(k.Resources) == 0 {
			b.WriteString("No resources.\n")
			continue
		}
		b.WriteString("| resource | status |")
		for _, c := range v.TargetClusters {
			fmt.Fprintf(&b, " %s |", md.Cell(c.Name))
		}
		b.WriteString("\n|---|---|")
		for range v.TargetClusters {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, r := range k.Resources {
			fmt.Fprintf(&b, "| %s | %s |", md.Cell(name(r)), md.Cell(r.Status))
			for _, o := range r.Clusters {
				fmt.Fprintf(&b, " %s |", md.Cell(o.Health))
			}
			b.WriteString("\n")
		}
		writeConflicts(&b, k)
	}
	if len(v.Drift) > 0 {
		b.WriteString("\n## Drift\n\nEdits of objects tmc applied, made on a cluster by someone else (newest first).\n\n| cluster | object | changed by | when | tmc |\n|---|---|---|---|---|\n")
		for _, d := range v.Drift {
			what := "reverted to git"
			if !d.Corrected {
				what = "reported, left as is"
			}
			fmt.Fprintf(&b, "| %s | %s | %s (%s) | %s | %s |\n", md.Cell(d.Cluster), md.Cell(d.Object), md.Cell(d.Manager), md.Cell(d.Operation), md.Cell(d.Time), what)
		}
	}
	return []byte(b.String())
}

// writeConflicts writes a kind's conflicts (divergent first: a cluster not
// holding what git meant; then fields git does not set), one line each,
// then apart the fields that vary by policy, as git meant.
func writeConflicts(b *strings.Builder, k aggregate.KindView) {
	var divergent, unmanaged, varied []string
	values := func(vals map[string]any) string {
		var out []string
		for _, cl := range slices.Sorted(maps.Keys(vals)) {
			out = append(out, md.Cell(cl)+"="+md.CodeCell(fmt.Sprint(vals[cl])))
		}
		return strings.Join(out, ", ")
	}
	for _, r := range k.Resources {
		for _, c := range r.Conflicts {
			won := "unresolved"
			if c.Winner != "" {
				won = md.Cell(c.Winner) + " wins"
			}
			if c.Class != aggregate.Divergent {
				unmanaged = append(unmanaged, fmt.Sprintf("| %s | %s | not set by git | %s | %s (%s) |", md.Cell(name(r)), md.CodeCell(c.Field), values(c.Values), won, md.Cell(c.Resolution)))
				continue
			}
			var who []string
			for _, d := range c.Divergent {
				w := fmt.Sprintf("**%s** holds %s, git means %s", md.Cell(d.Cluster), md.CodeCell(fmt.Sprint(c.Values[d.Cluster])), md.CodeCell(fmt.Sprint(d.Desired)))
				if d.Manager != "" {
					w += fmt.Sprintf(" (written by %s at %s)", md.Cell(d.Manager), md.Cell(d.WrittenAt))
				}
				who = append(who, w)
			}
			divergent = append(divergent, fmt.Sprintf("| %s | %s | **divergent** | %s | %s (%s) |", md.Cell(name(r)), md.CodeCell(c.Field), strings.Join(who, "; "), won, md.Cell(c.Resolution)))
		}
		for _, v := range r.Variations {
			src := "not set"
			if v.HasSource {
				src = md.CodeCell(fmt.Sprint(v.Source))
			}
			var by []string
			for _, x := range v.By {
				by = append(by, fmt.Sprintf("%s transformations[%d] (%s) on %s", md.Cell(x.Policy), x.Transformation, md.Cell(x.Type), md.Cell(strings.Join(x.Clusters, ", "))))
			}
			if len(by) == 0 {
				by = append(by, "rendered differently per cluster")
			}
			varied = append(varied, fmt.Sprintf("| %s | %s | %s | %s | %s |", md.Cell(name(r)), md.CodeCell(v.Field), src, values(v.Values), strings.Join(by, "; ")))
		}
	}
	if len(divergent)+len(unmanaged) > 0 {
		b.WriteString("\n### Conflicts\n\nDivergent: a cluster does not hold what git meant there. Not set by git: server defaults, controllers.\n\n| resource | field | class | values | resolution |\n|---|---|---|---|---|\n")
		b.WriteString(strings.Join(append(divergent, unmanaged...), "\n") + "\n")
	}
	if len(varied) > 0 {
		b.WriteString("\n### Varies by policy\n\nEvery cluster holds what git meant for it; the values differ by the projection policies named. Not conflicts.\n\n| resource | field | git | per cluster | by |\n|---|---|---|---|---|\n")
		b.WriteString(strings.Join(varied, "\n") + "\n")
	}
}

func name(r aggregate.Resource) string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

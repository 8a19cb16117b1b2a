package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kcp-dev/tmc/internal/limits"
)

// Load reads every .yaml and .yml file under root (multi-document files
// allowed), decodes the tmc.kcp.io documents strictly, applies defaults,
// validates references and compiles expressions. Documents of other API
// groups are left for the workspaces' sources. Hidden directories (.git)
// are skipped.
//
// On failure the error is an ErrorList holding every problem found, sorted
// by file and line; the returned Policies is then nil.
func Load(ctx context.Context, root string) (*Policies, error) { return LoadWith(ctx, root, nil) }

// LoadWith is Load with further documents (name → YAML) loaded as if
// they were files of the tree: the policies an embedder builds in Go go
// through the same decoding and validation as the tree's. A document's
// name stands for its file in errors.
func LoadWith(ctx context.Context, root string, docs map[string][]byte) (*Policies, error) {
	return LoadOpts(ctx, root, LoadOptions{Docs: docs})
}

// LoadOptions feed a load beyond the tree's files.
type LoadOptions struct {
	// Docs are further documents (name → YAML) loaded as if they were
	// files of the tree.
	Docs map[string][]byte
	// Inventory are the clusters of the operator's cluster inventory:
	// they join the repo's Clusters before validation (see mergeInventory).
	Inventory []*InventoryCluster
}

// LoadOpts is Load with further documents and the cluster inventory.
func LoadOpts(ctx context.Context, root string, o LoadOptions) (*Policies, error) {
	docs := o.Docs
	l := &loader{root: root, inventory: o.Inventory}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		l.errs = ErrorList{{Pos: Pos{File: root}, Message: fmt.Sprintf("cannot read policy directory: %v", UnwrapPathError(err))}}
		return l.finish()
	}
	l.realRoot = realRoot
	files, errs := listFiles(realRoot)
	l.errs = errs
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l.loadFile(f)
	}
	for _, n := range slices.Sorted(maps.Keys(docs)) {
		l.loadData(n, docs[n])
	}
	return l.finish()
}

// LoadFiles is Load for in-memory files (name → content), for tests and fuzzing.
func LoadFiles(files map[string][]byte) (*Policies, error) { return LoadFilesWith(files, nil) }

// LoadFilesWith is LoadFiles with the clusters of a cluster inventory.
func LoadFilesWith(files map[string][]byte, inventory []*InventoryCluster) (*Policies, error) {
	l := &loader{inventory: inventory}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l.loadData(n, files[n])
	}
	return l.finish()
}

type loader struct {
	root     string
	realRoot string // root with its symlinks resolved; "" for LoadFiles
	errs     ErrorList
	p        Policies
	docs     int
	// inventory joins the repo's Clusters in finish, before validation.
	inventory []*InventoryCluster
}

// listFiles walks realRoot (a root with its symlinks resolved) and returns the
// YAML files in lexical order, as paths relative to it. A symlink that leaves
// the root is an error.
// IsChartDir reports whether dir is a Helm chart (it holds Chart.yaml).
func IsChartDir(dir string) bool {
	st, err := os.Lstat(filepath.Join(dir, "Chart.yaml"))
	return err == nil && st.Mode().IsRegular()
}

func listFiles(realRoot string) ([]string, ErrorList) {
	var files []string
	var errs ErrorList
	err := filepath.WalkDir(realRoot, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(realRoot, p)
		rel = filepath.ToSlash(rel)
		if err != nil {
			errs = append(errs, &Error{Pos: Pos{File: rel}, Message: UnwrapPathError(err).Error()})
			return nil
		}
		if d.IsDir() {
			if p != realRoot && (strings.HasPrefix(d.Name(), ".") || IsChartDir(p)) {
				return filepath.SkipDir // a Helm chart's templates are not YAML: a chart source reads them
			}
			return nil
		}
		ext := strings.ToLower(filepath.Ext(p))
		if ext != ".yaml" && ext != ".yml" && d.Name() != "Kustomization" {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				errs = append(errs, &Error{Pos: Pos{File: rel}, Message: fmt.Sprintf("broken symlink: %v", UnwrapPathError(err))})
				return nil
			}
			if !within(realRoot, target) {
				errs = append(errs, &Error{Pos: Pos{File: rel}, Message: fmt.Sprintf("symlink points outside the policy directory (to %s)", target)})
				return nil
			}
			if st, err := os.Stat(target); err != nil || st.IsDir() {
				return nil
			}
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		errs = append(errs, &Error{Pos: Pos{File: realRoot}, Message: err.Error()})
	}
	return files, errs
}

func (l *loader) loadFile(rel string) {
	f, err := os.Open(filepath.Join(l.realRoot, filepath.FromSlash(rel)))
	if err != nil {
		l.errs = append(l.errs, &Error{Pos: Pos{File: rel}, Message: UnwrapPathError(err).Error()})
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limits.MaxFileSize+1))
	if err != nil {
		l.errs = append(l.errs, &Error{Pos: Pos{File: rel}, Message: err.Error()})
		return
	}
	if len(data) > limits.MaxFileSize {
		l.errs = append(l.errs, &Error{Pos: Pos{File: rel}, Message: fmt.Sprintf("file is larger than %d MiB", limits.MaxFileSize>>20)})
		return
	}
	l.loadData(rel, data)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (l *loader) loadData(file string, data []byte) {
	l.errs = append(l.errs, RemoteKustomizeRefs(file, data)...)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			return
		}
		if err != nil {
			e := &Error{Pos: Pos{File: file}, Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				e.Line, _ = strconv.Atoi(m[1])
				e.Message = "invalid YAML: " + m[2]
			}
			l.errs = append(l.errs, e)
			return
		}
		if len(doc.Content) == 0 {
			continue
		}
		l.loadDoc(file, doc.Content[0])
	}
}

// header reads apiVersion and kind of a document without decoding the rest.
func docHeader(n *yaml.Node) (apiVersion, kind *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k, v := n.Content[i].Value, n.Content[i+1]; k {
		case "apiVersion":
			apiVersion = v
		case "kind":
			kind = v
		}
	}
	return apiVersion, kind
}

func (l *loader) loadDoc(file string, n *yaml.Node) {
	av, kind := docHeader(n)
	if av == nil || (av.Value != Group && !strings.HasPrefix(av.Value, Group+"/")) {
		l.nearMiss(file, av, kind)
		return // not ours: a manifest for a workspace source, a kustomization, a report...
	}
	if err := limits.CheckShape(n); err != nil {
		l.errs = append(l.errs, yamlError(file, err))
		return
	}
	pos := Pos{File: file, Line: n.Line, Column: n.Column}
	if av.Value != APIVersion {
		l.errs = append(l.errs, &Error{Pos: Pos{File: file, Line: av.Line, Column: av.Column}, Field: "apiVersion",
			Message: fmt.Sprintf("unsupported apiVersion %q: this tmc reads %s", av.Value, APIVersion)})
		return
	}
	if kind == nil {
		l.errs = append(l.errs, &Error{Pos: pos, Field: "kind", Message: `required field "kind" is missing`})
		return
	}
	l.docs++
	var target any
	switch kind.Value {
	case KindCluster:
		target = &Cluster{}
	case KindVirtualWorkspace:
		target = &VirtualWorkspace{}
	case KindProjectionPolicy:
		target = &ProjectionPolicy{}
	case KindAggregationPolicy:
		target = &AggregationPolicy{}
	case KindConfig:
		target = &Config{}
	default:
		known := map[string]int{}
		for i, k := range Kinds {
			known[k] = i
		}
		l.errs = append(l.errs, &Error{Pos: Pos{File: file, Line: kind.Line, Column: kind.Column}, Field: "kind",
			Message: fmt.Sprintf("unknown kind %q: must be one of %s%s", kind.Value, strings.Join(Kinds, ", "), suggest(kind.Value, known))})
		return
	}
	name := ""
	if md := lookup(n, "metadata"); md != nil {
		if nm := lookup(md, "name"); nm != nil {
			name = nm.Value
		}
	}
	d := &decoder{file: file, pos: positions{}, errs: &l.errs, obj: kind.Value + "/" + name}
	if name == "" {
		d.obj = kind.Value
	}
	d.decode(n, reflect.ValueOf(target).Elem(), "", nil)
	o := Origin{Pos: pos, Object: d.obj, pos: d.pos}
	switch t := target.(type) {
	case *Cluster:
		t.Origin = o
		l.p.Clusters = append(l.p.Clusters, t)
	case *VirtualWorkspace:
		t.Origin = o
		l.p.Workspaces = append(l.p.Workspaces, t)
	case *ProjectionPolicy:
		t.Origin = o
		l.p.ProjectionPolicies = append(l.p.ProjectionPolicies, t)
	case *AggregationPolicy:
		t.Origin = o
		l.p.AggregationPolicies = append(l.p.AggregationPolicies, t)
	case *Config:
		t.Origin = o
		l.p.Configs = append(l.p.Configs, t)
	}
}

func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (l *loader) finish() (*Policies, error) {
	p := &l.p
	p.Root = l.root
	l.mergeInventory(l.inventory)
	v := &validator{p: p, realRoot: l.realRoot, errs: &l.errs}
	v.validate()
	if len(l.errs) > 0 {
		l.errs.Sort()
		return nil, l.errs
	}
	p.sort()
	return p, nil
}

// nearMiss reports a document that names one of tmc's kinds with an
// apiVersion whose group is a typo of tmc's: left alone it would be taken
// for a workspace manifest and the policy silently ignored.
func (l *loader) nearMiss(file string, av, kind *yaml.Node) {
	if av == nil || kind == nil || !slices.Contains(Kinds, kind.Value) {
		return
	}
	group, _, _ := strings.Cut(av.Value, "/")
	if group == Group {
		return
	}
	if d := levenshtein(strings.ToLower(group), Group); d > 0 && d <= 3 {
		l.errs = append(l.errs, &Error{Pos: Pos{File: file, Line: av.Line, Column: av.Column}, Field: "apiVersion",
			Message: fmt.Sprintf("apiVersion %q is not tmc's; this %s would be ignored (did you mean %q?)", av.Value, kind.Value, APIVersion)})
	}
}

// yamlError places a limits.YAMLError in its file.
func yamlError(file string, err error) *Error {
	var ye *limits.YAMLError
	if errors.As(err, &ye) {
		return &Error{Pos: Pos{File: file, Line: ye.Line, Column: ye.Column}, Message: ye.Message}
	}
	return &Error{Pos: Pos{File: file}, Message: err.Error()}
}

package render

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/internal/limits"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/policy"
)

// Source is one object read from a workspace source, as written.
type Source struct {
	// ID identifies the object as written.
	ID object.ID
	// Pos is where it is written (file and line of its document); for
	// kustomizations the kustomization directory.
	Pos policy.Pos
	// Node is the object. Render never changes it; it copies it per cluster.
	Node *yaml.RNode
	// asMap is the object as plain data, made once when an expression reads `resource`.
	asMap map[string]any
	// size is the object's size as JSON.
	size int
	// cluster is the source cluster a live object was read from; "" for git.
	cluster string
	// forCluster is the one target cluster a chart rendered the object
	// for; "" for objects that go to every target.
	forCluster string
	// matches tells, per projection policy of the workspace, whether the policy selects the object.
	matches []bool
}

// isKustomization reports whether dir holds a kustomization file.
func isKustomization(dir string) bool {
	for _, k := range policy.KustomizationFiles {
		if st, err := os.Stat(filepath.Join(dir, k)); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

// readSources reads the objects of every path source of a workspace.
// Errors name the workspace field and the manifest file and line.
func (r *renderer) readSources(w *policy.VirtualWorkspace) ([]*Source, policy.ErrorList) {
	var out []*Source
	var errs policy.ErrorList
	seen := map[object.ID]policy.Pos{}
	for i, src := range w.Spec.Sources {
		if src.Path == "" {
			continue // live cluster sources are read by internal/plan
		}
		field := fmt.Sprintf("spec.sources[%d].path", i)
		objs, err := r.readPath(src.Path)
		if err != nil {
			if list, ok := err.(policy.ErrorList); ok {
				errs = append(errs, list...)
			} else {
				errs = append(errs, w.Origin.Errorf(field, "%v", err))
			}
			continue
		}
		for _, o := range objs {
			if first, dup := seen[o.ID]; dup {
				errs = append(errs, &policy.Error{Pos: o.Pos, Message: fmt.Sprintf("%s is also defined at %s", o.ID, first)})
				continue
			}
			seen[o.ID] = o.Pos
			out = append(out, o)
		}
	}
	return out, errs
}

// readPath reads one source path: a kustomization directory, a directory of
// manifests (recursively), or one manifest file. Paths may not leave the repo.
func (r *renderer) readPath(rel string) ([]*Source, error) {
	full, err := r.inRepo(rel)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(full)
	if err != nil {
		return nil, fmt.Errorf("path %q: %v", rel, policy.UnwrapPathError(err))
	}
	if st.IsDir() && isKustomization(full) {
		return r.kustomize(rel)
	}
	var files []string
	if !st.IsDir() {
		files = []string{full}
	} else {
		err = filepath.WalkDir(full, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != full && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if d.Type()&fs.ModeSymlink != 0 {
				// Symlinks are checked even when not followed (directories are not).
				target, err := r.inRepo(r.rel(p))
				if err != nil {
					return err
				}
				if st, err := os.Stat(target); err != nil || st.IsDir() {
					return nil
				}
			}
			ext := strings.ToLower(filepath.Ext(p))
			if d.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
				return nil
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// Refuse an oversized source before reading any of it.
	var total int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	if int64(r.inputBytes)+total > limits.MaxRenderInput {
		return nil, fmt.Errorf("path %q: the workspaces' sources hold more than %d MiB of manifests in all", rel, limits.MaxRenderInput>>20)
	}
	var out []*Source
	var errs policy.ErrorList
	for _, f := range files {
		objs, ferrs := r.readManifests(f)
		out = append(out, objs...)
		errs = append(errs, ferrs...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// inRepo resolves a repo-relative path, refusing absolute paths, `..` and
// symlinks that leave the repo.
func (r *renderer) inRepo(rel string) (string, error) { return policy.ResolveInRepo(r.root, rel) }

func (r *renderer) rel(p string) string {
	rel, err := filepath.Rel(r.root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(rel)
}

// readManifests reads the Kubernetes objects of one file. tmc policy
// documents and empty documents are skipped; List kinds are not expanded.
func (r *renderer) readManifests(file string) ([]*Source, policy.ErrorList) {
	rel := r.rel(file)
	errAt := func(line int, format string, args ...any) policy.ErrorList {
		return policy.ErrorList{{Pos: policy.Pos{File: rel, Line: line}, Message: fmt.Sprintf(format, args...)}}
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, errAt(0, "%v", policy.UnwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limits.MaxFileSize+1))
	if err != nil {
		return nil, errAt(0, "%v", err)
	}
	if len(data) > limits.MaxFileSize {
		return nil, errAt(0, "file is larger than %d MiB", limits.MaxFileSize>>20)
	}
	return r.readData(rel, data)
}

// readData reads the Kubernetes objects of one file's content; rel names the file.
func (r *renderer) readData(rel string, data []byte) ([]*Source, policy.ErrorList) {
	return r.readDataWith(rel, data, nil)
}

// readDataWith is readData with fix run on each object document first.
func (r *renderer) readDataWith(rel string, data []byte, fix func(*yaml3.Node)) ([]*Source, policy.ErrorList) {
	errAt := func(line int, format string, args ...any) policy.ErrorList {
		return policy.ErrorList{{Pos: policy.Pos{File: rel, Line: line}, Message: fmt.Sprintf(format, args...)}}
	}
	if strings.HasSuffix(strings.ToLower(rel), ".json") {
		var err error
		if data, err = sigyaml.JSONToYAML(data); err != nil {
			return nil, errAt(0, "invalid JSON: %v", err)
		}
	}
	if r.inputBytes += len(data); r.inputBytes > limits.MaxRenderInput {
		return nil, errAt(0, "the workspaces' sources hold more than %d MiB of manifests in all", limits.MaxRenderInput>>20)
	}
	docs, err := limits.Documents(data)
	var out []*Source
	var errs policy.ErrorList
	for _, n := range expandLists(docs, 0) {
		if n.Kind == yaml3.ScalarNode && n.Tag == "!!null" {
			continue
		}
		if fix != nil && n.Kind == yaml3.MappingNode {
			fix(n)
		}
		o, msg := newSource(n, policy.Pos{File: rel, Line: n.Line})
		if msg != "" {
			errs = append(errs, errAt(n.Line, "%s", msg)...)
			continue
		}
		if o != nil {
			out = append(out, o)
		}
	}
	if err != nil {
		var ye *limits.YAMLError
		if errors.As(err, &ye) {
			errs = append(errs, errAt(ye.Line, "%s", ye.Message)...)
		} else {
			errs = append(errs, errAt(0, "%v", err)...)
		}
	}
	return out, errs
}

// newSource checks that a document is a Kubernetes object; it returns nil
// for tmc's own policy documents.
func newSource(n *yaml3.Node, pos policy.Pos) (*Source, string) {
	if n.Kind != yaml3.MappingNode {
		return nil, "a manifest must be a mapping with apiVersion, kind and metadata.name"
	}
	rn := yaml.NewRNode(n)
	if hasAnchors(n) {
		if err := rn.DeAnchor(); err != nil {
			return nil, fmt.Sprintf("cannot expand YAML anchors: %v", err)
		}
	}
	av, kind := rn.GetApiVersion(), rn.GetKind()
	if strings.HasPrefix(av, policy.Group+"/") {
		return nil, ""
	}
	if av == "" || kind == "" {
		return nil, "a manifest needs apiVersion and kind"
	}
	if rn.GetName() == "" {
		if kind == "Kustomization" {
			return nil, ""
		}
		return nil, fmt.Sprintf("%s has no metadata.name", kind)
	}
	id := object.FromAPIVersion(av, kind, rn.GetNamespace(), rn.GetName())
	size, msg := checkObject(id, n)
	if msg != "" {
		return nil, msg
	}
	return &Source{ID: id, Pos: pos, Node: rn, size: size}, ""
}

// checkObject checks an object's name, namespace and size, and returns its
// estimated size as JSON.
func checkObject(id object.ID, n *yaml3.Node) (int, string) {
	if err := id.Validate(); err != nil {
		return 0, fmt.Sprintf("%s: %v", id, err)
	}
	sh, err := limits.Measure(n)
	if err != nil {
		return 0, fmt.Sprintf("%s: %v", id, err)
	}
	if sh.JSONSize() > limits.MaxObjectSize {
		return 0, fmt.Sprintf("%s is larger than %d MiB, more than the API server accepts", id, limits.MaxObjectSize>>20)
	}
	if id.Group == "" && (id.Kind == "ConfigMap" || id.Kind == "Secret") && sh.JSONSize() > limits.MaxConfigMapData {
		if n := dataSize(id.Kind, n); n > limits.MaxConfigMapData {
			return 0, fmt.Sprintf("%s holds %d bytes of data, more than the %d (1 MiB) the API server accepts in a %s", id, n, limits.MaxConfigMapData, id.Kind)
		}
	}
	return sh.JSONSize(), ""
}

// dataSize is what the API server counts against a ConfigMap's or Secret's
// 1 MiB: a ConfigMap's keys and values of data and binaryData (decoded), a
// Secret's values of data (decoded) and stringData.
func dataSize(kind string, n *yaml3.Node) int {
	total := 0
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		if (k != "data" && k != "binaryData" && k != "stringData") || v.Kind != yaml3.MappingNode {
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			val := len(v.Content[j+1].Value)
			if k == "binaryData" || (kind == "Secret" && k == "data") {
				val = base64.StdEncoding.DecodedLen(len(strings.TrimRight(v.Content[j+1].Value, "=\n")))
			}
			if kind == "ConfigMap" {
				val += len(v.Content[j].Value)
			}
			total += val
		}
	}
	return total
}

// kustomize builds a kustomization on an in-memory copy of the repo, so that
// nothing outside the repo can be read; remote bases are refused.
func (r *renderer) kustomize(rel string) ([]*Source, error) {
	fsys, err := r.memFS()
	if err != nil {
		return nil, err
	}
	opts := krusty.MakeDefaultOptions()
	opts.PluginConfig = types.DisabledPluginConfig()
	m, err := krusty.MakeKustomizer(opts).Run(fsys, "/"+path.Clean(rel))
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %v", rel, err)
	}
	var out []*Source
	var errs policy.ErrorList
	pos := policy.Pos{File: path.Join(rel, "kustomization.yaml")}
	for _, rn := range m.ToRNodeSlice() {
		id := object.FromAPIVersion(rn.GetApiVersion(), rn.GetKind(), rn.GetNamespace(), rn.GetName())
		size, msg := checkObject(id, rn.YNode())
		if msg != "" {
			errs = append(errs, &policy.Error{Pos: pos, Message: msg})
			continue
		}
		if r.inputBytes += size; r.inputBytes > limits.MaxRenderInput {
			errs = append(errs, &policy.Error{Pos: pos, Message: fmt.Sprintf("the workspaces' sources hold more than %d MiB of manifests in all", limits.MaxRenderInput>>20)})
			break
		}
		out = append(out, &Source{ID: id, Pos: pos, Node: rn, size: size})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// memFS copies the repo's regular files (not .git) into memory once, and
// refuses kustomizations that name remote resources.
func (r *renderer) memFS() (filesys.FileSystem, error) {
	if r.mem != nil {
		return r.mem, nil
	}
	mem := filesys.MakeFsInMemory()
	var total int64
	err := filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != r.root && (strings.HasPrefix(d.Name(), ".") || policy.IsChartDir(p)) {
				return filepath.SkipDir // Helm charts render through chart sources, not kustomize
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks are not followed into the copy
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if total += info.Size(); total > limits.MaxRepoCopy {
			return fmt.Errorf("repo is larger than %d MiB; kustomize builds need an in-memory copy", limits.MaxRepoCopy>>20)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel := r.rel(p)
		if ext := path.Ext(rel); ext == ".yaml" || ext == ".yml" || policy.IsKustomizationFile(rel) {
			if errs := policy.RemoteKustomizeRefs(rel, data); len(errs) > 0 {
				return errs
			}
		}
		return mem.WriteFile("/"+rel, data)
	})
	if err != nil {
		return nil, err
	}
	r.mem = mem
	return mem, nil
}

// hasAnchors reports whether a document uses YAML anchors, aliases or merge keys.
func hasAnchors(n *yaml3.Node) bool {
	if n.Anchor != "" || n.Kind == yaml3.AliasNode || (n.Kind == yaml3.ScalarNode && n.Tag == "!!merge") {
		return true
	}
	for _, c := range n.Content {
		if hasAnchors(c) {
			return true
		}
	}
	return false
}

// expandLists replaces each document that is a List — kind List, or a
// typed list such as RoleList or ConfigMapList with items and no name, as
// projects publish them and kubectl takes them — by its items, in order
// (nested lists too, a few levels deep). An item without apiVersion or kind
// takes them from a typed list (RoleList → rbac.authorization.k8s.io/v1
// Role). Each item keeps its own line, so errors name the item's place in
// the file.
func expandLists(docs []*yaml3.Node, depth int) []*yaml3.Node {
	var out []*yaml3.Node
	for _, n := range docs {
		items, av, kind := listItems(n)
		if items == nil || depth >= 3 {
			out = append(out, n)
			continue
		}
		elem := strings.TrimSuffix(kind, "List")
		for _, it := range items.Content {
			if it.Kind == yaml3.MappingNode && kind != "List" {
				if lookupScalar(it, "kind") == "" {
					it.Content = append(it.Content, &yaml3.Node{Kind: yaml3.ScalarNode, Value: "kind", Line: it.Line}, &yaml3.Node{Kind: yaml3.ScalarNode, Value: elem, Line: it.Line})
				}
				if lookupScalar(it, "apiVersion") == "" && av != "" {
					it.Content = append(it.Content, &yaml3.Node{Kind: yaml3.ScalarNode, Value: "apiVersion", Line: it.Line}, &yaml3.Node{Kind: yaml3.ScalarNode, Value: av, Line: it.Line})
				}
			}
			out = append(out, expandLists([]*yaml3.Node{it}, depth+1)...)
		}
	}
	return out
}

// listItems returns the items of a document that is a list, with the
// list's apiVersion and kind; nil items when it is not one.
func listItems(n *yaml3.Node) (*yaml3.Node, string, string) {
	if n.Kind != yaml3.MappingNode {
		return nil, "", ""
	}
	kind, av := lookupScalar(n, "kind"), lookupScalar(n, "apiVersion")
	if !strings.HasSuffix(kind, "List") {
		return nil, "", ""
	}
	var items, md *yaml3.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "items":
			items = n.Content[i+1]
		case "metadata":
			md = n.Content[i+1]
		}
	}
	if items == nil || (items.Kind != yaml3.SequenceNode && !(items.Tag == "!!null")) {
		return nil, "", ""
	}
	if kind != "List" && md != nil && lookupScalar(md, "name") != "" {
		return nil, "", "" // an object of a kind that happens to end in List
	}
	if items.Kind != yaml3.SequenceNode {
		items = &yaml3.Node{Kind: yaml3.SequenceNode}
	}
	return items, av, kind
}

func lookupScalar(n *yaml3.Node, key string) string {
	if n == nil || n.Kind != yaml3.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml3.ScalarNode {
			return n.Content[i+1].Value
		}
	}
	return ""
}

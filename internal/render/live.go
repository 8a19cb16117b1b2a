package render

import (
	"encoding/json"
	"fmt"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/policy"
)

// notProjected are, besides object.ServerMetadata, the fields of a live
// source object that belong to its own cluster: they are stripped before it
// is projected elsewhere.
var notProjected = [][]string{{"metadata", "ownerReferences"}, {"status"}}

// readLive reads the objects of a workspace's cluster sources through Options.Live.
func (r *renderer) readLive(w *policy.VirtualWorkspace) ([]*Source, policy.ErrorList) {
	var out []*Source
	var errs policy.ErrorList
	for i, src := range w.Spec.Sources {
		if src.Cluster == "" {
			continue
		}
		field := fmt.Sprintf("spec.sources[%d].cluster", i)
		if r.opts.SkipLive {
			continue
		}
		if r.opts.Live == nil {
			errs = append(errs, w.Origin.Errorf(field, "source cluster %s: reading live objects needs cluster access (tmc plan and tmc apply read them; tmc render does not)", src.Cluster))
			continue
		}
		objs, err := r.opts.Live.Objects(r.ctx, src.Cluster, src.ResourceSelectors)
		if err != nil {
			errs = append(errs, w.Origin.Errorf(field, "source cluster %s: %v", src.Cluster, err))
			continue
		}
		for _, m := range objs {
			s, err := liveSource(src.Cluster, m)
			if err != nil {
				errs = append(errs, w.Origin.Errorf(field, "source cluster %s: %v", src.Cluster, err))
				continue
			}
			if matchesAny(src.ResourceSelectors, s) {
				out = append(out, s)
			}
		}
	}
	return out, errs
}

// liveSource strips server-owned fields from a live object and wraps it as a Source.
func liveSource(cluster string, m map[string]any) (*Source, error) {
	object.DropServerMetadata(m)
	for _, f := range notProjected {
		removeField(m, f)
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if a, ok := md["annotations"].(map[string]any); ok {
			delete(a, "kubectl.kubernetes.io/last-applied-configuration")
			if len(a) == 0 {
				delete(md, "annotations")
			}
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var doc yaml3.Node
	if err := yaml3.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	n := doc.Content[0]
	clearStyle(n)
	rn := yaml.NewRNode(n)
	id := object.FromAPIVersion(rn.GetApiVersion(), rn.GetKind(), rn.GetNamespace(), rn.GetName())
	return &Source{ID: id, Pos: policy.Pos{File: "cluster:" + cluster + "/" + id.String()}, Node: rn, size: len(raw), cluster: cluster}, nil
}

func removeField(m map[string]any, path []string) {
	for i, k := range path {
		if i == len(path)-1 {
			delete(m, k)
			return
		}
		next, ok := m[k].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
}

// clearStyle drops the JSON flow style so live objects print as block YAML.
func clearStyle(n *yaml3.Node) {
	n.Style &^= yaml3.FlowStyle
	if n.Kind == yaml3.ScalarNode && n.Tag == "!!str" && !strings.ContainsAny(n.Value, ":#{}[]'\"\n") {
		n.Style &^= yaml3.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		clearStyle(c)
	}
}

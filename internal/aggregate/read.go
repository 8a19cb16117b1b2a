package aggregate

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	yaml3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/fieldpath"
	"github.com/kcp-dev/tmc/internal/inventory"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
)

// PageSize is the LIST page size.
const PageSize = 500

// instance is one resource's object on one cluster.
type instance struct {
	cluster  string
	priority int
	weight   float64
	obj      map[string]any // after the policy's transformations
	writes   []write        // who wrote which fields when (managedFields), parsed on demand
	mf       []any          // the raw managedFields
	rendered *render.Object // what tmc rendered for the cluster; nil when it rendered none
	env      *policy.Env
	health   string
	message  string
	changed  time.Time
}

func (i *instance) key() string {
	md, _ := i.obj["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	name, _ := md["name"].(string)
	return ns + "/" + name
}

// Selector builds the server-side label selector of a policy's reads: its
// labelSelectors (all must match) and, in scope Workspace, the workspace
// label tmc sets on what it applies. The syncer watches with the same one.
func Selector(ap *policy.AggregationPolicy, workspace string) (labels.Selector, error) {
	sel := labels.NewSelector()
	for _, ls := range ap.Spec.LabelSelectors {
		s, err := ls.Selector()
		if err != nil {
			return nil, err
		}
		reqs, _ := s.Requirements()
		sel = sel.Add(reqs...)
	}
	if ap.Spec.Scope == policy.ScopeSelected {
		return sel, nil
	}
	r, err := labels.NewRequirement(inventory.LabelWorkspace, "=", []string{inventory.LabelValue(workspace)})
	if err != nil {
		return nil, err
	}
	return sel.Add(*r), nil
}

// Namespaces are the namespaces a policy reads, one LIST each: its
// namespaces, narrowed by a metadata.namespace field selector (fieldNS); [""]
// reads every namespace, none reads nothing.
func Namespaces(ap *policy.AggregationPolicy, fieldNS string) []string {
	nss := ap.Spec.Namespaces
	switch {
	case fieldNS != "" && len(nss) > 0:
		if slices.Contains(nss, fieldNS) {
			return []string{fieldNS}
		}
		return nil
	case fieldNS != "":
		return []string{fieldNS}
	case len(nss) == 0:
		return []string{""}
	}
	return nss
}

// fieldFilter splits the field selectors into a namespace and name the server
// filters on and the requirements left to check on each object (those the
// server's filter does not already enforce).
func fieldFilter(ap *policy.AggregationPolicy) (ns, name string, reqs []policy.FieldRequirement, err error) {
	for _, fs := range ap.Spec.FieldSelectors {
		rs, err := policy.ParseFieldSelector(fs)
		if err != nil {
			return "", "", nil, err
		}
		if v := policy.Equal(rs, "metadata.namespace"); v != "" {
			ns = v
		}
		if v := policy.Equal(rs, "metadata.name"); v != "" {
			name = v
		}
		reqs = append(reqs, rs...)
	}
	// The LIST is narrowed to ns and name on the server: checking them again
	// would turn every object into YAML nodes for nothing.
	left := reqs[:0]
	for _, r := range reqs {
		if !r.NotEqual && (r.Field == "metadata.namespace" && r.Value == ns || r.Field == "metadata.name" && r.Value == name) {
			continue
		}
		left = append(left, r)
	}
	return ns, name, left, nil
}

func matchFields(obj map[string]any, reqs []policy.FieldRequirement) bool {
	return len(reqs) == 0 || policy.MatchFields(reqs, fieldpath.ToNode(obj))
}

// list reads the policy's kind on one cluster, page by page.
func list(ctx context.Context, c *cluster.Client, ap *policy.AggregationPolicy, workspace string) ([]map[string]any, error) {
	gvk := schema.GroupVersionKind{Group: ap.Spec.GVK.Group, Version: ap.Spec.GVK.Version, Kind: ap.Spec.GVK.Kind}
	sel, err := Selector(ap, workspace)
	if err != nil {
		return nil, err
	}
	ns, name, reqs, err := fieldFilter(ap)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, ns := range Namespaces(ap, ns) {
		opts := []client.ListOption{client.MatchingLabelsSelector{Selector: sel}}
		if ns != "" {
			opts = append(opts, client.InNamespace(ns))
		}
		if name != "" {
			opts = append(opts, client.MatchingFields{"metadata.name": name})
		}
		err = c.ListPages(ctx, gvk, PageSize, opts, func(u *unstructured.Unstructured) {
			if matchFields(u.Object, reqs) {
				out = append(out, u.Object)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", gvk.Kind, err)
		}
	}
	return out, nil
}

// lastChanged is the newest managedFields time, else the creationTimestamp.
func lastChanged(obj map[string]any) time.Time {
	var latest time.Time
	md, _ := obj["metadata"].(map[string]any)
	mfs, _ := md["managedFields"].([]any)
	for _, mf := range mfs {
		m, _ := mf.(map[string]any)
		if s, ok := m["time"].(string); ok {
			if t, err := time.Parse(time.RFC3339, s); err == nil && t.After(latest) {
				latest = t
			}
		}
	}
	if latest.IsZero() {
		if s, ok := md["creationTimestamp"].(string); ok {
			latest, _ = time.Parse(time.RFC3339, s)
		}
	}
	return latest
}

// transform runs the policy's transformations on an instance with the
// field-path engine render uses: the object becomes YAML nodes once, and
// plain data again only where a conditional reads it and at the end.
// values holds each transformation's expanded value (policy.Value.Expanded).
func transform(ap *policy.AggregationPolicy, obj map[string]any, env *policy.Env, values []*yaml3.Node) (map[string]any, error) {
	ts := ap.Spec.Transformations
	if len(ts) == 0 {
		return obj, nil
	}
	n := fieldpath.ToNode(obj)
	cur, dirty := obj, false
	back := func() error {
		if !dirty {
			return nil
		}
		v, err := fieldpath.FromNode(n)
		if err != nil {
			return err
		}
		cur, dirty = v.(map[string]any), false
		return nil
	}
	for i := range ts {
		t := &ts[i]
		if t.Program != nil {
			if t.Program.UsesResource {
				if err := back(); err != nil {
					return nil, err
				}
			}
			env.Resource = cur
			ok, err := t.Program.Bool(env)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		eff, err := t.Apply(n, values[i])
		if err != nil {
			return nil, ap.Origin.Errorf(fmt.Sprintf("spec.transformations[%d]", i), "%v", err)
		}
		dirty = dirty || eff != fieldpath.EffectNoop
	}
	if err := back(); err != nil {
		return nil, err
	}
	return cur, nil
}

// values expands each transformation's value once per read.
func values(ap *policy.AggregationPolicy) ([]*yaml3.Node, error) {
	out := make([]*yaml3.Node, len(ap.Spec.Transformations))
	for i := range ap.Spec.Transformations {
		t := &ap.Spec.Transformations[i]
		if t.Type == policy.TransformDelete {
			continue
		}
		v, err := t.Value.Expanded()
		if err != nil {
			return nil, ap.Origin.Errorf(fmt.Sprintf("spec.transformations[%d].value", i), "%v", err)
		}
		out[i] = v
	}
	return out, nil
}

func joinErrs(errs map[string]error) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, k+": "+errs[k].Error())
	}
	return strings.Join(parts, "; ")
}

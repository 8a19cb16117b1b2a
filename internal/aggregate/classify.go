package aggregate

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"

	kresource "k8s.io/apimachinery/pkg/api/resource"

	"github.com/kcp-dev/tmc/internal/fieldpath"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
)

// Classes of a difference across clusters.
const (
	// Intended: every instance holds what tmc rendered for its cluster; the
	// values differ because git means them to (a projection policy's
	// transformation). Reported as a Variation, never as a Conflict.
	Intended = "Intended"
	// Divergent: some instance does not hold what tmc rendered for its
	// cluster (a hand edit, a controller rewriting a field).
	Divergent = "Divergent"
	// Unmanaged: git does not set the field (server defaults, controllers),
	// or tmc did not render the object (aggregation scope Selected).
	Unmanaged = "Unmanaged"
)

// desiredIndex finds what tmc rendered for a cluster, by object.
type desiredIndex map[string]map[object.ID]*render.Object

func indexRendered(ws *render.Workspace) desiredIndex {
	out := desiredIndex{}
	for _, c := range ws.Clusters {
		m := make(map[object.ID]*render.Object, len(c.Objects))
		for _, o := range c.Objects {
			m[o.ID] = o
		}
		out[c.Name] = m
	}
	return out
}

func (d desiredIndex) lookup(cluster string, obj map[string]any) *render.Object {
	objs := d[cluster]
	if len(objs) == 0 {
		return nil
	}
	md, _ := obj["metadata"].(map[string]any)
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	ns, _ := md["namespace"].(string)
	name, _ := md["name"].(string)
	return objs[object.FromAPIVersion(apiVersion, kind, ns, name)]
}

// classifier classifies one resource's differences against what tmc
// rendered for each cluster. What it needs is made on first use: a resource
// whose instances agree costs nothing, and a field is read from the
// rendered nodes alone unless one of the policy's transformations acts on
// it (then the whole rendered object goes through them, as instances do).
type classifier struct {
	ap    *policy.AggregationPolicy
	insts map[string]*instance
	want  map[string]map[string]any // per cluster: the rendered object after the policy's transformations
	err   error
	made  bool
}

// transformed reports whether one of the policy's transformations acts on p
// (or above or below it).
func (c *classifier) transformed(p fieldpath.Path) bool {
	for i := range c.ap.Spec.Transformations {
		if related(p, parsed(c.ap.Spec.Transformations[i].JSONPath)) {
			return true
		}
	}
	return false
}

// prepare runs the policy's transformations on every rendered object, once.
func (c *classifier) prepare() {
	if c.made {
		return
	}
	c.made = true
	c.want = map[string]map[string]any{}
	vals, err := values(c.ap)
	if err != nil {
		c.err = err
		return
	}
	for name, inst := range c.insts {
		if inst.rendered == nil {
			continue
		}
		v, err := fieldpath.FromNode(inst.rendered.Node.YNode())
		if err != nil {
			c.err = err
			return
		}
		m, _ := v.(map[string]any)
		if m, err = transform(c.ap, m, inst.env, vals); err != nil {
			c.err = err
			return
		}
		c.want[name] = m
	}
}

// wantAt is what tmc rendered at p for a cluster; rendered is false when
// tmc rendered nothing there.
func (c *classifier) wantAt(cluster string, p fieldpath.Path) (v any, ok, rendered bool) {
	inst := c.insts[cluster]
	if inst == nil || inst.rendered == nil {
		return nil, false, false
	}
	if c.transformed(p) {
		c.prepare()
		w, ok := c.want[cluster]
		if !ok {
			return nil, false, c.err == nil
		}
		v, ok = get(w, p)
		return v, ok, true
	}
	n := fieldpath.Get(inst.rendered.Node.YNode(), p)
	if n == nil {
		return nil, false, true
	}
	v, err := fieldpath.FromNode(n)
	return v, err == nil, true
}

// source is the value at p of the object as written in git — when every
// instance comes from the same source value: a chart renders its source
// per cluster, and then git holds no one value (nor may the answer depend
// on map order, or reports would change with every aggregation).
func (c *classifier) source(p fieldpath.Path) (any, bool) {
	var out any
	var seen *render.Source
	found := false
	for _, name := range slices.Sorted(maps.Keys(c.insts)) {
		inst := c.insts[name]
		if inst.rendered == nil || inst.rendered.From == nil || inst.rendered.From == seen {
			continue // the same source object as the one before: one git value
		}
		seen = inst.rendered.From
		n := fieldpath.Get(inst.rendered.From.Node.YNode(), p)
		if n == nil {
			return nil, false
		}
		v, err := fieldpath.FromNode(n)
		if err != nil || (found && !reflect.DeepEqual(out, v)) {
			return nil, false
		}
		out, found = v, true
	}
	return out, found
}

// paths caches parsed transformation paths (they come from policies: few).
var paths sync.Map

func parsed(s string) fieldpath.Path {
	if p, ok := paths.Load(s); ok {
		return p.(fieldpath.Path)
	}
	p, err := fieldpath.Parse(s)
	if err != nil {
		p = fieldpath.Path{}
	}
	paths.Store(s, p)
	return p
}

// classify decides the class of one conflict. It returns, for Intended, the
// variation to report instead.
func (c *classifier) classify(k *Conflict) (*Variation, bool) {
	p, err := fieldpath.Parse(k.Field)
	if err != nil {
		k.Class = Unmanaged
		return nil, false
	}
	wants := map[string]any{}
	anyRendered := false
	for _, cl := range slices.Sorted(maps.Keys(k.Values)) {
		x, ok, rendered := c.wantAt(cl, p)
		anyRendered = anyRendered || rendered
		if !ok {
			continue // git does not set it there, or tmc rendered nothing (or a rollout holds the cluster back)
		}
		wants[cl] = x
		if !sameValue(k.Values[cl], x) {
			d := Divergence{Cluster: cl, Desired: x}
			if sp, ok := smdPath(k.Field); ok {
				if w, ok := c.insts[cl].parsedWrites().lastWrite(sp); ok {
					d.Manager, d.WrittenAt = w.manager, w.at.UTC().Format(time.RFC3339)
				}
			}
			k.Divergent = append(k.Divergent, d)
		}
	}
	if len(k.Divergent) > 0 {
		k.Class = Divergent
		return nil, false
	}
	// Intended when git set the field on some cluster and its values differ
	// between clusters (or git set it on some clusters only).
	if !anyRendered || len(wants) == 0 || (len(wants) == len(k.Values) && allEqual(wants)) {
		k.Class = Unmanaged
		return nil, false
	}
	v := &Variation{Field: k.Field, Values: k.Values}
	v.Source, v.HasSource = c.source(p)
	v.By = c.madeBy(p, slices.Sorted(maps.Keys(wants)))
	return v, true
}

// madeBy names the transformations that acted on the field (or on a field
// above or below it) on the given clusters.
func (c *classifier) madeBy(p fieldpath.Path, clusters []string) []VariedBy {
	type key struct {
		policy string
		index  int
	}
	found := map[key]*VariedBy{}
	for _, cl := range clusters {
		inst := c.insts[cl]
		if inst == nil || inst.rendered == nil {
			continue
		}
		for _, a := range inst.rendered.Transformations {
			if a.Effect == "skipped" || a.Effect == string(fieldpath.EffectNoop) {
				continue
			}
			if tp := parsed(a.Path); len(tp.Segments) == 0 || !related(p, tp) {
				continue
			}
			k := key{a.Policy, a.Index}
			if found[k] == nil {
				found[k] = &VariedBy{Policy: a.Policy, Transformation: a.Index, Type: string(a.Type), Path: a.Path}
			}
			if !slices.Contains(found[k].Clusters, cl) {
				found[k].Clusters = append(found[k].Clusters, cl)
			}
		}
	}
	out := make([]VariedBy, 0, len(found))
	for _, v := range found {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Policy != out[j].Policy {
			return out[i].Policy < out[j].Policy
		}
		return out[i].Transformation < out[j].Transformation
	})
	return out
}

// related reports whether one path is the other or lies below it.
func related(a, b fieldpath.Path) bool {
	n := min(len(a.Segments), len(b.Segments))
	return slices.Equal(a.Segments[:n], b.Segments[:n])
}

// get reads the value at p in plain data.
func get(v any, p fieldpath.Path) (any, bool) {
	for _, s := range p.Segments {
		switch s.Kind {
		case fieldpath.Field:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[s.Key]; !ok {
				return nil, false
			}
		case fieldpath.Index:
			l, ok := v.([]any)
			if !ok || s.Index >= len(l) {
				return nil, false
			}
			v = l[s.Index]
		case fieldpath.Select:
			l, ok := v.([]any)
			if !ok {
				return nil, false
			}
			i := selectItem(l, s)
			if i < 0 {
				return nil, false
			}
			v = l[i]
		}
	}
	return v, true
}

func selectItem(l []any, s fieldpath.Segment) int {
	for i, item := range l {
		if m, ok := item.(map[string]any); ok {
			if x, ok := m[s.Key]; ok && x != nil && fmt.Sprint(x) == s.Value {
				return i
			}
		}
	}
	return -1
}

// setAt returns v with the value at segs set to x, copying the maps and
// lists on the way (the merged view shares them with the instances); ok is
// false when a list item on the way is missing.
func setAt(v any, segs []fieldpath.Segment, x any) (any, bool) {
	if len(segs) == 0 {
		return x, true
	}
	s := segs[0]
	switch s.Kind {
	case fieldpath.Field:
		m, ok := v.(map[string]any)
		if v != nil && !ok {
			return v, false
		}
		out := maps.Clone(m)
		if out == nil {
			out = map[string]any{}
		}
		child, ok := setAt(out[s.Key], segs[1:], x)
		if !ok {
			return v, false
		}
		out[s.Key] = child
		return out, true
	default:
		l, ok := v.([]any)
		if !ok {
			return v, false
		}
		i := s.Index
		if s.Kind == fieldpath.Select {
			i = selectItem(l, s)
		}
		if i < 0 || i >= len(l) {
			return v, false
		}
		child, ok := setAt(l[i], segs[1:], x)
		if !ok {
			return v, false
		}
		out := slices.Clone(l)
		out[i] = child
		return out, true
	}
}

// sameValue reports whether a live value holds what git meant: every field
// git sets, equal after the API server's normalisation (numbers of either
// type, quantities such as 0.5 and 500m); fields git does not set (server
// defaults) do not count.
func sameValue(live, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return live == nil && len(w) == 0
		}
		for k, wv := range w {
			lv, ok := l[k]
			if !ok {
				if !empty(wv) {
					return false
				}
				continue
			}
			if !sameValue(lv, wv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok {
			return live == nil && len(w) == 0
		}
		if len(l) != len(w) {
			return false
		}
		if named, ok := byName(w); ok {
			if lnamed, ok := byName(l); ok {
				for n, wv := range named {
					if !sameValue(lnamed[n], wv) {
						return false
					}
				}
				return true
			}
		}
		for i := range w {
			if !sameValue(l[i], w[i]) {
				return false
			}
		}
		return true
	case nil:
		return empty(live)
	}
	if reflect.DeepEqual(live, want) {
		return true
	}
	ls, wsv := fmt.Sprint(live), fmt.Sprint(want)
	if ls == wsv {
		return true
	}
	lq, err1 := kresource.ParseQuantity(ls)
	wq, err2 := kresource.ParseQuantity(wsv)
	return err1 == nil && err2 == nil && lq.Cmp(wq) == 0
}

func byName(l []any) (map[string]any, bool) {
	out := make(map[string]any, len(l))
	for _, item := range l {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, false
		}
		n, ok := m["name"].(string)
		if !ok {
			return nil, false
		}
		out[n] = item
	}
	return out, true
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case string:
		return x == ""
	}
	return false
}

// classifyResource classifies the resource's conflicts: intended ones
// leave Conflicts for Variations, and the merged content shows git's
// source value there (prefix is the content's path in the object).
// Lists without names that were merged item by item (itemwise) stay out of
// the conflicts unless divergent.
func classifyResource(res *Resource, itemwise []Conflict, c *classifier, prefix string) {
	if !slices.ContainsFunc(slices.Collect(maps.Values(c.insts)), func(i *instance) bool { return i.rendered != nil }) {
		for i := range res.Conflicts {
			res.Conflicts[i].Class = Unmanaged // tmc rendered none of them: as before classification
		}
		return
	}
	all := append(res.Conflicts, itemwise...)
	n := len(res.Conflicts)
	var kept []Conflict
	for i := range all {
		k := all[i]
		v, intended := c.classify(&k)
		if !intended {
			if i >= n && k.Class != Divergent {
				continue
			}
			if k.Class == Divergent {
				res.DivergentFields++
			}
			kept = append(kept, k)
			continue
		}
		if v.HasSource {
			if p, err := fieldpath.Parse(v.Field); err == nil {
				segs := p.Segments
				if prefix != "" && len(segs) > 0 {
					segs = segs[1:]
				}
				if spec, ok := setAt(res.Spec, segs, v.Source); ok {
					res.Spec, _ = spec.(map[string]any)
				}
			}
		}
		res.Variations = append(res.Variations, *v)
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Field < kept[j].Field })
	res.Conflicts = kept
}

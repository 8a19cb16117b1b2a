package aggregate

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kcp-dev/tmc/internal/policy"
)

// content is what merge strategies merge: the spec, or for kinds without
// one (ConfigMap, Secret) the top-level fields other than apiVersion, kind,
// metadata and status. prefix is the path of the content in the object.
func content(obj map[string]any) (map[string]any, string) {
	if s, ok := obj["spec"].(map[string]any); ok {
		return s, "spec"
	}
	out := map[string]any{}
	for k, v := range obj {
		switch k {
		case "apiVersion", "kind", "metadata", "status":
		default:
			out[k] = v
		}
	}
	return out, ""
}

func join(prefix, key string) string {
	if strings.ContainsAny(key, ".[]'\" ") {
		return prefix + "['" + key + "']"
	}
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// merger merges the values of several instances, recording conflicts.
type merger struct {
	// order ranks the instances for a conflict: the first wins.
	order      []*instance
	resolution string // LastWriter, Priority, Report (Union), or Intersection
	conflicts  []Conflict
	// itemwise are the lists without names that differ and were merged item
	// by item: not conflicts, unless classification finds them divergent
	// (or intended: then a variation).
	itemwise []Conflict
}

// merge returns the merged value of the instances that hold a field (vals is
// keyed by cluster), or drop=true when the field has no merged value.
func (m *merger) merge(path string, vals map[string]any, total int) (v any, drop bool) {
	if len(vals) == 0 {
		return nil, true
	}
	if m.resolution == string(policy.MergeIntersection) && len(vals) < total {
		return nil, true
	}
	if allEqual(vals) {
		for _, x := range vals {
			return x, false
		}
	}
	if ms, ok := allMaps(vals); ok {
		out := map[string]any{}
		for _, k := range unionKeys(ms) {
			sub := map[string]any{}
			for c, mm := range ms {
				if x, ok := mm[k]; ok {
					sub[c] = x
				}
			}
			if x, drop := m.merge(join(path, k), sub, total); !drop {
				out[k] = x
			}
		}
		return out, false
	}
	if lists, ok := allNamedLists(vals); ok {
		var out []any
		for _, name := range unionKeys(lists) {
			sub := map[string]any{}
			for c, l := range lists {
				if x, ok := l[name]; ok {
					sub[c] = x
				}
			}
			if x, drop := m.merge(fmt.Sprintf("%s[name=%s]", path, name), sub, total); !drop {
				out = append(out, x)
			}
		}
		return out, false
	}
	if lists, ok := allLists(vals); ok && m.resolution != string(policy.ResolveReport) {
		res := string(policy.MergeUnion)
		if m.resolution == string(policy.MergeIntersection) {
			res = string(policy.MergeIntersection)
		}
		m.itemwise = append(m.itemwise, Conflict{Field: path, Values: vals, Resolution: res})
		return m.mergeItems(lists), false
	}
	// A leaf the instances disagree on.
	c := Conflict{Field: path, Values: vals, Resolution: m.resolution}
	switch m.resolution {
	case string(policy.ResolveReport), string(policy.MergeIntersection):
		m.conflicts = append(m.conflicts, c)
		return nil, true
	case string(policy.ResolveLastWriter):
		if inst, w := lastWriter(m.order, vals, path); inst != nil {
			c.Winner = inst.cluster
			if w.manager != "" {
				c.Manager, c.WrittenAt = w.manager, w.at.UTC().Format(time.RFC3339)
			}
			m.conflicts = append(m.conflicts, c)
			return vals[inst.cluster], false
		}
	}
	for _, inst := range m.order {
		if x, ok := vals[inst.cluster]; ok {
			c.Winner = inst.cluster
			m.conflicts = append(m.conflicts, c)
			return x, false
		}
	}
	return nil, true
}

// diff records, without merging, the leaves where instances disagree; the
// winner is the instance a whole-object strategy chose.
func (m *merger) diff(path string, vals map[string]any, winner string) {
	if len(vals) < 2 || allEqual(vals) {
		return
	}
	if ms, ok := allMaps(vals); ok {
		for _, k := range unionKeys(ms) {
			sub := map[string]any{}
			for c, mm := range ms {
				if x, ok := mm[k]; ok {
					sub[c] = x
				}
			}
			m.diff(join(path, k), sub, winner)
		}
		return
	}
	if lists, ok := allNamedLists(vals); ok {
		for _, name := range unionKeys(lists) {
			sub := map[string]any{}
			for c, l := range lists {
				if x, ok := l[name]; ok {
					sub[c] = x
				}
			}
			m.diff(fmt.Sprintf("%s[name=%s]", path, name), sub, winner)
		}
		return
	}
	c := Conflict{Field: path, Values: vals, Resolution: m.resolution}
	if _, ok := vals[winner]; ok {
		c.Winner = winner
	}
	m.conflicts = append(m.conflicts, c)
}

func allEqual(vals map[string]any) bool {
	var first any
	i := 0
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		if i == 0 {
			first = vals[k]
		} else if !reflect.DeepEqual(first, vals[k]) {
			return false
		}
		i++
	}
	return true
}

// allLists returns the values as lists when every one is a list.
func allLists(vals map[string]any) (map[string][]any, bool) {
	out := map[string][]any{}
	for c, v := range vals {
		l, ok := v.([]any)
		if !ok {
			return nil, false
		}
		out[c] = l
	}
	return out, true
}

// mergeItems merges lists without names item by item. Union keeps every
// item once (identical items from several clusters once, e.g. container
// args or ports), in the order of the instance that wins conflicts, then the
// others'. Intersection keeps the items every list holds, in the first
// list's order.
func (m *merger) mergeItems(lists map[string][]any) []any {
	clusters := slices.Sorted(maps.Keys(lists))
	if len(m.order) > 0 {
		var ordered []string
		for _, inst := range m.order {
			if _, ok := lists[inst.cluster]; ok && !slices.Contains(ordered, inst.cluster) {
				ordered = append(ordered, inst.cluster)
			}
		}
		clusters = ordered
	}
	has := func(l []any, x any) bool {
		return slices.ContainsFunc(l, func(y any) bool { return reflect.DeepEqual(x, y) })
	}
	out := []any{}
	if m.resolution == string(policy.MergeIntersection) {
		for _, x := range lists[clusters[0]] {
			every := true
			for _, c := range clusters[1:] {
				every = every && has(lists[c], x)
			}
			if every && !has(out, x) {
				out = append(out, x)
			}
		}
		return out
	}
	for _, c := range clusters {
		for _, x := range lists[c] {
			if !has(out, x) {
				out = append(out, x)
			}
		}
	}
	return out
}

func allMaps(vals map[string]any) (map[string]map[string]any, bool) {
	out := map[string]map[string]any{}
	for c, v := range vals {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		out[c] = m
	}
	return out, true
}

// allNamedLists returns each list as name → item when every item of every list is a map with a name.
func allNamedLists(vals map[string]any) (map[string]map[string]any, bool) {
	out := map[string]map[string]any{}
	for c, v := range vals {
		l, ok := v.([]any)
		if !ok || len(l) == 0 {
			return nil, false
		}
		byName := map[string]any{}
		for _, item := range l {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, false
			}
			name, ok := m["name"].(string)
			if !ok {
				return nil, false
			}
			byName[name] = item
		}
		out[c] = byName
	}
	return out, true
}

func unionKeys(ms map[string]map[string]any) []string {
	set := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			set[k] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// byPriority orders instances: healthy first when preferHealthy, then higher priority, then name.
func byPriority(insts []*instance, preferHealthy bool) []*instance {
	out := append([]*instance(nil), insts...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if preferHealthy && (a.health == Healthy) != (b.health == Healthy) {
			return a.health == Healthy
		}
		if a.priority != b.priority {
			return a.priority > b.priority
		}
		return a.cluster < b.cluster
	})
	return out
}

// byLatest orders instances: most recently changed first, then by priority.
func byLatest(insts []*instance) []*instance {
	out := byPriority(insts, false)
	sort.SliceStable(out, func(i, j int) bool { return out[i].changed.After(out[j].changed) })
	return out
}

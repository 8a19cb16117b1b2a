package policy

import (
	"sort"
	"strings"
	"time"

	"github.com/kcp-dev/tmc/internal/object"
)

// Origin is where a policy object is written, with the position of each of its fields.
type Origin struct {
	// Pos is where the object's document starts.
	Pos Pos
	// Object is Kind/name.
	Object string
	pos    positions
}

// At returns the position of a field path such as "spec.transformations[1].value",
// or of its nearest written parent when the field itself is absent.
func (o Origin) At(field string) Pos {
	for {
		if p, ok := o.pos[field]; ok {
			return p
		}
		if field == "" {
			return o.Pos
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			field = ""
		} else {
			field = field[:i]
		}
	}
}

// Errorf makes an Error located at a field of the object.
func (o Origin) Errorf(field, format string, args ...any) *Error {
	return &Error{Pos: o.At(field), Object: o.Object, Field: field, Message: sprintf(format, args...)}
}

// Policies is a loaded, validated and compiled policy tree. Every list is sorted by name.
type Policies struct {
	// Root is the directory loaded.
	Root string
	// Clusters are the target clusters.
	Clusters []*Cluster
	// Workspaces are the virtual workspaces.
	Workspaces []*VirtualWorkspace
	// ProjectionPolicies are the projection policies.
	ProjectionPolicies []*ProjectionPolicy
	// AggregationPolicies are the aggregation policies.
	AggregationPolicies []*AggregationPolicy
	// Configs holds the Config objects written (at most one after validation).
	Configs []*Config
	// Config is the effective configuration: the Config object with defaults, or the defaults.
	Config ConfigSpec
}

func (p *Policies) sort() {
	sortByName(p.Clusters, func(c *Cluster) string { return c.Metadata.Name })
	sortByName(p.Workspaces, func(w *VirtualWorkspace) string {
		return object.Workspace(w.Spec.LogicalCluster, w.Metadata.Name).String()
	})
	sortByName(p.ProjectionPolicies, func(x *ProjectionPolicy) string { return x.Metadata.Name })
	sortByName(p.AggregationPolicies, func(x *AggregationPolicy) string { return x.Metadata.Name })
}

func sortByName[T any](s []T, name func(T) string) {
	sort.SliceStable(s, func(i, j int) bool { return name(s[i]) < name(s[j]) })
}

// Cluster returns the named cluster, or nil.
func (p *Policies) Cluster(name string) *Cluster {
	for _, c := range p.Clusters {
		if c.Metadata.Name == name {
			return c
		}
	}
	return nil
}

// Workspace returns the named workspace, or nil.
func (p *Policies) Workspace(name string) *VirtualWorkspace {
	for _, w := range p.Workspaces {
		if w.Metadata.Name == name {
			return w
		}
	}
	return nil
}

// ProjectionPolicy returns the named projection policy, or nil.
func (p *Policies) ProjectionPolicy(name string) *ProjectionPolicy {
	for _, x := range p.ProjectionPolicies {
		if x.Metadata.Name == name {
			return x
		}
	}
	return nil
}

// AggregationPolicy returns the named aggregation policy, or nil.
func (p *Policies) AggregationPolicy(name string) *AggregationPolicy {
	for _, x := range p.AggregationPolicies {
		if x.Metadata.Name == name {
			return x
		}
	}
	return nil
}

// Counts returns the number of objects per kind, in the order of Kinds.
func (p *Policies) Counts() map[string]int {
	return map[string]int{
		KindCluster:           len(p.Clusters),
		KindVirtualWorkspace:  len(p.Workspaces),
		KindProjectionPolicy:  len(p.ProjectionPolicies),
		KindAggregationPolicy: len(p.AggregationPolicies),
		KindConfig:            len(p.Configs),
	}
}

// HealthCheckTimeout returns the cluster's health-check timeout (default 10s).
func (c *Cluster) HealthCheckTimeout() time.Duration {
	d, _ := time.ParseDuration(c.Spec.HealthCheckTimeout)
	return d
}

// Duration parses one of ConfigSpec's duration fields, which validation has checked.
func Duration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}

// Names returns the names of the objects of a kind, in order.
func (p *Policies) Names(kind string) []string {
	var out []string
	switch kind {
	case KindCluster:
		for _, x := range p.Clusters {
			out = append(out, x.Metadata.Name)
		}
	case KindVirtualWorkspace:
		for _, x := range p.Workspaces {
			out = append(out, x.Metadata.Name)
		}
	case KindProjectionPolicy:
		for _, x := range p.ProjectionPolicies {
			out = append(out, x.Metadata.Name)
		}
	case KindAggregationPolicy:
		for _, x := range p.AggregationPolicies {
			out = append(out, x.Metadata.Name)
		}
	case KindConfig:
		for _, x := range p.Configs {
			out = append(out, x.Metadata.Name)
		}
	}
	return out
}

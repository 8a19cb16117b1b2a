package render

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/policy"
)

// Decision says whether one cluster is a target of a workspace, and why.
type Decision struct {
	// Cluster is the cluster's name.
	Cluster string `json:"cluster"`
	// Selected is true when the cluster is a target.
	Selected bool `json:"selected"`
	// Reasons explain the decision step by step.
	Reasons []string `json:"reasons"`
	// Facts are the cluster facts the decision used.
	Facts policy.ClusterFacts `json:"facts"`
	// FactsError is set when the facts could not be observed (the probe's
	// verdict, as Result.State has it).
	FactsError *cluster.Problem `json:"factsError,omitempty"`
	// Unhealthy is true when the cluster would be a target but is left out for being unhealthy.
	Unhealthy bool `json:"unhealthy,omitempty"`
	// Inventory says where a cluster of the cluster inventory comes from:
	// its ClusterProfile and the inventory read, and the repo Cluster that
	// refines it.
	Inventory string `json:"inventory,omitempty"`
}

// place decides the target clusters of a workspace: clusters ∪ clusters
// matching clusterSelector (all clusters when neither is set), kept where the
// conditional is true, minus clusters with projectionEnabled false and,
// unless includeUnhealthy, unhealthy clusters.
func (r *renderer) place(w *policy.VirtualWorkspace) ([]Decision, error) {
	pl := w.Spec.Placement
	var sel labels.Selector
	if pl.ClusterSelector != nil {
		var err error
		if sel, err = pl.ClusterSelector.Selector(); err != nil {
			return nil, w.Origin.Errorf("spec.placement.clusterSelector", "%v", err)
		}
	}
	var out []Decision
	for _, c := range r.p.Clusters {
		name := c.Metadata.Name
		f := r.facts[name]
		d := Decision{Cluster: name, Facts: f.facts, FactsError: f.state.Err, Inventory: c.InventoryNote()}
		named := slices.Contains(pl.Clusters, name)
		switch {
		case named:
			d.Reasons = append(d.Reasons, "named in placement.clusters")
		case sel != nil && sel.Matches(labels.Set(c.Metadata.Labels)):
			d.Reasons = append(d.Reasons, fmt.Sprintf("labels %s match placement.clusterSelector %s", labelString(c.Metadata.Labels), sel))
		case len(pl.Clusters) == 0 && sel == nil:
			d.Reasons = append(d.Reasons, "placement names no clusters and no selector: every cluster")
		default:
			why := "not named in placement.clusters"
			if sel != nil {
				why += fmt.Sprintf(" and labels %s do not match placement.clusterSelector %s", labelString(c.Metadata.Labels), sel)
			}
			d.Reasons = append(d.Reasons, why)
			out = append(out, d)
			continue
		}
		d.Selected = true
		if pl.Program != nil {
			env := &policy.Env{Cluster: f.facts, Workspace: r.ws}
			ok, err := pl.Program.Bool(env)
			if err != nil {
				return nil, policy.ErrorList{onCluster(err, name)}
			}
			d.Reasons = append(d.Reasons, fmt.Sprintf("placement.conditional `%s` is %v (%s)", pl.Program.Source, ok, factString(pl.Program.Facts(env))))
			d.Selected = ok
		}
		if d.Selected && !*c.Spec.ProjectionEnabled {
			d.Selected = false
			d.Reasons = append(d.Reasons, "cluster has projectionEnabled: false")
		}
		if d.Selected && !f.facts.Healthy {
			if pl.IncludeUnhealthy {
				d.Reasons = append(d.Reasons, "cluster is unhealthy; kept by placement.includeUnhealthy")
			} else {
				d.Selected, d.Unhealthy = false, true
				d.Reasons = append(d.Reasons, "cluster is unhealthy and placement.includeUnhealthy is false")
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// policyApplies decides whether a projection policy acts on a cluster.
func (r *renderer) policyApplies(pp *policy.ProjectionPolicy, cluster string) (bool, string, error) {
	switch pp.Spec.Mode {
	case policy.ModeSelective:
		ok := slices.Contains(pp.Spec.TargetClusters, cluster)
		return ok, fmt.Sprintf("mode Selective: %s in targetClusters %v: %v", cluster, pp.Spec.TargetClusters, ok), nil
	case policy.ModeConditional:
		if pp.Spec.Program == nil {
			return true, "mode Conditional without a policy conditional: each transformation's conditional decides", nil
		}
		env := &policy.Env{Cluster: r.facts[cluster].facts, Workspace: r.ws}
		ok, err := pp.Spec.Program.Bool(env)
		if err != nil {
			return false, "", err
		}
		return ok, fmt.Sprintf("mode Conditional: `%s` is %v (%s)", pp.Spec.Program.Source, ok, factString(pp.Spec.Program.Facts(env))), nil
	}
	return true, "mode All", nil
}

func labelString(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func factString(fs []policy.Fact) string {
	if len(fs) == 0 {
		return "reads no facts"
	}
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%s=%v", f.Path, f.Value)
	}
	return strings.Join(parts, ", ")
}

// onCluster names the cluster an expression failed for in its error.
func onCluster(err error, cluster string) *policy.Error {
	pe := *asError(err)
	pe.Message = fmt.Sprintf("on cluster %s: %s", cluster, pe.Message)
	return &pe
}

// waves puts each target cluster in the first wave of the workspace's
// rollout that chooses it (by name, labels or its facts), the others in a
// last wave "rest". The same rules place a cluster that joins during a
// rollout, so it never takes a revision ahead of the waves before its own.
func (r *renderer) waves(w *policy.VirtualWorkspace, targets []Decision) ([]Wave, error) {
	ro := w.Spec.Rollout
	if ro == nil {
		return nil, nil
	}
	out := make([]Wave, len(ro.Waves), len(ro.Waves)+1)
	for i := range ro.Waves {
		out[i] = Wave{Name: ro.Waves[i].Name, Clusters: []string{}, Reasons: map[string]string{}, Spec: &ro.Waves[i]}
	}
	rest := Wave{Name: policy.RestWave, Clusters: []string{}, Reasons: map[string]string{}}
	for _, d := range targets {
		c := r.p.Cluster(d.Cluster)
		placed := false
		for i := range ro.Waves {
			wv := &ro.Waves[i]
			why := ""
			switch {
			case slices.Contains(wv.Clusters, d.Cluster):
				why = "named in the wave's clusters"
			case wv.Selector != nil && wv.Selector.Matches(labels.Set(c.Metadata.Labels)):
				why = fmt.Sprintf("labels %s match the wave's clusterSelector %s", labelString(c.Metadata.Labels), wv.Selector)
			case wv.Program != nil:
				env := &policy.Env{Cluster: r.facts[d.Cluster].facts, Workspace: r.ws}
				ok, err := wv.Program.Bool(env)
				if err != nil {
					return nil, policy.ErrorList{onCluster(err, d.Cluster)}
				}
				if ok {
					why = fmt.Sprintf("the wave's conditional `%s` is true (%s)", wv.Program.Source, factString(wv.Program.Facts(env)))
				}
			}
			if why != "" {
				out[i].Clusters = append(out[i].Clusters, d.Cluster)
				out[i].Reasons[d.Cluster] = why
				placed = true
				break
			}
		}
		if !placed {
			rest.Clusters = append(rest.Clusters, d.Cluster)
			rest.Reasons[d.Cluster] = "no wave chooses it: it rolls last"
		}
	}
	if len(rest.Clusters) > 0 {
		out = append(out, rest)
	}
	return out, nil
}

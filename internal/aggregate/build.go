package aggregate

import (
	"context"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	yaml3 "go.yaml.in/yaml/v3"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/mask"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
)

// Options tune an aggregation.
type Options struct {
	// Workspace aggregates only the named workspace.
	Workspace string
	// Clusters bounds the clusters read at once.
	Clusters int
	// Behind names, per workspace (logicalCluster/name), the target
	// clusters that do not hold the rendered revision yet (a rollout holds
	// them back): their differences are not judged against this render.
	Behind map[string][]string
	// Unclassified skips the comparison with the render: every difference
	// is then Unmanaged, as before tmc classified them (for measurement).
	Unclassified bool
}

// DefaultOptions reads 4 clusters at once.
func DefaultOptions() Options { return Options{Clusters: 4} }

// Build aggregates every workspace of the render: for each of its
// AggregationPolicies, one paged LIST of the kind per reachable target cluster.
func Build(ctx context.Context, p *policy.Policies, r *render.Result, set *cluster.Set, opts Options) ([]*WorkspaceView, error) {
	var out []*WorkspaceView
	for _, ws := range r.Workspaces {
		if opts.Workspace != "" && ws.Name != opts.Workspace {
			continue
		}
		v, err := workspace(ctx, p, r, ws, set, opts)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

func workspace(ctx context.Context, p *policy.Policies, r *render.Result, ws *render.Workspace, set *cluster.Set, opts Options) (*WorkspaceView, error) {
	v := &WorkspaceView{Workspace: ws.Name, LogicalCluster: ws.LogicalCluster, TargetClusters: []TargetCluster{}, AggregatedResources: []KindView{}, AggregatedAt: time.Now()}
	targets := map[string]TargetCluster{}
	facts := map[string]policy.ClusterFacts{}
	for _, d := range ws.Placement {
		if !d.Selected && !d.Unhealthy {
			continue
		}
		pc := p.Cluster(d.Cluster)
		tc := TargetCluster{State: r.State(d.Cluster), Priority: pc.Spec.Priority, Weight: *pc.Spec.AggregationWeight}
		if _, err := set.Get(d.Cluster); err != nil && tc.Reachable {
			tc.State = cluster.Unreached(d.Cluster, err)
		}
		targets[d.Cluster] = tc
		facts[d.Cluster] = d.Facts
		v.TargetClusters = append(v.TargetClusters, tc)
	}
	desired := desiredIndex{}
	if !opts.Unclassified {
		desired = indexRendered(ws)
	}
	for _, c := range opts.Behind[object.Workspace(ws.LogicalCluster, ws.Name).String()] {
		delete(desired, c)
	}
	for _, name := range ws.Policy.Spec.AggregationPolicies {
		ap := p.AggregationPolicy(name)
		kv, err := kind(ctx, ap, ws, targets, facts, desired, set, opts)
		if err != nil {
			return v, err
		}
		v.AggregatedResources = append(v.AggregatedResources, kv)
	}
	return v, nil
}

func kind(ctx context.Context, ap *policy.AggregationPolicy, ws *render.Workspace, targets map[string]TargetCluster, facts map[string]policy.ClusterFacts, desired desiredIndex, set *cluster.Set, opts Options) (KindView, error) {
	s := ap.Spec
	kv := KindView{Policy: ap.Metadata.Name, APIVersion: s.GVK.APIVersion(), Kind: s.GVK.Kind, MergeStrategy: string(s.MergeStrategy),
		ConflictResolution: string(s.ConflictResolution), HealthAggregation: string(s.HealthAggregation), StatusMerging: string(s.StatusMerging), Resources: []Resource{}}
	names := slices.Sorted(maps.Keys(targets))
	var mu sync.Mutex
	byKey := map[string][]*instance{}
	errs := map[string]error{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(opts.Clusters, 1))
	for _, name := range names {
		tc := targets[name]
		if !tc.Reachable {
			continue
		}
		g.Go(func() error {
			insts, err := read(gctx, ap, ws, tc, facts[name], desired, set)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[name] = err
				return nil
			}
			for _, inst := range insts {
				byKey[inst.key()] = append(byKey[inst.key()], inst)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return kv, err
	}
	if len(errs) > 0 {
		kv.Error = joinErrs(errs)
	}
	readable := 0
	for _, name := range names {
		if targets[name].Reachable && errs[name] == nil {
			readable++
		}
	}
	for _, key := range slices.Sorted(maps.Keys(byKey)) {
		insts := byKey[key]
		sort.Slice(insts, func(i, j int) bool { return insts[i].cluster < insts[j].cluster })
		if s.MergeStrategy == policy.MergeIntersection && len(insts) < readable {
			continue
		}
		res := resource(ap, insts, names, targets, errs)
		kv.Resources = append(kv.Resources, res)
		kv.TotalCount++
		if res.Status == Healthy {
			kv.HealthyCount++
		}
		kv.DivergentFields += res.DivergentFields
		kv.VariedFields += len(res.Variations)
		missing := false
		for _, o := range res.Clusters {
			switch o.Health {
			case Missing:
				kv.MissingCount++
				missing = true
			case Unreachable:
			default:
				kv.InstanceCount++
				if o.Health == Healthy {
					kv.HealthyInstanceCount++
				}
			}
		}
		if missing {
			kv.PartialCount++
		}
	}
	kv.UnhealthyCount = kv.TotalCount - kv.HealthyCount
	kv.UnhealthyInstanceCount = kv.InstanceCount - kv.HealthyInstanceCount
	return kv, nil
}

// read lists the policy's kind on one cluster and prepares each instance.
func read(ctx context.Context, ap *policy.AggregationPolicy, ws *render.Workspace, tc TargetCluster, facts policy.ClusterFacts, desired desiredIndex, set *cluster.Set) ([]*instance, error) {
	c, err := set.Get(tc.Name)
	if err != nil {
		return nil, err
	}
	objs, err := list(ctx, c, ap, ws.Name)
	if err != nil {
		return nil, err
	}
	vals, err := values(ap)
	if err != nil {
		return nil, err
	}
	out := make([]*instance, 0, len(objs))
	for _, obj := range objs {
		inst, err := newInstance(ap, ws, tc, facts, desired, vals, obj)
		if err != nil {
			return nil, err
		}
		out = append(out, inst)
	}
	return out, nil
}

// newInstance prepares one object read from a cluster: its health, its
// writers, what tmc rendered for it there, and the policy's transformations.
func newInstance(ap *policy.AggregationPolicy, ws *render.Workspace, tc TargetCluster, facts policy.ClusterFacts, desired desiredIndex, vals []*yaml3.Node, obj map[string]any) (*instance, error) {
	env := &policy.Env{Cluster: facts, Workspace: policy.WorkspaceFacts{Name: ws.Name, LogicalCluster: ws.LogicalCluster}}
	inst := &instance{cluster: tc.Name, priority: tc.Priority, weight: tc.Weight, changed: lastChanged(obj), env: env}
	if ap.Spec.MergeStrategy == policy.MergeUnion && ap.Spec.ConflictResolution == policy.ResolveLastWriter {
		inst.writes = writes(obj) // parsing managedFields costs: only where LastWriter reads them
	}
	if md, ok := obj["metadata"].(map[string]any); ok {
		inst.mf, _ = md["managedFields"].([]any) // parsed only where a divergence needs its writer
	}
	inst.rendered = desired.lookup(tc.Name, obj)
	inst.health, inst.message = instanceHealth(ap, obj, env)
	object.DropServerMetadata(obj)
	obj, err := transform(ap, obj, env, vals)
	if err != nil {
		return nil, err
	}
	inst.obj = obj
	return inst, nil
}

// resource merges one resource's instances.
func resource(ap *policy.AggregationPolicy, insts []*instance, names []string, targets map[string]TargetCluster, errs map[string]error) Resource {
	s := ap.Spec
	md, _ := insts[0].obj["metadata"].(map[string]any)
	res := Resource{}
	res.Namespace, _ = md["namespace"].(string)
	res.Name, _ = md["name"].(string)
	present := map[string]*instance{}
	for _, inst := range insts {
		present[inst.cluster] = inst
	}
	for _, name := range names {
		o := Origin{Cluster: name}
		if _, ok := present[name]; !ok && s.Scope == policy.ScopeSelected && targets[name].Reachable && errs[name] == nil {
			// Objects tmc did not project (a Deployment's Pods) belong to
			// one cluster: only the clusters holding one judge it.
			continue
		}
		switch inst, ok := present[name]; {
		case ok:
			o.Health, o.Message, o.Object = inst.health, inst.message, inst.obj
			if mask.IsSecret(s.GVK.APIVersion(), s.GVK.Kind) {
				o.Object = mask.SecretContent(inst.obj)
			}
			if !inst.changed.IsZero() {
				o.LastChanged = inst.changed.UTC().Format(time.RFC3339)
			}
		case !targets[name].Reachable:
			o.Health, o.Message = Unreachable, targets[name].Message()
		case errs[name] != nil:
			o.Health, o.Message = Unknown, errs[name].Error()
		default:
			o.Health = Missing
		}
		res.Clusters = append(res.Clusters, o)
	}
	res.Present, res.Targets = len(insts), len(names)
	res.Status = resourceHealth(s.HealthAggregation, res.Clusters, targets)

	vals := map[string]any{}
	prefix := ""
	for _, inst := range insts {
		var c map[string]any
		c, prefix = content(inst.obj)
		vals[inst.cluster] = c
	}
	m := &merger{}
	switch s.MergeStrategy {
	case policy.MergePriority:
		win := byPriority(insts, true)[0]
		m.resolution = string(policy.MergePriority)
		m.diff(prefix, vals, win.cluster)
		res.Spec, _ = vals[win.cluster].(map[string]any)
	case policy.MergeLatest:
		win := byLatest(insts)[0]
		m.resolution = string(policy.MergeLatest)
		m.diff(prefix, vals, win.cluster)
		res.Spec, _ = vals[win.cluster].(map[string]any)
	case policy.MergeIntersection:
		m.resolution = string(policy.MergeIntersection)
		merged, _ := m.merge(prefix, vals, len(insts))
		res.Spec, _ = merged.(map[string]any)
	default: // Union
		m.resolution = string(s.ConflictResolution)
		switch s.ConflictResolution {
		case policy.ResolvePriority:
			m.order = byPriority(insts, false)
		default: // LastWriter
			m.order = byLatest(insts)
		}
		merged, _ := m.merge(prefix, vals, len(insts))
		res.Spec, _ = merged.(map[string]any)
	}
	res.Conflicts = m.conflicts
	sort.Slice(res.Conflicts, func(i, j int) bool { return res.Conflicts[i].Field < res.Conflicts[j].Field })
	if len(res.Conflicts) > 0 || len(m.itemwise) > 0 {
		// Only now is what tmc rendered read: agreeing instances cost nothing.
		classifyResource(&res, m.itemwise, &classifier{ap: ap, insts: present}, prefix)
	}
	res.AggregatedStatus = mergeStatus(s.StatusMerging, insts)
	res.Conditions = mergeConditions(insts)
	if mask.IsSecret(s.GVK.APIVersion(), s.GVK.Kind) {
		maskSecret(&res)
	}
	return res
}

// maskSecret hides Secret values in the merged content and the conflicts.
func maskSecret(res *Resource) {
	if res.Spec != nil {
		res.Spec = mask.SecretContent(res.Spec)
	}
	for i := range res.Conflicts {
		for c := range res.Conflicts[i].Values {
			res.Conflicts[i].Values[c] = mask.Value
		}
		for j := range res.Conflicts[i].Divergent {
			res.Conflicts[i].Divergent[j].Desired = mask.Value
		}
	}
	for i := range res.Variations {
		for c := range res.Variations[i].Values {
			res.Variations[i].Values[c] = mask.Value
		}
		if res.Variations[i].HasSource {
			res.Variations[i].Source = mask.Value
		}
	}
}

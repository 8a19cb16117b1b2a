package render

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/policy"
)

// Options narrow and feed a render.
type Options struct {
	// Workspace renders only the named workspace; empty renders all.
	Workspace string
	// Cluster renders only for the named cluster; empty renders for all.
	Cluster string
	// Facts gives cluster facts; nil uses what the Cluster objects declare.
	Facts Facts
	// Live reads the objects of workspace sources that name a cluster; nil
	// makes such sources an error (tmc render has no cluster access).
	Live Live
	// SkipLive leaves live cluster sources out instead (tmc validate).
	SkipLive bool
}

// Live reads live objects from a source cluster. internal/cluster implements it.
type Live interface {
	// Objects returns the objects of a cluster that may match the selectors
	// (render applies the selectors exactly), as plain data.
	Objects(ctx context.Context, cluster string, sels []policy.ResourceSelector) ([]map[string]any, error)
}

// Result is what every target cluster of every workspace must hold.
type Result struct {
	// Workspaces in order of logical cluster and name.
	Workspaces []*Workspace `json:"workspaces"`
	// Clusters are the states the render's probe found, in the tree's
	// order. The probe decides reachability for the whole run: plan,
	// apply and aggregate read it from here rather than probing again, so
	// that one run never sees a cluster both reachable and not.
	Clusters []cluster.State `json:"clusters"`
}

// State is a cluster's state as the render's probe found it (a cluster
// the render does not know is reported reachable and unhealthy).
func (r *Result) State(name string) cluster.State {
	for _, c := range r.Clusters {
		if c.Name == name {
			return c
		}
	}
	return cluster.Reached(name, false)
}

// Reachable returns nil, or why a cluster did not answer the render's facts probe.
func (r *Result) Reachable(name string) error { return r.State(name).Error() }

// Unreachable lists the clusters the probe could not reach.
func (r *Result) Unreachable() []cluster.State {
	var out []cluster.State
	for _, c := range r.Clusters {
		if !c.Reachable {
			out = append(out, c)
		}
	}
	return out
}

// Workspace is the render of one workspace.
type Workspace struct {
	// Name of the workspace.
	Name string `json:"name"`
	// LogicalCluster of the workspace.
	LogicalCluster string `json:"logicalCluster"`
	// Placement holds a decision for every cluster, selected or not, in name order.
	Placement []Decision `json:"placement"`
	// Clusters are the target clusters with their objects, in name order.
	Clusters []*Cluster `json:"clusters"`
	// Held are the clusters left out only for being unhealthy, with what they
	// would hold, so that a plan can list what it cannot apply there.
	Held []*Cluster `json:"held,omitempty"`
	// Policy is the VirtualWorkspace itself.
	Policy *policy.VirtualWorkspace `json:"-"`
	// Charts are the workspace's chart sources as rendered for each target
	// cluster (the values each got).
	Charts []ChartRender `json:"charts,omitempty"`
	// Waves are the rollout's waves with the target clusters each holds,
	// in order (the last one "rest" when some target no wave chooses);
	// nil without a rollout.
	Waves []Wave `json:"waves,omitempty"`
}

// Wave is one wave of a workspace's rollout and its target clusters.
type Wave struct {
	Name string `json:"name"`
	// Clusters in name order; Reasons say, per cluster, why it is in this wave.
	Clusters []string          `json:"clusters"`
	Reasons  map[string]string `json:"reasons,omitempty"`
	// Spec is the wave as written; nil for "rest".
	Spec *policy.Wave `json:"-"`
}

// Cluster is what one target cluster must hold for one workspace.
type Cluster struct {
	// Name of the cluster.
	Name string `json:"name"`
	// Policies says, for each projection policy of the workspace, whether it acts on this cluster.
	Policies []PolicyDecision `json:"policies,omitempty"`
	// Objects in apply order (Namespaces and CRDs first).
	Objects []*Object `json:"objects"`
}

// PolicyDecision says whether a projection policy acts on a cluster, and why.
type PolicyDecision struct {
	Policy  string `json:"policy"`
	Applies bool   `json:"applies"`
	Reason  string `json:"reason"`
}

// Object is one rendered object for one cluster.
type Object struct {
	// ID identifies the object as rendered (a Template may have renamed it).
	ID object.ID `json:"id"`
	// SourceID identifies the object as written in git.
	SourceID object.ID `json:"sourceId"`
	// Source is where the object is written.
	Source policy.Pos `json:"source"`
	// From is the source object it was rendered from (shared by every
	// cluster's render of it; never changed).
	From *Source `json:"-"`
	// Node is the rendered object.
	Node *yaml.RNode `json:"-"`
	// Transformations lists what fired, in order.
	Transformations []Applied `json:"transformations,omitempty"`
}

// Applied is one transformation that acted (or was skipped by its conditional) on an object.
type Applied struct {
	// Policy is the ProjectionPolicy's name.
	Policy string `json:"policy"`
	// Index is the transformation's position in the policy.
	Index int `json:"index"`
	// Type and Path are the transformation's.
	Type policy.TransformationType `json:"type"`
	Path string                    `json:"path"`
	// Value is the value set, as YAML text (for Template, the rendered text).
	Value string `json:"value,omitempty"`
	// Effect is what happened: set, created, deleted, no-op, or skipped when the conditional was false.
	Effect string `json:"effect"`
	// Conditional and Facts explain a guarded transformation.
	Conditional string        `json:"conditional,omitempty"`
	Facts       []policy.Fact `json:"facts,omitempty"`
	// grown bounds what the transformation added, as JSON bytes.
	grown int
}

type clusterFacts struct {
	facts policy.ClusterFacts
	state cluster.State
}

// renderer holds the state of one Render call.
type renderer struct {
	p     *policy.Policies
	root  string
	opts  Options
	facts map[string]clusterFacts
	ws    policy.WorkspaceFacts
	ctx   context.Context
	mem   filesys.FileSystem
	// inputBytes counts the manifest bytes read, against limits.MaxRenderInput.
	inputBytes int
	// outputBytes and work count what the render produced and ran, against
	// limits.MaxRenderOutput and limits.MaxTransformWork.
	outputBytes, work int
	// overflow is set once the output passes its bound: the render stops.
	overflow bool
	// valueSizes are the sizes, as JSON, of the values in values.
	valueSizes map[*policy.Transformation]int
	values     map[*policy.Transformation]*yaml3.Node
}

// Render computes, for every workspace and target cluster, the objects the
// cluster must hold. It writes nothing. On error the partial result comes
// back with an ErrorList naming files, lines and transformation indexes.
func Render(ctx context.Context, p *policy.Policies, opts Options) (*Result, error) {
	if opts.Facts == nil {
		opts.Facts = Declared{}
	}
	if opts.Workspace != "" && p.Workspace(opts.Workspace) == nil {
		return nil, fmt.Errorf("workspace %q does not exist", opts.Workspace)
	}
	if opts.Cluster != "" && p.Cluster(opts.Cluster) == nil {
		return nil, fmt.Errorf("cluster %q does not exist", opts.Cluster)
	}
	r := &renderer{ctx: ctx, p: p, root: p.Root, opts: opts, facts: map[string]clusterFacts{}, values: map[*policy.Transformation]*yaml3.Node{}, valueSizes: map[*policy.Transformation]int{}}
	if r.root != "" {
		if abs, err := filepathEval(r.root); err == nil {
			r.root = abs
		}
	}
	// Facts may come from live clusters: gather them concurrently.
	facts := make([]clusterFacts, len(p.Clusters))
	g := errgroup.Group{}
	g.SetLimit(16)
	for i, c := range p.Clusters {
		g.Go(func() error {
			f, err := opts.Facts.Facts(ctx, c)
			cf := clusterFacts{facts: f, state: cluster.Reached(c.Metadata.Name, f.Healthy)}
			if err != nil {
				cf.facts = DeclaredFacts(c)
				cf.facts.Healthy = false
				cf.state = cluster.Unreached(c.Metadata.Name, err)
			}
			facts[i] = cf
			return nil
		})
	}
	_ = g.Wait()
	res := &Result{Clusters: make([]cluster.State, 0, len(p.Clusters))}
	for i, c := range p.Clusters {
		r.facts[c.Metadata.Name] = facts[i]
		res.Clusters = append(res.Clusters, facts[i].state)
	}
	var errs policy.ErrorList
	for _, w := range p.Workspaces {
		if opts.Workspace != "" && w.Metadata.Name != opts.Workspace {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if r.overflow {
			break
		}
		ws, err := r.workspace(w)
		if ws != nil {
			res.Workspaces = append(res.Workspaces, ws)
		}
		var list policy.ErrorList
		switch {
		case errors.As(err, &list):
			errs = append(errs, list...)
		case err != nil:
			errs = append(errs, &policy.Error{Pos: w.Origin.Pos, Object: w.Origin.Object, Message: err.Error()})
		}
	}
	errs = append(errs, overlaps(res)...)
	errs.Sort()
	return res, errs.Err()
}

// overlaps reports objects that two workspaces put on the same cluster: one
// object on one cluster belongs to at most one workspace, or one
// workspace's prune would delete the other's object. The error names both
// workspaces and sources, once per pair, with the clusters concerned.
func overlaps(res *Result) policy.ErrorList {
	type key struct {
		group, kind, namespace, name, cluster string
	}
	type owner struct {
		ws  *Workspace
		obj *Object
	}
	type pair struct {
		a, b   *Workspace
		object string
	}
	first := map[key]owner{}
	clusters := map[pair][]string{}
	var order []pair
	pos := map[pair]*Object{}
	for _, ws := range res.Workspaces {
		for _, c := range append(append([]*Cluster(nil), ws.Clusters...), ws.Held...) {
			for _, o := range c.Objects {
				k := key{o.ID.Group, o.ID.Kind, o.ID.Namespace, o.ID.Name, c.Name}
				prev, dup := first[k]
				if !dup {
					first[k] = owner{ws, o}
					continue
				}
				if prev.ws == ws {
					continue
				}
				p := pair{prev.ws, ws, o.ID.String()}
				if _, seen := clusters[p]; !seen {
					order = append(order, p)
					pos[p] = o
				}
				clusters[p] = append(clusters[p], c.Name)
			}
		}
	}
	var errs policy.ErrorList
	for _, p := range order {
		o := pos[p]
		other := first[key{o.ID.Group, o.ID.Kind, o.ID.Namespace, o.ID.Name, clusters[p][0]}].obj
		errs = append(errs, &policy.Error{Pos: o.Source, Message: fmt.Sprintf(
			"%s is rendered to cluster %s by workspace %s and by workspace %s (from %s): one object on a cluster belongs to one workspace",
			p.object, strings.Join(clusters[p], ", "), p.b.Name, p.a.Name, other.Source)})
	}
	return errs
}

func (r *renderer) workspace(w *policy.VirtualWorkspace) (*Workspace, error) {
	r.ws = policy.WorkspaceFacts{Name: w.Metadata.Name, LogicalCluster: w.Spec.LogicalCluster}
	out := &Workspace{Name: w.Metadata.Name, LogicalCluster: w.Spec.LogicalCluster, Policy: w}
	decisions, err := r.place(w)
	if err != nil {
		return out, err
	}
	out.Placement = decisions
	if out.Waves, err = r.waves(w, out.Targets()); err != nil {
		return out, err
	}
	sources, errs := r.readSources(w)
	live, lerrs := r.readLive(w)
	sources, errs = append(sources, live...), append(errs, lerrs...)
	charted, renders, cerrs := r.readCharts(w, decisions)
	out.Charts = renders
	errs = append(errs, cerrs...)
	errs = append(errs, chartOverlaps(sources, charted)...)
	sources = append(sources, charted...)
	if len(errs) > 0 {
		return out, errs
	}
	sort.SliceStable(sources, func(i, j int) bool { return object.Less(sources[i].ID, sources[j].ID) })
	var pps []*policy.ProjectionPolicy
	for _, n := range w.Spec.ProjectionPolicies {
		pps = append(pps, r.p.ProjectionPolicy(n))
	}
	// Which policies select which objects does not depend on the cluster: decide it once.
	for _, src := range sources {
		src.matches = make([]bool, len(pps))
		for i, pp := range pps {
			src.matches[i] = matchesAny(pp.Spec.ResourceSelectors, src)
		}
	}
	for _, d := range decisions {
		if !(d.Selected || d.Unhealthy) || (r.opts.Cluster != "" && d.Cluster != r.opts.Cluster) {
			continue
		}
		c, cerrs := r.cluster(d.Cluster, pps, sources)
		errs = append(errs, cerrs...)
		if d.Selected {
			out.Clusters = append(out.Clusters, c)
		} else {
			out.Held = append(out.Held, c)
		}
	}
	return out, errs.Err()
}

// cluster renders every source object for one target cluster.
func (r *renderer) cluster(name string, pps []*policy.ProjectionPolicy, sources []*Source) (*Cluster, policy.ErrorList) {
	c := &Cluster{Name: name}
	applies := make([]bool, len(pps))
	for i, pp := range pps {
		ok, why, err := r.policyApplies(pp, name)
		if err != nil {
			return c, policy.ErrorList{onCluster(err, name)}
		}
		applies[i] = ok
		c.Policies = append(c.Policies, PolicyDecision{Policy: pp.Metadata.Name, Applies: ok, Reason: why})
	}
	var errs policy.ErrorList
	seen := map[object.ID]*Object{}
	for _, src := range sources {
		if src.forCluster != "" && src.forCluster != name {
			continue // a chart's render for another cluster
		}
		// An object matched by no policy goes everywhere unchanged; a matched
		// object goes where at least one matching policy acts.
		matched, placed := false, false
		var acting []*policy.ProjectionPolicy
		for i, pp := range pps {
			if src.matches[i] {
				matched = true
				if applies[i] {
					placed = true
					acting = append(acting, pp)
				}
			}
		}
		if matched && !placed {
			continue
		}
		if r.overflow {
			break
		}
		o, err := r.object(name, src, acting)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := seen[o.ID]; dup {
			errs = append(errs, &policy.Error{Pos: o.Source, Message: fmt.Sprintf("%s renders to %s on cluster %s, as does %s from %s", o.SourceID, o.ID, name, prev.SourceID, prev.Source)})
			continue
		}
		seen[o.ID] = o
		c.Objects = append(c.Objects, o)
	}
	sort.SliceStable(c.Objects, func(i, j int) bool { return object.Less(c.Objects[i].ID, c.Objects[j].ID) })
	return c, errs
}

// chartOverlaps refuses an object that a chart renders twice for one
// cluster, or that another source of the workspace also holds.
func chartOverlaps(plain, charted []*Source) policy.ErrorList {
	var errs policy.ErrorList
	seen := map[object.ID]policy.Pos{}
	for _, s := range plain {
		seen[s.ID] = s.Pos
	}
	per := map[string]map[object.ID]policy.Pos{}
	for _, s := range charted {
		if first, dup := seen[s.ID]; dup {
			errs = append(errs, &policy.Error{Pos: s.Pos, Message: fmt.Sprintf("%s is also defined at %s", s.ID, first)})
			continue
		}
		if per[s.forCluster] == nil {
			per[s.forCluster] = map[object.ID]policy.Pos{}
		}
		if first, dup := per[s.forCluster][s.ID]; dup {
			errs = append(errs, &policy.Error{Pos: s.Pos, Message: fmt.Sprintf("%s is also defined at %s (cluster %s)", s.ID, first, s.forCluster)})
			continue
		}
		per[s.forCluster][s.ID] = s.Pos
	}
	return errs
}

func asError(err error) *policy.Error {
	var pe *policy.Error
	if errors.As(err, &pe) {
		return pe
	}
	return &policy.Error{Message: err.Error()}
}

// Targets are the decisions of the clusters the workspace targets: those
// its placement selects, and those left out only for being unhealthy. A
// workspace is judged on these alone.
func (w *Workspace) Targets() []Decision {
	var out []Decision
	for _, d := range w.Placement {
		if d.Selected || d.Unhealthy {
			out = append(out, d)
		}
	}
	return out
}

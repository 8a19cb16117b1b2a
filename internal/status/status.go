// Package status is the status of each virtual workspace, as `tmc status`
// prints it and `tmc sync` serves it: its phase, target clusters with
// health, aggregated kinds with counts, and projected kinds with source and
// projection counts.
//
//	rep := status.Build(status.Outcome{Rendered: rendered, Plan: pl, Views: views})
//	for _, w := range rep.Workspaces { fmt.Println(w.Name, w.Phase) }
package status

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/render"
	"github.com/kcp-dev/tmc/internal/rollout"
)

// FormatVersion is the version of the status JSON.
const FormatVersion = "1"

// Phases of a workspace.
const (
	// Pending: loaded, not yet reconciled (or changes are waiting to be applied).
	Pending = "Pending"
	// Synchronizing: the first reconcile of a workspace is running (later
	// ones set Workspace.Synchronizing over the last phase instead).
	Synchronizing = "Synchronizing"
	// Active: the last reconcile converged.
	Active = "Active"
	// Error: the last reconcile failed; Message says why.
	Error = "Error"
	// Terminating: removed from git; its objects are being pruned.
	Terminating = "Terminating"
)

// Report is the status of every workspace.
type Report struct {
	FormatVersion string      `json:"formatVersion"`
	Revision      string      `json:"revision,omitempty"`
	Workspaces    []Workspace `json:"workspaces"`
}

// Workspace is one workspace's status.
type Workspace struct {
	Name           string `json:"name"`
	LogicalCluster string `json:"logicalCluster"`
	Phase          string `json:"status"`
	Message        string `json:"message,omitempty"`
	// Owner is the replica of a sharded tmc sync that owns the workspace
	// ("" while nobody does: it is being handed over).
	Owner string `json:"owner,omitempty"`
	// Synchronizing is set while a reconcile of the workspace runs (tmc
	// sync): a flag over the last outcome, whose phase stays as it was.
	Synchronizing  bool   `json:"synchronizing,omitempty"`
	LastReconciled string `json:"lastReconciled,omitempty"`
	// CreatedTime is when tmc first applied the workspace (its oldest
	// inventory on any cluster), RFC 3339; LastUpdated the last apply that
	// changed what it holds on some cluster.
	CreatedTime string `json:"createdTime,omitempty"`
	LastUpdated string `json:"lastUpdated,omitempty"`
	// Drift lists recent edits of tmc's objects by someone else, newest first (tmc sync).
	Drift          []aggregate.DriftRecord   `json:"drift,omitempty"`
	TargetClusters []aggregate.TargetCluster `json:"targetClusters"`
	// AggregatedKinds are the counts of each aggregated kind.
	AggregatedKinds []AggregatedKind `json:"aggregatedKinds"`
	// ProjectedKinds count, per kind, the source objects and their projections.
	ProjectedKinds []ProjectedKind `json:"projectedKinds"`
	// Pending counts the changes a plan found.
	Pending *plan.Summary `json:"pending,omitempty"`
	// Rollout is where the workspace's rollout of the revision stands:
	// its state, current wave and each wave's clusters (omitted without a rollout).
	Rollout *rollout.Decision `json:"rollout,omitempty"`
}

// AggregatedKind is the counts of one aggregated kind.
type AggregatedKind struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// TotalCount, HealthyCount and UnhealthyCount count resources, each
	// judged once by the policy's healthAggregation (aggregate.KindView).
	TotalCount     int `json:"totalCount"`
	HealthyCount   int `json:"healthyCount"`
	UnhealthyCount int `json:"unhealthyCount"`
	// InstanceCount and HealthyInstanceCount count resource × cluster.
	InstanceCount        int `json:"instanceCount"`
	HealthyInstanceCount int `json:"healthyInstanceCount"`
	MissingCount         int `json:"missingCount"`
	// PartialCount is the number of resources not on every target cluster.
	PartialCount int `json:"partialCount"`
	// DivergentFields counts the fields where some cluster does not hold
	// what git meant (Divergent lists them); VariedFields those that differ
	// across clusters as git meant (never conflicts).
	DivergentFields int         `json:"divergentFields"`
	VariedFields    int         `json:"variedFields"`
	Divergent       []Divergent `json:"divergent,omitempty"`
	// LastAggregated is when the kind was last read back (RFC 3339).
	LastAggregated string `json:"lastAggregated,omitempty"`
}

// Divergent is one cluster's field that does not hold what git meant there.
type Divergent struct {
	// Resource is namespace/name.
	Resource string `json:"resource"`
	Field    string `json:"field"`
	Cluster  string `json:"cluster"`
	// Holds is the cluster's value, Desired git's (Secret values masked).
	Holds   any `json:"holds"`
	Desired any `json:"desired"`
	// Manager and WrittenAt say who last wrote the cluster's value, and when.
	Manager   string `json:"manager,omitempty"`
	WrittenAt string `json:"writtenAt,omitempty"`
}

// divergent lists a kind's divergent fields, one per cluster.
func divergent(k aggregate.KindView) []Divergent {
	var out []Divergent
	for _, r := range k.Resources {
		name := r.Name
		if r.Namespace != "" {
			name = r.Namespace + "/" + r.Name
		}
		for _, c := range r.Conflicts {
			for _, d := range c.Divergent {
				out = append(out, Divergent{Resource: name, Field: c.Field, Cluster: d.Cluster, Holds: c.Values[d.Cluster], Desired: d.Desired, Manager: d.Manager, WrittenAt: d.WrittenAt})
			}
		}
	}
	return out
}

// HealthyPercent is HealthyCount of TotalCount in percent (0 when there is nothing).
func (k AggregatedKind) HealthyPercent() float64 {
	if k.TotalCount == 0 {
		return 0
	}
	return 100 * float64(k.HealthyCount) / float64(k.TotalCount)
}

// ProjectedKind counts one kind's source objects and their projections onto clusters.
type ProjectedKind struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Sources is the number of objects of the kind in the workspace's sources.
	Sources int `json:"sources"`
	// Projections is the number of (object, target cluster) pairs rendered.
	Projections int `json:"projections"`
	// InSync is the number of projections that are live and unchanged (when a plan was made).
	InSync int `json:"inSync"`
	// Resources are the source objects and where each is projected.
	Resources []ProjectedResource `json:"resources,omitempty"`
}

// ProjectedResource is one source object and its projections.
type ProjectedResource struct {
	Namespace   string       `json:"namespace,omitempty"`
	Name        string       `json:"name"`
	ProjectedTo []Projection `json:"projectedTo"`
}

// Projection is a source object on one target cluster.
type Projection struct {
	Cluster string `json:"cluster"`
	// Name is the object's name there, when a transformation renamed it.
	Name string `json:"name,omitempty"`
	// InSync is true when the live object matches the render (the plan found it unchanged).
	InSync bool `json:"inSync"`
	// LastProjected is when tmc last applied it there (RFC 3339).
	LastProjected string `json:"lastProjected,omitempty"`
}

// Outcome is what one run found and did — a plan or status run of the CLI,
// or one reconcile of the syncer — as a value that every view reads: Build
// is the one function that maps it to phases and messages, so `tmc status`,
// `tmc apply` and `tmc sync` cannot disagree.
type Outcome struct {
	// Rendered is the render of the run (its workspaces, placements and
	// the clusters the probe found unreachable).
	Rendered *render.Result
	// Plan is what was planned; nil when nothing was.
	Plan *plan.Plan
	// Applied is set when the plan's changes were applied; Done holds the
	// changes apply carried out, at AppliedAt.
	Applied   bool
	Done      map[plan.Key]bool
	AppliedAt time.Time
	// Errors are each workspace's errors (logicalCluster/name), as the
	// run met them: a failed plan, apply or aggregation.
	Errors map[string][]string
	// Views are the aggregated views; nil when nothing was aggregated.
	Views []*aggregate.WorkspaceView
	// Rollouts are the rollout decisions of the run, by workspace
	// (logicalCluster/name); a halted one puts its workspace in Error.
	Rollouts map[string]*rollout.Decision
	// Leaving are workspaces (logicalCluster/name) an earlier outcome
	// showed that git no longer holds: they stay Terminating while a
	// cluster of the plan is unreachable (their objects there may remain).
	Leaving []string
}

// Build makes the status of every workspace from one run's Outcome. A
// workspace is judged on its own target clusters only: it is in Error when
// one of them is unreachable (each is named), when the run met an error for
// it, or — when nothing was applied — when an object could not be planned
// or another manager owns its fields; Pending when planned changes wait;
// else Active. Workspaces the plan prunes but git no longer holds are
// Terminating.
func Build(o Outcome) Report {
	r, pl := o.Rendered, o.Plan
	rep := Report{FormatVersion: FormatVersion, Workspaces: []Workspace{}}
	if pl != nil {
		rep.Revision = pl.Revision
	}
	byView := map[string]*aggregate.WorkspaceView{}
	for _, v := range o.Views {
		byView[object.Workspace(v.LogicalCluster, v.Workspace).String()] = v
	}
	known := map[string]bool{}
	for _, ws := range r.Workspaces {
		key := object.Workspace(ws.LogicalCluster, ws.Name).String()
		known[key] = true
		w := Workspace{Name: ws.Name, LogicalCluster: ws.LogicalCluster, Phase: Active, TargetClusters: []aggregate.TargetCluster{}, AggregatedKinds: []AggregatedKind{}}
		for _, d := range ws.Targets() {
			w.TargetClusters = append(w.TargetClusters, aggregate.TargetCluster{State: r.State(d.Cluster), Priority: d.Facts.Priority})
		}
		if v := byView[key]; v != nil {
			w.TargetClusters = v.TargetClusters
			for _, k := range v.AggregatedResources {
				w.AggregatedKinds = append(w.AggregatedKinds, AggregatedKind{APIVersion: k.APIVersion, Kind: k.Kind,
					TotalCount: k.TotalCount, HealthyCount: k.HealthyCount, UnhealthyCount: k.UnhealthyCount,
					InstanceCount: k.InstanceCount, HealthyInstanceCount: k.HealthyInstanceCount, MissingCount: k.MissingCount,
					PartialCount: k.PartialCount, DivergentFields: k.DivergentFields, VariedFields: k.VariedFields, Divergent: divergent(k), LastAggregated: rfc3339(v.AggregatedAt)})
			}
		}
		w.ProjectedKinds = projected(ws, o)
		w.CreatedTime, w.LastUpdated = applied(o, key)
		if pl != nil {
			s := summary(pl, ws.LogicalCluster, ws.Name)
			w.Pending = &s
			if !o.Applied {
				switch {
				case s.Errors > 0 || s.Skip > 0:
					w.Phase, w.Message = Error, "some objects could not be planned or their cluster is unreachable"
				case s.Conflicts > 0:
					w.Phase, w.Message = Error, "fields are owned by another field manager (apply with --force-conflicts)"
				case s.Create+s.Update+s.Delete > 0:
					w.Phase, w.Message = Pending, "changes are waiting to be applied"
				}
			} else {
				w.Pending = nil
			}
		}
		if d := o.Rollouts[key]; d != nil {
			w.Rollout = d
			if d.State == rollout.Halted {
				w.Phase, w.Message = Error, "rollout halted: "+d.Message
			}
		}
		if errs := o.Errors[key]; len(errs) > 0 {
			w.Phase, w.Message = Error, errs[0]
			if len(errs) > 1 {
				w.Message += fmt.Sprintf(" (and %d more)", len(errs)-1)
			}
		}
		var down []string
		for _, tc := range w.TargetClusters {
			if !tc.Reachable {
				down = append(down, tc.Name)
			}
		}
		if len(down) > 0 {
			w.Phase, w.Message = Error, "target clusters unreachable: "+strings.Join(down, ", ")+" (skipped, nothing pruned there)"
		}
		rep.Workspaces = append(rep.Workspaces, w)
	}
	if pl != nil {
		gone := map[string]*Workspace{}
		terminating := func(key, lc, name string) {
			if gone[key] == nil {
				gone[key] = &Workspace{Name: name, LogicalCluster: lc, Phase: Terminating,
					Message: "removed from git; its objects are pruned on reachable clusters", TargetClusters: []aggregate.TargetCluster{}, AggregatedKinds: []AggregatedKind{}, ProjectedKinds: []ProjectedKind{}}
			}
		}
		for _, ch := range pl.Changes {
			key := object.Workspace(ch.LogicalCluster, ch.Workspace).String()
			if known[key] || ch.Action != plan.Delete || (o.Applied && o.Done[ch.Key()]) {
				continue // a delete apply carried out is over
			}
			terminating(key, ch.LogicalCluster, ch.Workspace)
		}
		// Objects of a leaving workspace may remain on a cluster that could
		// not be read: it stays until every cluster was pruned.
		var down []string
		for _, c := range pl.Unreachable() {
			down = append(down, c.Name)
		}
		for _, key := range o.Leaving {
			if known[key] || len(down) == 0 {
				continue
			}
			lc, name, _ := strings.Cut(key, "/")
			terminating(key, lc, name)
		}
		for _, w := range gone {
			if len(down) > 0 {
				w.Message += " (waiting for " + strings.Join(down, ", ") + ")"
			}
		}
		for _, k := range slices.Sorted(maps.Keys(gone)) {
			s := summary(pl, gone[k].LogicalCluster, gone[k].Name)
			gone[k].Pending = &s
			rep.Workspaces = append(rep.Workspaces, *gone[k])
		}
	}
	return rep
}

// changed reports whether apply changed anything of the workspace key.
func changed(o Outcome, key string) bool {
	if !o.Applied || o.Plan == nil {
		return false
	}
	for _, ch := range o.Plan.Changes {
		if ch.Action != plan.Unchanged && ch.Action != plan.Skip && o.Done[ch.Key()] && ch.Key().Workspace == key {
			return true
		}
	}
	return false
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// applied is the oldest inventory creation and the newest inventory update
// of a workspace across the clusters the plan read; an apply of the run
// that changed something moves both to its time.
func applied(o Outcome, key string) (created, updated string) {
	if o.Plan == nil {
		return "", ""
	}
	for _, c := range o.Plan.Clusters {
		t, ok := c.Applied[key]
		if !ok {
			continue
		}
		if created == "" || t.Created < created {
			created = t.Created
		}
		if t.Updated > updated {
			updated = t.Updated
		}
	}
	if changed(o, key) {
		at := rfc3339(o.AppliedAt)
		if created == "" {
			created = at
		}
		updated = at
	}
	return created, updated
}

func summary(pl *plan.Plan, lc, ws string) plan.Summary {
	var mine []*plan.Change
	for _, c := range pl.Changes {
		if c.LogicalCluster == lc && c.Workspace == ws {
			mine = append(mine, c)
		}
	}
	return plan.Summarize(mine)
}

func projected(ws *render.Workspace, run Outcome) []ProjectedKind {
	pl := run.Plan
	type gk struct{ apiVersion, kind string }
	sources := map[gk]map[object.ID]bool{}
	projections := map[gk]int{}
	for _, c := range ws.Clusters {
		for _, o := range c.Objects {
			k := gk{o.ID.APIVersion(), o.ID.Kind}
			if sources[k] == nil {
				sources[k] = map[object.ID]bool{}
			}
			sources[k][o.SourceID] = true
			projections[k]++
		}
	}
	inSync := map[gk]int{}
	key := object.Workspace(ws.LogicalCluster, ws.Name).String()
	changes := map[plan.Key]*plan.Change{}
	if pl != nil {
		for _, ch := range pl.Changes {
			if ch.Workspace == ws.Name && ch.LogicalCluster == ws.LogicalCluster {
				changes[ch.Key()] = ch
				if inSyncAfter(run, ch) {
					inSync[gk{ch.APIVersion, ch.Kind}]++
				}
			}
		}
	}
	resources := map[gk]map[object.ID]*ProjectedResource{}
	for _, c := range ws.Clusters {
		for _, o := range c.Objects {
			k := gk{o.ID.APIVersion(), o.ID.Kind}
			if resources[k] == nil {
				resources[k] = map[object.ID]*ProjectedResource{}
			}
			r := resources[k][o.SourceID]
			if r == nil {
				r = &ProjectedResource{Namespace: o.SourceID.Namespace, Name: o.SourceID.Name, ProjectedTo: []Projection{}}
				resources[k][o.SourceID] = r
			}
			p := Projection{Cluster: c.Name}
			if o.ID.Name != o.SourceID.Name || o.ID.Namespace != o.SourceID.Namespace {
				p.Name = o.ID.Name
			}
			if ch := changes[plan.Key{Workspace: key, Cluster: c.Name, ID: o.ID}]; ch != nil {
				p.InSync, p.LastProjected = inSyncAfter(run, ch), ch.LastApplied
				if run.Applied && run.Done[ch.Key()] && (ch.Action == plan.Create || ch.Action == plan.Update) {
					p.LastProjected = rfc3339(run.AppliedAt)
				}
			}
			r.ProjectedTo = append(r.ProjectedTo, p)
		}
	}
	out := []ProjectedKind{}
	for k, src := range sources {
		pk := ProjectedKind{APIVersion: k.apiVersion, Kind: k.kind, Sources: len(src), Projections: projections[k], InSync: inSync[k]}
		for _, id := range slices.SortedFunc(maps.Keys(resources[k]), func(a, b object.ID) int {
			return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
		}) {
			pk.Resources = append(pk.Resources, *resources[k][id])
		}
		out = append(out, pk)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].APIVersion < out[j].APIVersion
	})
	return out
}

// inSyncAfter reports whether the live object matches the render after the
// run: the plan found it unchanged, or the run's apply created or updated it.
func inSyncAfter(o Outcome, ch *plan.Change) bool {
	switch ch.Action {
	case plan.Unchanged:
		return true
	case plan.Create, plan.Update:
		return o.Applied && o.Done[ch.Key()]
	}
	return false
}

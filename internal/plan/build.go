package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/pkg/ssa/normalize"
	"golang.org/x/sync/errgroup"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/inventory"
	"github.com/kcp-dev/tmc/internal/mask"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
)

// FieldManager is the server-side-apply field manager of tmc.
const FieldManager = "tmc"

// Options tune a plan.
type Options struct {
	// Clusters bounds the clusters planned at once (Config maxWorkers).
	Clusters int
	// PerCluster bounds the requests in flight to one cluster.
	PerCluster int
	// ForceConflicts plans as if tmc takes ownership of fields other managers own.
	ForceConflicts bool
	// ValidateCreates dry-runs objects that do not exist yet, so the plan
	// shows the server's defaults and catches invalid objects. tmc apply
	// turns it off: the apply itself validates them.
	ValidateCreates bool
	// Workspace and Cluster narrow the plan, as they narrowed the render.
	Workspace, Cluster string
	// GoneOnly plans only the pruning of workspaces git no longer holds.
	GoneOnly bool
	// Elsewhere are workspaces (logicalCluster/name) of the revision that
	// another replica of a sharded syncer owns: not in this render, yet not
	// gone — their inventories are left alone.
	Elsewhere map[string]bool
	// OnlyClusters, when set, plans just these clusters: nothing is sent to
	// the others (the syncer retrying one workspace passes its targets and
	// the clusters that hold its inventory).
	OnlyClusters []string
	// Revision is recorded in the plan.
	Revision string
	// DryRunAll sends a server-side dry-run for every existing object, as
	// tmc did before it decided unchanged objects locally (for comparisons).
	DryRunAll bool
}

// DefaultOptions plans 4 clusters at once with 16 requests in flight each.
func DefaultOptions() Options {
	return Options{Clusters: 4, PerCluster: 16, ValidateCreates: true}
}

// Build computes the plan of a rendered tree against the live clusters. It
// writes nothing. A cluster that cannot be reached is recorded as such, its
// objects as skip, and nothing is planned for deletion on it.
func Build(ctx context.Context, p *policy.Policies, r *render.Result, set *cluster.Set, opts Options) (*Plan, error) {
	if opts.Clusters <= 0 {
		opts.Clusters = 1
	}
	if opts.PerCluster <= 0 {
		opts.PerCluster = 1
	}
	var names []string
	for _, c := range p.Clusters {
		if (opts.Cluster == "" || c.Metadata.Name == opts.Cluster) && (opts.OnlyClusters == nil || slices.Contains(opts.OnlyClusters, c.Metadata.Name)) {
			names = append(names, c.Metadata.Name)
		}
	}
	results := make([][]*Change, len(names))
	states := make([]ClusterState, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Clusters)
	for i, name := range names {
		g.Go(func() error {
			results[i], states[i] = planCluster(gctx, p, r, set, name, opts)
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	pl := &Plan{FormatVersion: FormatVersion, Revision: opts.Revision, Clusters: states, Changes: []*Change{}}
	for _, ws := range r.Workspaces {
		if ws.Waves != nil && (opts.Workspace == "" || opts.Workspace == ws.Name) && !opts.GoneOnly {
			pl.Rollouts = append(pl.Rollouts, Rollout{Workspace: ws.Name, LogicalCluster: ws.LogicalCluster, Waves: ws.Waves})
		}
	}
	for _, cs := range results {
		pl.Changes = append(pl.Changes, cs...)
	}
	sort.SliceStable(pl.Changes, func(i, j int) bool {
		a, b := pl.Changes[i], pl.Changes[j]
		if object.Workspace(a.LogicalCluster, a.Workspace).String() != object.Workspace(b.LogicalCluster, b.Workspace).String() {
			return object.Workspace(a.LogicalCluster, a.Workspace).String() < object.Workspace(b.LogicalCluster, b.Workspace).String()
		}
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		return object.Less(a.ID(), b.ID())
	})
	pl.summarize()
	return pl, nil
}

// work is one object to plan on one cluster.
type work struct {
	ws      *render.Workspace
	desired *unstructured.Unstructured // nil for a prune candidate or a broken object
	id      object.ID
	reason  string // why a prune candidate is pruned
	err     string // why a desired object cannot be planned
	owner   string // another workspace that owns the object on this cluster
	release bool   // a prune candidate another workspace renders: release, do not delete
}

// ownerKey identifies an object across API versions.
type ownerKey struct{ group, kind, namespace, name string }

func keyOf(id object.ID) ownerKey { return ownerKey{id.Group, id.Kind, id.Namespace, id.Name} }

// owners says which workspaces own which objects on one cluster: those their
// inventories record and those the render puts there.
type owners struct {
	recorded map[ownerKey][]string
	rendered map[ownerKey]string
}

// other returns a workspace other than ws that owns id, or "".
func (o owners) other(id object.ID, ws string, includeRendered bool) string {
	for _, w := range o.recorded[keyOf(id)] {
		if w != ws {
			return w
		}
	}
	if w := o.rendered[keyOf(id)]; includeRendered && w != "" && w != ws {
		return w
	}
	return ""
}

func planCluster(ctx context.Context, p *policy.Policies, r *render.Result, set *cluster.Set, name string, opts Options) ([]*Change, ClusterState) {
	st := ClusterState{State: r.State(name)}
	c, err := set.Get(name)
	if err != nil {
		st.State = cluster.Unreached(name, err)
	}
	if !st.Reachable {
		return unreachable(r, name, opts), st
	}
	invs, err := inventory.List(ctx, c.Client)
	if err != nil {
		st.State = cluster.Unreached(name, err)
		return unreachable(r, name, opts), st
	}
	byWS := map[string]*inventory.Inventory{}
	st.Inventories = map[string]string{}
	for _, inv := range invs {
		key := object.Workspace(inv.LogicalCluster, inv.Workspace).String()
		if !opts.Elsewhere[key] {
			byWS[key] = inv
		}
		st.Inventories[key] = inv.ResourceVersion
		if st.Applied == nil {
			st.Applied = map[string]AppliedTimes{}
		}
		st.Applied[key] = AppliedTimes{Created: inv.Created.UTC().Format(time.RFC3339), Updated: inv.Updated.UTC().Format(time.RFC3339), Revision: inv.Revision, Previous: inv.Previous, Approved: inv.Approved}
	}
	own := owners{recorded: map[ownerKey][]string{}, rendered: map[ownerKey]string{}}
	for _, inv := range invs {
		for _, id := range inv.Objects {
			k := keyOf(id)
			own.recorded[k] = append(own.recorded[k], object.Workspace(inv.LogicalCluster, inv.Workspace).String())
		}
	}
	for _, ws := range r.Workspaces {
		for _, rc := range ws.Clusters {
			if rc.Name == name {
				for _, o := range rc.Objects {
					if _, dup := own.rendered[keyOf(o.ID)]; !dup {
						own.rendered[keyOf(o.ID)] = object.Workspace(ws.LogicalCluster, ws.Name).String()
					}
				}
			}
		}
	}
	var todo []work
	desiredIDs := map[object.ID]bool{}
	for _, ws := range r.Workspaces {
		key := object.Workspace(ws.LogicalCluster, ws.Name).String()
		if opts.GoneOnly || (opts.Workspace != "" && ws.Name != opts.Workspace) {
			delete(byWS, key) // not gone: planned on its own
			continue
		}
		desired := map[object.ID]bool{}
		for _, rc := range ws.Clusters {
			if rc.Name != name {
				continue
			}
			for _, o := range rc.Objects {
				u, err := toUnstructured(o, ws)
				if err != nil {
					todo = append(todo, work{ws: ws, id: o.ID, err: err.Error()})
					continue
				}
				desired[o.ID] = true
				desiredIDs[o.ID] = true
				todo = append(todo, work{ws: ws, desired: u, id: o.ID, owner: own.other(o.ID, key, false)})
			}
		}
		inv := byWS[key]
		delete(byWS, key)
		if inv == nil {
			continue
		}
		reason := "no longer in git"
		if !selected(ws, name) {
			reason = "cluster left the workspace's placement"
		}
		if !*ws.Policy.Spec.Prune {
			continue // prune: false keeps what was applied
		}
		for _, id := range inv.Objects {
			if !desired[id] {
				todo = append(todo, pruneWork(ws, id, reason, own.other(id, key, true)))
			}
		}
	}
	// Inventories of workspaces git no longer holds: prune everything they recorded.
	if opts.Workspace == "" {
		for _, inv := range byWS {
			gone := &render.Workspace{Name: inv.Workspace, LogicalCluster: inv.LogicalCluster}
			key := object.Workspace(inv.LogicalCluster, inv.Workspace).String()
			for _, id := range inv.Objects {
				todo = append(todo, pruneWork(gone, id, "workspace no longer in git", own.other(id, key, true)))
			}
		}
	}
	ids := make([]object.ID, len(todo))
	for i, w := range todo {
		ids[i] = w.id
	}
	live := prefetch(ctx, c, ids, opts.PerCluster)
	adm := admission{}
	if !opts.DryRunAll {
		var err error
		if adm, err = mutatingAdmission(ctx, c); err != nil {
			adm.all = true // cannot tell: ask the server about every object
		}
	}
	changes := make([]*Change, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.PerCluster)
	for i, w := range todo {
		g.Go(func() error {
			changes[i] = planObject(gctx, c, name, w, desiredIDs, live, adm, opts)
			return nil
		})
	}
	_ = g.Wait()
	out := changes[:0]
	for _, ch := range changes {
		if ch != nil {
			out = append(out, ch)
		}
	}
	return out, st
}

func selected(ws *render.Workspace, cluster string) bool {
	for _, d := range ws.Placement {
		if d.Cluster == cluster {
			return d.Selected
		}
	}
	return false
}

// unreachable lists the objects that would go to an unreachable cluster as skip.
func unreachable(r *render.Result, name string, opts Options) []*Change {
	var out []*Change
	for _, ws := range r.Workspaces {
		if opts.GoneOnly || (opts.Workspace != "" && ws.Name != opts.Workspace) {
			continue
		}
		for _, rc := range append(append([]*render.Cluster(nil), ws.Clusters...), ws.Held...) {
			if rc.Name != name {
				continue
			}
			for _, o := range rc.Objects {
				ch := newChange(ws, name, o.ID, Skip)
				ch.Reason = "cluster unreachable: nothing is applied or pruned there"
				out = append(out, ch)
			}
		}
	}
	return out
}

func newChange(ws *render.Workspace, cluster string, id object.ID, a Action) *Change {
	return &Change{Workspace: ws.Name, LogicalCluster: ws.LogicalCluster, Cluster: cluster, Action: a,
		APIVersion: id.APIVersion(), Kind: id.Kind, Namespace: id.Namespace, Name: id.Name}
}

// toUnstructured converts a rendered object and adds tmc's labels.
func toUnstructured(o *render.Object, ws *render.Workspace) (*unstructured.Unstructured, error) {
	raw, err := o.Node.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.ID, err)
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(raw, &u.Object); err != nil {
		return nil, fmt.Errorf("%s: %w", o.ID, err)
	}
	l := u.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[inventory.LabelManagedBy] = inventory.ManagedBy
	l[inventory.LabelWorkspace] = inventory.LabelValue(ws.Name)
	u.SetLabels(l)
	return u, nil
}

// pruneWork is a prune candidate; one that another workspace owns is
// released from this workspace's inventory instead of deleted.
func pruneWork(ws *render.Workspace, id object.ID, reason, owner string) work {
	if owner != "" {
		return work{ws: ws, id: id, owner: owner, release: true,
			reason: fmt.Sprintf("%s, but workspace %s owns it on this cluster: not deleted, released from this workspace's inventory", reason, owner)}
	}
	return work{ws: ws, id: id, reason: reason}
}

// planObject plans one object: its live state (from the prefetched LIST, else
// a GET); for a desired object that exists, the local no-change decision
// (unchangedLocally), and a server-side-apply dry-run only where that cannot
// prove the object unchanged.
func planObject(ctx context.Context, c *cluster.Client, name string, w work, desiredIDs map[object.ID]bool, cache *liveCache, adm admission, opts Options) *Change {
	ch := newChange(w.ws, name, w.id, Unchanged)
	if w.err != "" {
		ch.Action, ch.Error = Skip, w.err
		return ch
	}
	if w.owner != "" {
		// Another workspace owns the object here: never update or delete it.
		ch.Action, ch.Owner, ch.Release = Skip, w.owner, w.release
		ch.Reason = w.reason
		if !w.release {
			ch.Reason = fmt.Sprintf("workspace %s owns this object on this cluster (its inventory records it); one object on a cluster belongs to one workspace", w.owner)
		}
		return ch
	}
	live, cached := cache.get(w.id)
	var err error
	if !cached {
		live = &unstructured.Unstructured{}
		live.SetAPIVersion(w.id.APIVersion())
		live.SetKind(w.id.Kind)
		err = c.Client.Get(ctx, client.ObjectKey{Namespace: w.id.Namespace, Name: w.id.Name}, live)
	}
	switch {
	case cached:
	case apierrors.IsNotFound(err):
		live = nil
	case meta.IsNoMatchError(err) && w.desired != nil && crdCreated(w.id, desiredIDs):
		live = nil // its CRD is created by this plan
	case meta.IsNoMatchError(err) && w.desired == nil:
		return nil // the kind is gone, and so is the object
	case err != nil:
		ch.Action, ch.Error = Skip, fmt.Sprintf("%s: get: %v", w.id.On(name), err)
		return ch
	}
	if live != nil {
		ch.ResourceVersion = live.GetResourceVersion()
		if e, ok := tmcApply(live); ok && e.Time != nil {
			ch.LastApplied = e.Time.UTC().Format(time.RFC3339)
		}
	}
	if w.desired == nil { // prune candidate
		if live == nil {
			return nil
		}
		ch.Action, ch.Reason = Delete, w.reason
		ch.Diff = unifiedDiff(w.id.String(), live, nil)
		return ch
	}
	secrets := mask.SecretValues(w.desired)
	ch.Object, ch.Digest = w.desired, Digest(w.desired)
	if live == nil && (!opts.ValidateCreates || meta.IsNoMatchError(err) && crdCreated(w.id, desiredIDs)) {
		ch.Action = Create
		ch.Diff = unifiedDiff(w.id.String(), nil, w.desired)
		return ch
	}
	if live != nil {
		ch.DryRun = DryRunAll
		if !opts.DryRunAll {
			ch.DryRun = DryRunMutatingAdmission
			if !adm.touches(c, w.desired.GroupVersionKind()) {
				ch.DryRun = unchangedLocally(w.desired, live)
			}
		}
		if ch.DryRun == "" {
			ch.Local = true
			return ch // Unchanged, decided without a request
		}
	}
	dry, derr := dryRun(ctx, c, w.desired, opts.ForceConflicts)
	if apierrors.IsConflict(derr) {
		ch.Conflict = mask.Text(conflictText(derr), secrets)
		dry, derr = dryRun(ctx, c, w.desired, true)
	}
	if derr != nil {
		if live == nil && apierrors.IsNotFound(derr) && desiredIDs[object.ID{Version: "v1", Kind: "Namespace", Name: w.id.Namespace}] {
			ch.Action = Create // its Namespace is created by this plan
			ch.Diff = unifiedDiff(w.id.String(), nil, w.desired)
			return ch
		}
		if live != nil && IsImmutable(derr) {
			// The server refuses the change in place; apply --force deletes and recreates.
			ch.Action = Update
			ch.Reason = mask.Text(fmt.Sprintf("an immutable field changes (apply --force deletes and recreates the object): %v", derr), secrets)
			ch.Diff = unifiedDiff(w.id.String(), live, w.desired)
			return ch
		}
		ch.Action, ch.Error = Skip, mask.Text(fmt.Sprintf("%s: dry-run failed: %v", w.id.On(name), derr), secrets)
		return ch
	}
	if live == nil {
		ch.Action = Create
		ch.Diff = unifiedDiff(w.id.String(), nil, dry)
		return ch
	}
	if drifted(live, dry) {
		ch.Action = Update
		ch.Diff = unifiedDiff(w.id.String(), live, dry)
		ch.Drift = driftOf(w.desired, live)
		if ch.Drift != nil && w.ws.Policy != nil && w.ws.Policy.Spec.Drift == policy.DriftReport {
			ch.Action, ch.DriftReported = Skip, true
			ch.Reason = fmt.Sprintf("drift by %s at %s reported, not corrected (spec.drift: Report)", ch.Drift.Manager, ch.Drift.Time)
		}
	}
	return ch
}

func crdCreated(id object.ID, desiredIDs map[object.ID]bool) bool {
	for c := range desiredIDs {
		if c.Kind == "CustomResourceDefinition" && strings.HasSuffix(c.Name, "."+id.Group) {
			return true
		}
	}
	return false
}

func dryRun(ctx context.Context, c *cluster.Client, desired *unstructured.Unstructured, force bool) (*unstructured.Unstructured, error) {
	dry := desired.DeepCopy()
	opts := []client.ApplyOption{client.DryRunAll, client.FieldOwner(FieldManager)}
	if force {
		opts = append(opts, client.ForceOwnership)
	}
	err := c.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(dry), opts...)
	return dry, err
}

// conflictText is the API server's conflict message: which fields, which managers.
func conflictText(err error) string {
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return se.ErrStatus.Message
	}
	return err.Error()
}

// drifted is fluxcd/pkg/ssa's drift rule: labels, annotations, or anything
// outside metadata and status differ between the live object and the dry-run.
func drifted(live, dry *unstructured.Unstructured) bool {
	if !apiequality.Semantic.DeepEqual(live.GetLabels(), dry.GetLabels()) ||
		!apiequality.Semantic.DeepEqual(live.GetAnnotations(), dry.GetAnnotations()) {
		return true
	}
	prep := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		unstructured.RemoveNestedField(c.Object, "metadata")
		unstructured.RemoveNestedField(c.Object, "status")
		_ = normalize.DryRunUnstructured(c)
		return c.Object
	}
	return !apiequality.Semantic.DeepEqual(prep(live), prep(dry))
}

// Key identifies a desired object: logicalCluster/workspace, cluster and object.
type Key struct {
	Workspace, Cluster string
	ID                 object.ID
}

// Key returns the change's key.
func (c *Change) Key() Key {
	return Key{Workspace: object.Workspace(c.LogicalCluster, c.Workspace).String(), Cluster: c.Cluster, ID: c.ID()}
}

// Desired converts every rendered object as Build would, keyed for lookup.
func Desired(r *render.Result) (map[Key]*unstructured.Unstructured, error) {
	out := map[Key]*unstructured.Unstructured{}
	for _, ws := range r.Workspaces {
		for _, rc := range append(append([]*render.Cluster(nil), ws.Clusters...), ws.Held...) {
			for _, o := range rc.Objects {
				u, err := toUnstructured(o, ws)
				if err != nil {
					return nil, err
				}
				out[Key{Workspace: object.Workspace(ws.LogicalCluster, ws.Name).String(), Cluster: rc.Name, ID: o.ID}] = u
			}
		}
	}
	return out, nil
}

// immutableField matches the API server's, CEL's and webhooks' ways of
// saying a field is immutable (the patterns of fluxcd/pkg/ssa/errors).
var immutableField = regexp.MustCompile(`is\simmutable|immutable\sfield|field is immutable`)

// IsImmutable reports whether the server refused a change because it
// touches an immutable field. Flux's ssa errors.IsImmutableError also takes
// every Invalid and Conflict error for one (it then recreates); tmc recreates
// only with --force and only for a real immutable field, so it matches the
// message too.
func IsImmutable(err error) bool {
	return err != nil && apierrors.IsInvalid(err) && immutableField.MatchString(err.Error())
}

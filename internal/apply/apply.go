package apply

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/inventory"
	"github.com/kcp-dev/tmc/internal/mask"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/plan"
)

// Options tune an apply.
type Options struct {
	// Revision is recorded on the inventories of the workspaces an apply
	// changes (a rollout reads where each cluster stands from it);
	// defaults to the plan's.
	Revision string
	// ForceConflicts takes ownership of fields other field managers own.
	ForceConflicts bool
	// Force deletes and recreates objects whose immutable fields changed.
	Force bool
	// Wait waits for the applied objects to be ready (kstatus) within Timeout.
	Wait bool
	// Timeout bounds Wait.
	Timeout time.Duration
	// Clusters bounds the clusters applied at once; PerCluster the requests in flight to one.
	Clusters, PerCluster int
	// Progress, when set, is told about each cluster as it finishes.
	Progress func(ClusterResult)
	// Refused are the clusters a saved plan may not be applied to (they
	// changed since it was made: Verify's verdict), with why.
	Refused map[string]error
}

// DefaultOptions applies 4 clusters at once with 16 requests in flight each.
func DefaultOptions() Options {
	return Options{Clusters: 4, PerCluster: 16, Timeout: 5 * time.Minute}
}

// Result is what an apply did, per cluster.
type Result struct {
	Clusters []ClusterResult `json:"clusters"`
	// Took is how long the apply took.
	Took time.Duration `json:"-"`
}

// ClusterResult is what an apply did on one cluster.
type ClusterResult struct {
	Name      string `json:"name"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Deleted   int    `json:"deleted"`
	Unchanged int    `json:"unchanged"`
	// Errors are per object, object first: "Deployment/web/api: apply failed: ...".
	Errors []string `json:"errors,omitempty"`
	// Err is why the cluster was not applied at all: an *UnreachableError
	// or *StalePlanError, or what connecting failed with (errors.As sees
	// through it). JSON carries its message.
	Err *cluster.Problem `json:"error,omitempty"`
	// Objects are the changes apply acted on (creates, updates, deletes and
	// planning errors), with their outcomes. The plan itself is not written.
	Objects []ObjectResult `json:"-"`
}

// Failed reports whether the cluster had any error.
func (c ClusterResult) Failed() bool { return c.Err != nil || len(c.Errors) > 0 }

// Failed reports whether any cluster failed.
func (r *Result) Failed() bool {
	for _, c := range r.Clusters {
		if c.Failed() {
			return true
		}
	}
	return false
}

// Apply converges every cluster of the plan. Changes must carry their
// desired Object (as plan.Build leaves them, or as AttachObjects sets them
// for a saved plan).
func Apply(ctx context.Context, pl *plan.Plan, set *cluster.Set, opts Options) (*Result, error) {
	if opts.Revision == "" {
		opts.Revision = pl.Revision
	}
	if opts.Clusters <= 0 {
		opts.Clusters = 1
	}
	if opts.PerCluster <= 0 {
		opts.PerCluster = 1
	}
	byCluster := map[string][]*plan.Change{}
	for _, ch := range pl.Changes {
		byCluster[ch.Cluster] = append(byCluster[ch.Cluster], ch)
	}
	res := &Result{Clusters: make([]ClusterResult, len(pl.Clusters))}
	began := time.Now()
	defer func() { res.Took = time.Since(began) }()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Clusters)
	for i, st := range pl.Clusters {
		g.Go(func() error {
			cr := applyCluster(gctx, set, st, byCluster[st.Name], opts)
			res.Clusters[i] = cr
			if opts.Progress != nil {
				opts.Progress(cr)
			}
			return nil
		})
	}
	err := g.Wait()
	return res, err
}

func applyCluster(ctx context.Context, set *cluster.Set, st plan.ClusterState, changes []*plan.Change, opts Options) ClusterResult {
	cr := ClusterResult{Name: st.Name}
	if err := opts.Refused[st.Name]; err != nil {
		cr.Err = cluster.NewProblem(&StalePlanError{Cluster: st.Name, Reason: err.Error()})
		return cr
	}
	if !st.Reachable {
		cr.Err = cluster.NewProblem(&UnreachableError{Cluster: st.Name, Reason: st.Message()})
		return cr
	}
	c, err := set.Get(st.Name)
	if err != nil {
		cr.Err = cluster.NewProblem(err)
		return cr
	}
	a := &applier{c: c, opts: opts, cr: &cr}
	// Stage 1: CRDs and Namespaces; stage 2: everything else; then deletions, last first.
	var first, rest, deletes []*plan.Change
	for _, ch := range changes {
		switch ch.Action {
		case plan.Create, plan.Update:
			if ch.Kind == "CustomResourceDefinition" || ch.Kind == "Namespace" {
				first = append(first, ch)
			} else {
				rest = append(rest, ch)
			}
		case plan.Delete:
			deletes = append(deletes, ch)
		case plan.Unchanged:
			cr.Unchanged++
		case plan.Skip:
			if ch.Error != "" {
				cr.Errors = append(cr.Errors, ch.Error)
				cr.Objects = append(cr.Objects, objectResult(ch, &ObjectError{Cluster: st.Name, ID: ch.ID(), Err: errors.New(ch.Error)}))
			}
		}
	}
	// Intent first (as cli-utils records it): before anything is applied,
	// each inventory holds what it held plus every object about to be
	// applied, so that a SIGKILL, OOM kill or cancelled job at any point
	// leaves no object tmc created outside its inventory. It shrinks only
	// after deletes succeeded, in the final write below.
	invs, err := a.readInventories(ctx, changes)
	if err != nil {
		cr.Errors = append(cr.Errors, err.Error())
		sort.Strings(cr.Errors)
		return cr // without its inventories recorded, nothing may be applied
	}
	if err := a.writeIntent(ctx, invs); err != nil {
		cr.Errors = append(cr.Errors, err.Error())
		sort.Strings(cr.Errors)
		return cr
	}
	done := map[plan.Key]bool{}
	a.each(ctx, first, a.apply, done)
	if err := a.waitCRDs(ctx, first); err != nil {
		cr.Errors = append(cr.Errors, err.Error())
	}
	a.each(ctx, rest, a.apply, done)
	sort.SliceStable(deletes, func(i, j int) bool { return object.Less(deletes[j].ID(), deletes[i].ID()) })
	a.each(ctx, deletes, a.delete, done)
	if err := a.writeInventories(ctx, invs, done); err != nil {
		cr.Errors = append(cr.Errors, err.Error())
	}
	if opts.Wait && !cr.Failed() {
		if err := a.wait(ctx, append(first, rest...)); err != nil {
			cr.Errors = append(cr.Errors, err.Error())
		}
	}
	sort.Strings(cr.Errors)
	return cr
}

type applier struct {
	c    *cluster.Client
	opts Options
	mu   sync.Mutex
	cr   *ClusterResult
}

// each runs fn on every change with bounded concurrency and records successes in done.
func (a *applier) each(ctx context.Context, changes []*plan.Change, fn func(context.Context, *plan.Change) error, done map[plan.Key]bool) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.PerCluster)
	for _, ch := range changes {
		g.Go(func() error {
			err := fn(gctx, ch)
			a.mu.Lock()
			defer a.mu.Unlock()
			a.cr.Objects = append(a.cr.Objects, objectResult(ch, err))
			if err != nil {
				a.cr.Errors = append(a.cr.Errors, err.Error())
				return nil
			}
			done[ch.Key()] = true
			switch ch.Action {
			case plan.Create:
				a.cr.Created++
			case plan.Update:
				a.cr.Updated++
			case plan.Delete:
				a.cr.Deleted++
			}
			return nil
		})
	}
	_ = g.Wait()
}

func (a *applier) apply(ctx context.Context, ch *plan.Change) error {
	id := ch.ID()
	if ch.Object == nil {
		return fmt.Errorf("%s: the plan holds no object to apply", id)
	}
	if ch.Conflict != "" && !a.opts.ForceConflicts {
		return &ConflictError{Cluster: a.c.Name, ID: id, Fields: ch.Conflict}
	}
	secrets := mask.SecretValues(ch.Object)
	obj := ch.Object.DeepCopy()
	err := a.patch(ctx, obj)
	if err != nil && plan.IsImmutable(err) {
		if !a.opts.Force {
			return &ImmutableError{Cluster: a.c.Name, ID: id, Message: mask.Text(err.Error(), secrets)}
		}
		if derr := a.c.Client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); derr != nil && !apierrors.IsNotFound(derr) {
			return fmt.Errorf("%s: recreate: delete failed: %s", id, mask.Text(derr.Error(), secrets))
		}
		obj = ch.Object.DeepCopy()
		err = a.patch(ctx, obj)
	}
	if err != nil {
		return fmt.Errorf("%s: apply failed: %s", id, mask.Text(err.Error(), secrets))
	}
	return nil
}

func (a *applier) patch(ctx context.Context, obj *unstructured.Unstructured) error {
	opts := []client.ApplyOption{client.FieldOwner(plan.FieldManager)}
	if a.opts.ForceConflicts {
		opts = append(opts, client.ForceOwnership)
	}
	return a.c.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), opts...)
}

// objectResult records a change's outcome; other errors become *ObjectError.
func objectResult(ch *plan.Change, err error) ObjectResult {
	r := ObjectResult{Workspace: ch.Workspace, LogicalCluster: ch.LogicalCluster, ID: ch.ID(), Action: string(ch.Action), Done: err == nil, Err: err}
	var ce *ConflictError
	var ie *ImmutableError
	var oe *ObjectError
	if err != nil && !errors.As(err, &ce) && !errors.As(err, &ie) && !errors.As(err, &oe) {
		r.Err = &ObjectError{Cluster: ch.Cluster, ID: ch.ID(), Err: err}
	}
	return r
}

func (a *applier) delete(ctx context.Context, ch *plan.Change) error {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(ch.APIVersion)
	u.SetKind(ch.Kind)
	u.SetNamespace(ch.Namespace)
	u.SetName(ch.Name)
	err := a.c.Client.Delete(ctx, u, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: prune failed: %w", ch.ID(), err)
	}
	return nil
}

// wsInventory is one workspace's inventory on the cluster as apply found
// it, the changes of the plan for it, and what the cluster holds now.
type wsInventory struct {
	lc, ws  string
	prev    *inventory.Inventory // nil when there is none yet
	changes []*plan.Change
	written []object.ID // what the inventory holds on the cluster now
}

// revisions are the revision annotations an inventory gets after an apply
// of rev: rev, and the one it replaces, when the apply changed something
// of the workspace on the cluster; else what it held.
func (w *wsInventory) revisions(rev string, done map[plan.Key]bool) (string, string) {
	cur, prev := "", ""
	if w.prev != nil {
		cur, prev = w.prev.Revision, w.prev.Previous
	}
	if rev == "" || rev == cur {
		return cur, prev
	}
	for _, ch := range w.changes {
		if ch.Action != plan.Unchanged && ch.Action != plan.Skip && done[ch.Key()] {
			return rev, cur
		}
	}
	return cur, prev
}

// readInventories reads, per workspace of the changes, its inventory.
func (a *applier) readInventories(ctx context.Context, changes []*plan.Change) ([]*wsInventory, error) {
	type wsKey struct{ lc, ws string }
	byWS := map[wsKey]*wsInventory{}
	var order []*wsInventory
	for _, ch := range changes {
		k := wsKey{ch.LogicalCluster, ch.Workspace}
		w := byWS[k]
		if w == nil {
			w = &wsInventory{lc: k.lc, ws: k.ws}
			byWS[k] = w
			order = append(order, w)
		}
		w.changes = append(w.changes, ch)
	}
	var errs []error
	for _, w := range order {
		prev, err := inventory.Read(ctx, a.c.Client, w.lc, w.ws)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		w.prev = prev
		if prev != nil {
			w.written = prev.Objects
		}
	}
	return order, errors.Join(errs...)
}

// writeIntent records, before anything is applied, each inventory's
// objects plus those the plan creates or updates. An inventory that would
// not grow is not written.
func (a *applier) writeIntent(ctx context.Context, invs []*wsInventory) error {
	var errs []error
	for _, w := range invs {
		set := idSet(w.written)
		for _, ch := range w.changes {
			if ch.Action == plan.Create || ch.Action == plan.Update || ch.Action == plan.Unchanged {
				set[ch.ID()] = true
			}
		}
		if len(set) == len(w.written) {
			continue
		}
		next := &inventory.Inventory{LogicalCluster: w.lc, Workspace: w.ws, Objects: ids(set)}
		if w.prev != nil {
			next.Revision, next.Previous = w.prev.Revision, w.prev.Previous // the revision is recorded once applied
		}
		if err := inventory.Write(ctx, a.c.Client, next); err != nil {
			errs = append(errs, err)
			continue
		}
		w.written = next.Objects
	}
	return errors.Join(errs...)
}

// writeInventories records, per workspace, the inventory apply found plus
// what was applied, minus what was deleted. One that already holds exactly
// that is not written.
func (a *applier) writeInventories(ctx context.Context, invs []*wsInventory, done map[plan.Key]bool) error {
	var errs []error
	for _, w := range invs {
		set := map[object.ID]bool{}
		if w.prev != nil {
			set = idSet(w.prev.Objects)
		}
		for _, ch := range w.changes {
			switch {
			case ch.Action == plan.Unchanged, (ch.Action == plan.Create || ch.Action == plan.Update) && done[ch.Key()]:
				set[ch.ID()] = true
			case ch.Action == plan.Delete && done[ch.Key()], ch.Action == plan.Skip && ch.Release:
				delete(set, ch.ID())
			}
		}
		next := &inventory.Inventory{LogicalCluster: w.lc, Workspace: w.ws, Objects: ids(set)}
		next.Revision, next.Previous = w.revisions(a.opts.Revision, done)
		writtenRev := "" // what the inventory on the cluster records now (intent writes keep the previous)
		if w.prev != nil {
			writtenRev = w.prev.Revision
		}
		if sameIDs(w.written, next.Objects) && next.Revision == writtenRev {
			continue
		}
		if err := inventory.Write(ctx, a.c.Client, next); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func idSet(l []object.ID) map[object.ID]bool {
	m := make(map[object.ID]bool, len(l))
	for _, id := range l {
		m[id] = true
	}
	return m
}

func ids(m map[object.ID]bool) []object.ID {
	out := make([]object.ID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	return out
}

func sameIDs(a, b []object.ID) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[object.ID]bool{}
	for _, id := range a {
		m[id] = true
	}
	for _, id := range b {
		if !m[id] {
			return false
		}
	}
	return true
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/apply"
	"github.com/kcp-dev/tmc/internal/inventory"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/render"
	"github.com/kcp-dev/tmc/internal/rollout"
	"github.com/kcp-dev/tmc/internal/status"
)

// ReconcileOptions say which workspaces a reconcile covers and how.
type ReconcileOptions struct {
	// Revision is recorded in the plans.
	Revision string
	// ForceConflicts takes fields other managers own (the syncer's behaviour).
	ForceConflicts bool
	// Only, when set, reconciles just these workspaces (logicalCluster/name)
	// and prunes nothing of workspaces git dropped; nil reconciles all.
	Only map[string]bool
	// Elsewhere are workspaces of the revision another replica of a sharded
	// syncer owns: the tree given holds only this replica's, and these are
	// not gone (nothing of theirs is pruned). NoGone leaves the pruning of
	// workspaces git dropped to another replica.
	Elsewhere map[string]bool
	NoGone    bool
	// Clusters, when set, says which clusters to plan for a workspace (nil:
	// every cluster of the tree).
	Clusters func(ws *render.Workspace) []string
	// Rollout, when set, decides for each workspace with a rollout which
	// of its clusters may be applied now (rollout.Decide over the plan and
	// the last aggregated view); the others keep what they hold.
	Rollout func(ws *render.Workspace, pl *plan.Plan) *rollout.Decision
	// NoProjection and NoAggregation leave that half out, whatever the
	// Config enables (the Go API's aggregator and projection controller
	// each run one half).
	NoProjection, NoAggregation bool
	// Projected and Aggregated, when set, are told how long each
	// workspace's projection (plan and apply) and aggregation took.
	Projected, Aggregated func(workspace string, took time.Duration)
}

// WorkspaceResult is what a reconcile did for one workspace.
type WorkspaceResult struct {
	// Plan is the workspace's plan; nil when planning failed.
	Plan *plan.Plan
	// Done holds the changes apply carried out.
	Done map[plan.Key]bool
	// Errors are the plan's and the apply's errors, sorted.
	Errors []string
	// Rollout is where the workspace's rollout stood when it was applied
	// (nil without a rollout).
	Rollout *rollout.Decision
}

// Outcome is what one reconcile found and did, as one value: the syncer
// keeps it and every view reads it (status.Build maps it to phases).
type Outcome struct {
	status.Outcome
	// Revision is the revision reconciled.
	Revision string
	// Workspaces are the results by logicalCluster/name.
	Workspaces map[string]*WorkspaceResult
	// Gone is the pruning of workspaces git no longer holds (nil when
	// Only was set or projection is off); its changes are in Plan too.
	Gone *WorkspaceResult
	// AggregateError is why aggregation failed, if it did.
	AggregateError error
}

// Reconcile plans and applies every workspace of the session's render (at
// most the Config's maxWorkers at once), prunes what workspaces git dropped
// left behind, and aggregates every workspace's view — as the Config
// enables projection and aggregation — and returns all of it as one value.
func (s *Session) Reconcile(ctx context.Context, o ReconcileOptions) *Outcome {
	cfg := s.Repo.Policies.Config
	r := s.Rendered
	if o.Only != nil {
		sub := *r
		sub.Workspaces = nil
		for _, ws := range r.Workspaces {
			if o.Only[object.Workspace(ws.LogicalCluster, ws.Name).String()] {
				sub.Workspaces = append(sub.Workspaces, ws)
			}
		}
		r = &sub
	}
	out := &Outcome{Revision: o.Revision, Workspaces: map[string]*WorkspaceResult{}}
	out.Rendered, out.Applied, out.Done, out.Errors = r, !o.NoProjection, map[plan.Key]bool{}, map[string][]string{}
	if *cfg.ProjectionEnabled && !o.NoProjection {
		var mu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(max(cfg.MaxWorkers, 1))
		for _, ws := range r.Workspaces {
			g.Go(func() error {
				start := time.Now()
				po := PlanOptions{Workspace: ws.Name, Elsewhere: o.Elsewhere}
				if o.Clusters != nil {
					po.OnlyClusters = o.Clusters(ws)
				}
				res := s.project(gctx, ws, po, o)
				if o.Projected != nil {
					o.Projected(ws.Name, time.Since(start))
				}
				mu.Lock()
				defer mu.Unlock()
				out.Workspaces[object.Workspace(ws.LogicalCluster, ws.Name).String()] = res
				return nil
			})
		}
		_ = g.Wait()
		out.AppliedAt = time.Now()
		if o.Only == nil && !o.NoGone {
			out.Gone = s.project(ctx, nil, PlanOptions{GoneOnly: true, Elsewhere: o.Elsewhere}, o)
		}
	}
	var all []*WorkspaceResult
	for key, res := range out.Workspaces {
		all = append(all, res)
		for k := range res.Done {
			out.Done[k] = true
		}
		if len(res.Errors) > 0 {
			out.Errors[key] = res.Errors
		}
		if res.Rollout != nil {
			if out.Rollouts == nil {
				out.Rollouts = map[string]*rollout.Decision{}
			}
			out.Rollouts[key] = res.Rollout
		}
	}
	sort.Slice(all, func(i, j int) bool { return planKey(all[i]) < planKey(all[j]) })
	if out.Gone != nil {
		all = append(all, out.Gone)
		for k := range out.Gone.Done {
			out.Done[k] = true
		}
	}
	out.Plan = MergePlans(o.Revision, all)
	if *cfg.AggregationEnabled && !o.NoAggregation {
		out.Views, out.AggregateError = s.aggregateEach(ctx, r, cfg.MaxWorkers, out.Rollouts, o.Aggregated)
	}
	return out
}

func planKey(r *WorkspaceResult) string {
	if r.Plan == nil || len(r.Plan.Changes) == 0 {
		return ""
	}
	c := r.Plan.Changes[0]
	return object.Workspace(c.LogicalCluster, c.Workspace).String()
}

// project plans and applies one workspace (or, with GoneOnly, the pruning
// of workspaces git dropped).
func (s *Session) project(ctx context.Context, ws *render.Workspace, po PlanOptions, o ReconcileOptions) *WorkspaceResult {
	res := &WorkspaceResult{Done: map[plan.Key]bool{}}
	po.ForceConflicts, po.Revision, po.PerCluster = o.ForceConflicts, o.Revision, 16
	pl, err := s.Plan(ctx, po)
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
		return res
	}
	res.Plan = pl
	if ws != nil && ws.Waves != nil && o.Rollout != nil {
		// Only the clusters the rollout lets take the revision now are
		// applied; the plan of the others is kept for the status.
		res.Rollout = o.Rollout(ws, pl)
		pl = OnlyClusters(pl, res.Rollout.Apply)
	}
	if !pl.HasChanges() {
		for _, ch := range pl.Changes {
			if ch.Error != "" { // a planning error; nothing to apply
				res.Errors = append(res.Errors, ch.Error)
			}
		}
		sort.Strings(res.Errors)
		return res
	}
	ao := DefaultApplyOptions()
	ao.ForceConflicts = o.ForceConflicts
	ar, err := s.Apply(ctx, pl, ao)
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	if ar != nil {
		for _, c := range ar.Clusters {
			for _, ob := range c.Objects {
				if ob.Err != nil {
					res.Errors = append(res.Errors, ob.Err.Error()) // planning errors are among them
					continue
				}
				res.Done[plan.Key{Workspace: object.Workspace(ob.LogicalCluster, ob.Workspace).String(), Cluster: c.Name, ID: ob.ID}] = true
			}
		}
	}
	sort.Strings(res.Errors)
	return res
}

// aggregateEach builds every workspace's view, at most workers at once.
// Clusters a rollout holds back are not judged against this render.
func (s *Session) aggregateEach(ctx context.Context, r *render.Result, workers int, rollouts map[string]*rollout.Decision, took func(string, time.Duration)) ([]*aggregate.WorkspaceView, error) {
	views := make([]*aggregate.WorkspaceView, len(r.Workspaces))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	for i, ws := range r.Workspaces {
		g.Go(func() error {
			start := time.Now()
			vs, err := s.Aggregate(gctx, AggregateOptions{Workspace: ws.Name, Behind: behind(ws, rollouts), BehindKnown: true})
			if took != nil {
				took(ws.Name, time.Since(start))
			}
			if err != nil {
				return err
			}
			if len(vs) == 1 {
				views[i] = vs[0]
			}
			return nil
		})
	}
	err := g.Wait()
	out := views[:0]
	for _, v := range views {
		if v != nil {
			out = append(out, v)
		}
	}
	return out, err
}

// MergePlans joins the plans of one reconcile (one per workspace) into the
// plan of the run: every change, and each cluster's state with the
// inventories of every workspace.
func MergePlans(rev string, results []*WorkspaceResult) *plan.Plan {
	out := &plan.Plan{Revision: rev}
	byName := map[string]int{}
	for _, res := range results {
		if res == nil || res.Plan == nil {
			continue
		}
		out.Changes = append(out.Changes, res.Plan.Changes...)
		for _, c := range res.Plan.Clusters {
			i, ok := byName[c.Name]
			if !ok {
				byName[c.Name] = len(out.Clusters)
				applied := map[string]plan.AppliedTimes{}
				for k, v := range c.Applied {
					applied[k] = v
				}
				c.Applied = applied
				out.Clusters = append(out.Clusters, c)
				continue
			}
			for k, v := range c.Applied {
				out.Clusters[i].Applied[k] = v
			}
		}
	}
	out.Summary = plan.Summarize(out.Changes)
	return out
}

// OnlyClusters is the part of a plan for the named clusters.
func OnlyClusters(pl *plan.Plan, clusters []string) *plan.Plan {
	keep := map[string]bool{}
	for _, c := range clusters {
		keep[c] = true
	}
	sub := *pl
	sub.Changes, sub.Clusters = nil, nil
	for _, ch := range pl.Changes {
		if keep[ch.Cluster] {
			sub.Changes = append(sub.Changes, ch)
		}
	}
	for _, c := range pl.Clusters {
		if keep[c.Name] {
			sub.Clusters = append(sub.Clusters, c)
		}
	}
	sub.Summary = plan.Summarize(sub.Changes)
	return &sub
}

// behind lists the target clusters of ws that its rollout has not let take
// the revision.
func behind(ws *render.Workspace, rollouts map[string]*rollout.Decision) []string {
	d := rollouts[object.Workspace(ws.LogicalCluster, ws.Name).String()]
	if d == nil {
		return nil
	}
	var out []string
	for _, c := range ws.Clusters {
		if !slices.Contains(d.Apply, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// DecideRollout decides where a workspace's rollout stands under pl,
// reading the workspace's aggregated view now (the gate's health) when it
// has aggregation policies. On an aggregation error the decision is made
// without a view (no cluster counts as healthy) and the error returned.
func (s *Session) DecideRollout(ctx context.Context, ws *render.Workspace, pl *plan.Plan) (*rollout.Decision, error) {
	var view *aggregate.WorkspaceView
	var err error
	if len(ws.Policy.Spec.AggregationPolicies) > 0 {
		var views []*aggregate.WorkspaceView
		if views, err = s.Aggregate(ctx, AggregateOptions{Workspace: ws.Name}); err == nil {
			view = rollout.ViewOf(views, ws)
		}
	}
	d := rollout.Decide(rollout.Facts(s.Repo.Policies, ws, pl, view, time.Now()))
	return &d, err
}

// RolloutStep narrows a plan to what the rollouts of its workspaces let
// be applied now (the CLI's view of what tmc sync does each interval): for
// each workspace with a rollout it reads the workspace's aggregated view —
// the gate's health — and decides; the changes on clusters a wave holds
// back are left out. It returns the narrowed plan and the decisions by
// workspace (logicalCluster/name); a plan without rolling workspaces comes
// back as it is.
func (s *Session) RolloutStep(ctx context.Context, pl *plan.Plan) (*plan.Plan, map[string]*rollout.Decision, error) {
	decisions := map[string]*rollout.Decision{}
	for _, ws := range s.Rendered.Workspaces {
		if ws.Waves == nil {
			continue
		}
		d, err := s.DecideRollout(ctx, ws, pl)
		if err != nil {
			return nil, nil, err
		}
		decisions[object.Workspace(ws.LogicalCluster, ws.Name).String()] = d
	}
	if len(decisions) == 0 {
		return pl, decisions, nil
	}
	sub := *pl
	sub.Changes = nil
	for _, ch := range pl.Changes {
		d := decisions[object.Workspace(ch.LogicalCluster, ch.Workspace).String()]
		if d == nil || slices.Contains(d.Apply, ch.Cluster) {
			sub.Changes = append(sub.Changes, ch)
		}
	}
	sub.Summary = plan.Summarize(sub.Changes)
	return &sub, decisions, nil
}

// ApproveWave lifts the manual gate of a rollout wave for a revision,
// without a new commit: it records REVISION/WAVE on the workspace's
// inventory on each of its target clusters that has one (the rollout reads
// approvals from there, so tmc sync and every replica see it). It returns
// the clusters it was recorded on.
func (s *Session) ApproveWave(ctx context.Context, workspace, wave, revision string) ([]string, error) {
	var ws *render.Workspace
	for _, w := range s.Rendered.Workspaces {
		if w.Name == workspace {
			ws = w
		}
	}
	if ws == nil {
		return nil, fmt.Errorf("workspace %q does not exist", workspace)
	}
	found := false
	for _, w := range ws.Waves {
		found = found || w.Name == wave
	}
	if !found {
		return nil, fmt.Errorf("workspace %s has no rollout wave %q", workspace, wave)
	}
	var done []string
	var errs []error
	for _, d := range ws.Targets() {
		c, err := s.clusters.Get(d.Cluster)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		inv, err := inventory.Read(ctx, c.Client, ws.LogicalCluster, ws.Name)
		if err != nil || inv == nil {
			continue // nothing of the workspace there yet
		}
		if err := inventory.Approve(ctx, c.Client, ws.LogicalCluster, ws.Name, revision, wave); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, d.Cluster)
	}
	if len(done) == 0 {
		errs = append(errs, fmt.Errorf("no target cluster of %s holds its inventory yet: nothing to record the approval on", workspace))
	}
	return done, errors.Join(errs...)
}

// RolloutRunOptions say how RunRollouts plans, applies and reports.
type RolloutRunOptions struct {
	Plan  PlanOptions
	Apply apply.Options
	// Step, when set, is told what each step applied and where every
	// rollout stood after it.
	Step func(step int, res *apply.Result, decisions map[string]*rollout.Decision)
}

// RunRollouts drives the rollouts of a tree to their end, as `tmc apply
// --rollout` does in CI: plan, narrow the plan to what each rollout lets
// through (RolloutStep), apply, and again — at once after a step that
// applied something, else when the soonest bake, window or timeout ends
// (at most every 2s) — until every rollout is complete or one halts. open
// connects a fresh session for each step (live facts). It returns the last
// decisions; an apply that failed is an error.
func RunRollouts(ctx context.Context, open func(context.Context) (*Session, error), o RolloutRunOptions) (map[string]*rollout.Decision, error) {
	for step := 1; ; step++ {
		s, err := open(ctx)
		if err != nil {
			return nil, err
		}
		pl, err := s.Plan(ctx, o.Plan)
		if err != nil {
			return nil, err
		}
		pl, decisions, err := s.RolloutStep(ctx, pl)
		if err != nil {
			return nil, err
		}
		var res *apply.Result
		if pl.HasChanges() {
			if res, err = s.Apply(ctx, pl, o.Apply); err != nil {
				return decisions, err
			}
		}
		if o.Step != nil {
			o.Step(step, res, decisions)
		}
		if res != nil && res.Failed() {
			return decisions, fmt.Errorf("step %d: apply failed", step)
		}
		done, wait := true, 2*time.Second
		for _, d := range decisions {
			switch d.State {
			case rollout.Halted:
				return decisions, nil
			case rollout.Complete:
			default:
				done = false
				if d.RetryAfter > 0 && d.RetryAfter < wait {
					wait = d.RetryAfter
				}
			}
		}
		if done {
			return decisions, nil
		}
		if res != nil {
			wait = 200 * time.Millisecond // what was applied may already pass its gate
		}
		select {
		case <-ctx.Done():
			return decisions, ctx.Err()
		case <-time.After(wait):
		}
	}
}

package syncer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/engine"
	"github.com/kcp-dev/tmc/internal/inventory"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
	"github.com/kcp-dev/tmc/internal/report"
	"github.com/kcp-dev/tmc/internal/rollout"
	"github.com/kcp-dev/tmc/internal/status"
)

// reconcile runs render → plan → apply → aggregate → report for the
// workspaces of a revision, at most maxWorkers at once: every workspace, or
// with only set just those (the scheduler retries the workspaces in error
// while the watches vouch for the others).
func (s *Syncer) reconcile(ctx context.Context, p *policy.Policies, rev string, only map[string]bool) error {
	set := s.clustersFor(ctx, p, rev)
	sess, err := (&engine.Repo{Policies: p}).ConnectWith(ctx, set, engine.ConnectOptions{})
	if sess == nil {
		return err
	}
	r := sess.Rendered
	if err != nil {
		// Nothing was planned: every workspace of the render carries the error.
		o := status.Outcome{Rendered: r, Errors: map[string][]string{}}
		for _, ws := range r.Workspaces {
			o.Errors[object.Workspace(ws.LogicalCluster, ws.Name).String()] = []string{err.Error()}
		}
		s.record(&engine.Outcome{Outcome: o, Revision: rev}, false)
		return err
	}
	if only != nil { // the workspaces retried, for the phases shown meanwhile
		sub := *r
		sub.Workspaces = nil
		for _, ws := range r.Workspaces {
			if only[object.Workspace(ws.LogicalCluster, ws.Name).String()] {
				sub.Workspaces = append(sub.Workspaces, ws)
			}
		}
		r = &sub
	}
	s.markSynchronizing(r)
	defer s.doneSynchronizing()
	s.rememberFacts(r)
	s.mu.RLock()
	elsewhere, noGone := s.shard.elsewhere, s.opts.Shard != nil && !s.shard.gone
	s.mu.RUnlock()
	out := sess.Reconcile(ctx, engine.ReconcileOptions{
		Revision: rev, ForceConflicts: s.opts.ForceConflicts, Only: only, Elsewhere: elsewhere, NoGone: noGone,
		Clusters: func(ws *render.Workspace) []string { return s.retryClusters(ws, only) },
		Projected: func(ws string, took time.Duration) {
			s.metrics.ProjectionDuration.WithLabelValues(ws).Set(took.Seconds())
			s.metrics.ProjectionLatency.WithLabelValues(ws).Observe(took.Seconds())
		},
		Aggregated: func(ws string, took time.Duration) {
			s.metrics.AggregationDuration.WithLabelValues(ws).Set(took.Seconds())
			s.metrics.AggregationLatency.WithLabelValues(ws).Observe(took.Seconds())
		},
		Rollout: func(ws *render.Workspace, pl *plan.Plan) *rollout.Decision {
			s.mu.RLock()
			view := s.views[object.Workspace(ws.LogicalCluster, ws.Name).String()]
			s.mu.RUnlock()
			d := rollout.Decide(rollout.Facts(p, ws, pl, view, time.Now()))
			return &d
		},
	})
	r = out.Rendered
	for _, ws := range r.Workspaces {
		if res := out.Workspaces[object.Workspace(ws.LogicalCluster, ws.Name).String()]; res != nil && res.Rollout != nil && len(res.Rollout.Rollback) > 0 {
			s.rollback(ctx, set, ws, res.Rollout.Rollback)
		}
	}
	s.noteDrift(out.Workspaces)
	aggErr := out.AggregateError
	if *p.Config.AggregationEnabled {
		s.mu.RLock()
		for _, v := range out.Views {
			key := object.Workspace(v.LogicalCluster, v.Workspace).String()
			v.Drift = slices.Clone(s.drift[key])
			if res := out.Workspaces[key]; res != nil && res.Rollout != nil {
				v.Rollout = res.Rollout.Summary()
			}
		}
		s.mu.RUnlock()
		if aggErr == nil {
			aggErr = s.writeReports(ctx, p, out.Views, only == nil)
		}
	}
	s.record(out, only == nil)
	if only == nil {
		s.forgetPruned(out)
	}
	s.noteShareReconciled(ctx, r)
	// A reconcile that ran to its end leaves watches on every cluster that
	// answered, for the workspaces it reconciled; the scheduler retries
	// the workspaces in error at each interval and skips the rest while
	// the watches see nothing. A partial reconcile keeps the watches of
	// the full one before it.
	s.lastOK = aggErr == nil
	switch {
	case !s.lastOK || s.runCtx == nil:
		s.watch.stop()
	case only == nil:
		s.watch.restart(s.runCtx, set, watchKeys(p, r, out.Plan.Changes), s.opts.Logf)
	}
	return aggErr
}

// inError lists the workspaces whose last reconcile left them in Error.
func (s *Syncer) inError() map[string]bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out map[string]bool
	for k, w := range s.statuses {
		if w.Phase == status.Error {
			if out == nil {
				out = map[string]bool{}
			}
			out[k] = true
		}
	}
	return out
}

// watchKeys are the (cluster, kind) pairs tmc manages or aggregates.
func watchKeys(p *policy.Policies, r *render.Result, changes []*plan.Change) map[watchKey]bool {
	keys := map[watchKey]bool{}
	defer func() {
		// A cluster the probe could not reach cannot be watched (a watch
		// that fails marks the world dirty at every interval): the
		// workspaces targeting it are in error, and retried anyway.
		for k := range keys {
			if !r.State(k.cluster).Reachable {
				delete(keys, k)
			}
		}
	}()
	for _, ch := range changes {
		if ch.Action == plan.Delete || ch.Kind == "" {
			continue
		}
		gv, err := schema.ParseGroupVersion(ch.APIVersion)
		if err == nil {
			keys[watchKey{cluster: ch.Cluster, gvk: gv.WithKind(ch.Kind), labels: inventory.LabelWorkspace}] = true
		}
	}
	for _, ws := range r.Workspaces {
		for _, name := range ws.Policy.Spec.AggregationPolicies {
			ap := p.AggregationPolicy(name)
			gvk := schema.GroupVersionKind{Group: ap.Spec.GVK.Group, Version: ap.Spec.GVK.Version, Kind: ap.Spec.GVK.Kind}
			sel := inventory.LabelWorkspace
			nss := []string{""}
			if ap.Spec.Scope == policy.ScopeSelected {
				// Watch what the policy reads, whoever made it.
				s, err := aggregate.Selector(ap, ws.Name)
				if err != nil {
					continue // the full resync covers it
				}
				sel, nss = s.String(), aggregate.Namespaces(ap, "")
			}
			for _, c := range ws.Clusters {
				for _, ns := range nss {
					keys[watchKey{cluster: c.Name, gvk: gvk, labels: sel, namespace: ns}] = true
				}
			}
		}
		// Live sources: a change on the source cluster is a change to project.
		for _, src := range ws.Policy.Spec.Sources {
			if src.Cluster == "" {
				continue
			}
			for _, sel := range src.ResourceSelectors {
				if sel.Kind == "" || sel.Version == "" {
					continue // cannot be watched: the full resync covers it
				}
				group := sel.Group
				if group == "core" {
					group = ""
				}
				k := watchKey{cluster: src.Cluster, gvk: schema.GroupVersionKind{Group: group, Version: sel.Version, Kind: sel.Kind}, namespace: policy.Equal(sel.Fields, "metadata.namespace")}
				if sel.Labels != nil {
					k.labels = sel.Labels.String()
				}
				keys[k] = true
			}
		}
	}
	return keys
}

// rememberFacts keeps the cluster facts this render used: the health probe
// compares what it reads with them, and a difference triggers a reconcile.
func (s *Syncer) rememberFacts(r *render.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ws := range r.Workspaces {
		for _, d := range ws.Placement {
			if d.FactsError == nil {
				s.facts[d.Cluster] = d.Facts
			}
		}
	}
}

// clustersFor reuses the cluster clients while the revision (and the
// cluster inventory) is unchanged.
func (s *Syncer) clustersFor(ctx context.Context, p *policy.Policies, rev string) *cluster.Set {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.opts.Cluster
	if s.inv != nil && s.inv.good != nil {
		rev += "+" + s.inv.goodKey
		o.Access = s.inv.good.RESTConfig
	}
	if s.opts.Shard != nil {
		rev += "+" + clusterKey(p) // the share's clusters
	}
	if s.clusters == nil || s.clustersRev != rev {
		s.clusters, s.clustersRev = cluster.Connect(ctx, p, o), rev
	}
	return s.clusters
}

// forgetWorkspaceLocked deletes the metric series of a workspace that is gone.
func (s *Syncer) forgetWorkspaceLocked(name string) {
	for _, key := range s.statuses {
		if key.Name == name {
			return // a workspace of the same name in another logical cluster
		}
	}
	l := map[string]string{"workspace": name}
	s.metrics.ClusterHealth.DeletePartialMatch(l)
	s.metrics.ProjectionDuration.DeletePartialMatch(l)
	s.metrics.AggregationDuration.DeletePartialMatch(l)
	s.metrics.ProjectionLatency.DeletePartialMatch(l)
	s.metrics.AggregationLatency.DeletePartialMatch(l)
	delete(s.healthSeries, name)
}

// writeReports commits changed reports into the syncer's clone and pushes them.
func (s *Syncer) writeReports(ctx context.Context, p *policy.Policies, views []*aggregate.WorkspaceView, all bool) error {
	s.mu.RLock()
	keep := s.shard.elsewhere
	if s.opts.Shard != nil && !s.shard.gone {
		all = false // the replica that prunes what git dropped prunes its reports too
	}
	s.mu.RUnlock()
	res, err := engine.PublishReports(ctx, views, report.PublishOptions{
		PolicyRoot: filepath.Join(s.src.dir, s.opts.Path), ReportsPath: p.Config.Reports.Path, Prune: all, Keep: keep, Commit: true,
		CommitOptions: report.CommitOptions{
			AuthorName: "tmc", AuthorEmail: "tmc@localhost", Push: s.opts.PushReports, Auth: s.src.auth,
			Message: fmt.Sprintf("tmc: reports for %d workspaces\n\nAggregated at %s from revision %s.\n", len(views), time.Now().UTC().Format(time.RFC3339), short(s.goodRev)),
		},
	})
	if err != nil {
		if strings.Contains(err.Error(), "checked out") {
			err = fmt.Errorf("%w (the remote is a non-bare repo with the branch checked out: push to a bare repo, or run with --no-push-reports)", err)
		}
		return fmt.Errorf("reports: %w", err)
	}
	if res.Commit != "" {
		s.opts.Logf("reports committed as %s (pushed: %v)", short(res.Commit), res.Pushed)
		// Our own commit is not a new revision to load — unless the push
		// rebased it onto someone else's commit, which must be loaded.
		switch {
		case !s.opts.PushReports:
			// Kept locally on the revision it reports on: fetch keeps it
			// while the remote stays there, and the revision stays known.
			s.src.keptOn = s.seenRev
		case res.Rebased == 0:
			s.mu.Lock()
			s.seenRev = s.src.head()
			s.mu.Unlock()
		}
	}
	return nil
}

// markSynchronizing lays the synchronizing flag over the last outcome of
// every workspace the reconcile covers: their phases stay what the last
// outcome made them (an alert on Error keeps its clock), and a workspace
// with no outcome yet shows Synchronizing instead of Pending.
func (s *Syncer) markSynchronizing(r *render.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncing = map[string]bool{}
	for _, ws := range r.Workspaces {
		s.syncing[object.Workspace(ws.LogicalCluster, ws.Name).String()] = true
	}
}

// doneSynchronizing lifts the flag once the reconcile's outcome is recorded.
func (s *Syncer) doneSynchronizing() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncing = nil
}

// record stores the statuses and metrics of a finished reconcile: the
// reconcile's Outcome, mapped to phases by status.Build alone.
//
// A full reconcile replaces every status: a workspace git dropped stays
// (Terminating) while Build says its objects may remain somewhere, and then
// goes. A partial one (the retry of workspaces in error, or a render that
// failed) replaces the statuses of the workspaces it covered.
func (s *Syncer) record(out *engine.Outcome, full bool) {
	o, r, views := out.Outcome, out.Rendered, out.Views
	now := time.Now().UTC().Format(time.RFC3339)
	s.mu.Lock()
	defer s.mu.Unlock()
	if full {
		current := map[string]bool{}
		for _, ws := range r.Workspaces {
			current[object.Workspace(ws.LogicalCluster, ws.Name).String()] = true
		}
		for _, key := range slices.Sorted(maps.Keys(s.statuses)) {
			if !current[key] {
				o.Leaving = append(o.Leaving, key)
			}
		}
	}
	rep := status.Build(o)
	s.noteRolloutsLocked(o.Rollouts)
	defer s.outcomeEventsLocked(out) // once the statuses below are in place
	if full {
		s.lastPlan = o.Plan
		kept := map[string]bool{}
		for _, w := range rep.Workspaces {
			kept[object.Workspace(w.LogicalCluster, w.Name).String()] = true
		}
		for _, key := range slices.Sorted(maps.Keys(s.statuses)) {
			if !kept[key] {
				name := s.statuses[key].Name
				delete(s.statuses, key)
				delete(s.views, key)
				delete(s.rendered, key)
				delete(s.rollouts, key)
				s.forgetWorkspaceLocked(name)
			}
		}
	}
	for _, w := range rep.Workspaces {
		key := object.Workspace(w.LogicalCluster, w.Name).String()
		if w.Phase == status.Terminating {
			s.statuses[key] = w
			continue
		}
		w.LastReconciled = now
		w.Drift = slices.Clone(s.drift[key])
		series := map[string]bool{}
		for _, tc := range w.TargetClusters {
			v := 0.0
			if tc.Healthy && tc.Reachable {
				v = 1
			}
			s.metrics.ClusterHealth.WithLabelValues(tc.Name, w.Name).Set(v)
			series[tc.Name] = true
		}
		for c := range s.healthSeries[w.Name] {
			if !series[c] { // the cluster left the workspace
				s.metrics.ClusterHealth.DeleteLabelValues(c, w.Name)
			}
		}
		s.healthSeries[w.Name] = series
		s.statuses[key] = w
	}
	if s.views == nil {
		s.views, s.rendered = map[string]*aggregate.WorkspaceView{}, map[string]*render.Workspace{}
	}
	for _, v := range views {
		s.views[object.Workspace(v.LogicalCluster, v.Workspace).String()] = v
	}
	for _, ws := range r.Workspaces {
		s.rendered[object.Workspace(ws.LogicalCluster, ws.Name).String()] = ws
	}
	s.metrics.ProjectedResources.Reset()
	for _, ws := range r.Workspaces {
		for _, c := range ws.Clusters {
			for _, o := range c.Objects {
				s.metrics.ProjectedResources.WithLabelValues(o.ID.APIVersion() + "/" + o.ID.Kind).Inc()
			}
		}
	}
	s.metrics.AggregatedResources.Reset()
	for _, v := range views {
		for _, k := range v.AggregatedResources {
			s.metrics.AggregatedResources.WithLabelValues(k.APIVersion + "/" + k.Kind).Add(float64(k.TotalCount))
		}
	}
	// As for the status series: set the current ones, then drop the gone.
	divergent := map[[2]string]bool{}
	for _, v := range s.views {
		n := 0
		for _, k := range v.AggregatedResources {
			n += k.DivergentFields
		}
		l := [2]string{v.LogicalCluster, v.Workspace}
		divergent[l] = true
		s.metrics.DivergentFields.WithLabelValues(l[:]...).Set(float64(n))
	}
	for l := range s.divergentSeries {
		if !divergent[l] {
			s.metrics.DivergentFields.DeleteLabelValues(l[:]...)
		}
	}
	s.divergentSeries = divergent
	s.updateWorkspaceMetricsLocked()
}

func (s *Syncer) updateWorkspaceMetricsLocked() {
	counts := map[string]int{status.Pending: 0, status.Synchronizing: 0, status.Active: 0, status.Error: 0, status.Terminating: 0}
	for _, w := range s.statuses {
		counts[w.Phase]++
	}
	for phase, n := range counts {
		// The seed's dashboards query lower-case values: active, error, ...
		s.metrics.Workspaces.WithLabelValues(strings.ToLower(phase)).Set(float64(n))
	}
	// One series per workspace, for its current status: set the new ones
	// first, then delete the old ones (a Reset would leave a scrape with no
	// series at all, restarting every alert's "for" clock).
	current := map[[3]string]bool{}
	for _, w := range s.statuses {
		l := [3]string{w.LogicalCluster, w.Name, strings.ToLower(w.Phase)}
		current[l] = true
		s.metrics.WorkspaceStatus.WithLabelValues(l[:]...).Set(1)
	}
	for l := range s.statusSeries {
		if !current[l] {
			s.metrics.WorkspaceStatus.DeleteLabelValues(l[:]...)
		}
	}
	s.statusSeries = current
}

// maxDrift is how many drift records a workspace keeps.
const maxDrift = 20

// driftRecords are the plan's drifts: corrected when apply carried the
// update out, reported when the workspace asked to leave the edit.
func driftRecords(changes []*plan.Change, done map[plan.Key]bool) []aggregate.DriftRecord {
	var out []aggregate.DriftRecord
	for _, ch := range changes {
		if ch.Drift == nil {
			continue
		}
		corrected := done[ch.Key()]
		if !corrected && !ch.DriftReported {
			continue // the revert failed: its error is reported instead
		}
		out = append(out, aggregate.DriftRecord{Cluster: ch.Cluster, Object: ch.ID().String(), Manager: ch.Drift.Manager,
			Operation: ch.Drift.Operation, Time: ch.Drift.Time, Corrected: corrected})
	}
	return out
}

// noteDrift adds a reconcile's drift to each workspace's history (newest
// first, each edit once) and counts the corrections in
// tmc_drift_corrections_total.
func (s *Syncer) noteDrift(results map[string]*engine.WorkspaceResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drift == nil {
		s.drift = map[string][]aggregate.DriftRecord{}
	}
	for key, res := range results {
		if res.Plan == nil {
			continue
		}
		for _, d := range driftRecords(res.Plan.Changes, res.Done) {
			if slices.Contains(s.drift[key], d) {
				continue // a reported edit is seen again every reconcile
			}
			s.drift[key] = append([]aggregate.DriftRecord{d}, s.drift[key]...)
			s.driftEventLocked(key, d)
			if len(s.drift[key]) > maxDrift {
				s.drift[key] = s.drift[key][:maxDrift]
			}
			if d.Corrected {
				_, ws, _ := strings.Cut(key, "/")
				s.metrics.DriftCorrections.WithLabelValues(d.Cluster, ws).Inc()
			}
		}
	}
}

// retryClusters are the clusters a retry of one workspace plans: its
// targets and the clusters where the last full reconcile saw its inventory
// (whatever it must prune). Nothing is sent to the others. nil (every
// cluster) for a full reconcile, or when no full reconcile is known.
func (s *Syncer) retryClusters(ws *render.Workspace, only map[string]bool) []string {
	s.mu.RLock()
	last := s.lastPlan
	s.mu.RUnlock()
	if only == nil || last == nil {
		return nil
	}
	key := object.Workspace(ws.LogicalCluster, ws.Name).String()
	out := []string{}
	for _, d := range ws.Targets() {
		out = append(out, d.Cluster)
	}
	for _, c := range last.Clusters {
		if _, ok := c.Inventories[key]; ok && !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// noteRolloutsLocked keeps each workspace's rollout decision for the
// scheduler (a rollout that is not complete is reconciled at every
// interval, and when a bake, window or timeout ends) and the metrics.
func (s *Syncer) noteRolloutsLocked(decisions map[string]*rollout.Decision) {
	if s.rollouts == nil {
		s.rollouts = map[string]*rollout.Decision{}
	}
	var next time.Duration
	for key, d := range decisions {
		s.rollouts[key] = d
		s.waveEventsLocked(key, d)
		if d.RetryAfter > 0 && (next == 0 || d.RetryAfter < next) {
			next = d.RetryAfter
		}
		_, ws, _ := strings.Cut(key, "/")
		s.metrics.RolloutWave.WithLabelValues(ws).Set(float64(d.Index))
		halted := 0.0
		if d.State == rollout.Halted {
			halted = 1
		}
		s.metrics.RolloutHalted.WithLabelValues(ws).Set(halted)
		for _, st := range []rollout.State{rollout.Waiting, rollout.Progressing, rollout.Baking, rollout.Halted, rollout.Complete} {
			v := 0.0
			if d.State == st {
				v = 1
			}
			s.metrics.RolloutState.WithLabelValues(ws, strings.ToLower(string(st))).Set(v)
		}
	}
	if next > 0 {
		if s.rolloutTimer != nil {
			s.rolloutTimer.Stop()
		}
		s.rolloutTimer = time.AfterFunc(next, s.Trigger)
	}
}

// rolling lists the workspaces whose rollout is not complete: the
// scheduler reconciles them whatever the watches say.
func (s *Syncer) rolling() map[string]bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out map[string]bool
	for k, d := range s.rollouts {
		if d.State != rollout.Complete {
			if out == nil {
				out = map[string]bool{}
			}
			out[k] = true
		}
	}
	return out
}

// rollback puts the clusters of a failed wave back on the revision each
// held before (onFailure: Rollback): the workspace as that revision of git
// renders it, planned and applied on those clusters only. The inventory
// then records the failed revision as the one replaced, so the rollout
// stays halted there until a new commit.
func (s *Syncer) rollback(ctx context.Context, set *cluster.Set, ws *render.Workspace, targets []rollout.Rollback) {
	byRev := map[string][]string{}
	for _, t := range targets {
		byRev[t.Revision] = append(byRev[t.Revision], t.Cluster)
	}
	for _, rev := range slices.Sorted(maps.Keys(byRev)) {
		clusters := byRev[rev]
		if err := s.rollbackTo(ctx, set, ws, rev, clusters); err != nil {
			s.opts.Logf("rollout of %s: rolling %v back to revision %s failed: %v", ws.Name, clusters, short(rev), err)
			s.mu.Lock()
			s.noteErrorLocked(object.Workspace(ws.LogicalCluster, ws.Name).String(), fmt.Sprintf("rollback to %s: %v", short(rev), err))
			s.mu.Unlock()
			continue
		}
		s.opts.Logf("rollout of %s: rolled %v back to revision %s", ws.Name, clusters, short(rev))
	}
}

func (s *Syncer) rollbackTo(ctx context.Context, set *cluster.Set, ws *render.Workspace, rev string, clusters []string) error {
	dir, err := os.MkdirTemp("", "tmc-rollback-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := s.src.checkoutInto(rev, dir); err != nil {
		return err
	}
	s.mu.RLock()
	lo, _, _ := s.loadOptionsLocked()
	s.mu.RUnlock()
	p, err := policy.LoadOpts(ctx, filepath.Join(dir, s.opts.Path), lo)
	if err != nil {
		return fmt.Errorf("revision %s does not load: %w", short(rev), err)
	}
	if p.Workspace(ws.Name) == nil {
		return fmt.Errorf("revision %s has no workspace %s", short(rev), ws.Name)
	}
	sess, err := (&engine.Repo{Policies: p}).ConnectWith(ctx, set, engine.ConnectOptions{Workspace: ws.Name})
	if err != nil {
		return err
	}
	pl, err := sess.Plan(ctx, engine.PlanOptions{Workspace: ws.Name, OnlyClusters: clusters, Revision: rev, ForceConflicts: s.opts.ForceConflicts, PerCluster: 16})
	if err != nil {
		return err
	}
	ao := engine.DefaultApplyOptions()
	ao.ForceConflicts = s.opts.ForceConflicts
	res, err := sess.Apply(ctx, pl, ao)
	if err != nil {
		return err
	}
	if res.Failed() {
		var errs []string
		for _, c := range res.Clusters {
			if c.Err != nil {
				errs = append(errs, c.Err.Error())
			}
			errs = append(errs, c.Errors...)
		}
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

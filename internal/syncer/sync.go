package syncer

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/notify"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
	"github.com/kcp-dev/tmc/internal/rollout"
	"github.com/kcp-dev/tmc/internal/shard"
	"github.com/kcp-dev/tmc/internal/status"
)

// Options configure a syncer.
type Options struct {
	// Repo is the git URL (https, ssh, file://) or a local path.
	Repo string
	// Branch to sync; empty is the remote's default branch.
	Branch string
	// Path is the policy tree's directory inside the repo.
	Path string
	// Interval overrides the Config's syncInterval when set.
	Interval time.Duration
	// HealthInterval overrides the Config's healthCheckInterval when set.
	HealthInterval time.Duration
	// Auth authenticates to the git remote (and the report push).
	Auth GitAuth
	// WorkDir holds the syncer's clone; empty makes a temporary one.
	WorkDir string
	// Cluster says how clusters are reached.
	Cluster cluster.Options
	// ForceConflicts takes fields other managers own, so that hand edits are
	// reverted (default true for the syncer, as Flux does).
	ForceConflicts bool
	// PushReports pushes report commits to the remote (default true).
	PushReports bool
	// Logf logs a line; nil discards.
	Logf func(format string, args ...any)
	// Workers, when set, overrides the Config's maxWorkers.
	Workers int
	// WebhookSecret, when set, serves POST /hooks/{host}: git hosts' push
	// webhooks signed (or carrying a token) with it trigger a fetch at once.
	WebhookSecret []byte
	// HooksApart moves POST /hooks/{host} off Handler to HooksHandler, so
	// that the receiver can listen on an address of its own (exposed to the
	// git host) while the page and the status API stay internal.
	HooksApart bool
	// Notifications are the operator's notification providers (nil: none).
	Notifications *notify.Config
	// Inventory, when set, adds the clusters of the operator's cluster
	// inventory (ClusterProfiles, watched) to every revision's.
	Inventory *Inventory
	// Shard, when set, makes this syncer one replica of several: it
	// reconciles only the workspaces the ownership table gives it.
	Shard *shard.Coordinator
}

// Syncer is the continuous reconciler.
type Syncer struct {
	opts    Options
	metrics *Metrics
	src     *source

	mu              sync.RWMutex
	good            *policy.Policies // the last revision that validated
	goodRev         string
	seenRev         string // the newest remote head processed (loaded, rejected, or our own report commit)
	revErr          error  // why the newest revision was not taken
	revErrRev       string
	invErr          error                       // why the cluster inventory's newest change was not taken (the revision is good)
	hooks           *receiver                   // the webhook receiver, when a secret is set
	statuses        map[string]status.Workspace // by logicalCluster/name
	ready           bool
	lastRun         time.Time
	clusters        *cluster.Set
	clustersRev     string
	override        *policy.ConfigSpec         // set by SetConfig; wins over the repo's Config
	clusterCfg      map[string]ClusterOverride // set by SetClusterOverrides; win over the Clusters' specs
	unhealthy       map[string]bool
	facts           map[string]policy.ClusterFacts // as the last health probe read them
	healthSeries    map[string]map[string]bool     // tmc_cluster_health series set, by workspace and cluster
	said            *notified                      // what notifications last announced
	notifier        *notify.Notifier               // nil without providers
	onEvent         func(notify.Event)             // tests see each event sent
	statusSeries    map[[3]string]bool             // tmc_workspace_status series set: logical cluster, workspace, status
	divergentSeries map[[2]string]bool             // tmc_divergent_fields series set: logical cluster, workspace
	reconcileReq    chan struct{}
	recent          []RecentError                      // newest first, at most maxRecentErrors
	drift           map[string][]aggregate.DriftRecord // by logicalCluster/name, newest first

	// Steady state: watches on what tmc manages let an unchanged world skip reconciles.
	watch  watches
	runCtx context.Context
	lastOK bool // the last reconcile ran to its end
	// lastPlan is the merged plan of the last full reconcile (the
	// inventories it saw on each cluster).
	lastPlan *plan.Plan
	// syncing holds the workspaces a running reconcile covers: a flag laid
	// over their last outcome (Statuses), never written into it.
	syncing map[string]bool
	// rollouts are each workspace's last rollout decision; rolloutTimer
	// triggers a reconcile when the soonest bake, window or timeout ends.
	rollouts     map[string]*rollout.Decision
	rolloutTimer *time.Timer
	// views and rendered are each workspace's last aggregated view and
	// render (by logicalCluster/name), for the Go API's full views.
	views    map[string]*aggregate.WorkspaceView
	rendered map[string]*render.Workspace
	skipped  int // reconciles skipped since the last full one
	// inv tracks the cluster inventory; nil without one.
	inv *inventoryState
	// shard is this replica's last share (with Options.Shard); shownOwned
	// the units tmc_shard_owned shows.
	shard      shardState
	shownOwned map[string]bool
}

// FullResyncEvery is how many intervals may be skipped (no revision, no
// event) before a full reconcile runs anyway, in case an event was missed.
const FullResyncEvery = 10

// New makes a syncer; Run clones and starts it.
func New(opts Options) *Syncer {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &Syncer{opts: opts, metrics: NewMetrics(), statuses: map[string]status.Workspace{}, unhealthy: map[string]bool{}, facts: map[string]policy.ClusterFacts{}, healthSeries: map[string]map[string]bool{}, reconcileReq: make(chan struct{}, 1)}
	if opts.Inventory != nil {
		s.inv = &inventoryState{cfg: opts.Inventory, kick: make(chan struct{}, 1)}
	}
	if len(opts.WebhookSecret) > 0 { // one receiver: its replay and rate state hold on every listener
		s.hooks = &receiver{s: s, secret: opts.WebhookSecret, limiter: rate.NewLimiter(10, 20), seen: map[string]bool{}}
	}
	if opts.Notifications != nil && len(opts.Notifications.Providers) > 0 {
		s.notifier = notify.New(opts.Notifications, notify.Options{Counter: s.metrics.Notifications, Logf: opts.Logf, Failed: func(provider, msg string) {
			s.mu.Lock()
			s.noteErrorLocked("notification "+provider, msg)
			s.mu.Unlock()
		}})
	}
	user := opts.Cluster.OnRequest
	s.opts.Cluster.OnRequest = func(c, verb string) {
		s.metrics.APIRequests.WithLabelValues(c, verb).Inc()
		if user != nil {
			user(c, verb)
		}
	}
	return s
}

// SetConfig replaces, from now on, the Config of every revision with cfg
// (nil goes back to the repo's); the next reconcile uses it. Defaults fill
// what cfg leaves unset.
func (s *Syncer) SetConfig(cfg *policy.ConfigSpec) {
	s.mu.Lock()
	if cfg != nil {
		c := cfg.WithDefaults()
		cfg = &c
	}
	s.override = cfg
	s.mu.Unlock()
	s.Trigger()
}

// ClusterOverride is a cluster's settings from trusted configuration:
// they replace what the Cluster object of the policy repo says.
type ClusterOverride struct {
	Priority           int
	HealthCheckTimeout time.Duration
	AggregationWeight  float64
	ProjectionEnabled  bool
}

// SetClusterOverrides replaces, from now on, the settings of the named
// Clusters of every revision (nil goes back to the repo's); the next
// reconcile uses them. A name the repo does not hold is ignored.
func (s *Syncer) SetClusterOverrides(o map[string]ClusterOverride) {
	s.mu.Lock()
	s.clusterCfg = maps.Clone(o)
	s.clustersRev = "" // connect again: timeouts may have changed
	s.mu.Unlock()
	s.Trigger()
}

func (s *Syncer) withClusterOverrides(p *policy.Policies) *policy.Policies {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.withClusterOverridesLocked(p)
}

// withClusterOverridesLocked is p with the cluster overrides laid over its
// Clusters (p itself is not changed).
func (s *Syncer) withClusterOverridesLocked(p *policy.Policies) *policy.Policies {
	if p == nil || len(s.clusterCfg) == 0 {
		return p
	}
	pp := *p
	pp.Clusters = make([]*policy.Cluster, len(p.Clusters))
	for i, c := range p.Clusters {
		o, ok := s.clusterCfg[c.Metadata.Name]
		if !ok {
			pp.Clusters[i] = c
			continue
		}
		cc := *c
		cc.Spec.Priority = o.Priority
		w, on := o.AggregationWeight, o.ProjectionEnabled
		cc.Spec.AggregationWeight, cc.Spec.ProjectionEnabled = &w, &on
		if o.HealthCheckTimeout > 0 {
			cc.Spec.HealthCheckTimeout = o.HealthCheckTimeout.String()
		}
		pp.Clusters[i] = &cc
	}
	return &pp
}

// SetWorkers overrides the Config's maxWorkers (0 goes back to it).
func (s *Syncer) SetWorkers(n int) {
	s.mu.Lock()
	s.opts.Workers = n
	s.mu.Unlock()
}

// Metrics returns the syncer's metrics.
func (s *Syncer) Metrics() *Metrics { return s.metrics }

// Trigger asks for a reconcile as soon as the current one ends.
func (s *Syncer) Trigger() {
	s.watch.dirty.Store(true)
	select {
	case s.reconcileReq <- struct{}{}:
	default:
	}
}

// Run clones the repo and reconciles every interval (or when triggered)
// until ctx is done. A reconcile in flight when ctx ends is finished with
// finishCtx, which a second interrupt cancels.
func (s *Syncer) Run(ctx, finishCtx context.Context) error {
	dir := s.opts.WorkDir
	if dir == "" {
		d, err := os.MkdirTemp("", "tmc-sync-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	src, err := newSource(ctx, s.opts.Repo, s.opts.Branch, filepath.Join(dir, "repo"), s.opts.Auth)
	if err != nil {
		return err
	}
	s.src = src
	s.runCtx = ctx
	if s.notifier != nil {
		go s.notifier.Run(ctx)
	}
	defer s.watch.stop()
	s.opts.Logf("cloned %s (branch %s)", s.opts.Repo, src.branch)
	hctx, stopHealth := context.WithCancel(ctx)
	var hwg sync.WaitGroup
	if s.inv != nil {
		// The first revision loads with the inventory as it is now.
		s.readInventory(ctx)
		hwg.Add(1)
		go func() { defer hwg.Done(); s.inventoryLoop(hctx) }()
	}
	if co := s.opts.Shard; co != nil {
		// The coordinator outlives the reconcile loop: it gives its
		// workspaces back once the reconcile in flight is done.
		cctx, stopShard := context.WithCancel(ctx)
		var cwg sync.WaitGroup
		cwg.Add(2)
		go func() { defer cwg.Done(); co.Run(cctx, finishCtx) }()
		go func() { defer cwg.Done(); s.shardLoop(cctx) }()
		defer func() { stopShard(); cwg.Wait() }()
	}
	s.Trigger()
	hwg.Add(1)
	go func() { defer hwg.Done(); s.healthLoop(hctx) }()
	defer func() { stopHealth(); hwg.Wait() }()
	interval, _ := s.intervals()
	tick := time.NewTimer(interval)
	defer tick.Stop()
	for {
		if ctx.Err() != nil {
			return nil // stopping: take no new work
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.reconcileReq:
		case <-tick.C:
		}
		s.runOnce(finishCtx)
		// The interval may have changed with the Config of a new revision.
		interval, _ = s.intervals()
		s.metrics.SyncInterval.Set(interval.Seconds())
		s.metrics.LastSync.SetToCurrentTime()
		tick.Reset(interval)
	}
}

func (s *Syncer) intervals() (time.Duration, time.Duration) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, h := time.Minute*5, 30*time.Second
	switch {
	case s.override != nil:
		i, h = policy.Duration(s.override.SyncInterval), policy.Duration(s.override.HealthCheckInterval)
	case s.good != nil:
		i, h = policy.Duration(s.good.Config.SyncInterval), policy.Duration(s.good.Config.HealthCheckInterval)
	}
	if s.opts.Interval > 0 {
		i = s.opts.Interval
	}
	if s.opts.HealthInterval > 0 {
		h = s.opts.HealthInterval
	}
	return i, h
}

// runOnce fetches, loads a new revision if there is one, and reconciles the last good one.
func (s *Syncer) runOnce(ctx context.Context) {
	s.metrics.GitFetches.Inc()
	rev, err := s.src.fetch(ctx)
	if err != nil {
		s.opts.Logf("fetch: %v", err)
		s.setRevErr(rev, err)
		s.metrics.Reconciles.WithLabelValues("error").Inc()
		return
	}
	s.mu.Lock()
	known := rev == s.seenRev
	// The good revision again (or our own report commit on it), with other
	// clusters: when that load fails, the inventory's change is what is
	// refused, not the revision (it stays good and is not announced as
	// rejected). A known revision that was rejected stays the revision's
	// fault.
	inventoryOnly := known && s.good != nil && s.revErrRev != rev
	invChanged := s.inventoryChangedLocked()
	lo, invKey, invUsed := s.loadOptionsLocked()
	if s.inv != nil {
		s.inv.loadedKey = invKey // tried once per inventory, as once per revision
	}
	s.mu.Unlock()
	if !known || invChanged {
		known = false // a new revision, or the same with other clusters: reconcile in full
		root := filepath.Join(s.src.dir, s.opts.Path)
		p, err := policy.LoadOpts(ctx, root, lo)
		switch {
		case err != nil && inventoryOnly:
			s.opts.Logf("the cluster inventory's change does not fit revision %s; keeping the clusters it had: %v", short(rev), err)
			s.mu.Lock()
			s.invErr = err
			s.noteErrorLocked("cluster inventory", err.Error())
			s.mu.Unlock()
			s.metrics.Reconciles.WithLabelValues("invalid_inventory").Inc()
		case err != nil:
			s.opts.Logf("revision %s is invalid; keeping %s: %v", short(rev), short(s.goodRev), err)
			s.setRevErr(rev, err)
			s.mu.Lock()
			s.rejectedLocked(rev, err)
			s.mu.Unlock()
			s.metrics.Reconciles.WithLabelValues("invalid_revision").Inc()
		default:
			if s.notifier != nil {
				s.notifier.SetRoutes(routesOf(p.Config))
			}
			s.mu.Lock()
			s.good, s.goodRev, s.revErr, s.revErrRev, s.invErr = p, rev, nil, "", nil
			if s.inv != nil {
				s.inv.good, s.inv.goodKey = invUsed, invKey
			}
			for _, w := range p.Workspaces { // loaded, not yet reconciled
				key := object.Workspace(w.Spec.LogicalCluster, w.Metadata.Name).String()
				if _, ok := s.statuses[key]; !ok {
					s.statuses[key] = status.Workspace{Name: w.Metadata.Name, LogicalCluster: w.Spec.LogicalCluster, Phase: status.Pending,
						TargetClusters: []aggregate.TargetCluster{}, AggregatedKinds: []status.AggregatedKind{}, ProjectedKinds: []status.ProjectedKind{}}
				}
			}
			s.updateWorkspaceMetricsLocked()
			s.mu.Unlock()
			s.opts.Logf("revision %s loaded (%d workspaces, %d clusters)", short(rev), len(p.Workspaces), len(p.Clusters))
		}
		s.mu.Lock()
		s.seenRev = rev
		s.mu.Unlock()
	}
	s.mu.RLock()
	p, good, override, workers := s.good, s.goodRev, s.override, s.opts.Workers
	s.mu.RUnlock()
	if p == nil {
		return // no valid revision yet
	}
	p = s.withClusterOverrides(p)
	if override != nil || workers > 0 {
		pp := *p
		if override != nil {
			pp.Config = *override
		}
		if workers > 0 {
			pp.Config.MaxWorkers = workers
		}
		p = &pp
	}
	var only map[string]bool
	if canSkip(known, s.lastOK, s.watch.dirty.Load(), s.skipped) {
		// Nothing changed in git or on the watched clusters since the last
		// reconcile: retry only the workspaces it left in error.
		only = s.inError()
		for k := range s.rolling() {
			if only == nil {
				only = map[string]bool{}
			}
			only[k] = true
		}
		if only == nil {
			s.skipped++
			return
		}
	}
	if only == nil {
		s.skipped = 0
	} else {
		s.skipped++
	}
	if only == nil {
		s.watch.dirty.Store(false) // events from now on count for the next interval
	}
	start := time.Now()
	if only != nil {
		s.opts.Logf("reconciling revision %s: retrying %d workspaces in error", short(good), len(only))
	} else {
		s.opts.Logf("reconciling revision %s", short(good))
	}
	defer func() {
		s.opts.Logf("reconcile of revision %s finished in %s", short(good), time.Since(start).Round(time.Millisecond))
	}()
	if s.opts.Shard != nil {
		var done func()
		var rctx context.Context
		p, rctx, done = s.takeShare(ctx, p)
		defer done()
		ctx = rctx
		if p == nil {
			s.mu.Lock()
			s.ready, s.lastRun = true, time.Now()
			s.mu.Unlock()
			return
		}
	}
	err = s.reconcile(ctx, p, good, only)
	if err != nil {
		s.opts.Logf("reconcile %s: %v", short(good), err)
	}
	s.mu.Lock()
	if err != nil {
		s.noteErrorLocked("reconcile", err.Error())
	}
	for _, k := range slices.Sorted(maps.Keys(s.statuses)) {
		if w := s.statuses[k]; w.Phase == status.Error {
			s.noteErrorLocked(k, w.Message)
		}
	}
	s.mu.Unlock()
	// The result is the outcome: a reconcile that left a workspace in error
	// (a cluster unreachable, an apply failing) is not a success.
	if err != nil || s.anyPhase(status.Error) {
		s.metrics.Reconciles.WithLabelValues("error").Inc()
	} else {
		s.metrics.Reconciles.WithLabelValues("success").Inc()
	}
	s.mu.Lock()
	s.ready, s.lastRun = true, time.Now()
	s.mu.Unlock()
}

func (s *Syncer) anyPhase(phase string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, w := range s.statuses {
		if w.Phase == phase {
			return true
		}
	}
	return false
}

func (s *Syncer) setRevErr(rev string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revErr, s.revErrRev = err, rev
	s.noteErrorLocked("revision "+short(rev), err.Error())
}

// RecentError is an error a reconcile met, for the status page and API.
type RecentError struct {
	// Time of the newest occurrence, RFC 3339.
	Time string `json:"time"`
	// Where: a workspace (logicalCluster/name), a revision, or "reconcile".
	Where   string `json:"where"`
	Message string `json:"message"`
	// Count is how many times in a row it happened.
	Count int `json:"count"`
}

const maxRecentErrors = 20

// noteErrorLocked records an error; a repeat of one already listed moves
// it to the top and counts it instead of adding a line.
func (s *Syncer) noteErrorLocked(where, msg string) {
	now := time.Now().UTC().Format(time.RFC3339)
	for i, e := range s.recent {
		if e.Where == where && e.Message == msg {
			e.Time, e.Count = now, e.Count+1
			s.recent = append([]RecentError{e}, append(s.recent[:i:i], s.recent[i+1:]...)...)
			return
		}
	}
	s.recent = append([]RecentError{{Time: now, Where: where, Message: msg, Count: 1}}, s.recent...)
	if len(s.recent) > maxRecentErrors {
		s.recent = s.recent[:maxRecentErrors]
	}
}

// healthLoop probes every cluster at the health interval, on its own
// goroutine so that a reconcile in flight does not delay what the status
// API, the metrics and the workspace phases say about cluster health.
func (s *Syncer) healthLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.checkHealth(ctx)
		_, h := s.intervals()
		t.Reset(h)
	}
}

// checkHealth probes every cluster at once (a dead cluster costs one
// healthCheckTimeout, however many there are) and re-reads its facts. A
// health transition updates statuses and metrics at once; a cluster that
// comes back, or whose facts changed (capacity, Nodes, version), triggers a
// reconcile, so that placements and transformations reading those facts
// follow within one health interval.
func (s *Syncer) checkHealth(ctx context.Context) {
	s.mu.RLock()
	set, p := s.clusters, s.withClusterOverridesLocked(s.good)
	if s.opts.Shard != nil {
		p = s.shard.probe // the clusters of this replica's share only
	}
	s.mu.RUnlock()
	if set == nil || p == nil {
		return
	}
	type probe struct {
		facts policy.ClusterFacts
		err   error
	}
	results := make([]probe, len(p.Clusters))
	var wg sync.WaitGroup
	for i, c := range p.Clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := set.Facts(ctx, c)
			results[i] = probe{f, err}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	trigger := false
	s.mu.Lock()
	for i, c := range p.Clusters {
		name, r := c.Metadata.Name, results[i]
		was, seen := s.unhealthy[name]
		s.unhealthy[name] = r.err != nil
		switch {
		case r.err != nil && !was:
			s.opts.Logf("cluster %s is unhealthy: %v", name, r.err)
			s.clusterHealthLocked(name, r.err)
			s.watch.dirty.Store(true)
		case r.err == nil && was && seen:
			s.opts.Logf("cluster %s is healthy again", name)
			s.clusterHealthLocked(name, nil)
			trigger = true
		}
		if r.err != nil {
			continue
		}
		if prev, ok := s.facts[name]; ok && !sameFacts(prev, r.facts) {
			s.opts.Logf("facts of cluster %s changed (nodes %d → %d, cpu %g → %g, memory %g → %g, version %s → %s)", name,
				prev.Nodes, r.facts.Nodes, prev.Capacity.CPU, r.facts.Capacity.CPU, prev.Capacity.Memory, r.facts.Capacity.Memory, prev.KubernetesVersion, r.facts.KubernetesVersion)
			trigger = true
		}
		s.facts[name] = r.facts
	}
	s.updateWorkspaceMetricsLocked()
	s.mu.Unlock()
	if trigger {
		s.Trigger()
	}
}

func sameFacts(a, b policy.ClusterFacts) bool {
	return a.Nodes == b.Nodes && a.Capacity == b.Capacity && a.KubernetesVersion == b.KubernetesVersion && a.Healthy == b.Healthy
}

// clusterHealthLocked records a health transition in every workspace that
// targets the cluster: its target cluster entry, its health metric, and —
// when the cluster went away — its phase.
func (s *Syncer) clusterHealthLocked(name string, err error) {
	for key, w := range s.statuses {
		for i, tc := range w.TargetClusters {
			if tc.Name != name {
				continue
			}
			tc.State = cluster.Reached(name, true)
			v := 1.0
			if err != nil {
				tc.State, v = cluster.Unreached(name, err), 0
				if w.Phase == status.Active {
					w.Phase, w.Message = status.Error, fmt.Sprintf("target cluster %s is unhealthy: %v", name, err)
				}
			}
			w.TargetClusters = append([]aggregate.TargetCluster(nil), w.TargetClusters...)
			w.TargetClusters[i] = tc
			s.metrics.ClusterHealth.WithLabelValues(name, w.Name).Set(v)
		}
		s.statuses[key] = w
	}
	s.clusterEventLocked(name, err, time.Now().UTC().Format(time.RFC3339))
	s.phaseEventsLocked()
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	if rev == "" {
		return "(none)"
	}
	return rev
}

// Statuses returns every workspace's status, sorted.
func (s *Syncer) Statuses() status.Report {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rep := status.Report{FormatVersion: status.FormatVersion, Revision: s.goodRev, Workspaces: []status.Workspace{}}
	for _, k := range slices.Sorted(maps.Keys(s.statuses)) {
		w := s.statuses[k]
		if s.syncing[k] {
			w.Synchronizing = true
			if w.Phase == status.Pending {
				w.Phase = status.Synchronizing // no outcome yet
			}
		}
		rep.Workspaces = append(rep.Workspaces, w)
	}
	return rep
}

// Snapshot is what the syncer knows of one workspace: its status (with the
// synchronizing flag), its last aggregated view and its last render (nil
// until a reconcile made them), and the policies of the revision.
type Snapshot struct {
	Status   status.Workspace
	View     *aggregate.WorkspaceView
	Rendered *render.Workspace
	Policies *policy.Policies
}

// Snapshots returns every workspace's snapshot, sorted like Statuses. A
// sharded syncer holds views of its own workspaces only: it returns those
// the ownership table gives it (never a stale view of one handed over, nor
// a Pending stand-in for another replica's), each with its Owner.
func (s *Syncer) Snapshots() []Snapshot {
	rep := s.Statuses()
	var owners map[string]string
	me := ""
	if co := s.opts.Shard; co != nil {
		owners, me = co.View().Owners, co.Identity()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Snapshot, 0, len(rep.Workspaces))
	for _, w := range rep.Workspaces {
		key := object.Workspace(w.LogicalCluster, w.Name).String()
		if owners != nil {
			if owners[key] != me {
				continue
			}
			w.Owner = me
		}
		out = append(out, Snapshot{Status: w, View: s.views[key], Rendered: s.rendered[key], Policies: s.good})
	}
	return out
}

// canSkip decides whether an interval may skip its reconcile: the revision
// was already reconciled, that reconcile converged every workspace, no watch
// saw an event since it started, and fewer than FullResyncEvery intervals
// were skipped in a row (in case an event was missed).
func canSkip(knownRevision, lastConverged, dirty bool, skipped int) bool {
	return knownRevision && lastConverged && !dirty && skipped < FullResyncEvery
}

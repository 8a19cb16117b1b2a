package tmc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kcp-dev/tmc/internal/engine"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
	"github.com/kcp-dev/tmc/internal/rollout"
	"github.com/kcp-dev/tmc/internal/status"
	"github.com/kcp-dev/tmc/internal/syncer"
)

// The two halves of what the VirtualWorkspaceManager runs for each
// virtual workspace, for an embedder who runs one workspace's halves on
// their own: a CrossClusterResourceAggregator keeps the workspace's
// AggregatedResources current, a WorkloadProjectionController keeps its
// target clusters converged with git. Each reads the policy repo it was
// made with and reaches the clusters with its ClusterOptions (the seed's
// dynamicClient and clusterDynamicClients).

// half is what both halves share: one workspace of one repo, run at the
// Config's sync interval, and its last view.
type half struct {
	repo     *Repo
	name, lc string
	clusters ClusterOptions
	noProj   bool
	noAgg    bool

	mu   sync.RWMutex
	vw   *VirtualWorkspace
	last error
}

func newHalf(vw *VirtualWorkspace, repo *Repo, clusters ClusterOptions) (*half, error) {
	switch {
	case vw == nil:
		return nil, errors.New("no virtual workspace")
	case repo == nil:
		return nil, errors.New("no policy repo")
	}
	lc := vw.LogicalCluster.String()
	if lc == "" {
		lc = "root"
	}
	for _, w := range repo.Policies.Workspaces {
		if w.Metadata.Name == vw.Name && w.Spec.LogicalCluster == lc {
			return &half{repo: repo, name: vw.Name, lc: lc, clusters: clusters, vw: vw}, nil
		}
	}
	return nil, fmt.Errorf("virtual workspace %s/%s is not in the policy repo", lc, vw.Name)
}

// once runs one pass: connect (live facts and sources), then project or
// aggregate the workspace, and keep what it found as the workspace's view.
func (h *half) once(ctx context.Context) error {
	sess, err := h.repo.Connect(ctx, ConnectOptions{Cluster: h.clusters, Workspace: h.name})
	if sess == nil {
		h.keep(nil, err)
		return err
	}
	key := object.Workspace(h.lc, h.name).String()
	out := sess.Reconcile(ctx, engine.ReconcileOptions{ForceConflicts: true, Only: map[string]bool{key: true}, NoProjection: h.noProj, NoAggregation: h.noAgg,
		// A workspace that rolls out in waves takes the revision wave by
		// wave here too: the gate reads the workspace's view now.
		Rollout: func(ws *render.Workspace, pl *plan.Plan) *rollout.Decision {
			d, _ := sess.DecideRollout(ctx, ws, pl) // without a view nothing counts as healthy: the wave waits
			return d
		}})
	rep := status.Build(out.Outcome)
	sn := syncer.Snapshot{Policies: h.repo.Policies}
	for _, w := range rep.Workspaces {
		if object.Workspace(w.LogicalCluster, w.Name).String() == key {
			sn.Status = w
		}
	}
	for _, ws := range out.Rendered.Workspaces {
		if object.Workspace(ws.LogicalCluster, ws.Name).String() == key {
			sn.Rendered = ws
		}
	}
	for _, v := range out.Views {
		if object.Workspace(v.LogicalCluster, v.Workspace).String() == key {
			sn.View = v
		}
	}
	if err == nil {
		err = out.AggregateError
	}
	if err == nil && sn.Status.Phase == status.Error {
		err = errors.New(sn.Status.Message)
	}
	h.keep(newVirtualWorkspace(sn), err)
	return err
}

func (h *half) keep(vw *VirtualWorkspace, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if vw != nil {
		h.vw = vw
	}
	h.last = err
}

// run repeats once at the Config's sync interval until ctx is done.
func (h *half) run(ctx context.Context) error {
	every := policy.Duration(h.repo.Policies.Config.SyncInterval)
	for {
		_ = h.once(ctx) // kept for VirtualWorkspace and Err; the next pass retries
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

func (h *half) view() *VirtualWorkspace {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.vw
}

func (h *half) err() error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.last
}

// CrossClusterResourceAggregator keeps one virtual workspace's
// AggregatedResources current: it reads the kinds of the workspace's
// aggregation policies back from its target clusters and merges them.
type CrossClusterResourceAggregator struct{ h *half }

// NewCrossClusterResourceAggregator makes the aggregator of
// virtualWorkspace (by its Name and LogicalCluster) as repo defines it,
// reaching the clusters with clusters. Nothing is read until Start or
// Aggregate.
func NewCrossClusterResourceAggregator(virtualWorkspace *VirtualWorkspace, repo *Repo, clusters ClusterOptions) (*CrossClusterResourceAggregator, error) {
	h, err := newHalf(virtualWorkspace, repo, clusters)
	if err != nil {
		return nil, err
	}
	h.noProj = true
	return &CrossClusterResourceAggregator{h: h}, nil
}

// Start aggregates at once, then at the Config's syncInterval, until ctx is done.
func (a *CrossClusterResourceAggregator) Start(ctx context.Context) error { return a.h.run(ctx) }

// Aggregate reads and merges once.
func (a *CrossClusterResourceAggregator) Aggregate(ctx context.Context) error { return a.h.once(ctx) }

// VirtualWorkspace is the workspace as the last aggregation saw it
// (AggregatedResources and TargetClusters current; the workspace given to
// the constructor until the first pass).
func (a *CrossClusterResourceAggregator) VirtualWorkspace() *VirtualWorkspace { return a.h.view() }

// Err is why the last pass failed, or nil.
func (a *CrossClusterResourceAggregator) Err() error { return a.h.err() }

// WorkloadProjectionController keeps one virtual workspace's target
// clusters converged with git: it plans and applies the workspace's
// objects with server-side apply and prunes what git no longer holds.
type WorkloadProjectionController struct{ h *half }

// NewWorkloadProjectionController makes the projection controller of
// virtualWorkspace (by its Name and LogicalCluster) as repo defines it,
// reaching the clusters with clusters. Nothing is applied until Start or
// Reconcile.
func NewWorkloadProjectionController(virtualWorkspace *VirtualWorkspace, repo *Repo, clusters ClusterOptions) (*WorkloadProjectionController, error) {
	h, err := newHalf(virtualWorkspace, repo, clusters)
	if err != nil {
		return nil, err
	}
	h.noAgg = true
	return &WorkloadProjectionController{h: h}, nil
}

// Start converges at once, then at the Config's syncInterval, until ctx is done.
func (c *WorkloadProjectionController) Start(ctx context.Context) error { return c.h.run(ctx) }

// Reconcile plans and applies once.
func (c *WorkloadProjectionController) Reconcile(ctx context.Context) error { return c.h.once(ctx) }

// VirtualWorkspace is the workspace as the last pass left it (Status,
// TargetClusters, ProjectedResources current).
func (c *WorkloadProjectionController) VirtualWorkspace() *VirtualWorkspace { return c.h.view() }

// Err is why the last pass failed, or nil.
func (c *WorkloadProjectionController) Err() error { return c.h.err() }

package engine

import (
	"context"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/apply"
	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/inventory"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/render"
	"github.com/kcp-dev/tmc/internal/report"
	"github.com/kcp-dev/tmc/internal/rollout"
	"github.com/kcp-dev/tmc/internal/status"
)

// ConnectOptions say how a Session reaches its clusters and what it covers.
type ConnectOptions struct {
	// Cluster says how clusters are reached (kubeconfig, rate limits, requests in flight).
	Cluster cluster.Options
	// Workspace and ClusterName narrow the session to one workspace or one cluster.
	Workspace, ClusterName string
}

// Session is a repo connected to its clusters and rendered with their live
// facts and live sources. Plan, Apply, Aggregate and Status work on it; one
// Session serves one run (its render is a snapshot).
type Session struct {
	// Repo is the policy tree.
	Repo *Repo
	// Rendered is the render with live facts.
	Rendered *render.Result
	clusters *cluster.Set
	opts     ConnectOptions
}

// Connect builds a client per Cluster (no request yet), reads every
// cluster's facts concurrently and renders the tree with them and with the
// objects of live sources. Render problems come back as an ErrorList.
func (r *Repo) Connect(ctx context.Context, o ConnectOptions) (*Session, error) {
	s, err := r.ConnectWith(ctx, cluster.Connect(ctx, r.Policies, o.Cluster), o)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ConnectWith is Connect with clients made earlier (the syncer keeps them
// while the revision is unchanged). On a render error the session comes
// back with the partial render, together with the error.
func (r *Repo) ConnectWith(ctx context.Context, set *cluster.Set, o ConnectOptions) (*Session, error) {
	rendered, err := render.Render(ctx, r.Policies, render.Options{Workspace: o.Workspace, Cluster: o.ClusterName, Facts: set, Live: set})
	if rendered == nil {
		return nil, err
	}
	return &Session{Repo: r, Rendered: rendered, clusters: set, opts: o}, err
}

// Requests returns every cluster's API request counts so far, by cluster and verb.
func (s *Session) Requests() map[string]map[string]int64 { return s.clusters.Requests() }

// PlanOptions tune a plan.
type PlanOptions struct {
	// ForceConflicts plans as if tmc takes ownership of fields other managers own.
	ForceConflicts bool
	// ValidateCreates dry-runs objects that do not exist yet (tmc plan does;
	// tmc apply lets the apply validate them).
	ValidateCreates bool
	// PerCluster bounds the requests in flight to one cluster (default 16).
	PerCluster int
	// Workspace narrows the plan to one workspace of the session.
	Workspace string
	// GoneOnly plans only the pruning of workspaces git no longer holds.
	GoneOnly bool
	// Elsewhere are workspaces another replica of a sharded syncer owns:
	// neither planned nor pruned here (plan.Options.Elsewhere).
	Elsewhere map[string]bool
	// OnlyClusters, when set, plans just these clusters; nothing is sent to the others.
	OnlyClusters []string
	// Revision is recorded in the plan; empty reads the work tree's commit.
	Revision string
	// DryRunAll dry-runs every existing object on the server instead of
	// deciding unchanged ones locally (for comparisons and benchmarks).
	DryRunAll bool
}

// DefaultPlanOptions validate creates with 16 requests in flight per cluster.
func DefaultPlanOptions() PlanOptions { return PlanOptions{ValidateCreates: true, PerCluster: 16} }

// Plan computes what converging the clusters would change: per object and
// cluster, a server-side-apply dry-run compared with the live object, and
// the pruning of what the inventories recorded and git no longer holds. It
// writes nothing. Unreachable clusters are recorded, never pruned.
func (s *Session) Plan(ctx context.Context, o PlanOptions) (*plan.Plan, error) {
	po := plan.DefaultOptions()
	po.Clusters = s.Repo.Policies.Config.MaxWorkers
	if o.PerCluster > 0 {
		po.PerCluster = o.PerCluster
	}
	po.ForceConflicts, po.ValidateCreates = o.ForceConflicts, o.ValidateCreates
	po.Workspace, po.Cluster, po.GoneOnly = s.opts.Workspace, s.opts.ClusterName, o.GoneOnly
	if o.Workspace != "" {
		po.Workspace = o.Workspace
	}
	po.Revision, po.DryRunAll, po.OnlyClusters, po.Elsewhere = o.Revision, o.DryRunAll, o.OnlyClusters, o.Elsewhere
	if po.Revision == "" {
		po.Revision = Revision(s.Repo.Policies.Root)
	}
	return plan.Build(ctx, s.Repo.Policies, s.Rendered, s.clusters, po)
}

// UnreachableTargets names the clusters of pl that could not be reached and
// that a workspace of this session targets (its placement selects them):
// a workspace is judged on its own targets, so an unreachable cluster no
// planned workspace targets changes nothing for the exit code.
func (s *Session) UnreachableTargets(pl *plan.Plan) []string {
	targeted := map[string]bool{}
	for _, ws := range s.Rendered.Workspaces {
		if s.opts.Workspace != "" && ws.Name != s.opts.Workspace {
			continue
		}
		for _, d := range ws.Targets() {
			targeted[d.Cluster] = true
		}
	}
	var out []string
	for _, c := range pl.Unreachable() {
		if targeted[c.Name] {
			out = append(out, c.Name)
		}
	}
	return out
}

// PlanVerdict is what checking a saved plan against the clusters decided,
// kept apart from the plan (which records only what was observed when it
// was made): the clusters whose objects or inventories changed since, and
// why. Apply refuses those clusters and applies the rest.
type PlanVerdict struct {
	Refused map[string]error
}

// LoadPlan reads a saved plan (tmc plan --out) for this session: it
// attaches the objects of this session's render, refusing a plan whose
// digests the render does not match or that holds an entry no plan of this
// tree would make, and returns, apart from the plan, the verdict on every
// cluster whose objects or inventories changed since the plan was made.
func (s *Session) LoadPlan(ctx context.Context, path string, perCluster int) (*plan.Plan, PlanVerdict, error) {
	pl, err := plan.Read(path)
	if err != nil {
		return nil, PlanVerdict{}, err
	}
	desired, err := plan.Desired(s.Rendered)
	if err != nil {
		return nil, PlanVerdict{}, err
	}
	noPrune := map[string]bool{}
	for _, ws := range s.Repo.Policies.Workspaces {
		if ws.Spec.Prune != nil && !*ws.Spec.Prune {
			noPrune[object.Workspace(ws.Spec.LogicalCluster, ws.Metadata.Name).String()] = true
		}
	}
	if err := apply.AttachObjects(pl, desired, noPrune); err != nil {
		return nil, PlanVerdict{}, err
	}
	if perCluster <= 0 {
		perCluster = 16
	}
	refused, err := apply.Verify(ctx, pl, s.clusters, perCluster)
	if err != nil {
		return nil, PlanVerdict{}, err
	}
	return pl, PlanVerdict{Refused: refused}, nil
}

// DefaultApplyOptions apply the Config's maxWorkers clusters at once
// (Clusters 0) with 16 requests in flight each.
func DefaultApplyOptions() apply.Options {
	o := apply.DefaultOptions()
	o.Clusters = 0
	return o
}

// Apply converges the clusters with a plan: CRDs and Namespaces first, then
// the rest, with server-side apply; prunes what the plan deletes; records the
// inventories. One cluster failing never stops the others.
func (s *Session) Apply(ctx context.Context, pl *plan.Plan, o apply.Options) (*apply.Result, error) {
	if o.Clusters <= 0 {
		o.Clusters = s.Repo.Policies.Config.MaxWorkers
	}
	return apply.Apply(ctx, pl, s.clusters, o)
}

// AggregateOptions narrow an aggregation.
type AggregateOptions struct {
	// Workspace aggregates only the named workspace.
	Workspace string
	// Behind are the target clusters (of Workspace) a rollout still holds
	// at an earlier revision: their differences are not judged against
	// this revision's render. Unless BehindKnown, Aggregate finds them
	// itself for workspaces with a rollout: the targets whose inventory
	// records another revision than the work tree's.
	Behind      []string
	BehindKnown bool
}

// Aggregate reads every workspace's aggregated kinds back from its target
// clusters and merges them into one view per workspace.
func (s *Session) Aggregate(ctx context.Context, o AggregateOptions) ([]*aggregate.WorkspaceView, error) {
	ao := aggregate.DefaultOptions()
	ao.Workspace, ao.Clusters = o.Workspace, s.Repo.Policies.Config.MaxWorkers
	if ao.Workspace == "" {
		ao.Workspace = s.opts.Workspace
	}
	ao.Behind = map[string][]string{}
	rev := ""
	for _, ws := range s.Rendered.Workspaces {
		if ao.Workspace != "" && ws.Name != ao.Workspace {
			continue
		}
		key := object.Workspace(ws.LogicalCluster, ws.Name).String()
		switch {
		case o.BehindKnown || len(o.Behind) > 0:
			ao.Behind[key] = o.Behind
		case ws.Waves != nil:
			if rev == "" {
				rev = Revision(s.Repo.Policies.Root)
			}
			ao.Behind[key] = s.behindRevision(ctx, ws, rev)
		}
	}
	return aggregate.Build(ctx, s.Repo.Policies, s.Rendered, s.clusters, ao)
}

// behindRevision lists the target clusters of a workspace whose inventory
// records a revision other than rev (a rollout has not brought them to it).
func (s *Session) behindRevision(ctx context.Context, ws *render.Workspace, rev string) []string {
	if rev == "" {
		return nil
	}
	var out []string
	for _, c := range ws.Clusters {
		cl, err := s.clusters.Get(c.Name)
		if err != nil {
			continue
		}
		inv, err := inventory.Read(ctx, cl.Client, ws.LogicalCluster, ws.Name)
		if err == nil && inv != nil && inv.Revision != "" && inv.Revision != rev {
			out = append(out, c.Name)
		}
	}
	return out
}

// Status plans and aggregates without changing anything and builds every
// workspace's status from the two.
func (s *Session) Status(ctx context.Context) (status.Report, error) {
	pl, err := s.Plan(ctx, DefaultPlanOptions())
	if err != nil {
		return status.Report{}, err
	}
	views, err := s.Aggregate(ctx, AggregateOptions{})
	if err != nil {
		return status.Report{}, err
	}
	o := status.Outcome{Rendered: s.Rendered, Plan: pl, Views: views}
	for _, ws := range s.Rendered.Workspaces {
		if ws.Waves == nil {
			continue
		}
		d := rollout.Decide(rollout.Facts(s.Repo.Policies, ws, pl, rollout.ViewOf(views, ws), time.Now()))
		if o.Rollouts == nil {
			o.Rollouts = map[string]*rollout.Decision{}
		}
		o.Rollouts[object.Workspace(ws.LogicalCluster, ws.Name).String()] = &d
	}
	return status.Build(o), nil
}

// PublishReports writes the views as report files below the policy tree
// and, when asked, commits and pushes them (the one path `tmc aggregate` and
// the syncer share).
func PublishReports(ctx context.Context, views []*aggregate.WorkspaceView, o report.PublishOptions) (report.PublishResult, error) {
	return report.Publish(ctx, views, o)
}

// Revision returns the git commit checked out in the work tree holding dir, or "".
func Revision(dir string) string {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return ""
	}
	head, err := repo.Head()
	if err != nil {
		return ""
	}
	return head.Hash().String()
}

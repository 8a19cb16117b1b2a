// Package tmc is the engine of tmc, the multi-cluster GitOps reconciler, as
// a Go API: what the tmc CLI, the continuous syncer, the end-to-end tests and
// the benchmarks call, and what a platform team embeds in its own operator
// or portal.
//
// The pipeline is written once, here:
//
//	repo, err := tmc.Open(ctx, "policies")                    // load, validate, compile expressions
//	rendered, err := repo.Render(ctx, tmc.RenderOptions{})    // what each cluster must hold (no cluster access)
//	s, err := repo.Connect(ctx, tmc.ConnectOptions{Cluster: tmc.DefaultClusterOptions()}) // live facts and sources
//	pl, err := s.Plan(ctx, tmc.DefaultPlanOptions())          // server-side dry-run diff; a value, nothing written
//	res, err := s.Apply(ctx, pl, tmc.DefaultApplyOptions())   // staged server-side apply, prune by inventory
//	views, err := s.Aggregate(ctx, tmc.AggregateOptions{})    // every workspace's unified view
//	report, err := s.Status(ctx)                              // phases, target clusters, kinds
//
// The continuous syncer is the seed's Virtual Workspace Manager: a policy
// repo stands for kcp's Placements and SyncTargets, and every
// VirtualWorkspace of it gets a unified view across its target clusters —
// what it projects where, and what its aggregation policies read back:
//
//	vwm, err := tmc.NewVirtualWorkspaceManager(tmc.ManagerOptions{Repo: "https://git.example.com/org/policies.git"})
//	go vwm.Start(ctx, 2)                                                 // numThreads workspaces at once
//	vw, ok := vwm.GetVirtualWorkspace(logicalcluster.Name("root:production"), "web-app-placement")
//	view := vw.AggregatedResources[schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}]
//	fmt.Println(view.TotalCount, view.HealthyCount)                      // each resource counted once
//	for name, r := range view.Resources {
//		fmt.Println(name, r.Status, len(r.ClusterOrigins))               // the clusters that hold it
//	}
//	h := vwm.GetHealth(ctx)                                              // *HealthCheck: healthy or degraded
//	vwm.ApplyConfig(&tmc.VirtualWorkspaceManagerConfig{SyncInterval: 30 * time.Second, AggregationEnabled: true, ProjectionEnabled: true})
//
// One workspace's halves run on their own as a CrossClusterResourceAggregator
// (NewCrossClusterResourceAggregator) and a WorkloadProjectionController
// (NewWorkloadProjectionController). Policies may be Go values in the
// seed's shapes (ProjectionPolicy, AggregationPolicy, with the seed's
// constants) handed to OpenWithPolicies: they are validated and render as
// the same policies written in YAML. Every snippet of the seed document
// compiles against this package as written: see examples/seed and the
// package examples.
//
// Bad input comes back as an ErrorList whose entries name the file, line and
// field; the policy repo is untrusted (docs/security.md).
package tmc

import (
	"context"
	"log/slog"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/apply"
	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/engine"
	"github.com/kcp-dev/tmc/internal/markdown"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
	"github.com/kcp-dev/tmc/internal/report"
	"github.com/kcp-dev/tmc/internal/rollout"
	"github.com/kcp-dev/tmc/internal/status"
	"github.com/kcp-dev/tmc/internal/version"
)

// The engine's values, under names callers can use: this is the one list
// of them (internal/engine and the CLI use the same types); their fields
// and methods are documented in the internal packages they come from.
type (
	// Policies is a loaded, validated policy tree.
	Policies = policy.Policies
	// Placement chooses a workspace's target clusters (a VirtualWorkspace's spec.placement).
	Placement = policy.Placement
	// DriftRecord is one edit of an object tmc applied, made by someone else.
	DriftRecord = aggregate.DriftRecord
	// Error is one problem of a policy tree, with file, line, object and field.
	Error = policy.Error
	// ErrorList is every problem of a policy tree, sorted by file and line.
	ErrorList = policy.ErrorList
	// Rendered is what every target cluster of every workspace must hold.
	Rendered = render.Result
	// RenderedObject is one object rendered for one cluster, with the transformations that acted.
	RenderedObject = render.Object
	// Applied is one transformation (or chart cluster value) that acted, or was skipped by its conditional, as render --explain shows it.
	Applied = render.Applied
	// ChartRender is a chart source as rendered for one cluster: the values it got.
	ChartRender = render.ChartRender
	// PlacementDecision says whether a cluster is a workspace's target, and why.
	PlacementDecision = render.Decision
	// PolicyDecision says whether a projection policy acts on a cluster, and why.
	PolicyDecision = render.PolicyDecision
	// Facts gives the facts of a cluster that expressions and templates read.
	Facts = render.Facts
	// Plan is what converging the clusters would change: a value, computed
	// without side effects, that Apply reads and never writes.
	Plan = plan.Plan
	// PlanSummary counts a plan's changes per action, and how existing objects were compared.
	PlanSummary = plan.Summary
	// Change is one object's change on one cluster.
	Change = plan.Change
	// Action is what a plan does with an object on a cluster.
	Action = plan.Action
	// ClusterState is a cluster as a plan saw it: the run's probe verdict
	// (ClusterProbe) and tmc's inventories read there.
	ClusterState = plan.ClusterState
	// ClusterProbe is what one run's probe found of a cluster — name,
	// health, reachability and why not — made once and carried by the
	// render, plan, apply results, views and statuses alike.
	ClusterProbe = cluster.State
	// Drift names who changed an object tmc applied, and when.
	Drift = plan.Drift
	// ApplyResult is what Apply did, per cluster.
	ApplyResult = apply.Result
	// ClusterApplyResult is what Apply did on one cluster.
	ClusterApplyResult = apply.ClusterResult
	// WorkspaceView is one workspace's unified view across its target clusters.
	WorkspaceView = aggregate.WorkspaceView
	// TargetCluster is one target cluster of a workspace, with its health.
	TargetCluster = aggregate.TargetCluster
	// KindView is one aggregated kind of a workspace: its resources and counts.
	KindView = aggregate.KindView
	// MergedResource is one resource of a KindView (its JSON form), merged from every cluster that holds it.
	MergedResource = aggregate.Resource
	// Origin is one cluster's instance of an aggregated resource.
	Origin = aggregate.Origin
	// Conflict is a field whose values differ across clusters, and how it was resolved.
	Conflict = aggregate.Conflict
	// Divergence is a cluster of a Divergent conflict: what git meant there, and who wrote the value it holds.
	Divergence = aggregate.Divergence
	// Variation is a field whose values differ across clusters as git meant (never a conflict).
	Variation = aggregate.Variation
	// VariedBy is a projection policy's transformation behind a Variation.
	VariedBy = aggregate.VariedBy
	// StatusReport is every workspace's status.
	StatusReport = status.Report
	// WorkspaceStatus is one workspace's status: phase, target clusters, kinds.
	WorkspaceStatus = status.Workspace
	// AggregatedKind is the counts of one aggregated kind in a status.
	AggregatedKind = status.AggregatedKind
	// ProjectedKind counts one kind's source objects and their projections in a status.
	ProjectedKind = status.ProjectedKind
	// ProjectedResource is one source object and where it is projected.
	ProjectedResource = status.ProjectedResource
	// Projection is a source object on one target cluster.
	Projection = status.Projection
	// ClusterOptions say how clusters are reached.
	ClusterOptions = cluster.Options

	// Repo is a policy tree that loaded and validated.
	Repo = engine.Repo
	// RenderOptions narrow and feed a render.
	RenderOptions = engine.RenderOptions
	// Session is a repo connected to its clusters and rendered with their
	// live facts and sources; Plan, Apply, Aggregate and Status work on it.
	Session = engine.Session
	// ConnectOptions say how a Session reaches its clusters and what it covers.
	ConnectOptions = engine.ConnectOptions
	// PlanOptions tune a plan.
	PlanOptions = engine.PlanOptions
	// RolloutRunOptions say how RunRollouts plans, applies and reports.
	RolloutRunOptions = engine.RolloutRunOptions
	// PlanRollout is one workspace's waves in a plan.
	PlanRollout = plan.Rollout
	// RolloutWave is one wave of a workspace's rollout and the target clusters it holds.
	RolloutWave = render.Wave
	// RolloutDecision is where a workspace's rollout stands and which of
	// its clusters may take the revision now.
	RolloutDecision = rollout.Decision
	// RolloutState is where a rollout (or one wave) stands.
	RolloutState = rollout.State
	// PlanVerdict is what checking a saved plan against the clusters decided, apart from the plan.
	PlanVerdict = engine.PlanVerdict
	// ApplyOptions tune an apply.
	ApplyOptions = apply.Options
	// AggregateOptions narrow an aggregation.
	AggregateOptions = engine.AggregateOptions
	// PublishOptions say where reports go and whether they are committed.
	PublishOptions = report.PublishOptions
	// PublishResult says what PublishReports wrote, removed and committed.
	PublishResult = report.PublishResult
	// CommitOptions say how report commits are made and pushed.
	CommitOptions = report.CommitOptions
)

// Plan actions.
const (
	ActionCreate    = plan.Create
	ActionUpdate    = plan.Update
	ActionDelete    = plan.Delete
	ActionUnchanged = plan.Unchanged
	ActionSkip      = plan.Skip
)

// Actions are the plan actions in the order views print them.
var Actions = plan.Actions

// Why an existing object was dry-run on the server (Change.DryRun).
const (
	DryRunChanged   = plan.DryRunChanged
	DryRunWriteOnly = plan.DryRunWriteOnly
)

// Rollout states.
const (
	RolloutWaiting     = rollout.Waiting
	RolloutProgressing = rollout.Progressing
	RolloutBaking      = rollout.Baking
	RolloutHalted      = rollout.Halted
	RolloutComplete    = rollout.Complete
)

// Versions of the JSON formats: plans, aggregated views, statuses.
const (
	PlanFormatVersion   = plan.FormatVersion
	ViewFormatVersion   = aggregate.FormatVersion
	StatusFormatVersion = status.FormatVersion
)

// SetLogger routes the logs of the libraries tmc builds on (controller-runtime
// warns on stderr until its logger is set) to l; the CLI passes one that
// shows only errors, as tmc reports what matters itself.
func SetLogger(l *slog.Logger) { ctrllog.SetLogger(logr.FromSlogHandler(l.Handler())) }

// MarshalYAML is the YAML every tmc view writes (JSON field names, sigs.k8s.io/yaml).
func MarshalYAML(v any) ([]byte, error) { return yaml.Marshal(v) }

// PolicyKinds are the policy kinds in the order views list them.
var PolicyKinds = policy.Kinds

// Summarize counts changes per action, conflicts and errors.
func Summarize(changes []*Change) PlanSummary { return plan.Summarize(changes) }

// LoadPolicies loads and validates the policy tree in dir without rendering it.
func LoadPolicies(ctx context.Context, dir string) (*Policies, error) { return policy.Load(ctx, dir) }

// FileFacts are cluster facts read from a file (tmc render --facts).
type FileFacts = render.FileFacts

// ReadFactsFile reads cluster facts from a YAML or JSON file, bounded; check
// them against the tree with FileFacts.Check.
func ReadFactsFile(path string) (FileFacts, error) { return render.ReadFactsFile(path) }

// VersionInfo is tmc's version, commit, Go version and platform.
type VersionInfo = version.Info

// Version is tmc's version, as tmc version prints it.
func Version() VersionInfo { return version.Get() }

// The markdown writer of plan comments and report READMEs (docs/security.md):
// each escapes a string from the repo or a cluster for where it lands.
var (
	MarkdownText     = markdown.Text
	MarkdownCell     = markdown.Cell
	MarkdownCode     = markdown.Code
	MarkdownCodeCell = markdown.CodeCell
	MarkdownHTML     = markdown.HTML
	MarkdownFence    = markdown.Fence
)

// ClusterReached and ClusterUnreached make a ClusterProbe.
var (
	ClusterReached   = cluster.Reached
	ClusterUnreached = cluster.Unreached
	// ClusterProblem keeps an error as a value in a type written as JSON
	// (ClusterProbe.Err, ClusterApplyResult.Err).
	ClusterProblem = cluster.NewProblem
)

// Open loads the policy tree in dir: every YAML file, decoded strictly,
// validated and with its expressions compiled. A tree with problems returns
// an ErrorList holding all of them.
func Open(ctx context.Context, dir string) (*Repo, error) { return engine.Open(ctx, dir) }

// DefaultClusterOptions are sized for throughput (200 QPS, 16 requests in flight per cluster).
func DefaultClusterOptions() ClusterOptions { return engine.DefaultClusterOptions() }

// DefaultPlanOptions validate creates with 16 requests in flight per cluster.
func DefaultPlanOptions() PlanOptions { return engine.DefaultPlanOptions() }

// DefaultApplyOptions apply the Config's maxWorkers clusters at once with 16 requests in flight each.
func DefaultApplyOptions() ApplyOptions { return engine.DefaultApplyOptions() }

// PublishReports writes the views as report files below the policy tree
// and, when asked, commits and pushes them (the one path `tmc aggregate` and
// the syncer share).
func PublishReports(ctx context.Context, views []*WorkspaceView, o PublishOptions) (PublishResult, error) {
	return engine.PublishReports(ctx, views, o)
}

// Revision returns the git commit checked out in the work tree holding dir, or "".
func Revision(dir string) string { return engine.Revision(dir) }

// RunRollouts drives the rollouts of a tree to their end, as `tmc apply
// --rollout` does: plan, apply what each rollout lets through, again, until
// every rollout is complete or one halts. open connects a fresh session
// for each step.
func RunRollouts(ctx context.Context, open func(context.Context) (*Session, error), o RolloutRunOptions) (map[string]*RolloutDecision, error) {
	return engine.RunRollouts(ctx, open, o)
}

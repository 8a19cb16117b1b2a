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
// and the continuous syncer is a Manager:
//
//	m := tmc.NewManager(tmc.ManagerOptions{Repo: "https://git.example.com/org/policies.git"})
//	go m.Start(ctx)
//	m.ListVirtualWorkspaces()
//
// Bad input comes back as an ErrorList whose entries name the file, line and
// field; the policy repo is untrusted (docs/security.md).
package tmc

import (
	"context"

	"github.com/kcp-dev/tmc/internal/engine"
)

// The engine's values, under names callers can use; their fields and
// methods are documented in the internal packages they come from.
type (
	// Policies is a loaded, validated policy tree.
	Policies = engine.Policies
	// Config is the manager's settings: the spec of the tree's Config object.
	Config = engine.Config
	// Error is one problem of a policy tree, with file, line, object and field.
	Error = engine.Error
	// ErrorList is every problem of a policy tree, sorted by file and line.
	ErrorList = engine.ErrorList
	// Rendered is what every target cluster of every workspace must hold.
	Rendered = engine.Rendered
	// Facts gives the facts of a cluster that expressions and templates read.
	Facts = engine.Facts
	// Plan is what converging the clusters would change: a value, computed
	// without side effects, that Apply reads and never writes.
	Plan = engine.Plan
	// PlanSummary counts a plan's changes per action, and how existing objects were compared.
	PlanSummary = engine.PlanSummary
	// Change is one object's change on one cluster.
	Change = engine.Change
	// ApplyResult is what Apply did, per cluster.
	ApplyResult = engine.ApplyResult
	// WorkspaceView is one workspace's unified view across its target clusters.
	WorkspaceView = engine.WorkspaceView
	// StatusReport is every workspace's status.
	StatusReport = engine.StatusReport
	// WorkspaceStatus is one workspace's status: phase, target clusters, kinds.
	WorkspaceStatus = engine.WorkspaceStatus
	// ClusterOptions say how clusters are reached.
	ClusterOptions = engine.ClusterOptions

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
	// PlanVerdict is what checking a saved plan against the clusters decided, apart from the plan.
	PlanVerdict = engine.PlanVerdict
	// ApplyOptions tune an apply.
	ApplyOptions = engine.ApplyOptions
	// AggregateOptions narrow an aggregation.
	AggregateOptions = engine.AggregateOptions
	// PublishOptions say where reports go and whether they are committed.
	PublishOptions = engine.PublishOptions
	// PublishResult says what PublishReports wrote, removed and committed.
	PublishResult = engine.PublishResult
	// CommitOptions say how report commits are made and pushed.
	CommitOptions = engine.CommitOptions
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

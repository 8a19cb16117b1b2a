// Package engine is tmc's pipeline, written once: open a policy tree,
// render it, connect to its clusters, plan, apply, aggregate, build status
// and publish reports. The public API (the root package tmc) and the
// continuous syncer (internal/sync) both call it.
package engine

import (
	"context"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/apply"
	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
	"github.com/kcp-dev/tmc/internal/status"
)

// The engine's values. They are the internal packages' types under names
// callers can use; their fields and methods are documented there.
type (
	// Policies is a loaded, validated policy tree.
	Policies = policy.Policies
	// Config is the manager's settings: the spec of the tree's Config object.
	Config = policy.ConfigSpec
	// Error is one problem of a policy tree, with file, line, object and field.
	Error = policy.Error
	// ErrorList is every problem of a policy tree, sorted by file and line.
	ErrorList = policy.ErrorList
	// Rendered is what every target cluster of every workspace must hold.
	Rendered = render.Result
	// Facts gives the facts of a cluster that expressions and templates read.
	Facts = render.Facts
	// Plan is what converging the clusters would change: a value, computed
	// without side effects, that Apply reads and never writes.
	Plan = plan.Plan
	// PlanSummary counts a plan's changes per action, and how existing objects were compared.
	PlanSummary = plan.Summary
	// Change is one object's change on one cluster.
	Change = plan.Change
	// ApplyResult is what Apply did, per cluster.
	ApplyResult = apply.Result
	// WorkspaceView is one workspace's unified view across its target clusters.
	WorkspaceView = aggregate.WorkspaceView
	// StatusReport is every workspace's status.
	StatusReport = status.Report
	// WorkspaceStatus is one workspace's status: phase, target clusters, kinds.
	WorkspaceStatus = status.Workspace
	// ClusterOptions say how clusters are reached.
	ClusterOptions = cluster.Options
)

// DefaultClusterOptions are sized for throughput (200 QPS, 16 requests in flight per cluster).
func DefaultClusterOptions() ClusterOptions { return cluster.DefaultOptions() }

// Repo is a policy tree that loaded and validated.
type Repo struct {
	// Policies are the tree's policy objects.
	Policies *Policies
}

// Open loads the policy tree in dir: every YAML file, decoded strictly,
// validated and with its expressions compiled. A tree with problems returns
// an ErrorList holding all of them.
func Open(ctx context.Context, dir string) (*Repo, error) {
	p, err := policy.Load(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &Repo{Policies: p}, nil
}

// RenderOptions narrow and feed a render.
type RenderOptions struct {
	// Workspace and Cluster render only the named workspace or cluster; empty renders all.
	Workspace, Cluster string
	// Facts gives cluster facts; nil uses what the Cluster objects declare.
	Facts Facts
}

// Render computes what each target cluster must hold, with no cluster
// access and no network. Live cluster sources need a Session.
func (r *Repo) Render(ctx context.Context, o RenderOptions) (*Rendered, error) {
	return render.Render(ctx, r.Policies, render.Options{Workspace: o.Workspace, Cluster: o.Cluster, Facts: o.Facts})
}

// Validate renders every workspace with the facts the Cluster objects
// declare, leaving live sources out, and returns every problem found (what
// `tmc validate` reports beyond loading).
func (r *Repo) Validate(ctx context.Context) error {
	_, err := render.Render(ctx, r.Policies, render.Options{SkipLive: true})
	return err
}

// Package engine is tmc's pipeline, written once: open a policy tree,
// render it, connect to its clusters, plan, apply, aggregate, build status
// and publish reports. The public API (the root package tmc) and the
// continuous syncer (internal/sync) both call it.
package engine

import (
	"context"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
)

// DefaultClusterOptions are sized for throughput (200 QPS, 16 requests in flight per cluster).
func DefaultClusterOptions() cluster.Options { return cluster.DefaultOptions() }

// Repo is a policy tree that loaded and validated.
type Repo struct {
	// Policies are the tree's policy objects.
	Policies *policy.Policies
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
	Facts render.Facts
}

// Render computes what each target cluster must hold, with no cluster
// access and no network. Live cluster sources need a Session.
func (r *Repo) Render(ctx context.Context, o RenderOptions) (*render.Result, error) {
	return render.Render(ctx, r.Policies, render.Options{Workspace: o.Workspace, Cluster: o.Cluster, Facts: o.Facts})
}

// Validate renders every workspace with the facts the Cluster objects
// declare, leaving live sources out, and returns every problem found (what
// `tmc validate` reports beyond loading).
func (r *Repo) Validate(ctx context.Context) error {
	_, err := render.Render(ctx, r.Policies, render.Options{SkipLive: true})
	return err
}

package e2e

import (
	"context"
	"testing"

	"github.com/kcp-dev/tmc/internal/apply"
	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
)

type clusterRequests struct {
	name     string
	writes   int64
	requests map[string]int64
}

type inProcessResult struct {
	created, updated, deleted int
	clusters                  []clusterRequests
}

// applyInProcess runs what `tmc apply` runs, in the test process, so that the
// test can read every cluster's request counts (by verb) afterwards.
func applyInProcess(t *testing.T, f *fixture, validate bool) inProcessResult {
	t.Helper()
	ctx := context.Background()
	p, err := policy.Load(ctx, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := cluster.DefaultOptions()
	opts.Kubeconfig = f.kubeconfig
	set := cluster.Connect(ctx, p, opts)
	r, err := render.Render(ctx, p, render.Options{Facts: set, Live: set})
	if err != nil {
		t.Fatal(err)
	}
	popts := plan.DefaultOptions()
	popts.ValidateCreates = validate
	pl, err := plan.Build(ctx, p, r, set, popts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := apply.Apply(ctx, pl, set, apply.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var out inProcessResult
	for _, c := range res.Clusters {
		if c.Failed() {
			t.Errorf("%s failed: %s %v", c.Name, c.Error, c.Errors)
		}
		out.created += c.Created
		out.updated += c.Updated
		out.deleted += c.Deleted
		cl, err := set.Get(c.Name)
		if err != nil {
			t.Fatal(err)
		}
		out.clusters = append(out.clusters, clusterRequests{name: c.Name, writes: cl.Requests.Writes(), requests: cl.Requests.Snapshot()})
	}
	return out
}

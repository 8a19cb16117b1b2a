package e2e

import (
	"context"
	"testing"

	engine "github.com/kcp-dev/tmc"
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
	repo, err := engine.Open(ctx, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	copts := engine.DefaultClusterOptions()
	copts.Kubeconfig = f.kubeconfig
	s, err := repo.Connect(ctx, engine.ConnectOptions{Cluster: copts})
	if err != nil {
		t.Fatal(err)
	}
	popts := engine.DefaultPlanOptions()
	popts.ValidateCreates = validate
	pl, err := s.Plan(ctx, popts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Apply(ctx, pl, engine.DefaultApplyOptions())
	if err != nil {
		t.Fatal(err)
	}
	var out inProcessResult
	requests := s.Requests()
	for _, c := range res.Clusters {
		if c.Failed() {
			t.Errorf("%s failed: %s %v", c.Name, c.Err, c.Errors)
		}
		out.created += c.Created
		out.updated += c.Updated
		out.deleted += c.Deleted
		byVerb := requests[c.Name]
		writes := byVerb["create"] + byVerb["update"] + byVerb["patch"] + byVerb["delete"]
		out.clusters = append(out.clusters, clusterRequests{name: c.Name, writes: writes, requests: byVerb})
	}
	return out
}

package e2e

import (
	"context"
	"fmt"
	"log"
	"os"

	engine "github.com/kcp-dev/tmc"
	"github.com/kcp-dev/tmc/test/harness"
)

// The engine's documented calls, end to end on three real API servers:
// open the example policies, connect, plan, apply, and read the status.
func Example_engineEndToEnd() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tmc-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cs, err := harness.Start(ctx, dir, "prod-east", "prod-west", "edge-1")
	if cs != nil {
		defer cs.Stop()
	}
	if err != nil {
		log.Fatal(err)
	}
	for name, cpu := range map[string]string{"prod-east": "16", "prod-west": "8", "edge-1": "2"} {
		if _, err := cs.Get(name).CreateNode(ctx, harness.NodeSpec{Name: name + "-n1", CPU: cpu, Memory: "32Gi", Pods: "110"}); err != nil {
			log.Fatal(err)
		}
	}

	repo, err := engine.Open(ctx, "../../examples/policies")
	if err != nil {
		log.Fatal(err)
	}
	opts := engine.DefaultClusterOptions()
	opts.Kubeconfig = cs.KubeconfigPath
	s, err := repo.Connect(ctx, engine.ConnectOptions{Cluster: opts})
	if err != nil {
		log.Fatal(err)
	}
	pl, err := s.Plan(ctx, engine.DefaultPlanOptions())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("plan: %d to create, %d to update\n", pl.Summary.Create, pl.Summary.Update)
	res, err := s.Apply(ctx, pl, engine.DefaultApplyOptions())
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range res.Clusters {
		fmt.Printf("%s: %d created\n", c.Name, c.Created)
	}
	s, err = repo.Connect(ctx, engine.ConnectOptions{Cluster: opts})
	if err != nil {
		log.Fatal(err)
	}
	rep, err := s.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, w := range rep.Workspaces {
		fmt.Printf("%s/%s: %s on %d clusters\n", w.LogicalCluster, w.Name, w.Phase, len(w.TargetClusters))
	}
	// Output:
	// plan: 24 to create, 0 to update
	// edge-1: 8 created
	// prod-east: 8 created
	// prod-west: 8 created
	// root:production/podinfo: Active on 3 clusters
	// root:production/web-app: Active on 3 clusters
}

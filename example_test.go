package tmc_test

import (
	"context"
	"fmt"
	"log"

	"github.com/kcp-dev/tmc"
)

// Render a policy tree without any cluster access: what each target cluster
// of each workspace must hold, with the facts the Cluster objects declare.
func ExampleRepo_Render() {
	ctx := context.Background()
	repo, err := tmc.Open(ctx, "examples/policies")
	if err != nil {
		log.Fatal(err) // an ErrorList: every problem with its file, line and field
	}
	rendered, err := repo.Render(ctx, tmc.RenderOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, ws := range rendered.Workspaces {
		for _, c := range ws.Clusters {
			fmt.Printf("%s on %s: %d objects\n", ws.Name, c.Name, len(c.Objects))
		}
	}
	// Output:
	// podinfo on edge-1: 3 objects
	// podinfo on prod-east: 3 objects
	// podinfo on prod-west: 3 objects
	// web-app on edge-1: 5 objects
	// web-app on prod-east: 5 objects
	// web-app on prod-west: 5 objects
}

// Plan and apply a tree on its clusters, as `tmc apply` does.
func ExampleSession_Apply() {
	ctx := context.Background()
	repo, err := tmc.Open(ctx, "examples/policies")
	if err != nil {
		log.Fatal(err)
	}
	opts := tmc.DefaultClusterOptions()
	opts.Kubeconfig = "/path/to/kubeconfig" // one context per Cluster, named after it
	s, err := repo.Connect(ctx, tmc.ConnectOptions{Cluster: opts})
	if err != nil {
		log.Fatal(err)
	}
	pl, err := s.Plan(ctx, tmc.DefaultPlanOptions())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d to create, %d to update, %d to delete\n", pl.Summary.Create, pl.Summary.Update, pl.Summary.Delete)
	res, err := s.Apply(ctx, pl, tmc.DefaultApplyOptions())
	if err != nil {
		log.Fatal(err)
	}
	if res.Failed() {
		log.Fatalf("apply failed: %+v", res.Clusters)
	}
}

// Aggregate every workspace's resources back from its clusters and commit
// the reports below the policy tree.
func ExamplePublishReports() {
	ctx := context.Background()
	repo, err := tmc.Open(ctx, "policies")
	if err != nil {
		log.Fatal(err)
	}
	s, err := repo.Connect(ctx, tmc.ConnectOptions{Cluster: tmc.DefaultClusterOptions()})
	if err != nil {
		log.Fatal(err)
	}
	views, err := s.Aggregate(ctx, tmc.AggregateOptions{})
	if err != nil {
		log.Fatal(err)
	}
	res, err := tmc.PublishReports(ctx, views, tmc.PublishOptions{
		PolicyRoot: "policies", ReportsPath: repo.Policies.Config.Reports.Path, Prune: true, Commit: true,
		CommitOptions: tmc.CommitOptions{AuthorName: "tmc", AuthorEmail: "tmc@example.com", Message: "tmc: reports"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("committed", res.Commit)
}

package tmc_test

import (
	"context"
	"fmt"
	"log"
	"sort"

	"github.com/kcp-dev/logicalcluster/v3"

	"github.com/kcp-dev/tmc"
	"github.com/kcp-dev/tmc/examples/seed"
)

// The seed document's snippets, in its order. Each calls the snippet as
// the document writes it (package examples/seed); the ones that need
// clusters are compiled here and run against real API servers in the
// end-to-end suite (test/e2e, TestSeedSnippets).

// Initialization: create the manager for a policy repo and start it.
func ExampleNewVirtualWorkspaceManager() {
	opts := tmc.ManagerOptions{Repo: "https://git.example.com/org/policies.git", Branch: "main", Cluster: tmc.DefaultClusterOptions(), PushReports: true}
	vwm := seed.Initialization(opts)
	_ = vwm
}

// Querying virtual workspaces: one by logical cluster and name, and all.
func ExampleVirtualWorkspaceManager_GetVirtualWorkspace() {
	vwm, err := tmc.NewVirtualWorkspaceManager(tmc.ManagerOptions{Repo: "policies"})
	if err != nil {
		log.Fatal(err)
	}
	seed.QueryingVirtualWorkspaces(vwm)
	seed.ViewingAggregatedDeployments(vwm, logicalcluster.Name("root:production"))
	seed.GetVirtualWorkspaceStatus(vwm, logicalcluster.Name("root:production"), "web-app-placement")
	if vw, ok := vwm.GetVirtualWorkspace("root:production", "web-app-placement"); ok {
		seed.AssessCrossClusterHealth(vw)
	}
}

// The manager's health, as the seed's GetHealth builds it.
func ExampleVirtualWorkspaceManager_GetHealth() {
	vwm, err := tmc.NewVirtualWorkspaceManager(tmc.ManagerOptions{Repo: "policies"})
	if err != nil {
		log.Fatal(err)
	}
	h := vwm.GetHealth(context.Background())
	fmt.Println(h.ComponentType, h.ComponentID, h.Status)
	// Output: VirtualWorkspaceManager virtual-workspace-manager healthy
}

// Configuration, applied at run time.
func ExampleVirtualWorkspaceManager_ApplyConfig() {
	vwm, err := tmc.NewVirtualWorkspaceManager(tmc.ManagerOptions{Repo: "policies"})
	if err != nil {
		log.Fatal(err)
	}
	seed.ApplyConfiguration(vwm)
}

// Projecting ConfigMaps across clusters, as a Go value.
func ExampleProjectionPolicy() {
	p := seed.ProjectingConfigMaps()
	fmt.Println(p.Mode, p.TargetClusters, p.ResourceSelectors[0].GVK.Kind, p.ResourceSelectors[0].LabelSelector)
	for _, t := range p.Transformations {
		fmt.Println(t.Type, t.JSONPath, t.Value)
	}
	// Output:
	// Selective [cluster-a cluster-b] ConfigMap app.kubernetes.io/component=config
	// Set metadata.labels.workload.kcp.io/projected true
	// Template metadata.name {{.OriginalName}}-{{.TargetCluster}}
}

// Conditional projection based on cluster capacity.
func ExampleProjectionPolicy_conditional() {
	p := seed.SetupConditionalProjection()
	for _, t := range p.Transformations {
		fmt.Printf("%s %s=%v where %s\n", t.Type, t.JSONPath, t.Value, t.Conditional)
	}
	// Output:
	// Set spec.replicas=3 where cluster.capacity.cpu > 4
	// Set spec.replicas=1 where cluster.capacity.cpu <= 4
}

// The example aggregation policy.
func ExampleAggregationPolicy() {
	p := seed.AggregationPolicyExample()
	fmt.Println(p.GVK.Kind, p.MergeStrategy, p.ConflictResolution, p.HealthAggregation, p.StatusMerging)
	// Output: Deployment Union LastWriter Majority Combined
}

// The projection transformations: set, template, conditional.
func ExampleResourceTransformation() {
	for _, t := range []tmc.ResourceTransformation{seed.SetTransformation("cluster-a"), seed.TemplateTransformation(), seed.ConditionalTransformation()} {
		fmt.Printf("%s %s %v %q\n", t.Type, t.JSONPath, t.Value, t.Conditional)
	}
	// Output:
	// Set metadata.labels.projected-from cluster-a ""
	// Template spec.template.spec.containers[0].env[0].value https://api.{{.TargetCluster}}.example.com ""
	// Set spec.resources.requests.memory 1Gi "cluster.type == 'edge'"
}

// One workspace's halves, run on their own.
func ExampleNewCrossClusterResourceAggregator() {
	ctx := context.Background()
	repo, err := tmc.Open(ctx, "examples/policies")
	if err != nil {
		log.Fatal(err)
	}
	vw := &tmc.VirtualWorkspace{Name: "web-app", LogicalCluster: "root"}
	if _, err := seed.CreatingResourceAggregator(vw, repo, tmc.DefaultClusterOptions()); err != nil {
		log.Fatal(err)
	}
	if _, err := seed.CreatingProjectionController(vw, repo, tmc.DefaultClusterOptions()); err != nil {
		log.Fatal(err)
	}
}

// Cluster-specific configuration.
func ExampleClusterConfig() {
	configs := seed.ClusterConfigs()
	vwm, err := tmc.NewVirtualWorkspaceManager(tmc.ManagerOptions{Repo: "policies"})
	if err != nil {
		log.Fatal(err)
	}
	if err := vwm.ApplyClusterConfigs(configs); err != nil {
		log.Fatal(err)
	}
	names := make([]string, 0, len(configs))
	for n := range configs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := configs[n]
		fmt.Println(n, c.Priority, c.HealthCheckTimeout, c.AggregationWeight, c.ProjectionEnabled)
	}
	// Output:
	// edge-cluster 50 1m0s 0.3 false
	// prod-east 90 30s 1 true
	// prod-west 85 45s 0.8 true
}

// Package seed holds the Go snippets of the document tmc was started from
// (the TMC Virtual Workspace Manager), as the document writes them, each in
// a function, compiled against the public API with
// `import . "github.com/kcp-dev/tmc"`. Only the constructors' arguments
// differ from the document's (its kcp clients and informers do not exist
// here); everything else is pasted as written. The root package's
// examples call these functions, and the end-to-end suite runs the ones
// that need clusters against real API servers.
package seed

//lint:file-ignore ST1001 the seed's snippets are written against a dot import of the API, as an embedder pastes them

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/kcp-dev/logicalcluster/v3"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	. "github.com/kcp-dev/tmc"
)

// Initialization: "Create virtual workspace manager", then start it. The
// document's kcpClusterClient, dynamicClient, placementInformer and
// syncTargetInformer become the manager's options: the policy repo and how
// to reach the clusters.
func Initialization(options ManagerOptions) *VirtualWorkspaceManager {
	// Create virtual workspace manager
	vwm, err := NewVirtualWorkspaceManager(
		options,
	)
	if err != nil {
		log.Fatal(err, "Failed to create virtual workspace manager")
	}

	// Start the manager
	ctx := context.Background()
	numThreads := 2
	go vwm.Start(ctx, numThreads)
	return vwm
}

// QueryingVirtualWorkspaces is "Querying Virtual Workspaces".
func QueryingVirtualWorkspaces(vwm *VirtualWorkspaceManager) {
	// Get specific virtual workspace
	cluster := logicalcluster.Name("root:production")
	vw, exists := vwm.GetVirtualWorkspace(cluster, "web-app-placement")
	if exists {
		fmt.Printf("Virtual workspace status: %s\n", vw.Status)
		fmt.Printf("Target clusters: %d\n", len(vw.TargetClusters))
		fmt.Printf("Aggregated resources: %d types\n", len(vw.AggregatedResources))
	}

	// List all virtual workspaces
	workspaces := vwm.ListVirtualWorkspaces()
	for _, vw := range workspaces {
		fmt.Printf("Workspace: %s/%s - Status: %s\n",
			vw.LogicalCluster, vw.Name, vw.Status)
	}
}

// ViewingAggregatedDeployments is "Viewing Aggregated Deployments".
func ViewingAggregatedDeployments(vwm *VirtualWorkspaceManager, cluster logicalcluster.Name) {
	// Get aggregated view of deployments
	vw, exists := vwm.GetVirtualWorkspace(cluster, "web-app-placement")
	if exists {
		deploymentGVK := schema.GroupVersionKind{
			Group:   "apps",
			Version: "v1",
			Kind:    "Deployment",
		}

		if aggregatedView, exists := vw.AggregatedResources[deploymentGVK]; exists {
			fmt.Printf("Total deployments: %d\n", aggregatedView.TotalCount)
			fmt.Printf("Healthy deployments: %d\n", aggregatedView.HealthyCount)

			for name, resource := range aggregatedView.Resources {
				fmt.Printf("Deployment %s:\n", name)
				fmt.Printf("  Status: %s\n", resource.Status)
				fmt.Printf("  Clusters: %v\n", getClusterNames(resource.ClusterOrigins))
			}
		}
	}
}

func getClusterNames(origins map[string]*ClusterResourceInstance) []string {
	clusters := make([]string, 0, len(origins))
	for cluster := range origins {
		clusters = append(clusters, cluster)
	}
	return clusters
}

// AssessCrossClusterHealth is "Cross-Cluster Health Assessment".
func AssessCrossClusterHealth(vw *VirtualWorkspace) { assessCrossClusterHealth(vw) }

// Assess health across clusters
func assessCrossClusterHealth(vw *VirtualWorkspace) {
	for gvk, aggregatedView := range vw.AggregatedResources {
		fmt.Printf("Resource type: %s\n", gvk.String())

		healthyPercentage := float64(aggregatedView.HealthyCount) / float64(aggregatedView.TotalCount) * 100
		fmt.Printf("Health: %.1f%% (%d/%d healthy)\n",
			healthyPercentage, aggregatedView.HealthyCount, aggregatedView.TotalCount)

		// Check resource distribution
		for name, resource := range aggregatedView.Resources {
			clusterCount := len(resource.ClusterOrigins)
			expectedClusters := len(vw.TargetClusters)

			if clusterCount < expectedClusters {
				fmt.Printf("Warning: %s only in %d/%d clusters\n",
					name, clusterCount, expectedClusters)
			}
		}
	}
}

// ProjectingConfigMaps is "Projecting ConfigMaps Across Clusters".
func ProjectingConfigMaps() ProjectionPolicy {
	// Set up projection policy for ConfigMaps
	projectionPolicy := ProjectionPolicy{
		Mode:           ProjectionModeSelective,
		TargetClusters: []string{"cluster-a", "cluster-b"},
		ResourceSelectors: []ResourceSelector{
			{
				GVK: schema.GroupVersionKind{
					Group:   "",
					Version: "v1",
					Kind:    "ConfigMap",
				},
				LabelSelector: labels.SelectorFromSet(labels.Set{
					"app.kubernetes.io/component": "config",
				}),
			},
		},
		Transformations: []ResourceTransformation{
			{
				Type:     TransformationTypeSet,
				JSONPath: "metadata.labels.workload.kcp.io/projected",
				Value:    "true",
			},
			{
				Type:     TransformationTypeTemplate,
				JSONPath: "metadata.name",
				Value:    "{{.OriginalName}}-{{.TargetCluster}}",
			},
		},
	}
	return projectionPolicy
}

// SetupConditionalProjection is "Conditional Projection Based on Cluster Capacity".
func SetupConditionalProjection() ProjectionPolicy { return setupConditionalProjection() }

// Project resources based on cluster capacity
func setupConditionalProjection() ProjectionPolicy {
	return ProjectionPolicy{
		Mode: ProjectionModeConditional,
		ResourceSelectors: []ResourceSelector{
			{
				GVK: schema.GroupVersionKind{
					Group:   "apps",
					Version: "v1",
					Kind:    "Deployment",
				},
				LabelSelector: labels.SelectorFromSet(labels.Set{
					"workload.kcp.io/auto-project": "true",
				}),
			},
		},
		Transformations: []ResourceTransformation{
			{
				Type:        TransformationTypeSet,
				JSONPath:    "spec.replicas",
				Conditional: "cluster.capacity.cpu > 4",
				Value:       3,
			},
			{
				Type:        TransformationTypeSet,
				JSONPath:    "spec.replicas",
				Conditional: "cluster.capacity.cpu <= 4",
				Value:       1,
			},
		},
	}
}

// CreatingResourceAggregator is "Creating Resource Aggregator". The
// document's dynamicClient and clusterDynamicClients are the policy repo
// and how to reach its clusters.
func CreatingResourceAggregator(virtualWorkspace *VirtualWorkspace, dynamicClient *Repo, clusterDynamicClients ClusterOptions) (*CrossClusterResourceAggregator, error) {
	// Initialize cross-cluster resource aggregator
	aggregator, err := NewCrossClusterResourceAggregator(
		virtualWorkspace,
		dynamicClient,
		clusterDynamicClients,
	)
	if err != nil {
		return nil, fmt.Errorf("failed to create aggregator: %w", err)
	}

	// Start aggregation
	ctx := context.Background()
	go aggregator.Start(ctx)
	return aggregator, nil
}

// AggregationPolicyExample is the "Example aggregation policy".
func AggregationPolicyExample() *AggregationPolicy {
	// Example aggregation policy
	policy := &AggregationPolicy{
		GVK: schema.GroupVersionKind{
			Group:   "apps",
			Version: "v1",
			Kind:    "Deployment",
		},
		MergeStrategy:      MergeStrategyUnion,
		ConflictResolution: ConflictResolutionLastWriter,
		HealthAggregation:  HealthAggregationMajority,
		StatusMerging:      StatusMergingCombined,
	}
	return policy
}

// CreatingProjectionController is "Creating Projection Controller".
func CreatingProjectionController(virtualWorkspace *VirtualWorkspace, dynamicClient *Repo, clusterDynamicClients ClusterOptions) (*WorkloadProjectionController, error) {
	// Initialize workload projection controller
	controller, err := NewWorkloadProjectionController(
		virtualWorkspace,
		dynamicClient,
		clusterDynamicClients,
	)
	if err != nil {
		return nil, fmt.Errorf("failed to create projection controller: %w", err)
	}

	// Start projection
	ctx := context.Background()
	go controller.Start(ctx)
	return controller, nil
}

// SetTransformation is "Set Transformation" (sourceCluster names the
// cluster the object was read from; a Template of {{.SourceCluster}} does
// the same per object).
func SetTransformation(sourceCluster string) ResourceTransformation {
	// Set field values during projection
	transformation := ResourceTransformation{
		Type:     TransformationTypeSet,
		JSONPath: "metadata.labels.projected-from",
		Value:    sourceCluster,
	}
	return transformation
}

// TemplateTransformation is "Template Transformation".
func TemplateTransformation() ResourceTransformation {
	// Apply template-based transformations
	transformation := ResourceTransformation{
		Type:     TransformationTypeTemplate,
		JSONPath: "spec.template.spec.containers[0].env[0].value",
		Value:    "https://api.{{.TargetCluster}}.example.com",
	}
	return transformation
}

// ConditionalTransformation is "Conditional Transformation".
func ConditionalTransformation() ResourceTransformation {
	// Apply transformations based on conditions
	transformation := ResourceTransformation{
		Type:        TransformationTypeSet,
		JSONPath:    "spec.resources.requests.memory",
		Value:       "1Gi",
		Conditional: "cluster.type == 'edge'",
	}
	return transformation
}

// GetVirtualWorkspaceStatus is the "Virtual Workspace Status API".
func GetVirtualWorkspaceStatus(vwm *VirtualWorkspaceManager, cluster logicalcluster.Name, name string) {
	getVirtualWorkspaceStatus(vwm, cluster, name)
}

// Get comprehensive status
func getVirtualWorkspaceStatus(vwm *VirtualWorkspaceManager, cluster logicalcluster.Name, name string) {
	vw, exists := vwm.GetVirtualWorkspace(cluster, name)
	if !exists {
		fmt.Printf("Virtual workspace not found\n")
		return
	}

	fmt.Printf("Virtual Workspace: %s/%s\n", vw.LogicalCluster, vw.Name)
	fmt.Printf("Status: %s\n", vw.Status)
	fmt.Printf("Created: %s\n", vw.CreatedTime.Format(time.RFC3339))
	fmt.Printf("Last Updated: %s\n", vw.LastUpdated.Format(time.RFC3339))

	// Target clusters
	fmt.Printf("\nTarget Clusters (%d):\n", len(vw.TargetClusters))
	for _, cluster := range vw.TargetClusters {
		status := "healthy"
		if !cluster.Healthy {
			status = "unhealthy"
		}
		fmt.Printf("  - %s (%s) - %s\n", cluster.Name, cluster.LogicalCluster, status)
	}

	// Aggregated resources
	fmt.Printf("\nAggregated Resources (%d types):\n", len(vw.AggregatedResources))
	for gvk, view := range vw.AggregatedResources {
		fmt.Printf("  - %s: %d total (%d healthy, %d unhealthy)\n",
			gvk.Kind, view.TotalCount, view.HealthyCount, view.UnhealthyCount)
	}

	// Projected resources
	fmt.Printf("\nProjected Resources (%d types):\n", len(vw.ProjectedResources))
	for gvk, view := range vw.ProjectedResources {
		fmt.Printf("  - %s: %d source, %d projections\n",
			gvk.Kind, len(view.SourceResources), len(view.ProjectedTo))
	}
}

// ApplyConfiguration is "Virtual Workspace Manager Configuration".
func ApplyConfiguration(vwm *VirtualWorkspaceManager) {
	// Apply configuration
	config := &VirtualWorkspaceManagerConfig{
		SyncInterval:        30 * time.Second,
		AggregationEnabled:  true,
		ProjectionEnabled:   true,
		MaxWorkers:          5,
		HealthCheckInterval: 60 * time.Second,
	}

	vwm.ApplyConfig(config)
}

// ClusterConfigs is "Cluster-Specific Configuration".
func ClusterConfigs() map[string]ClusterConfig {
	clusterConfigs := map[string]ClusterConfig{
		"prod-east": {
			Priority:           90,
			HealthCheckTimeout: 30 * time.Second,
			AggregationWeight:  1.0,
			ProjectionEnabled:  true,
		},
		"prod-west": {
			Priority:           85,
			HealthCheckTimeout: 45 * time.Second,
			AggregationWeight:  0.8,
			ProjectionEnabled:  true,
		},
		"edge-cluster": {
			Priority:           50,
			HealthCheckTimeout: 60 * time.Second,
			AggregationWeight:  0.3,
			ProjectionEnabled:  false,
		},
	}
	return clusterConfigs
}

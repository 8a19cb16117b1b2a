// Package aggregate reads the resources of each workspace back from every
// target cluster and builds one view per AggregationPolicy: the instances per
// cluster with their health, a merged spec, a merged status and conditions,
// the conflicts between instances, and counts.
//
//	views, err := aggregate.Build(ctx, policies, rendered, clusters, aggregate.DefaultOptions())
//	for _, v := range views { fmt.Println(v.Workspace, v.AggregatedResources[0].TotalCount) }
package aggregate

// Package cluster turns the Cluster objects of a policy tree into API
// clients: it reads each cluster's kubeconfig entry (refusing exec plugins
// and insecure TLS unless allowed), raises client-go's rate limits, counts
// requests per verb, observes cluster facts (server version, Nodes, summed
// allocatable) and probes health (/readyz within healthCheckTimeout).
//
//	set := cluster.Connect(ctx, policies, cluster.DefaultOptions())
//	c, err := set.Get("prod-east")     // err says why the cluster cannot be reached
//	facts, err := set.Facts(ctx, cl)   // declared facts overlaid on observed ones
package cluster

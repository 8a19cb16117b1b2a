package cluster

import (
	"context"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kcp-dev/tmc/internal/policy"
)

// Options say how clusters are reached.
type Options struct {
	// Kubeconfig is the --kubeconfig path; empty means $KUBECONFIG, then ~/.kube/config.
	// A Cluster's own kubeconfig.path wins over it.
	Kubeconfig string
	// QPS and Burst are client-go's client-side rate limits per cluster.
	QPS   float32
	Burst int
	// Timeout bounds each API request.
	Timeout time.Duration
	// AllowExecPlugins allows kubeconfig users that run exec or auth-provider plugins.
	AllowExecPlugins bool
	// InsecureSkipTLSVerify allows kubeconfig clusters that skip TLS verification.
	InsecureSkipTLSVerify bool
	// SecretKubeconfig reads a kubeconfig from a Secret (Cluster kubeconfig.secretRef);
	// nil makes secretRef an error. tmc sync sets it when it runs in a cluster.
	SecretKubeconfig func(ctx context.Context, namespace, name, key string) ([]byte, error)
	// SecretNamespaces are the namespaces a Cluster's kubeconfig.secretRef
	// may name: tmc's own and those the operator allows. The repo is
	// untrusted, so a secretRef elsewhere is an error (an empty namespace
	// means tmc's own and is always allowed).
	SecretNamespaces []string
	// OnRequest, when set, is called for every API request with the cluster and verb (for metrics).
	OnRequest func(cluster, verb string)
	// MaxInFlight bounds the requests in flight to one cluster, shared by
	// every user of the Set (all workspaces of a reconcile); watches do not
	// count. 0 means no bound.
	MaxInFlight int
	// Access reaches the clusters of the operator's cluster inventory
	// (a Cluster with Inventory set): the operator's access providers
	// give the credentials. Nil makes such a cluster an error.
	Access func(c *policy.Cluster) (*rest.Config, error)
}

// DefaultOptions are sized for throughput: client-go's own defaults (5 QPS,
// burst 10) would make a plan of 1,000 objects take minutes.
func DefaultOptions() Options {
	return Options{QPS: 200, Burst: 400, Timeout: 30 * time.Second, MaxInFlight: 16}
}

package render

import (
	"context"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/internal/policy"
)

// Facts gives the facts of a cluster that expressions and templates read.
// internal/cluster implements it from live clusters; FileFacts from a file.
type Facts interface {
	// Facts returns the cluster's facts. An error means they could not be
	// observed; the cluster then counts as unhealthy with its declared facts.
	Facts(ctx context.Context, c *policy.Cluster) (policy.ClusterFacts, error)
}

// DeclaredFacts returns the facts a Cluster object declares; see policy.Cluster.DeclaredFacts.
func DeclaredFacts(c *policy.Cluster) policy.ClusterFacts { return c.DeclaredFacts() }

// Declared is a Facts that uses only what the Cluster objects declare.
type Declared struct{}

// Facts implements Facts.
func (Declared) Facts(_ context.Context, c *policy.Cluster) (policy.ClusterFacts, error) {
	return DeclaredFacts(c), nil
}

// FileFacts are observed facts read from a file, so CI can render without
// cluster access. The file maps cluster names to facts:
//
//	prod-east:
//	  healthy: true
//	  kubernetesVersion: v1.37.2
//	  nodes: 3
//	  capacity: {cpu: 24, memory: 103079215104, pods: 330}
//
// Values a Cluster object declares win over the file's; a cluster the file
// does not name gets its declared facts.
type FileFacts map[string]ObservedFacts

// ObservedFacts are the facts of one cluster in a facts file.
type ObservedFacts struct {
	Healthy           *bool                `json:"healthy,omitempty"`
	KubernetesVersion string               `json:"kubernetesVersion,omitempty"`
	Nodes             int                  `json:"nodes,omitempty"`
	Capacity          policy.CapacityFacts `json:"capacity,omitempty"`
}

// ReadFactsFile reads a facts file strictly.
func ReadFactsFile(path string) (FileFacts, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ff FileFacts
	if err := yaml.UnmarshalStrict(data, &ff); err != nil {
		return nil, fmt.Errorf("facts file %s: %w", path, err)
	}
	return ff, nil
}

// Facts implements Facts.
func (ff FileFacts) Facts(_ context.Context, c *policy.Cluster) (policy.ClusterFacts, error) {
	f := DeclaredFacts(c)
	o, ok := ff[c.Metadata.Name]
	if !ok {
		return f, nil
	}
	if o.Healthy != nil {
		f.Healthy = *o.Healthy
	}
	f.KubernetesVersion = o.KubernetesVersion
	f.Nodes = o.Nodes
	f.Capacity = o.Capacity
	c.OverlayCapacity(&f)
	return f, nil
}

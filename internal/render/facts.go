package render

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"unicode"

	"sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/internal/limits"
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

// ReadFactsFile reads a facts file strictly: at most limits.MaxFactsFile
// bytes, within the YAML alias and depth budgets, no unknown field.
func ReadFactsFile(path string) (FileFacts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limits.MaxFactsFile+1))
	if err != nil {
		return nil, fmt.Errorf("facts file %s: %w", path, err)
	}
	if len(data) > limits.MaxFactsFile {
		return nil, fmt.Errorf("facts file %s: larger than %d KiB", path, limits.MaxFactsFile>>10)
	}
	return ParseFacts(path, data)
}

// ParseFacts parses the content of a facts file; name is used in errors.
func ParseFacts(name string, data []byte) (FileFacts, error) {
	if err := limits.CheckBytes(data); err != nil {
		return nil, fmt.Errorf("facts file %s: %w", name, err)
	}
	var ff FileFacts
	if err := yaml.UnmarshalStrict(data, &ff); err != nil {
		return nil, fmt.Errorf("facts file %s: %w", name, err)
	}
	return ff, nil
}

// Check refuses facts for clusters the policies do not declare (a typo
// would otherwise be silently ignored) and figures that are negative or out
// of range.
func (ff FileFacts) Check(name string, p *policy.Policies) error {
	known := map[string]bool{}
	for _, c := range p.Clusters {
		known[c.Metadata.Name] = true
	}
	var errs []string
	for _, cluster := range slices.Sorted(maps.Keys(ff)) {
		o := ff[cluster]
		if !known[cluster] {
			errs = append(errs, fmt.Sprintf("%s: no Cluster of that name in the policies", cluster))
			continue
		}
		if o.Nodes < 0 {
			errs = append(errs, fmt.Sprintf("%s.nodes: %d is negative", cluster, o.Nodes))
		}
		for field, v := range map[string]float64{"cpu": o.Capacity.CPU, "memory": o.Capacity.Memory, "pods": o.Capacity.Pods} {
			if v < 0 || v > limits.MaxCapacity || math.IsNaN(v) {
				errs = append(errs, fmt.Sprintf("%s.capacity.%s: %v is out of range (0 to %g)", cluster, field, v, float64(limits.MaxCapacity)))
			}
		}
		if strings.ContainsFunc(o.KubernetesVersion, unicode.IsControl) {
			errs = append(errs, fmt.Sprintf("%s.kubernetesVersion: holds control characters", cluster))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("facts file %s: %s", name, strings.Join(errs, "; "))
	}
	return nil
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

package policy

import "k8s.io/apimachinery/pkg/api/resource"

// DeclaredFacts returns the facts the Cluster object declares, with what the
// cluster inventory says of it (properties, zone, version, and health when
// the inventory reports it unhealthy). The cluster is otherwise assumed
// healthy: the object alone cannot tell.
func (c *Cluster) DeclaredFacts() ClusterFacts {
	f := ClusterFacts{
		Name:           c.Metadata.Name,
		Labels:         c.Metadata.Labels,
		Type:           c.Spec.Type,
		Region:         c.Spec.Region,
		Priority:       c.Spec.Priority,
		LogicalCluster: c.Spec.LogicalCluster,
		Healthy:        true,
	}
	if f.Labels == nil {
		f.Labels = map[string]string{}
	}
	f.Properties = map[string]string{}
	if ic := c.Inventory; ic != nil {
		f.Properties = ic.Properties
		if f.Properties == nil {
			f.Properties = map[string]string{}
		}
		f.Zone = ic.Properties[PropertyZone]
		f.KubernetesVersion = ic.KubernetesVersion
		if ic.Unhealthy() != "" {
			f.Healthy = false
		}
	}
	c.OverlayCapacity(&f)
	return f
}

// OverlayCapacity sets the capacity the Cluster declares over observed values:
// a declared value wins over an observed one.
func (c *Cluster) OverlayCapacity(f *ClusterFacts) {
	if q, ok := quantity(c.Spec.Capacity.CPU); ok {
		f.Capacity.CPU = q.AsApproximateFloat64()
	}
	if q, ok := quantity(c.Spec.Capacity.Memory); ok {
		f.Capacity.Memory = q.AsApproximateFloat64()
	}
	if q, ok := quantity(c.Spec.Capacity.Pods); ok {
		f.Capacity.Pods = q.AsApproximateFloat64()
	}
}

func quantity(s string) (resource.Quantity, bool) {
	if s == "" {
		return resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(s)
	return q, err == nil
}

package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Well-known ClusterProfile properties (KEP-4322, KEP-2149).
const (
	PropertyClusterID = "clusterset.k8s.io/cluster-id"
	PropertyRegion    = "topology.kubernetes.io/region"
	PropertyZone      = "topology.kubernetes.io/zone"
)

// InventoryCluster is a cluster of the operator's cluster inventory: one
// SIG-Multicluster ClusterProfile. The inventory is trusted configuration
// (a flag of tmc, never the policy repo): it says which clusters exist, what
// is known of them, and — through the operator's access providers — how
// they are reached.
type InventoryCluster struct {
	// Name is the ClusterProfile's name: the cluster's name in tmc.
	Name string `json:"name"`
	// Namespace is the ClusterProfile's namespace (its clusterset).
	Namespace string `json:"namespace"`
	// Source says where the inventory was read: a hub's namespace or a snapshot file.
	Source string `json:"source"`
	// DisplayName and ClusterManager are the profile's spec.
	DisplayName    string `json:"displayName,omitempty"`
	ClusterManager string `json:"clusterManager,omitempty"`
	// Labels are the profile's labels: they become the cluster's.
	Labels map[string]string `json:"labels,omitempty"`
	// Properties are status.properties, name → value.
	Properties map[string]string `json:"properties,omitempty"`
	// KubernetesVersion is status.version.kubernetes.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// Healthy is the ControlPlaneHealthy condition: nil when the profile
	// has none or it is Unknown.
	Healthy *bool `json:"healthy,omitempty"`
	// HealthReason and HealthMessage are that condition's reason and message.
	HealthReason  string `json:"healthReason,omitempty"`
	HealthMessage string `json:"healthMessage,omitempty"`
	// Departing marks a cluster the inventory no longer holds (by the
	// removal rule of tmc sync): it is no workspace's target, so what tmc
	// applied there is pruned while it can still be reached.
	Departing bool `json:"departing,omitempty"`
}

// Ref names the profile: ClusterProfile <namespace>/<name>.
func (c *InventoryCluster) Ref() string {
	return "ClusterProfile " + c.Namespace + "/" + c.Name
}

// Unhealthy returns why the inventory reports the cluster unhealthy, or "".
func (c *InventoryCluster) Unhealthy() string {
	if c == nil || c.Healthy == nil || *c.Healthy {
		return ""
	}
	why := "ControlPlaneHealthy is False"
	if c.HealthReason != "" {
		why += " (" + c.HealthReason + ")"
	}
	if c.HealthMessage != "" {
		why += ": " + c.HealthMessage
	}
	return fmt.Sprintf("the cluster inventory reports it unhealthy: %s %s", c.Ref(), why)
}

// mergeInventory adds the inventory's clusters to the repo's, before
// validation. A repo Cluster of an inventory cluster's name refines it
// (priority, aggregationWeight, projectionEnabled, capacity,
// healthCheckTimeout, type, logicalCluster, further labels) but may not say
// how it is reached, nor contradict its region or labels: each conflict is an
// error at the repo's field naming the profile.
func (l *loader) mergeInventory(inv []*InventoryCluster) {
	if len(inv) == 0 {
		return
	}
	repo := map[string]*Cluster{}
	for _, c := range l.p.Clusters {
		repo[c.Metadata.Name] = c
	}
	seen := map[string]bool{}
	for _, ic := range inv {
		if seen[ic.Name] {
			l.errs = append(l.errs, &Error{Pos: Pos{File: ic.Source}, Object: "ClusterProfile/" + ic.Namespace + "/" + ic.Name,
				Message: fmt.Sprintf("the cluster inventory holds two ClusterProfiles named %q", ic.Name)})
			continue
		}
		seen[ic.Name] = true
		labels := maps.Clone(ic.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		region := ic.Properties[PropertyRegion]
		c, refined := repo[ic.Name]
		if !refined {
			c = &Cluster{APIVersion: APIVersion, Kind: KindCluster, Metadata: ObjectMeta{Name: ic.Name, Labels: labels},
				Origin: Origin{Pos: Pos{File: ic.Source}, Object: "ClusterProfile/" + ic.Namespace + "/" + ic.Name}}
			c.Spec.Region = region
			l.p.Clusters = append(l.p.Clusters, c)
		} else {
			l.refine(c, ic, region, labels)
		}
		c.Inventory = ic
		if ic.Departing {
			c.Spec.ProjectionEnabled = ptr(false)
		}
	}
}

func (l *loader) refine(c *Cluster, ic *InventoryCluster, region string, labels map[string]string) {
	kc := c.Spec.Kubeconfig
	if kc.Path != "" || kc.SecretRef != nil || kc.Context != "" {
		l.errs = append(l.errs, c.Origin.Errorf("spec.kubeconfig",
			"Cluster %q is %s of the cluster inventory (%s), which says how it is reached: a Cluster in the repo may refine it (priority, aggregationWeight, projectionEnabled, capacity, healthCheckTimeout, type, logicalCluster, labels) but not point it elsewhere; remove spec.kubeconfig",
			c.Metadata.Name, ic.Ref(), ic.Source))
	}
	if r := c.Spec.Region; r != "" && region != "" && r != region {
		l.errs = append(l.errs, c.Origin.Errorf("spec.region", "region %q contradicts %s of the cluster inventory (%s), whose %s is %q",
			r, ic.Ref(), ic.Source, PropertyRegion, region))
	}
	if c.Spec.Region == "" {
		c.Spec.Region = region
	}
	for _, k := range slices.Sorted(maps.Keys(c.Metadata.Labels)) {
		v := c.Metadata.Labels[k]
		if iv, ok := labels[k]; ok && iv != v {
			l.errs = append(l.errs, c.Origin.Errorf("metadata.labels['"+k+"']", "label %s=%q contradicts %s of the cluster inventory (%s), whose label is %q",
				k, v, ic.Ref(), ic.Source, iv))
			continue
		}
		labels[k] = v
	}
	c.Metadata.Labels = labels
}

// InventoryNote says, for explanations, where a cluster comes from: the
// profile, and the repo Cluster refining it.
func (c *Cluster) InventoryNote() string {
	ic := c.Inventory
	if ic == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "from %s of the cluster inventory (%s)", ic.Ref(), ic.Source)
	if !strings.HasPrefix(c.Origin.Object, "ClusterProfile/") {
		fmt.Fprintf(&b, ", refined by %s at %s", c.Origin.Object, c.Origin.Pos)
	}
	if ic.Departing {
		b.WriteString("; it left the inventory: its objects are pruned and it is nobody's target")
	}
	return b.String()
}

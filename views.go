package tmc

import (
	"time"

	"github.com/kcp-dev/logicalcluster/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/mask"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
	"github.com/kcp-dev/tmc/internal/status"
	"github.com/kcp-dev/tmc/internal/syncer"
)

// VirtualWorkspace is the unified view of one workspace's distributed
// workload across its target clusters, as the last reconcile left it: what
// it projects where, and what its aggregation policies read back.
type VirtualWorkspace struct {
	Name string
	// Namespace is empty: a workspace belongs to a logical cluster, not to
	// a Kubernetes namespace.
	Namespace      string
	LogicalCluster logicalcluster.Name
	// SourcePlacement is the workspace's placement as git writes it (the
	// seed's Placement object is the VirtualWorkspace's spec.placement).
	SourcePlacement *Placement
	TargetClusters  []ClusterReference
	// AggregatedResources holds one view per aggregated kind.
	AggregatedResources map[schema.GroupVersionKind]*AggregatedResourceView
	// ProjectedResources holds, per kind of source object, what is
	// projected where.
	ProjectedResources map[schema.GroupVersionKind]*ProjectedResourceView
	Status             VirtualWorkspaceStatus
	// Message says why the status is what it is (Error, Pending, Terminating).
	Message string
	// Synchronizing is set while a reconcile of the workspace runs; Status
	// stays what the last reconcile made it.
	Synchronizing bool
	// CreatedTime is when tmc first applied the workspace on any cluster;
	// LastUpdated the last apply that changed what it holds somewhere;
	// LastReconciled the end of the last reconcile. Zero until known.
	CreatedTime    time.Time
	LastUpdated    time.Time
	LastReconciled time.Time
	// Drift lists recent edits of tmc's objects by someone else, newest first.
	Drift []DriftRecord
}

// VirtualWorkspaceStatus is a virtual workspace's phase.
type VirtualWorkspaceStatus string

// The phases of a virtual workspace.
const (
	// VirtualWorkspaceStatusPending: loaded, not yet reconciled, or changes wait.
	VirtualWorkspaceStatusPending VirtualWorkspaceStatus = status.Pending
	// VirtualWorkspaceStatusActive: every target cluster converged.
	VirtualWorkspaceStatusActive VirtualWorkspaceStatus = status.Active
	// VirtualWorkspaceStatusSynchronizing: its first reconcile is running.
	VirtualWorkspaceStatusSynchronizing VirtualWorkspaceStatus = status.Synchronizing
	// VirtualWorkspaceStatusError: the last reconcile failed for it, or a
	// target cluster is unreachable; Message says which.
	VirtualWorkspaceStatusError VirtualWorkspaceStatus = status.Error
	// VirtualWorkspaceStatusTerminating: git dropped it; its objects are
	// being pruned.
	VirtualWorkspaceStatusTerminating VirtualWorkspaceStatus = status.Terminating
)

// ClusterReference is one target cluster of a virtual workspace.
type ClusterReference struct {
	Name string
	// LogicalCluster is the Cluster's spec.logicalCluster (may be empty).
	LogicalCluster logicalcluster.Name
	Healthy        bool
	// Reachable is false when the run's probe could not reach the cluster;
	// Error says why.
	Reachable bool
	Error     string
}

// AggregatedResourceView is every resource of one aggregated kind, merged
// across the workspace's target clusters.
type AggregatedResourceView struct {
	GVK schema.GroupVersionKind
	// Resources by namespace/name (name for cluster-scoped kinds).
	Resources map[string]*AggregatedResource
	// TotalCount counts resources once each; HealthyCount those whose
	// health, judged by the policy's health aggregation across their
	// clusters, is Healthy; UnhealthyCount the rest.
	TotalCount     int
	HealthyCount   int
	UnhealthyCount int
	// InstanceCount counts (resource, cluster) instances read.
	InstanceCount int
	// DivergentFields counts the fields, over all resources, where some
	// cluster does not hold what git meant.
	DivergentFields int
	LastAggregated  time.Time
	// Policy is the AggregationPolicy that built the view.
	Policy string
}

// AggregatedResource is one resource merged from every cluster holding it.
type AggregatedResource struct {
	Name      string
	Namespace string
	// ClusterOrigins holds the instances that exist, by cluster: a target
	// cluster missing the resource (or unreachable) has no entry.
	ClusterOrigins map[string]*ClusterResourceInstance
	// AggregatedSpec is the merged object (merged spec, merged status).
	AggregatedSpec *unstructured.Unstructured
	Status         AggregatedResourceStatus
	// Conditions are merged per type: the worst status across clusters.
	Conditions []metav1.Condition
	// Conflicts are the fields the instances disagree on where git did not
	// mean them to (class Divergent or Unmanaged), and how each was resolved.
	Conflicts []Conflict
	// Variations are the fields that differ across clusters as git meant
	// (a projection policy's transformation): never conflicts. Where git's
	// source sets the field, AggregatedSpec holds git's value there.
	Variations []Variation
	// DivergentFields counts the Divergent conflicts: clusters not holding what git meant.
	DivergentFields int
}

// AggregatedResourceStatus is a resource's combined state.
type AggregatedResourceStatus struct {
	// Health is the resource's health under the policy's health aggregation.
	Health ResourceHealth
	// Present of Targets target clusters hold the resource.
	Present, Targets int
	// Merged is the merged status object.
	Merged map[string]interface{}
}

// String is the health, as the seed prints a resource's status.
func (s AggregatedResourceStatus) String() string { return string(s.Health) }

// ClusterResourceInstance is a resource's instance on one cluster.
type ClusterResourceInstance struct {
	ClusterName string
	// Resource is the object as read (a Secret's values masked).
	Resource     *unstructured.Unstructured
	Health       ResourceHealth
	Message      string
	LastObserved time.Time
	Conditions   []metav1.Condition
}

// ResourceHealth is the health of an instance or a resource.
type ResourceHealth string

// The healths.
const (
	ResourceHealthHealthy     ResourceHealth = aggregate.Healthy
	ResourceHealthProgressing ResourceHealth = aggregate.Progressing
	ResourceHealthUnhealthy   ResourceHealth = aggregate.Unhealthy
	ResourceHealthUnknown     ResourceHealth = aggregate.Unknown
	ResourceHealthMissing     ResourceHealth = aggregate.Missing
	ResourceHealthUnreachable ResourceHealth = aggregate.Unreachable
)

// ProjectedResourceView is what a workspace projects of one kind: its
// source objects and their projections onto target clusters.
type ProjectedResourceView struct {
	GVK schema.GroupVersionKind
	// SourceResources are the source objects by namespace/name, as git
	// (or a source cluster) holds them; a Secret's values masked.
	SourceResources map[string]*unstructured.Unstructured
	// ProjectedTo holds each projection, by cluster/namespace/name of the source.
	ProjectedTo map[string]*ProjectedResourceInstance
	// ProjectionPolicy is the first of the workspace's projection
	// policies that acted on the kind (zero when none did).
	ProjectionPolicy ProjectionPolicy
	// LastProjected is the newest apply of any of the projections.
	LastProjected time.Time
}

// ProjectedResourceInstance is one source object on one target cluster.
type ProjectedResourceInstance struct {
	ClusterName string
	// Name and Namespace are the object's there (a Template may rename it).
	Name, Namespace string
	// Resource is the object as rendered for the cluster (Secret values masked).
	Resource *unstructured.Unstructured
	// InSync is true when the live object matched the render at the last plan.
	InSync bool
	// LastProjected is when tmc last applied it there.
	LastProjected time.Time
}

// HealthCheck is a component's health.
type HealthCheck struct {
	ComponentType ComponentType
	ComponentID   string
	Status        HealthStatus
	Message       string
	Details       map[string]interface{}
	Timestamp     time.Time
}

// ComponentType names the kind of component a HealthCheck is about.
type ComponentType string

// ComponentTypeVirtualWorkspaceManager is the VirtualWorkspaceManager.
const ComponentTypeVirtualWorkspaceManager ComponentType = "VirtualWorkspaceManager"

// HealthStatus is healthy or degraded.
type HealthStatus string

// The health statuses.
const (
	HealthStatusHealthy  HealthStatus = "healthy"
	HealthStatusDegraded HealthStatus = "degraded"
)

// VirtualWorkspaceManagerConfig is what ApplyConfig sets.
type VirtualWorkspaceManagerConfig struct {
	SyncInterval        time.Duration `json:"syncInterval"`
	AggregationEnabled  bool          `json:"aggregationEnabled"`
	ProjectionEnabled   bool          `json:"projectionEnabled"`
	MaxWorkers          int           `json:"maxWorkers"`
	HealthCheckInterval time.Duration `json:"healthCheckInterval"`
}

// ClusterConfig is one cluster's settings, as a Cluster object's spec
// holds them in the policy repo (ApplyClusterConfigs overrides them).
type ClusterConfig struct {
	Name               string        `json:"name"`
	Priority           int           `json:"priority"`
	HealthCheckTimeout time.Duration `json:"healthCheckTimeout"`
	AggregationWeight  float64       `json:"aggregationWeight"`
	ProjectionEnabled  bool          `json:"projectionEnabled"`
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

// newVirtualWorkspace builds the Go view of one workspace from what the
// syncer keeps of it.
func newVirtualWorkspace(sn syncer.Snapshot) *VirtualWorkspace {
	st := sn.Status
	vw := &VirtualWorkspace{
		Name: st.Name, LogicalCluster: logicalcluster.Name(st.LogicalCluster), Status: VirtualWorkspaceStatus(st.Phase), Message: st.Message,
		Synchronizing: st.Synchronizing, CreatedTime: parseTime(st.CreatedTime), LastUpdated: parseTime(st.LastUpdated), LastReconciled: parseTime(st.LastReconciled),
		Drift:               st.Drift,
		TargetClusters:      []ClusterReference{},
		AggregatedResources: map[schema.GroupVersionKind]*AggregatedResourceView{},
		ProjectedResources:  map[schema.GroupVersionKind]*ProjectedResourceView{},
	}
	for _, tc := range st.TargetClusters {
		ref := ClusterReference{Name: tc.Name, Healthy: tc.Healthy, Reachable: tc.Reachable, Error: tc.Message()}
		if sn.Policies != nil {
			if c := sn.Policies.Cluster(tc.Name); c != nil {
				ref.LogicalCluster = logicalcluster.Name(c.Spec.LogicalCluster)
			}
		}
		vw.TargetClusters = append(vw.TargetClusters, ref)
	}
	if sn.Rendered != nil && sn.Rendered.Policy != nil {
		pl := sn.Rendered.Policy.Spec.Placement
		vw.SourcePlacement = &pl
	}
	if v := sn.View; v != nil {
		for _, k := range v.AggregatedResources {
			gv, _ := schema.ParseGroupVersion(k.APIVersion)
			gvk := gv.WithKind(k.Kind)
			if _, dup := vw.AggregatedResources[gvk]; dup {
				continue // two policies of one kind: the first one's view
			}
			vw.AggregatedResources[gvk] = aggregatedView(gvk, k, v.AggregatedAt)
		}
	}
	projected(vw, sn)
	return vw
}

func aggregatedView(gvk schema.GroupVersionKind, k aggregate.KindView, at time.Time) *AggregatedResourceView {
	av := &AggregatedResourceView{GVK: gvk, Resources: map[string]*AggregatedResource{}, TotalCount: k.TotalCount, HealthyCount: k.HealthyCount,
		UnhealthyCount: k.UnhealthyCount, InstanceCount: k.InstanceCount, LastAggregated: at, Policy: k.Policy, DivergentFields: k.DivergentFields}
	for _, r := range k.Resources {
		ar := &AggregatedResource{Name: r.Name, Namespace: r.Namespace, ClusterOrigins: map[string]*ClusterResourceInstance{},
			Status:    AggregatedResourceStatus{Health: ResourceHealth(r.Status), Present: r.Present, Targets: r.Targets, Merged: r.AggregatedStatus},
			Conflicts: r.Conflicts, Variations: r.Variations, DivergentFields: r.DivergentFields}
		hasSpec := false
		for _, o := range r.Clusters {
			if o.Object == nil {
				continue // missing there, or unreachable: not an origin
			}
			obj := &unstructured.Unstructured{Object: o.Object}
			_, hasSpec = o.Object["spec"]
			ar.ClusterOrigins[o.Cluster] = &ClusterResourceInstance{ClusterName: o.Cluster, Resource: obj, Health: ResourceHealth(o.Health),
				Message: o.Message, LastObserved: at, Conditions: objectConditions(o.Object)}
		}
		merged := map[string]interface{}{"apiVersion": k.APIVersion, "kind": k.Kind, "metadata": map[string]interface{}{"name": r.Name}}
		if r.Namespace != "" {
			merged["metadata"].(map[string]interface{})["namespace"] = r.Namespace
		}
		if hasSpec {
			merged["spec"] = r.Spec
		} else {
			for key, val := range r.Spec {
				if key != "apiVersion" && key != "kind" && key != "metadata" {
					merged[key] = val
				}
			}
		}
		if r.AggregatedStatus != nil {
			merged["status"] = r.AggregatedStatus
		}
		ar.AggregatedSpec = &unstructured.Unstructured{Object: merged}
		for _, c := range r.Conditions {
			ar.Conditions = append(ar.Conditions, metav1.Condition{Type: c.Type, Status: metav1.ConditionStatus(c.Status), Reason: c.Reason, Message: c.Message})
		}
		av.Resources[nsName(r.Namespace, r.Name)] = ar
	}
	return av
}

// objectConditions reads status.conditions of an object as metav1.Conditions.
func objectConditions(obj map[string]interface{}) []metav1.Condition {
	st, _ := obj["status"].(map[string]interface{})
	list, _ := st["conditions"].([]interface{})
	var out []metav1.Condition
	for _, item := range list {
		c, _ := item.(map[string]interface{})
		typ, _ := c["type"].(string)
		if typ == "" {
			continue
		}
		s, _ := c["status"].(string)
		reason, _ := c["reason"].(string)
		msg, _ := c["message"].(string)
		cond := metav1.Condition{Type: typ, Status: metav1.ConditionStatus(s), Reason: reason, Message: msg}
		if g, ok := c["observedGeneration"].(int64); ok {
			cond.ObservedGeneration = g
		}
		for _, f := range []string{"lastTransitionTime", "lastUpdateTime"} {
			if ts, _ := c[f].(string); ts != "" {
				if t, err := time.Parse(time.RFC3339, ts); err == nil {
					cond.LastTransitionTime = metav1.NewTime(t)
					break
				}
			}
		}
		out = append(out, cond)
	}
	return out
}

// projected fills ProjectedResources from the workspace's render and the
// in-sync / last-projected facts of its status.
func projected(vw *VirtualWorkspace, sn syncer.Snapshot) {
	if sn.Rendered == nil {
		return
	}
	type inst struct {
		inSync bool
		last   time.Time
	}
	facts := map[string]inst{} // cluster/namespace/name of the source
	for _, k := range sn.Status.ProjectedKinds {
		for _, r := range k.Resources {
			for _, p := range r.ProjectedTo {
				facts[p.Cluster+"/"+nsName(r.Namespace, r.Name)] = inst{p.InSync, parseTime(p.LastProjected)}
			}
		}
	}
	for _, c := range sn.Rendered.Clusters {
		for _, o := range c.Objects {
			src := o.SourceID
			gvk := schema.GroupVersionKind{Group: src.Group, Version: src.Version, Kind: src.Kind}
			pv := vw.ProjectedResources[gvk]
			if pv == nil {
				pv = &ProjectedResourceView{GVK: gvk, SourceResources: map[string]*unstructured.Unstructured{}, ProjectedTo: map[string]*ProjectedResourceInstance{}}
				pv.ProjectionPolicy = actingPolicy(sn, o)
				vw.ProjectedResources[gvk] = pv
			}
			key := nsName(src.Namespace, src.Name)
			secret := mask.IsSecret(src.APIVersion(), src.Kind)
			if _, ok := pv.SourceResources[key]; !ok && o.From != nil {
				pv.SourceResources[key] = asUnstructured(nodeMap(o.From.Node), secret)
			}
			f := facts[c.Name+"/"+key]
			pv.ProjectedTo[c.Name+"/"+key] = &ProjectedResourceInstance{ClusterName: c.Name, Name: o.ID.Name, Namespace: o.ID.Namespace,
				Resource: asUnstructured(nodeMap(o.Node), secret), InSync: f.inSync, LastProjected: f.last}
			if f.last.After(pv.LastProjected) {
				pv.LastProjected = f.last
			}
		}
	}
}

func asUnstructured(m map[string]interface{}, secret bool) *unstructured.Unstructured {
	if secret {
		m = mask.SecretContent(m)
	}
	return &unstructured.Unstructured{Object: m}
}

// actingPolicy is the first projection policy whose transformations acted
// on the object, in the seed's Go shape.
func actingPolicy(sn syncer.Snapshot, o *render.Object) ProjectionPolicy {
	if sn.Policies == nil || len(o.Transformations) == 0 {
		return ProjectionPolicy{}
	}
	pp := sn.Policies.ProjectionPolicy(o.Transformations[0].Policy)
	if pp == nil {
		return ProjectionPolicy{}
	}
	return fromSpec(pp.Spec)
}

// fromSpec is a projection policy of the tree in the seed's Go shape.
func fromSpec(s policy.ProjectionPolicySpec) ProjectionPolicy {
	out := ProjectionPolicy{Mode: ProjectionMode(s.Mode), TargetClusters: s.TargetClusters, Conditional: s.Conditional}
	for _, sel := range s.ResourceSelectors {
		g := sel.Group
		if g == "core" {
			g = ""
		}
		out.ResourceSelectors = append(out.ResourceSelectors, ResourceSelector{GVK: schema.GroupVersionKind{Group: g, Version: sel.Version, Kind: sel.Kind},
			LabelSelector: sel.Labels, FieldSelector: sel.FieldSelector, NamePattern: sel.NamePattern})
	}
	for _, t := range s.Transformations {
		v, _ := t.Value.Interface()
		out.Transformations = append(out.Transformations, ResourceTransformation{Type: TransformationType(t.Type), JSONPath: t.JSONPath, Value: v, Conditional: t.Conditional})
	}
	return out
}

// nsName is namespace/name, or name for a cluster-scoped object.
func nsName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func nodeMap(n *kyaml.RNode) map[string]interface{} {
	m, err := n.Map()
	if err != nil {
		return map[string]interface{}{}
	}
	return m
}

package aggregate

import (
	"time"

	"github.com/kcp-dev/tmc/internal/cluster"
)

// FormatVersion is the version of the aggregate JSON and of status.yaml.
const FormatVersion = "1"

// Health of an instance or a resource.
const (
	Healthy     = "Healthy"
	Progressing = "Progressing"
	Unhealthy   = "Unhealthy"
	Unknown     = "Unknown"
	// Missing is the health of a resource on a target cluster that does not hold it.
	Missing = "Missing"
	// Unreachable is the health of every resource on a cluster that could not be read.
	Unreachable = "Unreachable"
)

// WorkspaceView is one workspace's unified view across its target clusters.
type WorkspaceView struct {
	Workspace      string `json:"workspace"`
	LogicalCluster string `json:"logicalCluster"`
	// TargetClusters are the workspace's target clusters (selected, or left out only for being unhealthy).
	TargetClusters []TargetCluster `json:"targetClusters"`
	// AggregatedResources holds one view per AggregationPolicy of the workspace.
	AggregatedResources []KindView `json:"aggregatedResources"`
	// StaleSince is set (RFC 3339) when no target cluster could be read and
	// a report shows the last view it had instead, since that time.
	StaleSince string `json:"staleSince,omitempty"`
	// Drift lists the recent edits made on clusters by someone else to
	// objects tmc applied (newest first), as the syncer recorded them.
	Drift []DriftRecord `json:"drift,omitempty"`
	// Rollout is where the workspace's rollout in waves stood when the view
	// was read (tmc sync); omitted without a rollout.
	Rollout *RolloutSummary `json:"rollout,omitempty"`
	// AggregatedAt is when the view was read. It stays out of the JSON and
	// the report files, so that an unchanged view makes no commit; status
	// shows it as lastAggregated.
	AggregatedAt time.Time `json:"-"`
}

// DriftRecord is one edit of an object tmc applied, made on a cluster by
// someone else, and what tmc did about it.
type DriftRecord struct {
	Cluster string `json:"cluster"`
	// Object is Kind/namespace/name.
	Object string `json:"object"`
	// Manager is the field manager that made the edit; Operation Update or Apply.
	Manager   string `json:"manager"`
	Operation string `json:"operation"`
	// Time is when the edit was made (RFC 3339).
	Time string `json:"time"`
	// Corrected is true when tmc applied git's version again; false when the
	// workspace reports drift only (spec.drift: Report).
	Corrected bool `json:"corrected"`
}

// RolloutSummary is a rollout's standing as a report shows it.
type RolloutSummary struct {
	Revision string               `json:"revision"`
	State    string               `json:"state"`
	Wave     string               `json:"wave,omitempty"`
	Message  string               `json:"message,omitempty"`
	Waves    []RolloutWaveSummary `json:"waves"`
}

// RolloutWaveSummary is one wave of a RolloutSummary.
type RolloutWaveSummary struct {
	Name       string   `json:"name"`
	Clusters   []string `json:"clusters"`
	State      string   `json:"state"`
	AtRevision int      `json:"atRevision"`
	Healthy    int      `json:"healthy"`
}

// TargetCluster is a target cluster of a workspace: the run's probe
// verdict (cluster.State) with the cluster's aggregation priority and weight.
type TargetCluster struct {
	cluster.State
	Priority int     `json:"priority"`
	Weight   float64 `json:"aggregationWeight"`
}

// KindView is the AggregatedResourceView of one policy: every resource of its kind.
type KindView struct {
	Policy             string `json:"policy"`
	APIVersion         string `json:"apiVersion"`
	Kind               string `json:"kind"`
	MergeStrategy      string `json:"mergeStrategy"`
	ConflictResolution string `json:"conflictResolution"`
	HealthAggregation  string `json:"healthAggregation"`
	StatusMerging      string `json:"statusMerging"`
	// TotalCount is the number of aggregated resources (namespace/name), each
	// counted once, as the seed counts them ("Total deployments").
	TotalCount int `json:"totalCount"`
	// HealthyCount is the number of resources whose status, judged once by
	// the policy's healthAggregation across their clusters, is Healthy.
	HealthyCount int `json:"healthyCount"`
	// UnhealthyCount is TotalCount − HealthyCount (unhealthy, progressing or unknown).
	UnhealthyCount int `json:"unhealthyCount"`
	// InstanceCount is the number of instances read (resource × cluster holding it).
	InstanceCount int `json:"instanceCount"`
	// HealthyInstanceCount is the number of those instances that are healthy.
	HealthyInstanceCount int `json:"healthyInstanceCount"`
	// UnhealthyInstanceCount is InstanceCount − HealthyInstanceCount.
	UnhealthyInstanceCount int `json:"unhealthyInstanceCount"`
	// MissingCount is the number of (resource, reachable target cluster) pairs where the resource is absent.
	MissingCount int `json:"missingCount"`
	// PartialCount is the number of resources missing on at least one reachable target cluster.
	PartialCount int `json:"partialCount"`
	// DivergentFields is the number of fields, over all resources, where
	// some cluster does not hold what git meant (conflicts of class Divergent).
	DivergentFields int `json:"divergentFields"`
	// VariedFields is the number of fields, over all resources, that differ
	// across clusters as git meant (variations).
	VariedFields int `json:"variedFields"`
	// Resources in namespace/name order.
	Resources []Resource `json:"resources"`
	// Error is why the kind could not be read everywhere (per cluster errors joined).
	Error string `json:"error,omitempty"`
}

// Resource is one resource (namespace/name) merged across clusters.
type Resource struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Status is the resource's health under the policy's healthAggregation.
	Status string `json:"status"`
	// Present is the number of target clusters holding the resource; Targets
	// the number of target clusters ("only in Present of Targets clusters").
	Present int `json:"present"`
	Targets int `json:"targets"`
	// Clusters holds the resource's instance per target cluster.
	Clusters []Origin `json:"clusters"`
	// Spec is the merged spec (for kinds without spec: their top-level content).
	Spec map[string]any `json:"spec,omitempty"`
	// AggregatedStatus is the merged status.
	AggregatedStatus map[string]any `json:"aggregatedStatus,omitempty"`
	// Conditions are merged per type: the worst status and the clusters reporting it.
	Conditions []Condition `json:"conditions,omitempty"`
	// Conflicts are the fields the instances disagree on where git did not
	// mean them to differ (class Divergent or Unmanaged), and how each was
	// resolved.
	Conflicts []Conflict `json:"conflicts,omitempty"`
	// Variations are the fields whose values differ across clusters exactly
	// as git meant (class Intended): never conflicts. Where git's source
	// object sets the field, Spec holds that source value and the variation
	// the per-cluster values beside it.
	Variations []Variation `json:"variations,omitempty"`
	// DivergentFields counts the conflicts of class Divergent.
	DivergentFields int `json:"divergentFields,omitempty"`
}

// Variation is a field whose values differ across clusters because git
// means them to: every cluster holds what tmc rendered for it.
type Variation struct {
	// Field is the path, in jsonPath syntax, from the object root.
	Field string `json:"field"`
	// Source is the value the object holds as written in git, before the
	// projection policies' transformations (absent when git's source does
	// not set the field: a transformation adds it on some clusters).
	Source    any  `json:"source,omitempty"`
	HasSource bool `json:"-"`
	// Values maps each cluster to its value.
	Values map[string]any `json:"values"`
	// By names the transformations that made the values differ, and where
	// they acted (as render --explain shows them); empty when the render
	// differs for another reason (a live source, say).
	By []VariedBy `json:"by"`
}

// VariedBy is one projection policy's transformation behind a Variation.
type VariedBy struct {
	Policy string `json:"policy"`
	// Transformation is its index in the policy's spec.transformations.
	Transformation int    `json:"transformation"`
	Type           string `json:"type"`
	Path           string `json:"path"`
	// Clusters are the clusters it acted on.
	Clusters []string `json:"clusters"`
}

// Divergence is a cluster whose instance does not hold what git meant there.
type Divergence struct {
	Cluster string `json:"cluster"`
	// Desired is the value tmc rendered for the cluster.
	Desired any `json:"desired"`
	// Manager and WrittenAt (RFC 3339) say which field manager last wrote
	// the cluster's value and when (from managedFields).
	Manager   string `json:"manager,omitempty"`
	WrittenAt string `json:"writtenAt,omitempty"`
}

// Origin is a resource's instance on one cluster.
type Origin struct {
	Cluster string `json:"cluster"`
	// Health is Healthy, Progressing, Unhealthy, Unknown, Missing or Unreachable.
	Health  string `json:"health"`
	Message string `json:"message,omitempty"`
	// LastChanged is when the instance last changed (managedFields, then creationTimestamp), RFC 3339.
	LastChanged string `json:"lastChanged,omitempty"`
	// StaleSince is set (RFC 3339) on an instance of an unreachable cluster
	// that a report carries over from its last reading, since that time.
	StaleSince string `json:"staleSince,omitempty"`
	// Object is the instance as read (server metadata dropped, the
	// policy's transformations applied, a Secret's values masked); nil
	// where the cluster holds none. Kept out of JSON and reports; the Go
	// API's ClusterResourceInstance.Resource reads it. Shared with the
	// merged view: read it, do not change it.
	Object map[string]any `json:"-"`
}

// Condition is one condition type merged across clusters.
type Condition struct {
	Type     string   `json:"type"`
	Status   string   `json:"status"`
	Clusters []string `json:"clusters"`
	Reason   string   `json:"reason,omitempty"`
	Message  string   `json:"message,omitempty"`
}

// Conflict is a field the instances disagree on.
type Conflict struct {
	// Field is the path, in jsonPath syntax, from the object root.
	Field string `json:"field"`
	// Values maps each cluster to its value (absent: the instance lacks the field).
	Values map[string]any `json:"values"`
	// Class is Divergent (some cluster does not hold what tmc rendered for
	// it: Divergent names them) or Unmanaged (git does not set the field,
	// or tmc did not render the object).
	Class string `json:"class"`
	// Divergent lists, for class Divergent, each cluster whose value is not
	// what git meant there.
	Divergent []Divergence `json:"divergent,omitempty"`
	// Resolution is the rule that decided: LastWriter, Priority, Report (unresolved), or the strategy.
	Resolution string `json:"resolution"`
	// Winner is the cluster whose value the merged view holds ("" when unresolved).
	Winner string `json:"winner,omitempty"`
	// Manager and WrittenAt (RFC 3339) say, for LastWriter, which field
	// manager last wrote the winning value and when (from managedFields).
	Manager   string `json:"manager,omitempty"`
	WrittenAt string `json:"writtenAt,omitempty"`
}

// HealthyPercent is HealthyCount of TotalCount in percent (0 when there is nothing).
func (k KindView) HealthyPercent() float64 {
	if k.TotalCount == 0 {
		return 0
	}
	return 100 * float64(k.HealthyCount) / float64(k.TotalCount)
}

package policy

import (
	"text/template"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/kcp-dev/tmc/internal/fieldpath"
	"github.com/kcp-dev/tmc/internal/object"
)

// Group and Version of every tmc policy kind.
const (
	Group      = "tmc.kcp.io"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version
)

// Kind names.
const (
	KindCluster           = "Cluster"
	KindVirtualWorkspace  = "VirtualWorkspace"
	KindProjectionPolicy  = "ProjectionPolicy"
	KindAggregationPolicy = "AggregationPolicy"
	KindConfig            = "Config"
)

// Kinds lists every policy kind in the order they are reported.
var Kinds = []string{KindCluster, KindVirtualWorkspace, KindProjectionPolicy, KindAggregationPolicy, KindConfig}

// ObjectMeta is the metadata every policy object carries.
type ObjectMeta struct {
	// Name identifies the object among objects of its kind. A DNS-1123 label.
	Name string `json:"name" tmc:"required"`
	// Labels are key/value pairs; a VirtualWorkspace's clusterSelector matches a Cluster's labels.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations are free-form key/value pairs tmc does not interpret.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Cluster is one target cluster: how to reach it and the facts that placement expressions read.
type Cluster struct {
	// APIVersion is tmc.kcp.io/v1alpha1.
	APIVersion string `json:"apiVersion" tmc:"required"`
	// Kind is Cluster.
	Kind string `json:"kind" tmc:"required"`
	// Metadata names the cluster and holds its labels.
	Metadata ObjectMeta `json:"metadata" tmc:"required"`
	// Spec describes the cluster.
	Spec ClusterSpec `json:"spec"`

	// Origin is where the object is written. A cluster the inventory
	// alone holds has the inventory's source as its file and
	// ClusterProfile/<namespace>/<name> as its object.
	Origin Origin `json:"-"`
	// Inventory is set on a cluster of the operator's cluster inventory
	// (a ClusterProfile): the inventory says it exists and how it is
	// reached; a Cluster of the repo of the same name only refines it.
	Inventory *InventoryCluster `json:"-"`
}

// ClusterSpec describes one target cluster.
type ClusterSpec struct {
	// Kubeconfig says how to reach the cluster.
	Kubeconfig KubeconfigRef `json:"kubeconfig,omitempty"`
	// LogicalCluster is a kcp-style logical cluster path such as root:production.
	LogicalCluster string `json:"logicalCluster,omitempty"`
	// Type is the kind of cluster, e.g. standard or edge. Defaults to standard.
	Type string `json:"type,omitempty"`
	// Region is where the cluster runs, e.g. us-east-1.
	Region string `json:"region,omitempty"`
	// Priority ranks clusters for Priority merges and conflict resolution; higher wins. Defaults to 0.
	Priority int `json:"priority,omitempty"`
	// AggregationWeight is the cluster's weight in Weighted health aggregation. Defaults to 1.
	AggregationWeight *float64 `json:"aggregationWeight,omitempty" tmc:"min=0"`
	// ProjectionEnabled set to false keeps every workspace's objects off this cluster. Defaults to true.
	ProjectionEnabled *bool `json:"projectionEnabled,omitempty"`
	// HealthCheckTimeout bounds the cluster's health probe, a Go duration such as 10s. Defaults to 10s.
	HealthCheckTimeout string `json:"healthCheckTimeout,omitempty" tmc:"duration"`
	// Capacity declares the cluster's capacity; a declared value wins over one observed from Nodes.
	Capacity Capacity `json:"capacity,omitempty"`
}

// KubeconfigRef says where the kubeconfig of a cluster comes from.
type KubeconfigRef struct {
	// Path is a kubeconfig file; empty means --kubeconfig, then $KUBECONFIG, then ~/.kube/config.
	Path string `json:"path,omitempty"`
	// Context is the kubeconfig context to use. Defaults to the cluster's name.
	Context string `json:"context,omitempty"`
	// SecretRef reads the kubeconfig from a Secret (when tmc runs in a cluster).
	SecretRef *SecretRef `json:"secretRef,omitempty"`
}

// SecretRef points at one key of a Secret.
type SecretRef struct {
	// Name of the Secret.
	Name string `json:"name" tmc:"required"`
	// Namespace of the Secret. Defaults to the namespace tmc runs in.
	Namespace string `json:"namespace,omitempty"`
	// Key in the Secret's data. Defaults to kubeconfig.
	Key string `json:"key,omitempty"`
}

// Capacity is a cluster's declared capacity, as Kubernetes quantities.
type Capacity struct {
	// CPU cores, e.g. 8 or 7500m.
	CPU string `json:"cpu,omitempty" tmc:"quantity"`
	// Memory, e.g. 32Gi.
	Memory string `json:"memory,omitempty" tmc:"quantity"`
	// Pods is the number of pods the cluster can hold.
	Pods string `json:"pods,omitempty" tmc:"quantity"`
}

// VirtualWorkspace is one application's view across its target clusters.
type VirtualWorkspace struct {
	// APIVersion is tmc.kcp.io/v1alpha1.
	APIVersion string `json:"apiVersion" tmc:"required"`
	// Kind is VirtualWorkspace.
	Kind string `json:"kind" tmc:"required"`
	// Metadata names the workspace.
	Metadata ObjectMeta `json:"metadata" tmc:"required"`
	// Spec describes the workspace.
	Spec VirtualWorkspaceSpec `json:"spec"`

	// Origin is where the object is written.
	Origin Origin `json:"-"`
}

// VirtualWorkspaceSpec describes one application's view.
type VirtualWorkspaceSpec struct {
	// LogicalCluster is the kcp-style logical cluster the workspace belongs to. Defaults to root.
	LogicalCluster string `json:"logicalCluster,omitempty"`
	// Placement chooses the target clusters.
	Placement Placement `json:"placement,omitempty"`
	// Sources are where the workspace's objects come from.
	Sources []Source `json:"sources,omitempty"`
	// ProjectionPolicies name the ProjectionPolicy objects that apply to this workspace, in order.
	ProjectionPolicies []string `json:"projectionPolicies,omitempty"`
	// AggregationPolicies name the AggregationPolicy objects that build this workspace's view.
	AggregationPolicies []string `json:"aggregationPolicies,omitempty"`
	// Prune deletes objects that git no longer holds. Defaults to true.
	Prune *bool `json:"prune,omitempty"`
	// Drift says what tmc does when an object it applied was changed on a
	// cluster by someone else: Correct (the default) applies git's version
	// again and records the drift; Report records it and leaves the edit.
	Drift DriftMode `json:"drift,omitempty" tmc:"enum=Correct|Report"`
	// Rollout, when set, rolls every new revision out over the target
	// clusters wave by wave: a wave starts only when the one before it is
	// healthy at the new revision and baked. Unset, a revision reaches
	// every target cluster at once.
	Rollout *Rollout `json:"rollout,omitempty"`
}

// Rollout rolls a workspace's new revisions out in waves of clusters.
type Rollout struct {
	// Waves in order. Each target cluster falls in the first wave that
	// chooses it; a target cluster no wave chooses falls in a last wave
	// named "rest", which rolls after every other (never skipped).
	Waves []Wave `json:"waves" tmc:"required"`
	// OnFailure is what a wave whose gate does not hold within its timeout
	// does: Halt (the default) starts no further wave; Rollback also puts
	// the previous revision back on the failed wave's clusters.
	OnFailure RolloutFailure `json:"onFailure,omitempty" tmc:"enum=Halt|Rollback"`
}

// Wave is one step of a rollout: a set of clusters chosen as placement
// chooses them, and the gate they must pass before the next wave starts.
type Wave struct {
	// Name identifies the wave in plans and statuses. A DNS-1123 label, not "rest".
	Name string `json:"name" tmc:"required"`
	// Clusters names clusters of the wave.
	Clusters []string `json:"clusters,omitempty"`
	// ClusterSelector chooses clusters of the wave by their labels.
	ClusterSelector *LabelSelector `json:"clusterSelector,omitempty"`
	// Conditional is an expr-lang expression over `cluster` and `workspace`
	// choosing clusters of the wave by their facts.
	Conditional string `json:"conditional,omitempty" tmc:"expr"`
	// MaxConcurrency is how many of the wave's clusters take the revision
	// at once: a count or a percent of the wave (rounded up). Defaults to the whole wave.
	MaxConcurrency string `json:"maxConcurrency,omitempty" tmc:"intorpercent"`
	// MaxUnavailable is how many of the wave's clusters may be at the new
	// revision and not yet healthy at once before more take it: a count or
	// a percent (rounded up). Defaults to MaxConcurrency.
	MaxUnavailable string `json:"maxUnavailable,omitempty" tmc:"intorpercent"`
	// MaxFailures is how many of the wave's clusters may fail its gate
	// without failing the wave. Defaults to 0.
	MaxFailures int `json:"maxFailures,omitempty" tmc:"min=0"`
	// Health is the gate's rule over the wave's clusters: All (the
	// default), Majority or Weighted (by each Cluster's aggregationWeight).
	Health HealthAggregation `json:"health,omitempty" tmc:"enum=All|Majority|Weighted"`
	// BakeTime is how long the wave must stay healthy before the next one starts.
	BakeTime string `json:"bakeTime,omitempty" tmc:"duration"`
	// Timeout bounds how long after the wave's last apply its gate may take
	// to hold; past it the wave has failed. Defaults to 10m.
	Timeout string `json:"timeout,omitempty" tmc:"duration"`
	// Window, when set, is when the wave may start.
	Window *Window `json:"window,omitempty"`
	// ManualGate holds the wave before it starts until a person lifts the
	// gate for the revision (tmc rollout resume), without a new commit.
	ManualGate bool `json:"manualGate,omitempty"`

	// Selector is ClusterSelector parsed; Program is Conditional compiled.
	Selector labels.Selector `json:"-"`
	Program  *Program        `json:"-"`
}

// Window is a weekly time window, e.g. weekdays 09:00–16:00 in Europe/Berlin.
type Window struct {
	// Days are the days a wave may start (Mon, Tue, …, Sun); empty is every day.
	Days []string `json:"days,omitempty" tmc:"enum=Mon|Tue|Wed|Thu|Fri|Sat|Sun"`
	// Start and End are HH:MM, the window's bounds on each of those days.
	Start string `json:"start" tmc:"required"`
	End   string `json:"end" tmc:"required"`
	// TimeZone is an IANA time zone such as Europe/Berlin. Defaults to UTC.
	TimeZone string `json:"timeZone,omitempty"`
}

// RolloutFailure is what a failed wave does.
type RolloutFailure string

// The failure modes of a rollout.
const (
	RolloutHalt     RolloutFailure = "Halt"
	RolloutRollback RolloutFailure = "Rollback"
)

// RestWave is the name of the wave of target clusters no wave chooses.
const RestWave = "rest"

// Placement chooses a workspace's target clusters: clusters ∪ clusters matching clusterSelector,
// kept where conditional is true, minus clusters with projectionEnabled false.
type Placement struct {
	// Clusters names target clusters.
	Clusters []string `json:"clusters,omitempty"`
	// ClusterSelector selects target clusters by their labels.
	ClusterSelector *LabelSelector `json:"clusterSelector,omitempty"`
	// Conditional is an expr-lang expression over `cluster` and `workspace`; clusters where it is false are left out.
	Conditional string `json:"conditional,omitempty" tmc:"expr"`
	// IncludeUnhealthy keeps unhealthy clusters in the placement. Defaults to false.
	IncludeUnhealthy bool `json:"includeUnhealthy,omitempty"`

	// Program is Conditional compiled; nil when Conditional is empty.
	Program *Program `json:"-"`
}

// Source is where a workspace's objects come from: a path in the repo, or live objects of a cluster.
type Source struct {
	// Path is a directory (plain manifests, recursively, or a kustomization) or a file, relative to the repo root.
	Path string `json:"path,omitempty"`
	// Cluster names a source cluster whose live objects matching resourceSelectors are projected.
	Cluster string `json:"cluster,omitempty"`
	// ResourceSelectors choose the live objects read from Cluster.
	ResourceSelectors []ResourceSelector `json:"resourceSelectors,omitempty"`
	// Chart is a Helm chart of the repo, rendered once per target cluster.
	Chart *ChartSource `json:"chart,omitempty"`
}

// ChartSource is a Helm chart in the repo, rendered with the Helm SDK once
// per target cluster: offline (no chart repository, no OCI registry, no
// cluster), bounded, and deterministic.
type ChartSource struct {
	// Path is the chart: a directory holding Chart.yaml (dependencies vendored
	// under its charts/, as helm dependency build leaves them) or a packaged
	// .tgz, relative to the repo root.
	Path string `json:"path" tmc:"required"`
	// ReleaseName is .Release.Name; the workspace's name when empty.
	ReleaseName string `json:"releaseName,omitempty"`
	// Namespace is .Release.Namespace and the namespace of the chart's
	// namespaced objects that set none; "default" when empty.
	Namespace string `json:"namespace,omitempty"`
	// ValuesFiles are values files of the repo, merged in order over the
	// chart's values.yaml.
	ValuesFiles []string `json:"valuesFiles,omitempty"`
	// Values are merged over the values files.
	Values *Value `json:"values,omitempty"`
	// ClusterValues change the values per target cluster with the
	// machinery of transformations: Set, Delete, Replace or Template at a
	// path of the values (e.g. replicaCount), each optionally guarded by a
	// conditional over cluster (and resource: the values so far).
	ClusterValues []Transformation `json:"clusterValues,omitempty"`
	// SkipCRDs leaves out the chart's crds/ directory.
	SkipCRDs bool `json:"skipCRDs,omitempty"`
}

// LabelSelector is a Kubernetes label selector.
type LabelSelector struct {
	// MatchLabels requires each key to have the value.
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
	// MatchExpressions are set-based requirements, all of which must hold.
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one set-based label requirement.
type LabelSelectorRequirement struct {
	// Key is the label key.
	Key string `json:"key" tmc:"required"`
	// Operator relates the key to the values.
	Operator string `json:"operator" tmc:"required,enum=In|NotIn|Exists|DoesNotExist"`
	// Values for In and NotIn; must be empty for Exists and DoesNotExist.
	Values []string `json:"values,omitempty"`
}

// ResourceSelector chooses objects by kind, labels, fields and name.
type ResourceSelector struct {
	// Group is the API group, e.g. apps; empty (or "*") matches any group, "core" the core group only.
	Group string `json:"group,omitempty"`
	// Version is the API version; empty matches any version.
	Version string `json:"version,omitempty"`
	// Kind is the object kind; empty matches any kind.
	Kind string `json:"kind,omitempty"`
	// LabelSelector matches the object's labels.
	LabelSelector *LabelSelector `json:"labelSelector,omitempty"`
	// FieldSelector is comma-separated field=value / field!=value terms, e.g. metadata.namespace=web.
	FieldSelector string `json:"fieldSelector,omitempty" tmc:"fieldselector"`
	// NamePattern is a glob on the object's name, e.g. web-*.
	NamePattern string `json:"namePattern,omitempty" tmc:"glob"`

	// Labels is LabelSelector parsed; nil when LabelSelector is unset.
	Labels labels.Selector `json:"-"`
	// Fields is FieldSelector parsed.
	Fields []FieldRequirement `json:"-"`
}

// ProjectionPolicy says which objects go to which clusters and how they change there.
type ProjectionPolicy struct {
	// APIVersion is tmc.kcp.io/v1alpha1.
	APIVersion string `json:"apiVersion" tmc:"required"`
	// Kind is ProjectionPolicy.
	Kind string `json:"kind" tmc:"required"`
	// Metadata names the policy.
	Metadata ObjectMeta `json:"metadata" tmc:"required"`
	// Spec describes the policy.
	Spec ProjectionPolicySpec `json:"spec"`

	// Origin is where the object is written.
	Origin Origin `json:"-"`
}

// ProjectionPolicySpec describes a projection.
type ProjectionPolicySpec struct {
	// Mode chooses the clusters the policy acts on: All, Selective (targetClusters) or Conditional (conditional). Defaults to All.
	Mode ProjectionMode `json:"mode,omitempty" tmc:"enum=All|Selective|Conditional"`
	// TargetClusters names the clusters for mode Selective.
	TargetClusters []string `json:"targetClusters,omitempty"`
	// Conditional is an expr-lang expression over `cluster` and `workspace` for mode Conditional.
	Conditional string `json:"conditional,omitempty" tmc:"expr"`
	// ResourceSelectors choose the objects the policy acts on; an object matching any selector is chosen.
	ResourceSelectors []ResourceSelector `json:"resourceSelectors,omitempty"`
	// Transformations change the chosen objects per cluster, in the order written.
	Transformations []Transformation `json:"transformations,omitempty"`

	// Program is Conditional compiled; nil when Conditional is empty.
	Program *Program `json:"-"`
}

// Transformation changes one field of an object for one target cluster.
type Transformation struct {
	// Type is Set, Delete, Replace (only where the field exists) or Template (value is a Go text/template).
	Type TransformationType `json:"type" tmc:"required,enum=Set|Delete|Replace|Template"`
	// JSONPath is the field changed, e.g. spec.template.spec.containers[name=web].image.
	JSONPath string `json:"jsonPath" tmc:"required,path"`
	// Value is the new value (any YAML type), or the template text for Template.
	Value *Value `json:"value,omitempty"`
	// Conditional is an expr-lang expression over `cluster`, `resource` and `workspace`; the transformation applies only where it is true.
	Conditional string `json:"conditional,omitempty" tmc:"expr"`

	// Path is JSONPath parsed.
	Path fieldpath.Path `json:"-"`
	// Program is Conditional compiled; nil when Conditional is empty.
	Program *Program `json:"-"`
	// Template is Value parsed, for type Template.
	Template *template.Template `json:"-"`
}

// AggregationPolicy says how one kind of object is read back from every target cluster and merged.
type AggregationPolicy struct {
	// APIVersion is tmc.kcp.io/v1alpha1.
	APIVersion string `json:"apiVersion" tmc:"required"`
	// Kind is AggregationPolicy.
	Kind string `json:"kind" tmc:"required"`
	// Metadata names the policy.
	Metadata ObjectMeta `json:"metadata" tmc:"required"`
	// Spec describes the policy.
	Spec AggregationPolicySpec `json:"spec"`

	// Origin is where the object is written.
	Origin Origin `json:"-"`
}

// AggregationPolicySpec describes an aggregation.
type AggregationPolicySpec struct {
	// GVK is the kind aggregated.
	GVK GroupVersionKind `json:"gvk" tmc:"required"`
	// MergeStrategy builds one object from the instances: Union, Intersection, Priority or Latest. Defaults to Union.
	MergeStrategy MergeStrategy `json:"mergeStrategy,omitempty" tmc:"enum=Union|Intersection|Priority|Latest"`
	// ConflictResolution decides a field the instances disagree on: LastWriter, Priority or Report. Defaults to LastWriter.
	ConflictResolution ConflictResolution `json:"conflictResolution,omitempty" tmc:"enum=LastWriter|Priority|Report"`
	// HealthAggregation combines instance health: Majority, All, Any or Weighted. Defaults to Majority.
	HealthAggregation HealthAggregation `json:"healthAggregation,omitempty" tmc:"enum=Majority|All|Any|Weighted"`
	// StatusMerging combines instance status: Combined, PerCluster or Priority. Defaults to Combined.
	StatusMerging StatusMerging `json:"statusMerging,omitempty" tmc:"enum=Combined|PerCluster|Priority"`
	// Scope says which objects are read: Workspace (the default) reads only
	// the objects tmc applied for the workspace (its tmc.kcp.io/workspace
	// label); Selected reads the objects the policy's labelSelectors and
	// namespaces select, whoever made them — the Pods of the workspace's
	// Deployments, or a kind another tool manages. Selected needs
	// labelSelectors or namespaces.
	Scope AggregationScope `json:"scope,omitempty" tmc:"enum=Workspace|Selected"`
	// Namespaces narrow the objects read to these namespaces (one LIST each); empty reads every namespace.
	Namespaces []string `json:"namespaces,omitempty"`
	// LabelSelectors narrow the objects read; an object must match all of them.
	LabelSelectors []LabelSelector `json:"labelSelectors,omitempty"`
	// FieldSelectors narrow the objects read, e.g. metadata.namespace=web; an object must match all of them.
	FieldSelectors []string `json:"fieldSelectors,omitempty" tmc:"fieldselector"`
	// Transformations run on every instance before merging, e.g. Delete of volatile fields.
	Transformations []Transformation `json:"transformations,omitempty"`
	// HealthExpression is an expr-lang expression over `resource` and `cluster` deciding an instance's health, for kinds kstatus does not know.
	HealthExpression string `json:"healthExpression,omitempty" tmc:"expr"`

	// HealthProgram is HealthExpression compiled; nil when it is empty.
	HealthProgram *Program `json:"-"`
}

// GroupVersionKind names a Kubernetes kind.
type GroupVersionKind struct {
	// Group is the API group; empty for the core group.
	Group string `json:"group,omitempty"`
	// Version is the API version, e.g. v1.
	Version string `json:"version" tmc:"required"`
	// Kind is the kind, e.g. Deployment.
	Kind string `json:"kind" tmc:"required"`
}

// APIVersion is group/version, or version for the core group.
func (g GroupVersionKind) APIVersion() string { return object.APIVersion(g.Group, g.Version) }

// Config holds the manager's settings. A policy tree holds at most one.
type Config struct {
	// APIVersion is tmc.kcp.io/v1alpha1.
	APIVersion string `json:"apiVersion" tmc:"required"`
	// Kind is Config.
	Kind string `json:"kind" tmc:"required"`
	// Metadata names the config.
	Metadata ObjectMeta `json:"metadata" tmc:"required"`
	// Spec holds the settings.
	Spec ConfigSpec `json:"spec"`

	// Origin is where the object is written.
	Origin Origin `json:"-"`
}

// ConfigSpec holds the manager's settings.
type ConfigSpec struct {
	// SyncInterval is how often tmc sync fetches git and reconciles. Defaults to 5m.
	SyncInterval string `json:"syncInterval,omitempty" tmc:"duration"`
	// AggregationEnabled switches aggregation and reports on. Defaults to true.
	AggregationEnabled *bool `json:"aggregationEnabled,omitempty"`
	// ProjectionEnabled switches projection (apply and prune) on. Defaults to true.
	ProjectionEnabled *bool `json:"projectionEnabled,omitempty"`
	// MaxWorkers bounds the work done at once (workspaces, clusters). Defaults to 4.
	MaxWorkers int `json:"maxWorkers,omitempty" tmc:"min=0"`
	// HealthCheckInterval is how often cluster health is probed. Defaults to 30s.
	HealthCheckInterval string `json:"healthCheckInterval,omitempty" tmc:"duration"`
	// Reports says where aggregated reports go.
	Reports ReportsConfig `json:"reports,omitempty"`
	// Notifications route tmc sync's events to the operator's notification
	// providers, by name. A route names no URL and no credential: those are
	// the operator's (tmc sync --notifications). A provider no route names
	// gets the events its own configuration lists.
	Notifications []NotificationRoute `json:"notifications,omitempty"`
}

// NotificationRoute sends some events to one provider.
type NotificationRoute struct {
	// Provider is the name of a provider in the operator's configuration.
	Provider string `json:"provider" tmc:"required"`
	// Events are the event types sent (all when empty).
	Events []string `json:"events,omitempty" tmc:"enum=RevisionApplied|RevisionRejected|WorkspaceError|WorkspaceRecovered|ClusterUnreachable|ClusterBack|DriftCorrected|DriftReported|WaveStarted|WaveCompleted|WaveHalted"`
	// Workspaces narrow the route to these workspaces (name or logicalCluster/name).
	Workspaces []string `json:"workspaces,omitempty"`
}

// ReportsConfig says where aggregated reports are written.
type ReportsConfig struct {
	// Path is the repo directory reports are written under. Defaults to reports.
	Path string `json:"path,omitempty"`
}

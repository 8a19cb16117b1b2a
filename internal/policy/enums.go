package policy

// The enumerations of the policy kinds, as types, so that a comparison with
// a misspelt value does not compile. The decoder checks each field against
// its `tmc:"enum=…"` tag; these constants are those values.

// ProjectionMode chooses the clusters a ProjectionPolicy acts on.
type ProjectionMode string

// Projection modes.
const (
	ModeAll         ProjectionMode = "All"
	ModeSelective   ProjectionMode = "Selective"
	ModeConditional ProjectionMode = "Conditional"
)

// TransformationType is what a transformation does.
type TransformationType string

// Transformation types.
const (
	TransformSet      TransformationType = "Set"
	TransformDelete   TransformationType = "Delete"
	TransformReplace  TransformationType = "Replace"
	TransformTemplate TransformationType = "Template"
)

// MergeStrategy builds one object from the instances of a resource.
type MergeStrategy string

// Merge strategies.
const (
	MergeUnion        MergeStrategy = "Union"
	MergeIntersection MergeStrategy = "Intersection"
	MergePriority     MergeStrategy = "Priority"
	MergeLatest       MergeStrategy = "Latest"
)

// ConflictResolution decides a field the instances disagree on.
type ConflictResolution string

// Conflict resolutions.
const (
	ResolveLastWriter ConflictResolution = "LastWriter"
	ResolvePriority   ConflictResolution = "Priority"
	ResolveReport     ConflictResolution = "Report"
)

// HealthAggregation combines the health of a resource's instances.
type HealthAggregation string

// Health aggregations.
const (
	HealthMajority HealthAggregation = "Majority"
	HealthAll      HealthAggregation = "All"
	HealthAny      HealthAggregation = "Any"
	HealthWeighted HealthAggregation = "Weighted"
)

// DriftMode says what a workspace does about drift.
type DriftMode string

// Drift modes.
const (
	// DriftCorrect applies git's version again (and records the drift).
	DriftCorrect DriftMode = "Correct"
	// DriftReport records the drift and leaves the edit in place.
	DriftReport DriftMode = "Report"
)

// AggregationScope says which objects an AggregationPolicy reads.
type AggregationScope string

// Aggregation scopes.
const (
	// ScopeWorkspace reads the objects tmc applied for the workspace.
	ScopeWorkspace AggregationScope = "Workspace"
	// ScopeSelected reads what the policy's selectors and namespaces select, whoever made it.
	ScopeSelected AggregationScope = "Selected"
)

// StatusMerging combines the status of a resource's instances.
type StatusMerging string

// Status mergings.
const (
	StatusCombined   StatusMerging = "Combined"
	StatusPerCluster StatusMerging = "PerCluster"
	StatusPriority   StatusMerging = "Priority"
)

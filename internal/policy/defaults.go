package policy

// Defaults. Every default of the policy kinds is applied here and only here.
const (
	DefaultClusterType         = "standard"
	DefaultHealthCheckTimeout  = "10s"
	DefaultContextKey          = "kubeconfig"
	DefaultLogicalCluster      = "root"
	DefaultProjectionMode      = "All"
	DefaultMergeStrategy       = "Union"
	DefaultConflictResolution  = "LastWriter"
	DefaultHealthAggregation   = "Majority"
	DefaultStatusMerging       = "Combined"
	DefaultSyncInterval        = "5m"
	DefaultHealthCheckInterval = "30s"
	DefaultMaxWorkers          = 4
	DefaultReportsPath         = "reports"
)

func ptr[T any](v T) *T { return &v }

// DefaultConfig returns the configuration used when the tree holds no Config.
func DefaultConfig() ConfigSpec {
	var c ConfigSpec
	c.setDefaults()
	return c
}

func (c *Cluster) setDefaults() {
	s := &c.Spec
	if s.Kubeconfig.Context == "" {
		s.Kubeconfig.Context = c.Metadata.Name
	}
	if r := s.Kubeconfig.SecretRef; r != nil && r.Key == "" {
		r.Key = DefaultContextKey
	}
	if s.Type == "" {
		s.Type = DefaultClusterType
	}
	if s.AggregationWeight == nil {
		s.AggregationWeight = ptr(1.0)
	}
	if s.ProjectionEnabled == nil {
		s.ProjectionEnabled = ptr(true)
	}
	if s.HealthCheckTimeout == "" {
		s.HealthCheckTimeout = DefaultHealthCheckTimeout
	}
}

func (w *VirtualWorkspace) setDefaults() {
	if w.Spec.LogicalCluster == "" {
		w.Spec.LogicalCluster = DefaultLogicalCluster
	}
	if w.Spec.Prune == nil {
		w.Spec.Prune = ptr(true)
	}
	if w.Spec.Drift == "" {
		w.Spec.Drift = DriftCorrect
	}
}

func (p *ProjectionPolicy) setDefaults() {
	if p.Spec.Mode == "" {
		p.Spec.Mode = DefaultProjectionMode
	}
}

func (a *AggregationPolicy) setDefaults() {
	s := &a.Spec
	if s.MergeStrategy == "" {
		s.MergeStrategy = DefaultMergeStrategy
	}
	if s.ConflictResolution == "" {
		s.ConflictResolution = DefaultConflictResolution
	}
	if s.HealthAggregation == "" {
		s.HealthAggregation = DefaultHealthAggregation
	}
	if s.StatusMerging == "" {
		s.StatusMerging = DefaultStatusMerging
	}
	if s.Scope == "" {
		s.Scope = ScopeWorkspace
	}
}

func (c *ConfigSpec) setDefaults() {
	if c.SyncInterval == "" {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.HealthCheckInterval == "" {
		c.HealthCheckInterval = DefaultHealthCheckInterval
	}
	if c.AggregationEnabled == nil {
		c.AggregationEnabled = ptr(true)
	}
	if c.ProjectionEnabled == nil {
		c.ProjectionEnabled = ptr(true)
	}
	if c.MaxWorkers == 0 {
		c.MaxWorkers = DefaultMaxWorkers
	}
	if c.Reports.Path == "" {
		c.Reports.Path = DefaultReportsPath
	}
}

// WithDefaults returns the Config with every unset field defaulted, for a
// Config given at run time rather than loaded from a tree.
func (c ConfigSpec) WithDefaults() ConfigSpec {
	c.setDefaults()
	return c
}

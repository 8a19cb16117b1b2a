package syncer

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the syncer's Prometheus metrics, on their own registry with the
// Go and process collectors.
type Metrics struct {
	Registry            *prometheus.Registry
	Workspaces          *prometheus.GaugeVec
	AggregatedResources *prometheus.GaugeVec
	ProjectedResources  *prometheus.GaugeVec
	// AggregationDuration and ProjectionDuration are the seed's metrics: the
	// last duration per workspace (a gauge, so that the seed's bare
	// queries return it); AggregationLatency and ProjectionLatency are
	// histograms of the same durations, for quantiles and alerts.
	AggregationDuration *prometheus.GaugeVec
	ProjectionDuration  *prometheus.GaugeVec
	AggregationLatency  *prometheus.HistogramVec
	ProjectionLatency   *prometheus.HistogramVec
	ClusterHealth       *prometheus.GaugeVec
	Reconciles          *prometheus.CounterVec
	APIRequests         *prometheus.CounterVec
	WorkspaceStatus     *prometheus.GaugeVec
	SyncInterval        prometheus.Gauge
	LastSync            prometheus.Gauge
	DriftCorrections    *prometheus.CounterVec
	// RolloutWave is the index of each workspace's current rollout wave
	// (the number of waves once complete); RolloutState is 1 for its
	// state; RolloutHalted is 1 while its rollout is halted.
	RolloutWave   *prometheus.GaugeVec
	RolloutState  *prometheus.GaugeVec
	RolloutHalted *prometheus.GaugeVec
	// DivergentFields counts, per workspace, the aggregated fields where
	// some cluster does not hold what git meant there.
	DivergentFields *prometheus.GaugeVec
	// GitFetches counts fetches of the policy repo; WebhookRequests the
	// receiver's requests by git host and result; Notifications the
	// deliveries by provider and result.
	GitFetches      prometheus.Counter
	WebhookRequests *prometheus.CounterVec
	Notifications   *prometheus.CounterVec
	// InventoryClusters counts the cluster inventory's clusters by state
	// (present, leaving, departing); InventoryReads counts its reads by
	// result (success, error, empty).
	InventoryClusters *prometheus.GaugeVec
	InventoryReads    *prometheus.CounterVec
	// Sharding: the workspaces no live replica owns (every replica
	// reports the same), the live replicas, this replica's workspaces
	// (1 each) and its reconciles of each.
	UnownedWorkspaces prometheus.Gauge
	ShardReplicas     prometheus.Gauge
	ShardOwned        *prometheus.GaugeVec
	ShardReconciles   *prometheus.CounterVec
}

// NewMetrics registers the metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Workspaces: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_virtual_workspaces_total", Help: "Virtual workspaces by status.",
		}, []string{"status"}),
		AggregatedResources: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_aggregated_resources_total", Help: "Aggregated resources (each counted once, however many clusters hold it), by group/version/kind.",
		}, []string{"gvk"}),
		ProjectedResources: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_projected_resources_total", Help: "Objects projected onto clusters (object × cluster), by group/version/kind.",
		}, []string{"gvk"}),
		AggregationDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_aggregation_duration_seconds", Help: "How long the last aggregation of a workspace took.",
		}, []string{"workspace"}),
		ProjectionDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_projection_duration_seconds", Help: "How long the last projection (plan and apply) of a workspace took.",
		}, []string{"workspace"}),
		AggregationLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tmc_aggregation_latency_seconds", Help: "Time to aggregate a workspace, as a histogram.", Buckets: prometheus.DefBuckets,
		}, []string{"workspace"}),
		ProjectionLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tmc_projection_latency_seconds", Help: "Time to plan and apply a workspace, as a histogram.", Buckets: prometheus.DefBuckets,
		}, []string{"workspace"}),
		ClusterHealth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_cluster_health", Help: "1 when a workspace's target cluster is healthy, else 0.",
		}, []string{"cluster", "workspace"}),
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tmc_reconciles_total", Help: "Reconciles by result (success, error, invalid_revision, invalid_inventory).",
		}, []string{"result"}),
		APIRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tmc_api_requests_total", Help: "Kubernetes API requests by cluster and verb.",
		}, []string{"cluster", "verb"}),
		WorkspaceStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_workspace_status", Help: "1 for each workspace's current status (pending, synchronizing, active, error, terminating), for alerts on one workspace.",
		}, []string{"logical_cluster", "workspace", "status"}),
		SyncInterval: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tmc_sync_interval_seconds", Help: "The sync interval in force.",
		}),
		DriftCorrections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tmc_drift_corrections_total", Help: "Edits of tmc's objects by someone else that tmc reverted, by cluster and workspace.",
		}, []string{"cluster", "workspace"}),
		RolloutWave: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_rollout_wave", Help: "Index of a workspace's current rollout wave (0 is the first; the number of waves once complete).",
		}, []string{"workspace"}),
		RolloutState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_rollout_state", Help: "1 for a workspace's rollout state (waiting, progressing, baking, halted, complete).",
		}, []string{"workspace", "state"}),
		RolloutHalted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_rollout_halted", Help: "1 while a workspace's rollout is halted: a wave's gate did not hold within its timeout.",
		}, []string{"workspace"}),
		DivergentFields: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_divergent_fields", Help: "Aggregated fields of a workspace where some cluster does not hold what git meant there (a hand edit, a controller); intended per-cluster variation does not count.",
		}, []string{"logical_cluster", "workspace"}),
		GitFetches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tmc_git_fetches_total", Help: "Fetches of the policy repo (each interval, trigger or webhook push).",
		}),
		WebhookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tmc_webhook_requests_total", Help: "Webhook requests by git host and result (triggered, ignored, replayed, bad_signature, too_large, rate_limited, ping, ...).",
		}, []string{"host", "result"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tmc_notifications_total", Help: "Notification deliveries by provider and result (success, retry, failure, dropped).",
		}, []string{"provider", "result"}),
		InventoryClusters: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_inventory_clusters", Help: "Clusters of the cluster inventory (ClusterProfiles) by state: present, leaving (missing, not yet departed), departing (pruned, nobody's target).",
		}, []string{"state"}),
		InventoryReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tmc_inventory_reads_total", Help: "Reads of the cluster inventory by result (success, error, empty); an error or an empty read keeps the last good inventory.",
		}, []string{"result"}),
		UnownedWorkspaces: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tmc_unowned_workspaces", Help: "Workspaces of the current revision that no live replica of a sharded tmc sync owns (being handed over); every replica reports the fleet's count.",
		}),
		ShardReplicas: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tmc_shard_replicas", Help: "Live replicas of a sharded tmc sync, as this replica sees their Leases.",
		}),
		ShardOwned: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tmc_shard_owned", Help: "1 for each workspace this replica of a sharded tmc sync owns.",
		}, []string{"logical_cluster", "workspace"}),
		ShardReconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tmc_shard_workspace_reconciles_total", Help: "Reconciles of each workspace by this replica of a sharded tmc sync.",
		}, []string{"logical_cluster", "workspace"}),
		LastSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tmc_last_sync_timestamp_seconds", Help: "Unix time of the last sync interval handled, whether it reconciled or found nothing changed.",
		}),
	}
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.Workspaces, m.AggregatedResources, m.ProjectedResources, m.AggregationDuration, m.ProjectionDuration, m.AggregationLatency, m.ProjectionLatency,
		m.ClusterHealth, m.Reconciles, m.APIRequests, m.WorkspaceStatus, m.SyncInterval, m.LastSync, m.DriftCorrections, m.RolloutWave, m.RolloutState, m.RolloutHalted, m.DivergentFields, m.GitFetches, m.WebhookRequests, m.Notifications, m.InventoryClusters, m.InventoryReads, m.UnownedWorkspaces, m.ShardReplicas, m.ShardOwned, m.ShardReconciles)
	return m
}

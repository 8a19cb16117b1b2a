package tmc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/kcp-dev/logicalcluster/v3"

	"github.com/kcp-dev/tmc/internal/clusterprofile"
	"github.com/kcp-dev/tmc/internal/notify"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/shard"
	"github.com/kcp-dev/tmc/internal/syncer"
)

// GitAuth says how the VirtualWorkspaceManager authenticates to the git remote.
type GitAuth = syncer.GitAuth

// GitAuthFromEnv fills what a leaves empty from TMC_GIT_USERNAME,
// TMC_GIT_PASSWORD and TMC_GIT_TOKEN, and reads values of the form @FILE from FILE.
func GitAuthFromEnv(a GitAuth) (GitAuth, error) { return syncer.AuthFromEnvAndFiles(a) }

// ManagerOptions configure the continuous syncer.
type ManagerOptions struct {
	// Repo is the git URL (https, ssh, file://) or a local path of the policy repo.
	Repo string
	// Branch to sync; empty is the remote's default branch.
	Branch string
	// Path is the policy tree's directory inside the repo.
	Path string
	// Interval and HealthInterval override the Config's syncInterval and healthCheckInterval.
	Interval, HealthInterval time.Duration
	// Auth authenticates to the git remote.
	Auth GitAuth
	// WorkDir holds the clone, reused across restarts; empty makes a temporary one.
	WorkDir string
	// Cluster says how target clusters are reached.
	Cluster ClusterOptions
	// ForceConflicts takes fields other managers own, reverting hand edits (Flux's behaviour).
	ForceConflicts bool
	// PushReports pushes report commits to the remote.
	PushReports bool
	// HomeKubeconfig reaches the cluster tmc runs in (Leases, kubeconfig
	// Secrets); empty means the in-cluster config, then the default rules.
	HomeKubeconfig string
	// Namespace holds the Lease and the kubeconfig Secrets; empty means
	// $POD_NAMESPACE, then tmc-system.
	Namespace string
	// SecretNamespaces are further namespaces of the home cluster that a
	// Cluster's kubeconfig.secretRef may name; tmc's own Namespace is always
	// allowed, any other is an error (the policy repo is untrusted).
	SecretNamespaces []string
	// LeaderElection, when set, makes replicas share a Lease so that one syncs.
	LeaderElection *LeaderElection
	// ShutdownGrace bounds, for Start, how long the reconcile in flight may
	// take once ctx is done (default 90s).
	ShutdownGrace time.Duration
	// WebhookSecret, when set, serves POST /hooks/{github,gitlab,gitea,forgejo,bitbucket,generic}:
	// a push signed with it (or carrying it as GitLab's token) triggers a fetch at once.
	WebhookSecret []byte
	// WebhookApart serves the webhook receiver on WebhookHandler only, not
	// on Handler: the receiver then listens where the git host reaches it
	// while the page and the status API stay internal.
	WebhookApart bool
	// Notifications are the operator's notification providers (LoadNotifications reads them).
	Notifications *NotificationsConfig
	// ClusterInventory, when set, adds the clusters of the operator's
	// cluster inventory (ClusterProfiles of a hub's namespace, watched) to
	// every revision's.
	ClusterInventory *InventorySource
	// Sharding, when set, makes this manager one replica of several that
	// share the workspaces (a Lease each in Namespace, and the ownership
	// table there); it excludes LeaderElection.
	Sharding *Sharding
	// Logf logs a line; nil discards.
	Logf func(format string, args ...any)
}

// NotificationsConfig is the operator's notification providers.
type NotificationsConfig = notify.Config

// LoadNotifications reads an operator's providers file (and the URL, secret
// and token files it names).
func LoadNotifications(path string) (*NotificationsConfig, error) { return notify.LoadConfig(path) }

// Sharding configures one replica of a sharded syncer.
type Sharding struct {
	// Group names the replicas' set (default tmc-sync): Leases
	// <Group>-<Identity> and the ConfigMap <Group>-shards.
	Group string
	// Identity is this replica's name (default $POD_NAME, then the host name).
	Identity string
	// Address is where this replica's status API answers the others
	// (host:port or a URL), so that each replica shows the whole fleet.
	Address string
	// LeaseDuration is how long a replica's Lease lasts unrenewed (default
	// 15s): a replica that dies loses its workspaces within it and one
	// interval.
	LeaseDuration time.Duration
}

// LeaderElection configures the Lease replicas share.
type LeaderElection struct {
	// Name of the Lease (default tmc-sync).
	Name string
	// LeaseDuration is how long a Lease lasts unrenewed (default 15s).
	LeaseDuration time.Duration
}

// VirtualWorkspaceManager keeps every target cluster converged with a git
// repo — render, plan, apply, aggregate, report — on every new revision, on
// events and at the sync interval, and serves each virtual workspace's
// unified view: the seed's Virtual Workspace Manager, for a policy repo.
type VirtualWorkspaceManager struct {
	opts ManagerOptions
	s    *syncer.Syncer
	home kubernetes.Interface
	ns   string
}

// NewVirtualWorkspaceManager makes a manager for the policy repo of
// o.Repo (a git URL or a local path); Start runs it. The seed's
// constructor takes kcp's clients and informers (kcpClusterClient,
// dynamicClient, placementInformer, syncTargetInformer): here placements
// and clusters come from the policy repo, and ManagerOptions say how to
// reach the repo and the clusters — o.Cluster (a kubeconfig with one
// context per Cluster, or each Cluster's own kubeconfig reference) stands
// for the seed's dynamic clients.
func NewVirtualWorkspaceManager(o ManagerOptions) (*VirtualWorkspaceManager, error) {
	if o.Repo == "" {
		return nil, errors.New("ManagerOptions.Repo: the policy repo (a git URL or a local path) is required")
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	m := &VirtualWorkspaceManager{opts: o, ns: o.Namespace}
	if m.ns == "" {
		m.ns = os.Getenv("POD_NAMESPACE")
	}
	if m.ns == "" {
		m.ns = "tmc-system"
	}
	if cfg, err := homeConfig(o.HomeKubeconfig); err == nil {
		m.home, _ = kubernetes.NewForConfig(cfg)
	}
	copts := o.Cluster
	if m.home != nil && copts.SecretKubeconfig == nil {
		copts.SecretKubeconfig = m.secretKubeconfig
	}
	copts.SecretNamespaces = append([]string{m.ns}, o.SecretNamespaces...)
	var inv *syncer.Inventory
	if ci := o.ClusterInventory; ci != nil {
		var cfg *rest.Config
		var err error
		if ci.Kubeconfig != "" {
			rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: ci.Kubeconfig}
			cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: ci.Context}).ClientConfig()
		} else {
			cfg, err = homeConfig(o.HomeKubeconfig)
		}
		if err != nil {
			return nil, fmt.Errorf("cluster inventory hub: %w", err)
		}
		hub, err := clusterprofile.NewHub(cfg, ci.Namespace)
		if err != nil {
			return nil, err
		}
		inv = &syncer.Inventory{Hub: hub, Providers: ci.Providers}
	}
	var co *shard.Coordinator
	if sh := o.Sharding; sh != nil {
		if o.LeaderElection != nil {
			return nil, errors.New("ManagerOptions: Sharding and LeaderElection exclude each other (a sharded replica is one of several that all work)")
		}
		if m.home == nil {
			return nil, errors.New("sharding needs the cluster tmc runs in (in-cluster config or a kubeconfig) for its Leases")
		}
		group, id := sh.Group, sh.Identity
		if group == "" {
			group = "tmc-sync"
		}
		if id == "" {
			id = os.Getenv("POD_NAME")
		}
		if id == "" {
			id, _ = os.Hostname()
		}
		var err error
		co, err = shard.New(shard.Options{Client: m.home, Namespace: m.ns, Group: group, Identity: id, Address: sh.Address,
			LeaseDuration: sh.LeaseDuration, Logf: o.Logf, Changed: func() {
				if m.s != nil {
					m.s.ShardChanged()
				}
			}})
		if err != nil {
			return nil, err
		}
	}
	m.s = syncer.New(syncer.Options{
		Repo: o.Repo, Branch: o.Branch, Path: o.Path, Interval: o.Interval, HealthInterval: o.HealthInterval,
		Auth: o.Auth, WorkDir: o.WorkDir, Cluster: copts, ForceConflicts: o.ForceConflicts, PushReports: o.PushReports, Logf: o.Logf,
		WebhookSecret: o.WebhookSecret, HooksApart: o.WebhookApart, Notifications: o.Notifications, Inventory: inv, Shard: co,
	})
	return m, nil
}

// homeConfig reaches the cluster tmc runs in: in-cluster, else the kubeconfig's current context.
func homeConfig(kubeconfig string) (*rest.Config, error) {
	if cfg, err := rest.InClusterConfig(); err == nil {
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
}

// secretKubeconfig reads a Cluster's kubeconfig from a Secret of the home cluster.
func (m *VirtualWorkspaceManager) secretKubeconfig(ctx context.Context, namespace, name, key string) ([]byte, error) {
	if namespace == "" {
		namespace = m.ns
	}
	sec, err := m.home.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	data, ok := sec.Data[key]
	if !ok {
		return nil, fmt.Errorf("no key %q in Secret %s/%s", key, namespace, name)
	}
	return data, nil
}

// Start runs the Manager with at most workers workspaces reconciled at once
// (0 keeps the Config's maxWorkers) until ctx is done; the reconcile in
// flight then finishes within ShutdownGrace, and with leader election the
// Lease is released after it.
func (m *VirtualWorkspaceManager) Start(ctx context.Context, workers int) error {
	if workers > 0 {
		m.s.SetWorkers(workers)
	}
	grace := m.opts.ShutdownGrace
	if grace <= 0 {
		grace = 90 * time.Second
	}
	finish, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(finish, func() { t.Stop() })
	})
	defer stop()
	return m.Run(ctx, finish)
}

// Run is Start with the shutdown in the caller's hands: no new reconcile
// starts once ctx is done, and the one in flight runs under finish (the tmc
// CLI cancels finish on a second signal or when the grace period ends).
func (m *VirtualWorkspaceManager) Run(ctx, finish context.Context) error {
	if m.opts.LeaderElection == nil {
		return m.s.Run(ctx, finish)
	}
	if m.home == nil {
		return errors.New("leader election needs the cluster tmc runs in (in-cluster config or a kubeconfig)")
	}
	return m.lead(ctx, finish)
}

// lead runs the syncer while this replica holds the Lease, in this order on
// shutdown: stop taking work, finish the reconcile in flight, release the
// Lease. On losing the Lease the work stops at once (another replica may be
// leading already) and the replica campaigns again; the syncer rebuilds its
// state from git and the clusters, so leading again starts like a fresh start.
func (m *VirtualWorkspaceManager) lead(stop, finish context.Context) error {
	le := m.opts.LeaderElection
	name, d := le.Name, le.LeaseDuration
	if name == "" {
		name = "tmc-sync"
	}
	if d <= 0 {
		d = 15 * time.Second
	}
	host, _ := os.Hostname()
	id := host + "_" + rand.String(8)
	for stop.Err() == nil {
		lock := &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Name: name, Namespace: m.ns},
			Client:     m.home.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		}
		var leading atomic.Bool
		workDone := make(chan struct{})
		var workErr error
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, ReleaseOnCancel: true, Name: name,
			LeaseDuration: d, RenewDeadline: d * 2 / 3, RetryPeriod: max(d/8, 500*time.Millisecond),
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(leadCtx context.Context) {
					defer close(workDone)
					leading.Store(true)
					m.opts.Logf("leading (Lease %s/%s)", m.ns, name)
					runCtx, c1 := mergeDone(stop, leadCtx)
					defer c1()
					fin, c2 := mergeDone(finish, leadCtx)
					defer c2()
					workErr = m.s.Run(runCtx, fin)
				},
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			return err
		}
		leCtx, releaseLease := context.WithCancel(context.Background())
		electorDone := make(chan struct{})
		go func() { elector.Run(leCtx); close(electorDone) }()
		select {
		case <-workDone:
		case <-electorDone:
		case <-stop.Done():
		}
		if leading.Load() {
			<-workDone // the reconcile in flight finishes before the Lease goes
		}
		releaseLease()
		<-electorDone
		if leading.Load() {
			m.opts.Logf("released the Lease %s/%s", m.ns, name)
		}
		if workErr != nil {
			return workErr
		}
		if stop.Err() == nil {
			m.opts.Logf("lost the Lease %s/%s: work stopped; campaigning again", m.ns, name)
		}
	}
	return nil
}

// mergeDone returns a context that is done when either a or b is.
func mergeDone(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stopB := context.AfterFunc(b, cancel)
	return ctx, func() { stopB(); cancel() }
}

// ListVirtualWorkspaces returns every virtual workspace, sorted by
// logical cluster and name, as the last reconcile left it. On a sharded
// manager: the virtual workspaces this replica owns (their views live with
// their owner); Statuses has the whole fleet with each owner.
func (m *VirtualWorkspaceManager) ListVirtualWorkspaces() []*VirtualWorkspace {
	snaps := m.s.Snapshots()
	out := make([]*VirtualWorkspace, 0, len(snaps))
	for _, sn := range snaps {
		out = append(out, newVirtualWorkspace(sn))
	}
	return out
}

// GetVirtualWorkspace returns the virtual workspace name of the logical
// cluster, as the last reconcile left it; on a sharded manager, only while
// this replica owns it.
func (m *VirtualWorkspaceManager) GetVirtualWorkspace(cluster logicalcluster.Name, name string) (*VirtualWorkspace, bool) {
	for _, sn := range m.s.Snapshots() {
		if sn.Status.LogicalCluster == cluster.String() && sn.Status.Name == name {
			return newVirtualWorkspace(sn), true
		}
	}
	return nil, false
}

// Statuses returns every workspace's status in the versioned JSON form of
// the status API and `tmc status -o json`. On a sharded manager it is the
// whole fleet's, as the status API shows it: this replica's workspaces,
// each other live replica's as that replica's status API says (asked at
// once, within two seconds), and those nobody owns — each with its Owner.
func (m *VirtualWorkspaceManager) Statuses() StatusReport {
	return m.s.FleetStatuses(context.Background())
}

// GetHealth returns the manager's health: degraded when the newest
// revision failed to load or a virtual workspace is in error.
func (m *VirtualWorkspaceManager) GetHealth(ctx context.Context) *HealthCheck {
	h := m.s.Health()
	out := &HealthCheck{ComponentType: ComponentTypeVirtualWorkspaceManager, ComponentID: "virtual-workspace-manager",
		Status: HealthStatus(h.Status), Message: h.Message, Details: map[string]interface{}{}, Timestamp: time.Now()}
	out.Details["virtualWorkspaces"] = h.Details["workspaces"]
	out.Details["activeAggregators"] = h.Details["aggregators"]
	out.Details["activeProjectionControllers"] = h.Details["projectionControllers"]
	if n := h.Details["workspacesInError"]; n > 0 {
		out.Details["errorWorkspaces"] = n
	}
	return out
}

// ApplyConfig replaces, from now on, the settings of the synced repo's
// Config with cfg (nil goes back to the repo's): sync and health-check
// intervals (0 keeps their defaults, 5m and 30s), maxWorkers (0 keeps the
// default of 4), and the aggregation and projection switches, taken as
// written (false turns the half off). The next reconcile starts at once.
func (m *VirtualWorkspaceManager) ApplyConfig(cfg *VirtualWorkspaceManagerConfig) error {
	if cfg == nil {
		m.s.SetConfig(nil)
		return nil
	}
	switch {
	case cfg.SyncInterval < 0:
		return fmt.Errorf("VirtualWorkspaceManagerConfig.SyncInterval: %s is negative", cfg.SyncInterval)
	case cfg.HealthCheckInterval < 0:
		return fmt.Errorf("VirtualWorkspaceManagerConfig.HealthCheckInterval: %s is negative", cfg.HealthCheckInterval)
	case cfg.MaxWorkers < 0:
		return fmt.Errorf("VirtualWorkspaceManagerConfig.MaxWorkers: %d is negative", cfg.MaxWorkers)
	}
	spec := &policy.ConfigSpec{MaxWorkers: cfg.MaxWorkers, AggregationEnabled: ptr(cfg.AggregationEnabled), ProjectionEnabled: ptr(cfg.ProjectionEnabled)}
	if cfg.SyncInterval > 0 {
		spec.SyncInterval = cfg.SyncInterval.String()
	}
	if cfg.HealthCheckInterval > 0 {
		spec.HealthCheckInterval = cfg.HealthCheckInterval.String()
	}
	m.s.SetConfig(spec)
	return nil
}

func ptr[T any](v T) *T { return &v }

// ApplyClusterConfigs replaces, from now on, the settings of the named
// clusters — priority, health-check timeout, aggregation weight, whether
// projection is enabled — over what their Cluster objects in the policy
// repo say (nil goes back to the repo's). Every field is taken as written:
// a zero AggregationWeight weighs nothing, a false ProjectionEnabled keeps
// every workspace's objects off the cluster; a zero HealthCheckTimeout
// keeps the Cluster's. The next reconcile starts at once.
func (m *VirtualWorkspaceManager) ApplyClusterConfigs(configs map[string]ClusterConfig) error {
	out := map[string]syncer.ClusterOverride{}
	for key, c := range configs {
		name := c.Name
		if name == "" {
			name = key
		}
		if name != key {
			return fmt.Errorf("ClusterConfig %q: Name %q differs from its key", key, c.Name)
		}
		switch {
		case c.HealthCheckTimeout < 0:
			return fmt.Errorf("ClusterConfig %q: HealthCheckTimeout %s is negative", key, c.HealthCheckTimeout)
		case c.AggregationWeight < 0:
			return fmt.Errorf("ClusterConfig %q: AggregationWeight %g is negative", key, c.AggregationWeight)
		}
		out[name] = syncer.ClusterOverride{Priority: c.Priority, HealthCheckTimeout: c.HealthCheckTimeout, AggregationWeight: c.AggregationWeight, ProjectionEnabled: c.ProjectionEnabled}
	}
	if configs == nil {
		out = nil
	}
	m.s.SetClusterOverrides(out)
	return nil
}

// Handler serves /healthz, /readyz, /metrics, /api/v1/workspaces and
// /api/v1/workspaces/{logicalCluster}/{name} (and the webhook receiver,
// unless ManagerOptions.WebhookApart).
func (m *VirtualWorkspaceManager) Handler() http.Handler { return m.s.Handler() }

// WebhookHandler serves POST /hooks/{host} (when ManagerOptions.WebhookSecret
// is set) and GET /healthz, nothing else: what a listener exposed to the
// git host should serve.
func (m *VirtualWorkspaceManager) WebhookHandler() http.Handler { return m.s.HooksHandler() }

package tmc

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kcp-dev/tmc/internal/clusterprofile"
	"github.com/kcp-dev/tmc/internal/policy"
)

// The operator's cluster inventory: SIG-Multicluster ClusterProfiles
// (KEP-4322) read from a hub's namespace (a clusterset) or a snapshot file,
// and the access providers (KEP-5339, provider name → exec plugin) that
// reach their clusters. It is trusted configuration: the policy repo can
// neither choose it nor add a plugin to it (docs/security.md).
type (
	// ClusterInventory is one read of the inventory with the access providers.
	ClusterInventory = clusterprofile.Inventory
	// ClusterProfile is one profile: the cluster and its access providers.
	ClusterProfile = clusterprofile.Profile
	// AccessProviders is the operator's provider file.
	AccessProviders = clusterprofile.Providers
	// InventoryCluster is what tmc makes of a profile (Cluster.Inventory).
	InventoryCluster = policy.InventoryCluster
)

// ReadClusterInventory reads a snapshot of the inventory (`kubectl get
// clusterprofiles -o yaml`), keeping the profiles of namespace (empty: the
// only namespace the file holds).
func ReadClusterInventory(path, namespace string) ([]*ClusterProfile, error) {
	return clusterprofile.ReadSnapshot(path, namespace)
}

// ReadHubInventory lists the ClusterProfiles of namespace on the hub a
// kubeconfig reaches (empty kubeconfig: $KUBECONFIG, then ~/.kube/config;
// empty context: its current one). Profiles tmc cannot use are left out and
// returned as skipped.
func ReadHubInventory(ctx context.Context, kubeconfig, kubeContext, namespace string) (profiles []*ClusterProfile, skipped []error, err error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("cluster inventory hub: %w", err)
	}
	hub, err := clusterprofile.NewHub(cfg, namespace)
	if err != nil {
		return nil, nil, err
	}
	return hub.Read(ctx)
}

// ReadAccessProviders reads the operator's provider file (KEP-5339:
// {"providers": [{"name", "execConfig"}]}).
func ReadAccessProviders(path string) (*AccessProviders, error) {
	return clusterprofile.ReadProviders(path)
}

// LoadPoliciesWith loads and validates the policy tree in dir with the
// inventory's clusters joined to the repo's: a repo Cluster of an
// inventory cluster's name refines it and may not say how it is reached.
// Reach the inventory's clusters with ClusterOptions.Access = inv.RESTConfig.
func LoadPoliciesWith(ctx context.Context, dir string, inv *ClusterInventory) (*Policies, error) {
	return policy.LoadOpts(ctx, dir, policy.LoadOptions{Inventory: inv.Clusters()})
}

// CheckOutsideRepo refuses a file of trusted configuration (flag names
// it) inside the policy tree dir: an inventory snapshot decides where the
// operator's credentials are sent and a provider file which plugins run, and
// a pull request could edit either.
func CheckOutsideRepo(flag, file, dir string) error {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		if r, err := filepath.EvalSymlinks(a); err == nil {
			return r
		}
		return a
	}
	f, d := abs(file), abs(dir)
	rel, err := filepath.Rel(d, f)
	if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s %s is inside the policy directory %s: it is the operator's trusted configuration (which plugins run, where their credentials go) and the repo is untrusted — a pull request could edit it; keep it outside the repo", flag, file, dir)
	}
	return nil
}

// InventorySource configures the syncer's cluster inventory.
type InventorySource struct {
	// Namespace is the clusterset: the ClusterProfiles of this namespace.
	Namespace string
	// Kubeconfig and Context reach the hub holding the profiles; empty
	// Kubeconfig means the cluster tmc runs in (HomeKubeconfig).
	Kubeconfig, Context string
	// Providers reach the inventory's clusters.
	Providers *AccessProviders
}

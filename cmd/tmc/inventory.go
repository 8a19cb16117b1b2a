package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/kcp-dev/tmc"
)

// inventoryFlags choose the operator's cluster inventory: ClusterProfiles
// of a hub's namespace, or a snapshot of them, and the access providers
// that reach their clusters. They are flags, never policy-repo settings:
// the inventory decides which credentials go where.
type inventoryFlags struct {
	snapshot, namespace, kubeconfig, context, providers string
}

func (f *inventoryFlags) add(cmd *cobra.Command, live bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.snapshot, "cluster-inventory", "", "snapshot of the cluster inventory (kubectl get clusterprofiles -o yaml): its ClusterProfiles become target clusters, without hub access")
	fl.StringVar(&f.namespace, "cluster-inventory-namespace", "", "the clusterset: ClusterProfiles of this namespace (read live from the hub unless --cluster-inventory is given)")
	if live {
		fl.StringVar(&f.kubeconfig, "cluster-inventory-kubeconfig", "", "kubeconfig of the hub holding the ClusterProfiles (default: --kubeconfig)")
		fl.StringVar(&f.context, "cluster-inventory-context", "", "context of that kubeconfig (default: its current context)")
	}
	fl.StringVar(&f.providers, "cluster-access-providers", "", "the operator's access provider file (KEP-5339: provider name → exec plugin) that reaches the inventory's clusters")
}

func (f *inventoryFlags) set() bool { return f.snapshot != "" || f.namespace != "" }

// read returns the inventory the flags choose (nil when none). connects
// says the command reaches clusters: a snapshot or provider file inside the
// policy tree is then refused.
func (f *inventoryFlags) read(cmd *cobra.Command, dir, kubeconfig string, connects bool) (*tmc.ClusterInventory, error) {
	if f.providers != "" {
		if err := tmc.CheckOutsideRepo("--cluster-access-providers", f.providers, dir); err != nil {
			return nil, err
		}
	}
	if !f.set() {
		if f.providers != "" {
			return nil, errors.New("--cluster-access-providers needs a cluster inventory: --cluster-inventory FILE or --cluster-inventory-namespace NS")
		}
		return nil, nil
	}
	inv := &tmc.ClusterInventory{}
	var err error
	if f.providers != "" {
		if inv.Providers, err = tmc.ReadAccessProviders(f.providers); err != nil {
			return nil, err
		}
	}
	if f.snapshot != "" {
		if connects {
			if err := tmc.CheckOutsideRepo("--cluster-inventory", f.snapshot, dir); err != nil {
				return nil, err
			}
		}
		inv.Profiles, err = tmc.ReadClusterInventory(f.snapshot, f.namespace)
		if err != nil {
			return nil, err
		}
		progress(cmd, "cluster inventory: %d ClusterProfiles from %s", len(inv.Profiles), f.snapshot)
		return inv, nil
	}
	hub := f.kubeconfig
	if hub == "" {
		hub = kubeconfig
	}
	profiles, skipped, err := tmc.ReadHubInventory(cmd.Context(), hub, f.context, f.namespace)
	if err != nil {
		return nil, err
	}
	for _, e := range skipped {
		progress(cmd, "cluster inventory: %v (left out)", e)
	}
	inv.Profiles = profiles
	progress(cmd, "cluster inventory: %d ClusterProfiles in namespace %s", len(profiles), f.namespace)
	return inv, nil
}

// load loads the policy tree with the inventory's clusters joined.
func (f *inventoryFlags) load(cmd *cobra.Command, dir, kubeconfig string, connects bool) (*tmc.Policies, *tmc.ClusterInventory, error) {
	inv, err := f.read(cmd, dir, kubeconfig, connects)
	if err != nil {
		return nil, nil, err
	}
	p, err := tmc.LoadPoliciesWith(cmd.Context(), dir, inv)
	var list tmc.ErrorList
	if errors.As(err, &list) {
		printErrors(cmd.ErrOrStderr(), list)
		return nil, nil, &exitCodeError{code: exitError, silent: true}
	}
	if err != nil {
		return nil, nil, err
	}
	return p, inv, nil
}

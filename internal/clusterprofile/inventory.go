package clusterprofile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kcp-dev/tmc/internal/policy"
)

// Inventory is one view of the cluster inventory with the operator's
// access providers: the clusters to merge into the policies, and how to
// reach each.
type Inventory struct {
	// Profiles are the inventory's clusters, sorted.
	Profiles []*Profile
	// Providers are the operator's access providers (nil: none).
	Providers *Providers
}

// Clusters returns the inventory's clusters for policy.LoadOptions.
func (inv *Inventory) Clusters() []*policy.InventoryCluster {
	if inv == nil {
		return nil
	}
	return Clusters(inv.Profiles)
}

// RESTConfig reaches an inventory cluster (cluster.Options.Access).
func (inv *Inventory) RESTConfig(c *policy.Cluster) (*rest.Config, error) {
	if inv != nil {
		for _, p := range inv.Profiles {
			if p.Cluster.Name == c.Metadata.Name {
				return inv.Providers.RESTConfig(p)
			}
		}
	}
	return nil, fmt.Errorf("cluster %s: not in the cluster inventory", c.Metadata.Name)
}

// Key fingerprints what tmc uses of the profiles: a change of it (a profile
// added, removed, relabelled, its health, properties or access changed)
// calls for a new load of the policies.
func Key(ps []*Profile) string {
	data, _ := json.Marshal(ps)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Tracker applies the removal rule of tmc sync to successive reads of a
// live inventory, so that an inventory briefly empty or unreadable never
// deletes what tmc applied:
//
//   - a failed read changes nothing: the clusters of the last good read stay;
//   - a read that finds no profile at all, after one that found some,
//     counts as a failed read (an inventory is emptied cluster by cluster,
//     never at once);
//   - a profile missing from a good read stays, as it was, until it has
//     been missing from at least two good reads in a row spanning Grace;
//     then its cluster is departing: nobody's target, reached with its last
//     known access so that what tmc applied there is pruned;
//   - a departing cluster is forgotten once the syncer has pruned it
//     (Forget), or when tmc restarts (what it held stays, unpruned);
//   - a profile that comes back is a cluster like any other again.
type Tracker struct {
	// Grace is the least time a profile must be missing before its
	// cluster departs (tmc sync: one health interval).
	Grace     time.Duration
	last      map[string]*Profile
	missing   map[string]*absence
	departing map[string]bool
}

type absence struct {
	since time.Time
	reads int
}

// Observe folds one read (or its failure) into the tracked inventory and
// returns the profiles to use now, departing ones marked, and a note when
// the read was not taken as it is.
func (t *Tracker) Observe(read []*Profile, err error, now time.Time) ([]*Profile, string) {
	if t.last == nil {
		t.last, t.missing, t.departing = map[string]*Profile{}, map[string]*absence{}, map[string]bool{}
	}
	present := 0
	for n := range t.last {
		if !t.departing[n] {
			present++
		}
	}
	switch {
	case err != nil:
		return t.current(), fmt.Sprintf("%v; keeping the %d clusters of the last good read (a failed read never prunes)", err, present)
	case len(read) == 0 && present > 0:
		return t.current(), fmt.Sprintf("the cluster inventory read found no ClusterProfile; keeping the %d clusters of the last good read (an empty inventory never prunes)", present)
	}
	seen := map[string]bool{}
	for _, p := range read {
		seen[p.Cluster.Name] = true
		t.last[p.Cluster.Name] = p
		delete(t.missing, p.Cluster.Name)
		delete(t.departing, p.Cluster.Name)
	}
	for n := range t.last {
		if seen[n] || t.departing[n] {
			continue
		}
		a := t.missing[n]
		if a == nil {
			a = &absence{since: now}
			t.missing[n] = a
		}
		a.reads++
		if a.reads >= 2 && now.Sub(a.since) >= t.Grace {
			t.departing[n] = true
			delete(t.missing, n)
		}
	}
	return t.current(), ""
}

// Departing lists the departing clusters, sorted.
func (t *Tracker) Departing() []string {
	return slices.Sorted(maps.Keys(t.departing))
}

// Leaving lists the clusters missing from the inventory that have not
// departed yet, sorted.
func (t *Tracker) Leaving() []string {
	return slices.Sorted(maps.Keys(t.missing))
}

// Forget drops a departing cluster once what tmc applied there is pruned.
func (t *Tracker) Forget(name string) {
	if t.departing[name] {
		delete(t.departing, name)
		delete(t.last, name)
	}
}

func (t *Tracker) current() []*Profile {
	out := make([]*Profile, 0, len(t.last))
	for _, n := range slices.Sorted(maps.Keys(t.last)) {
		p := t.last[n]
		if t.departing[n] {
			cp := *p
			cp.Cluster.Departing = true
			p = &cp
		}
		out = append(out, p)
	}
	return out
}

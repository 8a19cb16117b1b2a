package apply

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/inventory"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/plan"
)

// AttachObjects gives a saved plan its desired objects from a fresh render,
// refusing when any object differs from what was planned (the policy tree
// or the cluster facts changed since). A saved plan is a proposal, not an
// order: every entry must be one a fresh plan could make now. An entry with
// an unknown action, for a cluster the plan did not reach, or a delete of an
// object git still renders on that cluster or of a workspace that does not
// prune refuses the whole plan, naming the entry (noPrune: logicalCluster/name of
// the workspaces git holds with prune off; a workspace git no longer holds
// is pruned whole). Verify checks the rest of a delete against the
// inventories on the clusters.
func AttachObjects(saved *plan.Plan, desired map[plan.Key]*unstructured.Unstructured, noPrune map[string]bool) error {
	var diffs, forged []string
	rendered := map[string]bool{} // cluster/ID rendered by any workspace
	for k := range desired {
		rendered[k.ID.On(k.Cluster)] = true
	}
	reached := map[string]bool{}
	for _, st := range saved.Clusters {
		reached[st.Name] = st.Reachable
	}
	for _, ch := range saved.Changes {
		on := ch.ID().On(ch.Cluster)
		if !reached[ch.Cluster] && ch.Action != plan.Skip {
			forged = append(forged, fmt.Sprintf("%s: %s on a cluster the plan did not reach", on, ch.Action))
			continue
		}
		switch ch.Action {
		case plan.Create, plan.Update, plan.Unchanged:
		case plan.Delete:
			switch {
			case rendered[on]:
				forged = append(forged, fmt.Sprintf("%s: delete of an object git renders there", on))
			case noPrune[ch.Key().Workspace]:
				forged = append(forged, fmt.Sprintf("%s: delete by workspace %s, which does not prune", on, ch.Key().Workspace))
			}
			continue
		case plan.Skip:
			continue
		default:
			forged = append(forged, fmt.Sprintf("%s: unknown action %q", on, ch.Action))
			continue
		}
		u, ok := desired[ch.Key()]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: no longer rendered", on))
		case plan.Digest(u) != ch.Digest:
			diffs = append(diffs, fmt.Sprintf("%s: rendered differently", on))
		default:
			ch.Object = u
		}
	}
	if len(forged) > 0 {
		sort.Strings(forged)
		return fmt.Errorf("the saved plan holds entries no plan of this tree would make; refusing it:\n  %s", strings.Join(forged, "\n  "))
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		return fmt.Errorf("the policy tree no longer renders what the plan holds; run tmc plan again:\n  %s", strings.Join(diffs, "\n  "))
	}
	return nil
}

// Verify checks that no planned object and no inventory changed on its
// cluster since the plan was made. A cluster that changed is returned with
// what changed; apply must refuse it. A delete of an object its workspace's
// inventory on that cluster does not record is no plan tmc makes: the
// returned error refuses the whole plan, naming the entry.
func Verify(ctx context.Context, saved *plan.Plan, set *cluster.Set, perCluster int) (map[string]error, error) {
	out := map[string]error{}
	var forged []string
	for _, st := range saved.Clusters {
		if !st.Reachable {
			continue
		}
		c, err := set.Get(st.Name)
		if err != nil {
			out[st.Name] = err
			continue
		}
		f, err := verifyCluster(ctx, c, st, saved.Changes, perCluster)
		if err != nil {
			out[st.Name] = err
		}
		forged = append(forged, f...)
	}
	if len(forged) > 0 {
		sort.Strings(forged)
		return out, fmt.Errorf("the saved plan holds entries no plan of this tree would make; refusing it:\n  %s", strings.Join(forged, "\n  "))
	}
	return out, nil
}

func verifyCluster(ctx context.Context, c *cluster.Client, st plan.ClusterState, changes []*plan.Change, perCluster int) ([]string, error) {
	mu := make(chan struct{}, 1)
	var diffs []string
	note := func(s string) {
		mu <- struct{}{}
		diffs = append(diffs, s)
		<-mu
	}
	invs, err := inventory.List(ctx, c.Client)
	if err != nil {
		return nil, err
	}
	now := map[string]string{}
	recorded := map[string]map[object.ID]bool{}
	for _, inv := range invs {
		k := object.Workspace(inv.LogicalCluster, inv.Workspace).String()
		now[k] = inv.ResourceVersion
		recorded[k] = map[object.ID]bool{}
		for _, id := range inv.Objects {
			recorded[k][id] = true
		}
	}
	var forged []string
	for _, ch := range changes {
		if ch.Cluster == st.Name && ch.Action == plan.Delete && !recorded[ch.Key().Workspace][ch.ID()] {
			forged = append(forged, fmt.Sprintf("%s: delete of an object the inventory of workspace %s does not record", ch.ID().On(st.Name), ch.Key().Workspace))
		}
	}
	for k, rv := range st.Inventories {
		if now[k] != rv {
			note(fmt.Sprintf("inventory of %s: resourceVersion %s, now %q", k, rv, now[k]))
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(perCluster, 1))
	for _, ch := range changes {
		if ch.Cluster != st.Name || ch.Action == plan.Skip {
			continue
		}
		g.Go(func() error {
			live := &unstructured.Unstructured{}
			live.SetAPIVersion(ch.APIVersion)
			live.SetKind(ch.Kind)
			err := c.Client.Get(gctx, client.ObjectKey{Namespace: ch.Namespace, Name: ch.Name}, live)
			rv := ""
			switch {
			case err == nil:
				rv = live.GetResourceVersion()
			case apierrors.IsNotFound(err):
			default:
				if meta.IsNoMatchError(err) && ch.Action == plan.Create {
					return nil // the kind arrives with a CRD in this plan
				}
				note(fmt.Sprintf("%s: %v", ch.ID(), err))
				return nil
			}
			if rv != ch.ResourceVersion {
				was := ch.ResourceVersion
				if was == "" {
					was = "absent"
				}
				if rv == "" {
					rv = "absent"
				}
				note(fmt.Sprintf("%s: resourceVersion %s when planned, now %s", ch.ID(), was, rv))
			}
			return nil
		})
	}
	_ = g.Wait()
	if len(diffs) == 0 {
		return forged, nil
	}
	sort.Strings(diffs)
	return forged, fmt.Errorf("cluster %s changed since the plan was made; run tmc plan again:\n  %s", st.Name, strings.Join(diffs, "\n  "))
}

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
// or the cluster facts changed since).
func AttachObjects(saved *plan.Plan, desired map[plan.Key]*unstructured.Unstructured) error {
	var diffs []string
	for _, ch := range saved.Changes {
		if ch.Action != plan.Create && ch.Action != plan.Update && ch.Action != plan.Unchanged {
			continue
		}
		u, ok := desired[ch.Key()]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: no longer rendered", ch.ID().On(ch.Cluster)))
		case plan.Digest(u) != ch.Digest:
			diffs = append(diffs, fmt.Sprintf("%s: rendered differently", ch.ID().On(ch.Cluster)))
		default:
			ch.Object = u
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		return fmt.Errorf("the policy tree no longer renders what the plan holds; run tmc plan again:\n  %s", strings.Join(diffs, "\n  "))
	}
	return nil
}

// Verify checks that no planned object and no inventory changed on its
// cluster since the plan was made. A cluster that changed is returned with
// what changed; apply must refuse it.
func Verify(ctx context.Context, saved *plan.Plan, set *cluster.Set, perCluster int) map[string]error {
	out := map[string]error{}
	for _, st := range saved.Clusters {
		if !st.Reachable {
			continue
		}
		c, err := set.Get(st.Name)
		if err != nil {
			out[st.Name] = err
			continue
		}
		if err := verifyCluster(ctx, c, st, saved.Changes, perCluster); err != nil {
			out[st.Name] = err
		}
	}
	return out
}

func verifyCluster(ctx context.Context, c *cluster.Client, st plan.ClusterState, changes []*plan.Change, perCluster int) error {
	mu := make(chan struct{}, 1)
	var diffs []string
	note := func(s string) {
		mu <- struct{}{}
		diffs = append(diffs, s)
		<-mu
	}
	invs, err := inventory.List(ctx, c.Client)
	if err != nil {
		return err
	}
	now := map[string]string{}
	for _, inv := range invs {
		now[object.Workspace(inv.LogicalCluster, inv.Workspace).String()] = inv.ResourceVersion
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
		return nil
	}
	sort.Strings(diffs)
	return fmt.Errorf("cluster %s changed since the plan was made; run tmc plan again:\n  %s", st.Name, strings.Join(diffs, "\n  "))
}

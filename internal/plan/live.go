package plan

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/object"
)

// listThreshold is the number of objects of one kind in one namespace from
// which reading them with one paged LIST beats one GET each.
const listThreshold = 8

// listPage is the LIST page size.
const listPage = 500

// prefetch reads the live objects of every (kind, namespace) group with at
// least listThreshold objects to plan, with paged LISTs. The result maps each
// such object to its live state (nil: absent); objects of smaller groups, or
// whose LIST failed, are missing from the map and are read with a GET.
type liveCache struct {
	mu   sync.Mutex
	objs map[object.ID]*unstructured.Unstructured
}

func (l *liveCache) get(id object.ID) (*unstructured.Unstructured, bool) {
	if l == nil {
		return nil, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	u, ok := l.objs[id]
	return u, ok
}

type groupKey struct{ apiVersion, kind, namespace string }

func prefetch(ctx context.Context, c *cluster.Client, ids []object.ID, limit int) *liveCache {
	groups := map[groupKey][]object.ID{}
	for _, id := range ids {
		k := groupKey{id.APIVersion(), id.Kind, id.Namespace}
		groups[k] = append(groups[k], id)
	}
	l := &liveCache{objs: map[object.ID]*unstructured.Unstructured{}}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(limit, 1))
	for k, members := range groups {
		if len(members) < listThreshold {
			continue
		}
		g.Go(func() error {
			found, err := listAll(gctx, c, k)
			if err != nil {
				return nil // fall back to GETs
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, id := range members {
				l.objs[id] = found[id.Name] // nil when absent
			}
			return nil
		})
	}
	_ = g.Wait()
	return l
}

func listAll(ctx context.Context, c *cluster.Client, k groupKey) (map[string]*unstructured.Unstructured, error) {
	out := map[string]*unstructured.Unstructured{}
	var opts []client.ListOption
	if k.namespace != "" {
		opts = append(opts, client.InNamespace(k.namespace))
	}
	gv, err := schema.ParseGroupVersion(k.apiVersion)
	if err != nil {
		return nil, err
	}
	err = c.ListPages(ctx, gv.WithKind(k.kind), listPage, opts, func(u *unstructured.Unstructured) { out[u.GetName()] = u })
	if err != nil {
		return nil, err
	}
	return out, nil
}

package syncer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kcp-dev/tmc/internal/cluster"
)

// watches keep one watch per (cluster, kind) of the objects tmc manages,
// so that a steady world costs no polling: an interval with no new revision
// and no event since the last successful reconcile skips the reconcile.
// Any event — a hand edit, a deletion, a status change that aggregation
// reports — or a broken watch marks the world dirty.
type watches struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	keys   map[watchKey]bool
	dirty  atomic.Bool
}

type watchKey struct {
	cluster string
	gvk     schema.GroupVersionKind
	// labels is the label selector of the watch: the workspace label for
	// what tmc manages, a live source's own selector for source objects.
	labels string
	// namespace narrows a source watch; "" watches every namespace.
	namespace string
}

// restart replaces the watches with one per key. It does not clear the
// dirty mark: the reconcile clears it before it reads, so an event that
// lands while it runs still counts. The old watches run until the new ones
// are established, so no event falls between them.
func (w *watches) restart(ctx context.Context, set *cluster.Set, keys map[watchKey]bool, logf func(string, ...any)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	old := w.cancel
	defer func() {
		if old != nil {
			old()
		}
	}()
	// A watch that did not run during the reconcile cannot vouch that
	// nothing changed between the reconcile's reads and its own start: a
	// new key marks the world dirty, which costs one more reconcile (then
	// the same watches keep running through it and the world settles).
	for k := range keys {
		if !w.keys[k] {
			w.dirty.Store(true)
			break
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	w.cancel, w.keys = cancel, keys
	// Each watch starts with a LIST: start them all at once, so that a slow
	// or dead cluster delays none of the others.
	var wg sync.WaitGroup
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.watch(wctx, set, k); err != nil {
				logf("watch %s on %s: %v (the next interval reconciles)", k.gvk.Kind, k.cluster, err)
				w.dirty.Store(true)
			}
		}()
	}
	wg.Wait()
}

func (w *watches) watch(ctx context.Context, set *cluster.Set, k watchKey) error {
	c, err := set.Get(k.cluster)
	if err != nil {
		return err
	}
	mapping, err := c.Client.RESTMapper().RESTMapping(k.gvk.GroupKind(), k.gvk.Version)
	if err != nil {
		return err
	}
	// The request timeout of the client would end every watch after seconds;
	// watches run for an hour instead (a closed watch costs one reconcile).
	cfg := rest.CopyConfig(c.Config)
	cfg.Timeout = 0
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
	if k.namespace != "" {
		ri = dyn.Resource(mapping.Resource).Namespace(k.namespace)
	}
	sel := metav1.ListOptions{LabelSelector: k.labels, Limit: 1}
	list, err := ri.List(ctx, sel)
	if err != nil {
		return err
	}
	sel.Limit, sel.ResourceVersion = 0, list.GetResourceVersion()
	hour := int64(3600)
	sel.TimeoutSeconds = &hour
	wi, err := ri.Watch(ctx, sel)
	if err != nil {
		return err
	}
	go func() {
		defer wi.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-wi.ResultChan():
				w.dirty.Store(true) // an event, or a closed watch: reconcile at the next interval
				if !ok {
					return
				}
			}
		}
	}()
	return nil
}

// stop ends every watch.
func (w *watches) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		w.cancel()
		w.cancel = nil
	}
	w.keys = nil
}

func (k watchKey) String() string { return fmt.Sprintf("%s/%s{%s}", k.cluster, k.gvk, k.labels) }

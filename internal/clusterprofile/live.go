package clusterprofile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// Hub reads ClusterProfiles of one namespace (a clusterset) of a cluster.
type Hub struct {
	// Namespace is the clusterset's namespace.
	Namespace string
	client    dynamic.Interface
	host      string
}

// NewHub reads the profiles of namespace on the cluster cfg reaches.
func NewHub(cfg *rest.Config, namespace string) (*Hub, error) {
	if namespace == "" {
		return nil, errors.New("cluster inventory: a namespace (the clusterset) is required")
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "tmc"
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Hub{Namespace: namespace, client: c, host: cfg.Host}, nil
}

// Source names the hub's namespace, for errors and explanations.
func (h *Hub) Source() string {
	return fmt.Sprintf("ClusterProfiles of namespace %s on %s", h.Namespace, h.host)
}

// pageSize keeps each LIST response small however large the fleet.
const pageSize = 250

// Read lists the namespace's profiles, paged, from the first served
// version. A profile tmc cannot use is left out and named in skipped.
func (h *Hub) Read(ctx context.Context) (profiles []*Profile, skipped []error, err error) {
	var lastErr error
	for _, v := range Versions {
		profiles, skipped, err = h.read(ctx, v)
		if err == nil {
			return profiles, skipped, nil
		}
		lastErr = err
		if !apierrors.IsNotFound(err) {
			break // only a version that is not served sends us to the next
		}
	}
	return nil, nil, fmt.Errorf("cluster inventory (%s): %w", h.Source(), lastErr)
}

func (h *Hub) read(ctx context.Context, version string) ([]*Profile, []error, error) {
	ri := h.client.Resource(Resource(version)).Namespace(h.Namespace)
	opts := metav1.ListOptions{Limit: pageSize}
	var out []*Profile
	var skipped []error
	for {
		list, err := ri.List(ctx, opts)
		if err != nil {
			return nil, nil, err
		}
		for i := range list.Items {
			raw, err := json.Marshal(list.Items[i].Object)
			if err != nil {
				return nil, nil, err
			}
			p, err := Decode(raw, h.Source())
			if err != nil {
				skipped = append(skipped, err)
				continue
			}
			out = append(out, p)
		}
		if opts.Continue = list.GetContinue(); opts.Continue == "" {
			break
		}
	}
	sortProfiles(out)
	return out, skipped, nil
}

// Watch calls changed whenever a profile of the namespace is added,
// changed or deleted, until ctx ends. A broken watch is started again
// after a pause; changed is also called then, since events may have been
// missed.
func (h *Hub) Watch(ctx context.Context, changed func(), logf func(string, ...any)) {
	backoff := time.Second
	for ctx.Err() == nil {
		err := h.watchOnce(ctx, changed)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			logf("cluster inventory watch (%s): %v; again in %s", h.Source(), err, backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
		changed()
	}
}

func (h *Hub) watchOnce(ctx context.Context, changed func()) error {
	var lastErr error
	for _, v := range Versions {
		ri := h.client.Resource(Resource(v)).Namespace(h.Namespace)
		list, err := ri.List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			lastErr = err
			if apierrors.IsNotFound(err) {
				continue
			}
			return err
		}
		w, err := ri.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion(), AllowWatchBookmarks: false})
		if err != nil {
			return err
		}
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case _, ok := <-w.ResultChan():
				if !ok {
					return errors.New("watch closed")
				}
				changed()
			}
		}
	}
	return lastErr
}

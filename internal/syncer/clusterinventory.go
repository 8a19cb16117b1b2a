package syncer

import (
	"context"
	"sync"
	"time"

	"github.com/kcp-dev/tmc/internal/clusterprofile"
	"github.com/kcp-dev/tmc/internal/engine"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/policy"
)

// Inventory is the operator's cluster inventory for tmc sync: the
// ClusterProfiles of a hub's namespace, watched, and the access providers
// that reach their clusters.
type Inventory struct {
	Hub       *clusterprofile.Hub
	Providers *clusterprofile.Providers
}

// inventoryState is what the syncer tracks of its inventory.
type inventoryState struct {
	cfg     *Inventory
	kick    chan struct{}
	mu      sync.Mutex // serializes reads (the loop and the first read)
	tracker clusterprofile.Tracker
	// under Syncer.mu:
	cur       *clusterprofile.Inventory
	key       string // clusterprofile.Key of cur
	loadedKey string // the key of the last load tried
	// good is the inventory the good policies were loaded with (clients
	// reach its clusters), goodKey its key.
	good    *clusterprofile.Inventory
	goodKey string
}

// readInventory reads the hub once and folds the read into the tracker
// (the removal rule); when what tmc uses of the inventory changed, the
// next interval loads the revision again with it and reconciles in full.
func (s *Syncer) readInventory(ctx context.Context) {
	inv := s.inv
	inv.mu.Lock()
	defer inv.mu.Unlock()
	_, h := s.intervals()
	inv.tracker.Grace = h
	read, skipped, err := inv.cfg.Hub.Read(ctx)
	if ctx.Err() != nil {
		return
	}
	for _, e := range skipped {
		s.opts.Logf("cluster inventory: %v (left out)", e)
	}
	switch {
	case err != nil:
		s.metrics.InventoryReads.WithLabelValues("error").Inc()
	case len(read) == 0:
		s.metrics.InventoryReads.WithLabelValues("empty").Inc()
	default:
		s.metrics.InventoryReads.WithLabelValues("success").Inc()
	}
	cur, note := inv.tracker.Observe(read, err, time.Now())
	if note != "" {
		s.opts.Logf("cluster inventory: %s", note)
		s.mu.Lock()
		s.noteErrorLocked("cluster inventory", note)
		s.mu.Unlock()
	}
	leaving, departing := inv.tracker.Leaving(), inv.tracker.Departing()
	s.metrics.InventoryClusters.WithLabelValues("present").Set(float64(len(cur) - len(departing)))
	s.metrics.InventoryClusters.WithLabelValues("leaving").Set(float64(len(leaving)))
	s.metrics.InventoryClusters.WithLabelValues("departing").Set(float64(len(departing)))
	key := clusterprofile.Key(cur)
	s.mu.Lock()
	changed := key != inv.key
	if changed {
		inv.cur = &clusterprofile.Inventory{Profiles: cur, Providers: inv.cfg.Providers}
		inv.key = key
	}
	s.mu.Unlock()
	if changed {
		s.opts.Logf("cluster inventory: %d clusters (%d leaving, %d departing)", len(cur)-len(departing), len(leaving), len(departing))
		s.Trigger()
	}
}

// inventoryLoop reads the inventory at every health interval and at once
// when the watch sees a profile change.
func (s *Syncer) inventoryLoop(ctx context.Context) {
	go s.inv.cfg.Hub.Watch(ctx, func() {
		select {
		case s.inv.kick <- struct{}{}:
		default:
		}
	}, s.opts.Logf)
	for {
		_, h := s.intervals()
		t := time.NewTimer(h)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-s.inv.kick:
			t.Stop()
		}
		s.readInventory(ctx)
	}
}

// loadOptions are the policy load's options: the inventory's clusters.
func (s *Syncer) loadOptionsLocked() (policy.LoadOptions, string, *clusterprofile.Inventory) {
	if s.inv == nil || s.inv.cur == nil {
		return policy.LoadOptions{}, "", nil
	}
	return policy.LoadOptions{Inventory: s.inv.cur.Clusters()}, s.inv.key, s.inv.cur
}

// inventoryChangedLocked reports whether the inventory changed since the
// good policies were loaded.
func (s *Syncer) inventoryChangedLocked() bool {
	return s.inv != nil && s.inv.key != s.inv.loadedKey
}

// forgetPruned forgets the departing clusters a full, applied reconcile
// reached and left with nothing of tmc's: every change planned there was a
// deletion, and each was carried out.
func (s *Syncer) forgetPruned(out *engine.Outcome) {
	if s.inv == nil || out.Plan == nil || !out.Applied {
		return
	}
	s.inv.mu.Lock()
	defer s.inv.mu.Unlock()
	departing := s.inv.tracker.Departing()
	if len(departing) == 0 {
		return
	}
	reached := map[string]bool{}
	for _, c := range out.Plan.Clusters {
		reached[c.Name] = c.Reachable
	}
	clean := map[string]bool{}
	for _, d := range departing {
		clean[d] = reached[d]
	}
	for _, ch := range out.Plan.Changes {
		if !clean[ch.Cluster] {
			continue
		}
		if ch.Action != plan.Delete || !out.Done[ch.Key()] {
			clean[ch.Cluster] = false
		}
	}
	forgot := false
	for _, d := range departing {
		if clean[d] {
			s.opts.Logf("cluster inventory: %s departed and holds nothing of tmc's any more: forgotten", d)
			s.inv.tracker.Forget(d)
			forgot = true
		}
	}
	if forgot {
		s.mu.Lock()
		s.inv.key = "" // the next read publishes the inventory without them
		s.mu.Unlock()
		select {
		case s.inv.kick <- struct{}{}:
		default:
		}
	}
}

package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
	"github.com/kcp-dev/tmc/internal/shard"
	"github.com/kcp-dev/tmc/internal/status"
)

// shardState is what a sharded syncer keeps of the last share it worked on.
type shardState struct {
	elsewhere map[string]bool    // workspaces of the revision other replicas own
	gone      bool               // this replica prunes what git dropped
	probe     *policy.Policies   // the policies of its share: the clusters it probes
	weights   map[string]float64 // measured: target clusters × objects
}

// candidates are the clusters a workspace may target or read, known
// without facts: named in its placement or matching its selector (every
// cluster when neither is set), and its source clusters.
func candidates(p *policy.Policies, w *policy.VirtualWorkspace) map[string]bool {
	out := map[string]bool{}
	pl := w.Spec.Placement
	var sel labels.Selector
	if pl.ClusterSelector != nil {
		sel, _ = pl.ClusterSelector.Selector()
	}
	for _, c := range p.Clusters {
		name := c.Metadata.Name
		if slices.Contains(pl.Clusters, name) || (sel != nil && sel.Matches(labels.Set(c.Metadata.Labels))) || (len(pl.Clusters) == 0 && sel == nil) {
			out[name] = true
		}
	}
	for _, src := range w.Spec.Sources {
		if src.Cluster != "" {
			out[src.Cluster] = true
		}
	}
	return out
}

// units are the revision's workspaces with their weights: measured when
// this replica reconciled them (the table's, from their owners, win in the
// coordinator), else the number of clusters they may target.
func (s *Syncer) units(p *policy.Policies) []shard.Unit {
	out := make([]shard.Unit, 0, len(p.Workspaces))
	for _, w := range p.Workspaces {
		key := object.Workspace(w.Spec.LogicalCluster, w.Metadata.Name).String()
		wt := s.shard.weights[key]
		if wt == 0 {
			wt = float64(max(1, len(candidates(p, w))))
		}
		out = append(out, shard.Unit{Key: key, Weight: wt})
	}
	return out
}

// sharePolicies is p narrowed to this replica's share: its workspaces, and
// only the clusters they may target (every cluster when it prunes what
// git dropped), so that it connects to, probes and watches no other.
func sharePolicies(p *policy.Policies, owned map[string]bool) (*policy.Policies, map[string]bool) {
	pp := *p
	pp.Workspaces = nil
	elsewhere := map[string]bool{}
	clusters := map[string]bool{}
	for _, w := range p.Workspaces {
		key := object.Workspace(w.Spec.LogicalCluster, w.Metadata.Name).String()
		if !owned[key] {
			elsewhere[key] = true
			continue
		}
		pp.Workspaces = append(pp.Workspaces, w)
		maps.Copy(clusters, candidates(p, w))
	}
	if !owned[shard.GoneUnit] {
		pp.Clusters = nil
		for _, c := range p.Clusters {
			if clusters[c.Metadata.Name] {
				pp.Clusters = append(pp.Clusters, c)
			}
		}
	}
	return &pp, elsewhere
}

// clusterKey fingerprints the clusters of a tree (the cluster clients are
// made again when the share's clusters change).
func clusterKey(p *policy.Policies) string {
	h := sha256.New()
	for _, c := range p.Clusters {
		h.Write([]byte(c.Metadata.Name + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// takeShare narrows the revision to this replica's share for one
// reconcile: the policies, the workspaces left to others, a context that
// ends when the replica may no longer work (fencing), and a func to call
// when the reconcile ends (the hand-over of a unit waits for it). The
// policies are nil when the replica owns nothing now.
func (s *Syncer) takeShare(ctx context.Context, p *policy.Policies) (*policy.Policies, context.Context, func()) {
	co := s.opts.Shard
	co.SetUnits(s.units(p))
	owned, fence := co.Begin()
	if fence.Err() != nil || len(owned) == 0 {
		co.End(owned)
		_, elsewhere := sharePolicies(p, nil)
		s.mu.Lock()
		s.shard.elsewhere, s.shard.gone, s.shard.probe = elsewhere, false, nil
		s.dropElsewhereLocked(owned, elsewhere)
		s.mu.Unlock()
		return nil, ctx, func() {} // nothing of ours now (or the Lease lapsed): no reconcile
	}
	pp, elsewhere := sharePolicies(p, owned)
	rctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(fence, cancel)
	s.mu.Lock()
	s.shard.elsewhere, s.shard.gone, s.shard.probe = elsewhere, owned[shard.GoneUnit], pp
	s.dropElsewhereLocked(owned, elsewhere)
	s.mu.Unlock()
	return pp, rctx, func() {
		stop()
		cancel()
		co.End(owned)
	}
}

// dropElsewhereLocked forgets the statuses and metrics of the workspaces
// other replicas own (theirs to report now) and marks this replica's own.
func (s *Syncer) dropElsewhereLocked(owned, elsewhere map[string]bool) {
	for key := range s.statuses {
		if elsewhere[key] {
			name := s.statuses[key].Name
			delete(s.statuses, key)
			delete(s.views, key)
			delete(s.rendered, key)
			s.forgetWorkspaceLocked(name)
		}
	}
	s.updateWorkspaceMetricsLocked()
}

// ShardChanged is told by the coordinator that this replica's units
// changed: tmc_shard_owned follows at once (a unit given back is no longer
// shown before another replica can claim it), and a reconcile runs.
func (s *Syncer) ShardChanged() {
	if co := s.opts.Shard; co != nil {
		owned := co.Owned()
		s.mu.Lock()
		for key := range s.shownOwned {
			if !owned[key] {
				lc, name, _ := strings.Cut(key, "/")
				s.metrics.ShardOwned.DeleteLabelValues(lc, name)
			}
		}
		s.shownOwned = map[string]bool{}
		for key := range owned {
			if key == shard.GoneUnit {
				continue
			}
			lc, name, _ := strings.Cut(key, "/")
			s.metrics.ShardOwned.WithLabelValues(lc, name).Set(1)
			s.shownOwned[key] = true
		}
		s.mu.Unlock()
	}
	s.Trigger()
}

// noteShareReconciled counts a reconcile of each workspace of the share and
// records their measured weights in the table.
func (s *Syncer) noteShareReconciled(ctx context.Context, r *render.Result) {
	if s.opts.Shard == nil || r == nil {
		return
	}
	weights := map[string]float64{}
	for _, ws := range r.Workspaces {
		s.metrics.ShardReconciles.WithLabelValues(ws.LogicalCluster, ws.Name).Inc()
		objects := 0
		for _, c := range ws.Clusters {
			objects += len(c.Objects)
		}
		weights[object.Workspace(ws.LogicalCluster, ws.Name).String()] = float64(max(1, objects))
	}
	s.mu.Lock()
	if s.shard.weights == nil {
		s.shard.weights = map[string]float64{}
	}
	maps.Copy(s.shard.weights, weights)
	s.mu.Unlock()
	if err := s.opts.Shard.SetWeights(ctx, weights); err != nil {
		s.opts.Logf("shard: recording weights: %v", err)
	}
}

// updateShardMetrics sets tmc_unowned_workspaces and tmc_shard_replicas from the fleet view.
func (s *Syncer) updateShardMetrics() {
	if s.opts.Shard == nil {
		return
	}
	v := s.opts.Shard.View()
	unowned := 0
	for _, k := range v.Unowned {
		if k != shard.GoneUnit {
			unowned++
		}
	}
	s.metrics.UnownedWorkspaces.Set(float64(unowned))
	live := 0
	for _, r := range v.Replicas {
		if r.Live {
			live++
		}
	}
	s.metrics.ShardReplicas.Set(float64(live))
}

// shardLoop keeps the shard metrics current.
func (s *Syncer) shardLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		s.updateShardMetrics()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// FleetStatuses is Statuses over the whole fleet when the syncer is
// sharded: its own workspaces, each other live replica's as that replica's
// status API says (asked at once, within two seconds), and the workspaces
// nobody owns — each with its owner, so that no page shows a status that
// no replica vouches for.
func (s *Syncer) FleetStatuses(ctx context.Context) status.Report {
	rep := s.Statuses()
	co := s.opts.Shard
	if co == nil {
		return rep
	}
	me := co.Identity()
	v := co.View()
	have := map[string]bool{}
	mine := rep.Workspaces[:0]
	for _, w := range rep.Workspaces {
		key := object.Workspace(w.LogicalCluster, w.Name).String()
		if o, listed := v.Owners[key]; listed && o != me {
			continue // the table gives it to another: not ours to report
		}
		w.Owner = me
		mine = append(mine, w)
		have[key] = true
	}
	rep.Workspaces = mine
	type answer struct {
		id  string
		ws  []status.Workspace
		err error
	}
	var mu sync.Mutex
	var answers []answer
	var wg sync.WaitGroup
	for _, r := range v.Replicas {
		if r.Identity == me || !r.Live || r.Owned == 0 || r.Address == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, err := fetchLocal(ctx, r.Address)
			mu.Lock()
			answers = append(answers, answer{r.Identity, ws, err})
			mu.Unlock()
		}()
	}
	wg.Wait()
	answered := map[string]bool{}
	for _, a := range answers {
		if a.err != nil {
			continue
		}
		answered[a.id] = true
		for _, w := range a.ws {
			key := object.Workspace(w.LogicalCluster, w.Name).String()
			if v.Owners[key] != a.id || have[key] {
				continue // what the table does not give it is not its to report
			}
			w.Owner = a.id
			rep.Workspaces = append(rep.Workspaces, w)
			have[key] = true
		}
	}
	for _, key := range slices.Sorted(maps.Keys(v.Owners)) {
		if key == shard.GoneUnit || have[key] {
			continue
		}
		lc, name, _ := strings.Cut(key, "/")
		w := status.Workspace{Name: name, LogicalCluster: lc, Phase: status.Pending, Owner: v.Owners[key]}
		switch owner := v.Owners[key]; {
		case owner == "":
			w.Message = "no live replica owns this workspace: it is being handed over (tmc_unowned_workspaces counts it)"
		case !answered[owner]:
			w.Message = fmt.Sprintf("owned by replica %s, whose status API did not answer", owner)
		default:
			w.Message = fmt.Sprintf("owned by replica %s, which has not reported it yet", owner)
		}
		rep.Workspaces = append(rep.Workspaces, w)
	}
	slices.SortFunc(rep.Workspaces, func(a, b status.Workspace) int {
		return strings.Compare(object.Workspace(a.LogicalCluster, a.Name).String(), object.Workspace(b.LogicalCluster, b.Name).String())
	})
	return rep
}

var fleetClient = &http.Client{Timeout: 2 * time.Second}

func fetchLocal(ctx context.Context, address string) ([]status.Workspace, error) {
	if !strings.Contains(address, "://") {
		address = "http://" + address
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(address, "/")+"/api/v1/workspaces?local=true", nil)
	if err != nil {
		return nil, err
	}
	resp, err := fleetClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", address, resp.Status)
	}
	var body struct {
		Workspaces []status.Workspace `json:"workspaces"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 32<<20)).Decode(&body); err != nil {
		return nil, err
	}
	return body.Workspaces, nil
}

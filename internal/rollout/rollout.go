// Package rollout decides, for one workspace and one revision, where a
// rollout stands and which clusters may take the revision now. It is a
// pure function of what is on the clusters (the plan: which clusters hold
// the revision; the inventories: when it was applied there; the last
// aggregated view: whether its objects are healthy) and of git (the waves),
// so a restart, a leader hand-over or a CI job continues the same rollout
// from where it stands, without a database.
package rollout

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
)

// Cluster is what is known of one target cluster of the rolling workspace.
type Cluster struct {
	Name string
	// AtRevision is set when the plan holds no change for the workspace
	// there: the cluster holds the revision.
	AtRevision bool
	// Took is set when the cluster's inventory records the revision: an
	// apply of it changed something there, at Updated.
	Took    bool
	Updated time.Time
	// Healthy is set when every aggregated instance of the workspace there
	// is healthy, as read after the cluster's last apply; Reachable when
	// the run reached it.
	Healthy, Reachable bool
	// Weight is the cluster's aggregationWeight (for Weighted gates).
	Weight float64
	// Previous is the revision the cluster held before this one, as its
	// inventory records it ("" when unknown); RolledBack is set when the
	// cluster went back from this revision to it (a Rollback ran).
	Previous   string
	RolledBack bool
}

// Rollback is a cluster to put back on the revision it held before.
type Rollback struct {
	Cluster  string `json:"cluster"`
	Revision string `json:"revision"`
}

// Input is one decision's facts.
type Input struct {
	Revision string
	Waves    []render.Wave
	Clusters map[string]Cluster
	Now      time.Time
	// Approved holds the waves whose manual gate a person lifted for this revision.
	Approved map[string]bool
	// OnFailure is the rollout's failure mode.
	OnFailure policy.RolloutFailure
}

// State is where a rollout stands.
type State string

// The states of a rollout and of a wave.
const (
	// Waiting: a wave waits for its window or its manual gate.
	Waiting State = "Waiting"
	// Progressing: a wave takes the revision or waits for its gate.
	Progressing State = "Progressing"
	// Baking: a wave is healthy and bakes before the next one starts.
	Baking State = "Baking"
	// Halted: a wave's gate did not hold within its timeout.
	Halted State = "Halted"
	// Complete: every wave holds the revision, healthy and baked.
	Complete State = "Complete"
	// Pending: a wave after the current one.
	Pending State = "Pending"
	// Done: a wave before the current one.
	Done State = "Done"
)

// Wave is one wave's standing.
type Wave struct {
	Name     string   `json:"name"`
	Clusters []string `json:"clusters"`
	State    State    `json:"state"`
	Message  string   `json:"message,omitempty"`
	// AtRevision and Healthy count the wave's clusters holding the
	// revision, and those of them healthy.
	AtRevision int `json:"atRevision"`
	Healthy    int `json:"healthy"`
	// LastApply is the newest apply of the revision on the wave's clusters (RFC 3339).
	LastApply string `json:"lastApply,omitempty"`
}

// Decision is where the rollout stands and what may be applied now.
type Decision struct {
	Revision string `json:"revision"`
	State    State  `json:"state"`
	// Wave is the current wave's name ("" when complete), Index its position.
	Wave    string `json:"wave,omitempty"`
	Index   int    `json:"index"`
	Message string `json:"message,omitempty"`
	// Apply are the clusters that may be applied now: every cluster of the
	// waves before the current one, and the current wave's clusters that
	// hold the revision or take it in this step.
	Apply []string `json:"-"`
	// Failing are the clusters of a halted wave that fail its gate.
	Failing []string `json:"failing,omitempty"`
	// Rollback lists, for a halted rollout with onFailure: Rollback, the
	// clusters that took the failed revision and the revision each held
	// before; the caller puts it back. RolledBack are those already back.
	Rollback   []Rollback `json:"rollback,omitempty"`
	RolledBack []string   `json:"rolledBack,omitempty"`
	Waves      []Wave     `json:"waves"`
	// RetryAfter is when the decision may change without an event (a bake
	// or a window ends, a timeout passes); 0 when only an event changes it.
	RetryAfter time.Duration `json:"-"`
}

// DefaultTimeout bounds a wave's gate when the wave sets no timeout.
const DefaultTimeout = 10 * time.Minute

// Decide walks the waves in order: a wave is done when all its clusters
// hold the revision, its gate holds and it has baked; the first wave that
// is not done is the current one, and only it (and the waves before it)
// may be applied.
func Decide(in Input) Decision {
	d := Decision{Revision: in.Revision, State: Complete, Index: len(in.Waves)}
	current := -1
	for i, w := range in.Waves {
		ws := Wave{Name: w.Name, Clusters: w.Clusters, State: Pending}
		if current >= 0 {
			d.Waves = append(d.Waves, ws)
			continue
		}
		st, msg, apply, failing, retry := step(in, w, &ws)
		ws.State, ws.Message = st, msg
		d.Waves = append(d.Waves, ws)
		d.Apply = append(d.Apply, apply...)
		if st == Done {
			continue
		}
		current = i
		d.State, d.Wave, d.Index, d.Message, d.Failing, d.RetryAfter = st, w.Name, i, msg, failing, retry
		if st == Halted {
			rollbackOf(in, w, &d)
		}
	}
	if current < 0 {
		d.Message = fmt.Sprintf("every wave holds revision %s", short(in.Revision))
	}
	slices.Sort(d.Apply)
	d.Apply = slices.Compact(d.Apply)
	return d
}

// step judges one wave; it returns the wave's state and message, the
// clusters of it that may be applied, those failing its gate and when to
// look again.
func step(in Input, w render.Wave, ws *Wave) (State, string, []string, []string, time.Duration) {
	spec := w.Spec
	if spec == nil {
		spec = &policy.Wave{}
	}
	if len(w.Clusters) == 0 {
		return Done, "no target cluster", nil, nil, 0
	}
	var back []string
	for _, name := range w.Clusters {
		if in.Clusters[name].RolledBack {
			back = append(back, name)
		}
	}
	if len(back) > 0 {
		// A wave rolled back stays halted at the previous revision until a
		// new commit: nothing of the wave takes this revision again.
		var at []string
		for _, name := range w.Clusters {
			if in.Clusters[name].AtRevision && !in.Clusters[name].RolledBack {
				at = append(at, name)
			}
		}
		return Halted, fmt.Sprintf("wave %s failed at revision %s; %s rolled back to the revision before", w.Name, short(in.Revision), strings.Join(back, ", ")), at, back, 0
	}
	var at, healthy, pending, unhealthyAt []string
	var last time.Time
	took := false
	for _, name := range w.Clusters {
		c := in.Clusters[name]
		if c.Took {
			took = true
			if c.Updated.After(last) {
				last = c.Updated
			}
		}
		if !c.AtRevision || !c.Reachable {
			pending = append(pending, name)
			continue
		}
		at = append(at, name)
		if c.Healthy {
			healthy = append(healthy, name)
		} else {
			unhealthyAt = append(unhealthyAt, name)
		}
	}
	ws.AtRevision, ws.Healthy = len(at), len(healthy)
	if !last.IsZero() {
		ws.LastApply = last.UTC().Format(time.RFC3339)
	}
	timeout := DefaultTimeout
	if spec.Timeout != "" {
		timeout = policy.Duration(spec.Timeout)
	}
	expired := took && in.Now.Sub(last) > timeout
	failing := func() []string {
		var out []string
		for _, n := range w.Clusters {
			if !slices.Contains(healthy, n) {
				out = append(out, n)
			}
		}
		return out
	}
	if len(pending) > 0 {
		if !took && len(at) == 0 {
			// The wave has not started: its window and manual gate hold it.
			if spec.Window != nil {
				if ow, err := spec.Window.Parse(); err == nil && !ow.Open(in.Now) {
					next := ow.Next(in.Now)
					return Waiting, fmt.Sprintf("wave %s waits for its window (opens %s)", w.Name, next.Format(time.RFC3339)), nil, nil, next.Sub(in.Now)
				}
			}
			if spec.ManualGate && !in.Approved[w.Name] {
				return Waiting, fmt.Sprintf("wave %s waits for its manual gate: tmc rollout resume WORKSPACE --wave %s", w.Name, w.Name), nil, nil, 0
			}
		}
		if expired && len(unhealthyAt) > spec.MaxFailures {
			return Halted, fmt.Sprintf("wave %s: %s not healthy at revision %s %s after its last apply", w.Name, strings.Join(failing(), ", "), short(in.Revision), timeout), at, failing(), 0
		}
		conc := policy.OfCount(spec.MaxConcurrency, len(w.Clusters), len(w.Clusters))
		unavail := policy.OfCount(spec.MaxUnavailable, len(w.Clusters), conc)
		n := min(conc, unavail) - len(unhealthyAt)
		batch := pending[:max(0, min(n, len(pending)))]
		msg := fmt.Sprintf("wave %s: %d of %d clusters hold revision %s (%d healthy)", w.Name, len(at), len(w.Clusters), short(in.Revision), len(healthy))
		if len(batch) > 0 {
			msg += "; applying to " + strings.Join(batch, ", ")
		}
		return Progressing, msg, append(at, batch...), nil, retryBefore(took, last, timeout, in.Now)
	}
	if !gate(spec, in, w.Clusters, healthy) {
		if expired {
			return Halted, fmt.Sprintf("wave %s: %s not healthy at revision %s %s after its last apply", w.Name, strings.Join(failing(), ", "), short(in.Revision), timeout), at, failing(), 0
		}
		return Progressing, fmt.Sprintf("wave %s holds revision %s; waiting for it to be healthy (%d of %d)", w.Name, short(in.Revision), len(healthy), len(w.Clusters)), at, nil, retryBefore(took, last, timeout, in.Now)
	}
	if spec.BakeTime != "" && took {
		if until := last.Add(policy.Duration(spec.BakeTime)); in.Now.Before(until) {
			return Baking, fmt.Sprintf("wave %s is healthy at revision %s; baking until %s", w.Name, short(in.Revision), until.UTC().Format(time.RFC3339)), at, nil, until.Sub(in.Now)
		}
	}
	return Done, fmt.Sprintf("healthy at revision %s", short(in.Revision)), at, nil, 0
}

// rollbackOf lists, for a halted wave of a rollout that rolls back, the
// clusters that took the failed revision and what each held before.
func rollbackOf(in Input, w render.Wave, d *Decision) {
	if in.OnFailure != policy.RolloutRollback {
		return
	}
	for _, name := range w.Clusters {
		c := in.Clusters[name]
		switch {
		case c.RolledBack:
			d.RolledBack = append(d.RolledBack, name)
		case c.Took && c.Previous != "" && c.Previous != in.Revision:
			d.Rollback = append(d.Rollback, Rollback{Cluster: name, Revision: c.Previous})
		}
	}
}

// retryBefore is when a wave waiting for health must be judged again
// without an event: when its timeout passes.
func retryBefore(took bool, last time.Time, timeout time.Duration, now time.Time) time.Duration {
	if !took {
		return 0
	}
	return max(last.Add(timeout).Sub(now), time.Second)
}

// gate is the wave's rule over its healthy clusters: All (allowing
// maxFailures), Majority, or Weighted by aggregationWeight.
func gate(spec *policy.Wave, in Input, clusters, healthy []string) bool {
	switch spec.Health {
	case policy.HealthMajority:
		return 2*len(healthy) > len(clusters)
	case policy.HealthWeighted:
		var total, ok float64
		for _, n := range clusters {
			w := in.Clusters[n].Weight
			total += w
			if slices.Contains(healthy, n) {
				ok += w
			}
		}
		return total == 0 || 2*ok > total
	}
	return len(healthy) >= len(clusters)-spec.MaxFailures
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// Facts gathers a decision's input for one workspace from a run: the
// plan (which clusters hold the revision: no change pending for the
// workspace there; when an apply of it changed something there, from the
// inventory), the last aggregated view (whether the workspace's objects are
// healthy there, read after that apply) and the policies (weights).
func Facts(p *policy.Policies, ws *render.Workspace, pl *plan.Plan, view *aggregate.WorkspaceView, now time.Time) Input {
	key := object.Workspace(ws.LogicalCluster, ws.Name).String()
	in := Input{Revision: pl.Revision, Waves: ws.Waves, Clusters: map[string]Cluster{}, Now: now, Approved: map[string]bool{}}
	if ro := ws.Policy.Spec.Rollout; ro != nil {
		in.OnFailure = ro.OnFailure
	}
	pending := map[string]bool{}
	for _, ch := range pl.Changes {
		if ch.Workspace == ws.Name && ch.LogicalCluster == ws.LogicalCluster && (ch.Action == plan.Create || ch.Action == plan.Update || ch.Action == plan.Delete || ch.Error != "") {
			pending[ch.Cluster] = true
		}
	}
	states := map[string]plan.ClusterState{}
	for _, c := range pl.Clusters {
		states[c.Name] = c
	}
	aggregated := view != nil && len(view.AggregatedResources) > 0
	for _, d := range ws.Targets() {
		st, planned := states[d.Cluster]
		c := Cluster{Name: d.Cluster, Reachable: planned && st.Reachable, Weight: 1}
		if pc := p.Cluster(d.Cluster); pc != nil && pc.Spec.AggregationWeight != nil {
			c.Weight = *pc.Spec.AggregationWeight
		}
		c.AtRevision = c.Reachable && !pending[d.Cluster]
		if a, ok := st.Applied[key]; ok {
			c.Updated, _ = time.Parse(time.RFC3339, a.Updated)
			c.Took = a.Revision != "" && a.Revision == pl.Revision
			c.Previous = a.Previous
			// Put back from this revision: the inventory's last change
			// replaced it with the one before.
			c.RolledBack = pl.Revision != "" && a.Previous == pl.Revision && a.Revision != pl.Revision
			for _, rw := range a.Approved {
				if rev, w, ok := strings.Cut(rw, "/"); ok && rev == pl.Revision {
					in.Approved[w] = true
				}
			}
		}
		c.Healthy = c.AtRevision && (len(ws.Policy.Spec.AggregationPolicies) == 0 || (aggregated && healthyOn(view, d.Cluster, c.Updated)))
		in.Clusters[d.Cluster] = c
	}
	return in
}

// ViewOf picks the workspace's view among views (nil when there is none).
func ViewOf(views []*aggregate.WorkspaceView, ws *render.Workspace) *aggregate.WorkspaceView {
	for _, v := range views {
		if v.Workspace == ws.Name && v.LogicalCluster == ws.LogicalCluster {
			return v
		}
	}
	return nil
}

// healthyOn reports whether every aggregated instance on cluster is
// healthy in a view read after the cluster's last apply.
func healthyOn(v *aggregate.WorkspaceView, cluster string, applied time.Time) bool {
	if v.AggregatedAt.Before(applied) {
		return false // read before the revision was applied there
	}
	for _, k := range v.AggregatedResources {
		for _, r := range k.Resources {
			for _, o := range r.Clusters {
				if o.Cluster == cluster && o.Health != aggregate.Healthy {
					return false
				}
			}
		}
	}
	return true
}

// Summary is the decision as a report shows it (no times that change
// without the rollout moving, so an unchanged rollout makes no report commit).
func (d *Decision) Summary() *aggregate.RolloutSummary {
	out := &aggregate.RolloutSummary{Revision: d.Revision, State: string(d.State), Wave: d.Wave, Message: d.Message, Waves: []aggregate.RolloutWaveSummary{}}
	for _, w := range d.Waves {
		out.Waves = append(out.Waves, aggregate.RolloutWaveSummary{Name: w.Name, Clusters: w.Clusters, State: string(w.State), AtRevision: w.AtRevision, Healthy: w.Healthy})
	}
	return out
}

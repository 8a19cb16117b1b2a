package syncer

import (
	"fmt"
	"strings"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/engine"
	"github.com/kcp-dev/tmc/internal/notify"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/rollout"
	"github.com/kcp-dev/tmc/internal/status"
)

// notified is what the notifications last said, so that each event is
// sent once when it happens, not every interval while a state lasts.
type notified struct {
	rejected string            // the last rejected revision
	applied  map[string]string // workspace → revision last announced applied
	inError  map[string]bool   // workspace → announced in Error
	down     map[string]bool   // cluster → announced unreachable
	waves    map[string]string // workspace/revision/wave → state announced
}

// sendLocked sends an event with URL credentials and query strings removed
// from its message and errors: every event passes here, whatever quotes it.
func (s *Syncer) sendLocked(ev notify.Event) {
	ev.Message = redactString(ev.Message)
	if ev.Errors != nil {
		errs := make([]string, len(ev.Errors))
		for i, e := range ev.Errors {
			errs[i] = redactString(e)
		}
		ev.Errors = errs
	}
	if s.onEvent != nil {
		s.onEvent(ev)
	}
	if s.notifier == nil {
		return
	}
	s.notifier.Send(ev)
}

func (s *Syncer) noteState() *notified {
	if s.said == nil {
		s.said = &notified{applied: map[string]string{}, inError: map[string]bool{}, down: map[string]bool{}, waves: map[string]string{}}
	}
	return s.said
}

// rejectedLocked announces a revision that failed validation, once.
func (s *Syncer) rejectedLocked(rev string, err error) {
	n := s.noteState()
	if rev == "" || n.rejected == rev {
		return
	}
	n.rejected = rev
	msg := err.Error()
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	s.sendLocked(notify.Event{Key: notify.NewKey(notify.RevisionRejected, rev), Type: notify.RevisionRejected, Revision: rev,
		Message: lines[0], Errors: lines})
}

// outcomeEventsLocked announces what a reconcile's outcome changed: a
// revision applied to a workspace (once per revision), a workspace
// entering or leaving Error.
func (s *Syncer) outcomeEventsLocked(out *engine.Outcome) {
	n := s.noteState()
	for key, res := range out.Workspaces {
		w, ok := s.statuses[key]
		if !ok || w.Phase != status.Active || n.applied[key] == out.Revision || out.Revision == "" {
			continue
		}
		n.applied[key] = out.Revision
		ev := notify.Event{Key: notify.NewKey(notify.RevisionApplied, key, out.Revision), Type: notify.RevisionApplied, Revision: out.Revision, Workspace: key,
			Clusters: len(w.TargetClusters), Converged: len(w.TargetClusters)}
		if res.Plan != nil {
			sum := res.Plan.Summary
			ev.Counts = &notify.Counts{Create: sum.Create, Update: sum.Update, Delete: sum.Delete, Unchanged: sum.Unchanged}
		}
		ev.Message = fmt.Sprintf("revision %s applied: %d/%d clusters converged", short(out.Revision), ev.Converged, ev.Clusters)
		if ev.Counts != nil {
			ev.Message += fmt.Sprintf(" (%d created, %d updated, %d deleted)", ev.Counts.Create, ev.Counts.Update, ev.Counts.Delete)
		}
		s.sendLocked(ev)
	}
	s.phaseEventsLocked()
}

// phaseEventsLocked announces workspaces entering and leaving Error.
func (s *Syncer) phaseEventsLocked() {
	n := s.noteState()
	for key, w := range s.statuses {
		bad := w.Phase == status.Error
		if bad == n.inError[key] {
			continue
		}
		n.inError[key] = bad
		typ, msg := notify.WorkspaceRecovered, "workspace is "+w.Phase+" again"
		if bad {
			typ, msg = notify.WorkspaceError, w.Message
		}
		ev := notify.Event{Key: notify.NewKey(typ, key, s.goodRev, w.Message), Type: typ, Revision: s.goodRev, Workspace: key, Message: msg}
		if !bad {
			ev.Clusters = len(w.TargetClusters)
			if w.Phase == status.Active {
				ev.Converged = ev.Clusters
			}
		}
		s.sendLocked(ev)
	}
}

// clusterEventLocked announces a cluster going away or coming back, once.
func (s *Syncer) clusterEventLocked(name string, err error, at string) {
	n := s.noteState()
	down := err != nil
	if down == n.down[name] {
		return
	}
	n.down[name] = down
	typ, msg := notify.ClusterBack, "cluster "+name+" is reachable and healthy again"
	if down {
		typ, msg = notify.ClusterUnreachable, "cluster "+name+" is unreachable or unhealthy: "+err.Error()
	}
	s.sendLocked(notify.Event{Key: notify.NewKey(typ, name, at), Type: typ, Cluster: name, Message: msg})
}

// driftEventLocked announces one drift record of a workspace.
func (s *Syncer) driftEventLocked(key string, d aggregate.DriftRecord) {
	typ, what := notify.DriftReported, "reported, left as is"
	if d.Corrected {
		typ, what = notify.DriftCorrected, "reverted to git"
	}
	s.sendLocked(notify.Event{Key: notify.NewKey(typ, key, d.Cluster, d.Object, d.Manager, d.Time), Type: typ, Workspace: key, Cluster: d.Cluster, Object: d.Object,
		Manager: d.Manager, Revision: s.goodRev, Message: fmt.Sprintf("%s on %s was edited by %s at %s: %s", d.Object, d.Cluster, d.Manager, d.Time, what)})
}

// waveEventsLocked announces waves starting, completing and halting.
func (s *Syncer) waveEventsLocked(key string, d *rollout.Decision) {
	n := s.noteState()
	for _, w := range d.Waves {
		id := key + "/" + d.Revision + "/" + w.Name
		var typ string
		switch w.State {
		case rollout.Progressing, rollout.Baking:
			if n.waves[id] == "" {
				typ = notify.WaveStarted
			}
		case rollout.Complete:
			if n.waves[id] != string(rollout.Complete) && n.waves[id] != "" {
				typ = notify.WaveCompleted
			}
		case rollout.Halted:
			if n.waves[id] != string(rollout.Halted) {
				typ = notify.WaveHalted
			}
		}
		if w.State == rollout.Complete && n.waves[id] == "" {
			n.waves[id] = string(rollout.Complete) // complete when first seen: already announced, or before tmc started
			continue
		}
		if typ == "" {
			continue
		}
		n.waves[id] = string(w.State)
		msg := w.Message
		if msg == "" {
			msg = fmt.Sprintf("wave %s: %d/%d clusters at revision %s, %d healthy", w.Name, w.AtRevision, len(w.Clusters), short(d.Revision), w.Healthy)
		}
		s.sendLocked(notify.Event{Key: notify.NewKey(typ, id), Type: typ, Workspace: key, Revision: d.Revision, Wave: w.Name, Message: msg})
	}
}

// routesOf are the repo's notification routes: provider names only.
func routesOf(c policy.ConfigSpec) []notify.Route {
	var out []notify.Route
	for _, r := range c.Notifications {
		out = append(out, notify.Route{Provider: r.Provider, Events: r.Events, Workspaces: r.Workspaces})
	}
	return out
}

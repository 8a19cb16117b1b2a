package syncer

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/status"
)

// WorkspacesResponse is the body of /api/v1/workspaces.
type WorkspacesResponse struct {
	status.Report
	// FailedRevision is the newest revision, when it failed to load; RevisionError says why.
	FailedRevision string `json:"failedRevision,omitempty"`
	RevisionError  string `json:"revisionError,omitempty"`
	// InventoryError says why the cluster inventory's newest change was not
	// taken: the good revision does not validate with it (a repo Cluster
	// conflicts with a new profile); tmc goes on with the clusters it had.
	InventoryError string `json:"inventoryError,omitempty"`
	// RecentErrors are the last errors reconciles met, newest first (repeats counted).
	RecentErrors []RecentError `json:"recentErrors,omitempty"`
}

// Health is the body of /healthz.
type Health struct {
	// Status is healthy or degraded.
	Status  string         `json:"status"`
	Message string         `json:"message"`
	Details map[string]int `json:"details"`
}

// HooksHandler serves POST /hooks/{host} alone (nothing when no webhook
// secret is set), and GET /healthz for the load balancer in front of it.
func (s *Syncer) HooksHandler() http.Handler {
	mux := http.NewServeMux()
	if s.hooks != nil {
		mux.HandleFunc("POST /hooks/{host}", s.hooks.serve)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	return mux
}

// Handler serves /healthz, /readyz, /metrics and the status API.
func (s *Syncer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.servePage)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Health())
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.RLock()
		ready := s.ready
		s.mu.RUnlock()
		if !ready {
			http.Error(w, "not ready: no reconcile has finished yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	if s.hooks != nil && !s.opts.HooksApart {
		mux.HandleFunc("POST /hooks/{host}", s.hooks.serve)
	}
	mux.HandleFunc("GET /api/v1/workspaces", func(w http.ResponseWriter, r *http.Request) {
		// Sharded, the whole fleet (?local=true: this replica's share).
		writeJSON(w, http.StatusOK, s.workspacesFor(r))
	})
	mux.HandleFunc("GET /api/v1/shards", func(w http.ResponseWriter, _ *http.Request) {
		if s.opts.Shard == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "tmc sync is not sharded"})
			return
		}
		writeJSON(w, http.StatusOK, s.opts.Shard.View())
	})
	mux.HandleFunc("GET /api/v1/workspaces/{logicalCluster}/{name}", func(w http.ResponseWriter, r *http.Request) {
		lc, name := r.PathValue("logicalCluster"), r.PathValue("name")
		for _, ws := range s.workspacesFor(r).Workspaces {
			if ws.LogicalCluster == lc && ws.Name == name {
				writeJSON(w, http.StatusOK, ws)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "workspace " + lc + "/" + name + " not found"})
	})
	return mux
}

// workspacesFor is the status API's answer: the fleet's, unless the
// request asks for this replica's share alone (?local=true, what replicas
// ask each other).
func (s *Syncer) workspacesFor(r *http.Request) WorkspacesResponse {
	resp := s.workspaces()
	if s.opts.Shard != nil && r.URL.Query().Get("local") != "true" {
		resp.Report = s.FleetStatuses(r.Context())
	}
	return resp
}

func (s *Syncer) workspaces() WorkspacesResponse {
	resp := WorkspacesResponse{Report: s.Statuses()}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.revErr != nil {
		resp.FailedRevision, resp.RevisionError = s.revErrRev, s.revErr.Error()
	}
	if s.invErr != nil {
		resp.InventoryError = s.invErr.Error()
	}
	resp.RecentErrors = slices.Clone(s.recent)
	return resp
}

// Health is the manager's health: degraded when the newest revision failed
// to load or a workspace is in error.
func (s *Syncer) Health() Health {
	rep := s.Statuses()
	s.mu.RLock()
	revErr, invErr := s.revErr, s.invErr
	agg, proj := true, true
	if s.good != nil {
		agg, proj = *s.good.Config.AggregationEnabled, *s.good.Config.ProjectionEnabled
	}
	s.mu.RUnlock()
	h := Health{Status: "healthy", Message: "all workspaces reconciled", Details: map[string]int{"workspaces": len(rep.Workspaces), "aggregators": 0, "projectionControllers": 0, "workspacesInError": 0}}
	var msgs []string
	for _, w := range rep.Workspaces {
		if agg {
			h.Details["aggregators"]++
		}
		if proj {
			h.Details["projectionControllers"]++
		}
		if w.Phase == status.Error {
			h.Details["workspacesInError"]++
			msgs = append(msgs, object.Workspace(w.LogicalCluster, w.Name).String()+": "+w.Message)
		}
	}
	if invErr != nil {
		msgs = append([]string{"the cluster inventory's change was refused, running with the clusters it had: " + firstLine(invErr.Error())}, msgs...)
	}
	if revErr != nil {
		msgs = append([]string{"newest revision rejected, running the last good one: " + firstLine(revErr.Error())}, msgs...)
	}
	if len(msgs) > 0 {
		h.Status, h.Message = "degraded", strings.Join(msgs, "; ")
	}
	return h
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " (and more)"
	}
	return s
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // & stays itself, so that redact sees whole query strings
	_ = enc.Encode(v)
	_, _ = w.Write(redact(buf.Bytes()))
}

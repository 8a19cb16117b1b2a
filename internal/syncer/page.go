package syncer

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/shard"
	"github.com/kcp-dev/tmc/internal/status"
)

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"short": short,
	"pct": func(k status.AggregatedKind) string {
		if k.TotalCount == 0 {
			return "—"
		}
		return strconv.FormatFloat(k.HealthyPercent(), 'f', 1, 64) + "%"
	},
}).Parse(pageHTML))

// pageData is what the status page shows: the same values the JSON API
// serves (masked as everything tmc writes), arranged for a person.
type pageData struct {
	WorkspacesResponse
	Clusters []string  // every target cluster of any workspace, in name order
	Rows     []pageRow // one per workspace
	Refresh  int       // seconds between reloads: the health interval, 2–30 s
	Now      string
	Phases   map[string]int
	// Shard is the fleet's sharding (nil when tmc sync is not sharded).
	Shard *pageShard
}

type pageShard struct {
	Me       string
	Replicas int
	Unowned  []string
}

type pageRow struct {
	W     status.Workspace
	Cells []pageCell // one per Clusters entry
}

// pageCell is a workspace × cluster cell of the matrix.
type pageCell struct {
	State string // healthy, unhealthy, unreachable, or "" when the cluster is not a target
	Error string
}

// servePage renders the status page: workspaces with their phase, a matrix
// of workspace × target cluster (a bad cluster stands out in its own cells),
// aggregated and projected kinds, the revisions and recent errors. No
// script: the page reloads itself every health interval.
func (s *Syncer) servePage(w http.ResponseWriter, r *http.Request) {
	d := pageData{WorkspacesResponse: s.workspacesFor(r), Now: time.Now().UTC().Format(time.RFC3339), Phases: map[string]int{}}
	if co := s.opts.Shard; co != nil {
		v := co.View()
		d.Shard = &pageShard{Me: co.Identity()}
		for _, r := range v.Replicas {
			if r.Live {
				d.Shard.Replicas++
			}
		}
		for _, k := range v.Unowned {
			if k != shard.GoneUnit {
				d.Shard.Unowned = append(d.Shard.Unowned, k)
			}
		}
	}
	_, health := s.intervals()
	d.Refresh = int(min(max(health, 2*time.Second), 30*time.Second) / time.Second)
	seen := map[string]bool{}
	for _, ws := range d.Workspaces {
		d.Phases[ws.Phase]++
		for _, tc := range ws.TargetClusters {
			seen[tc.Name] = true
		}
	}
	for c := range seen {
		d.Clusters = append(d.Clusters, c)
	}
	slices.Sort(d.Clusters)
	for _, ws := range d.Workspaces {
		row := pageRow{W: ws, Cells: make([]pageCell, len(d.Clusters))}
		for _, tc := range ws.TargetClusters {
			i := slices.Index(d.Clusters, tc.Name)
			row.Cells[i] = cell(tc)
		}
		d.Rows = append(d.Rows, row)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Everything is inline and nothing is fetched: no CDN, no network.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(redact(buf.Bytes()))
}

func cell(tc aggregate.TargetCluster) pageCell {
	return pageCell{State: tc.Label(), Error: tc.Message()}
}

// Key is the workspace's logicalCluster/name.
func (r pageRow) Key() string { return object.Workspace(r.W.LogicalCluster, r.W.Name).String() }

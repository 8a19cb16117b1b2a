package syncer

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/status"
)

// TestStatusPage renders the page from constructed statuses: the bad
// cluster stands out in its own cell, the other cells stay healthy, a
// rejected revision and recent errors show, text from the repo is escaped,
// and the page fetches nothing (CSP, no script).
func TestStatusPage(t *testing.T) {
	s := New(Options{})
	s.goodRev = "0123456789abcdef"
	s.statuses["root/web"] = status.Workspace{Name: "web", LogicalCluster: "root", Phase: status.Error,
		Message:         "target clusters unreachable: [west] <script>alert(1)</script>",
		LastReconciled:  "2026-11-30T10:00:00Z",
		TargetClusters:  []aggregate.TargetCluster{{State: cluster.Reached("east", true)}, {State: cluster.Unreached("west", errors.New("connection refused"))}},
		AggregatedKinds: []status.AggregatedKind{{Kind: "Deployment", TotalCount: 3, HealthyCount: 2, UnhealthyCount: 1, InstanceCount: 5, HealthyInstanceCount: 4}},
		ProjectedKinds:  []status.ProjectedKind{{Kind: "ConfigMap", Sources: 2, Projections: 4, InSync: 3}}}
	s.statuses["root/batch"] = status.Workspace{Name: "batch", LogicalCluster: "root", Phase: status.Active,
		TargetClusters: []aggregate.TargetCluster{{State: cluster.Reached("east", true)}}}
	s.setRevErr("fedcba9876543210", errors.New("policies/broken.yaml:4:14: spec.mode: invalid value"))
	s.mu.Lock()
	s.noteErrorLocked("root/web", "target clusters unreachable: [west]")
	s.noteErrorLocked("root/web", "target clusters unreachable: [west]")
	s.mu.Unlock()

	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	page := string(body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	row := regexp.MustCompile(`(?s)<tr>\s*<td>root/web</td>.*?</tr>`).FindString(page)
	for _, want := range []string{`<th>east</th><th>west</th>`, `<td class="healthy" title="">healthy</td>`, `<td class="unreachable" title="connection refused">unreachable</td>`} {
		if !strings.Contains(page, want) && !strings.Contains(row, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if !strings.Contains(row, "unreachable") || strings.Count(row, `class="healthy"`) != 1 {
		t.Errorf("web's row should show west unreachable and east healthy:\n%s", row)
	}
	batch := regexp.MustCompile(`(?s)<tr>\s*<td>root/batch</td>.*?</tr>`).FindString(page)
	if !strings.Contains(batch, `class="healthy"`) || strings.Contains(batch, "unreachable") || !strings.Contains(batch, `<td class="muted">—</td>`) {
		t.Errorf("batch's row should show east healthy and west not a target:\n%s", batch)
	}
	for _, want := range []string{"Revision <code>fedcba987654</code> was rejected", "spec.mode: invalid value", "66.7%", "&lt;script&gt;", "<td class=\"num\">2</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("the page holds a script")
	}
}

// TestWorkspaceStatusSeries: one tmc_workspace_status series per workspace,
// for its current status; a workspace's old status and a workspace that
// left git leave none behind.
func TestWorkspaceStatusSeries(t *testing.T) {
	s := New(Options{})
	series := func() []string {
		mfs, err := s.metrics.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, mf := range mfs {
			if mf.GetName() != "tmc_workspace_status" {
				continue
			}
			for _, m := range mf.GetMetric() {
				var l []string
				for _, lp := range m.GetLabel() {
					l = append(l, lp.GetValue())
				}
				out = append(out, strings.Join(l, "/"))
			}
		}
		slices.Sort(out)
		return out
	}
	s.mu.Lock()
	s.statuses["root/web"] = status.Workspace{Name: "web", LogicalCluster: "root", Phase: status.Pending}
	s.statuses["root/api"] = status.Workspace{Name: "api", LogicalCluster: "root", Phase: status.Active}
	s.updateWorkspaceMetricsLocked()
	s.statuses["root/web"] = status.Workspace{Name: "web", LogicalCluster: "root", Phase: status.Error}
	delete(s.statuses, "root/api")
	s.updateWorkspaceMetricsLocked()
	s.mu.Unlock()
	if got := series(); !slices.Equal(got, []string{"root/error/web"}) {
		t.Errorf("series %v, want only web's current status", got)
	}
}

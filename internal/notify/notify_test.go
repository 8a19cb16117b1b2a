package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
	code int
	hang time.Duration
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs, r.body = append(r.reqs, req), append(r.body, b)
	code, hang := r.code, r.hang
	r.mu.Unlock()
	if hang > 0 {
		select {
		case <-time.After(hang):
		case <-req.Context().Done():
		}
	}
	if code == 0 {
		code = 200
	}
	w.WriteHeader(code)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNotificationsGoOnlyWhereTheOperatorSaid: the repo's routes name
// providers only; a route naming a provider the operator did not configure
// sends nothing anywhere, and a webhook's body is signed with the
// operator's secret.
func TestNotificationsGoOnlyWhereTheOperatorSaid(t *testing.T) {
	ops, evil := &recorder{}, &recorder{}
	opsSrv, evilSrv := httptest.NewServer(ops), httptest.NewServer(evil)
	defer opsSrv.Close()
	defer evilSrv.Close()
	cfgFile := writeFile(t, "providers.yaml", "providers:\n  - {name: ops, type: webhook, url: "+opsSrv.URL+", secretFile: "+writeFile(t, "secret", "hmac-key-of-the-operator")+"}\n")
	cfg, err := LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "n"}, []string{"provider", "result"})
	n := New(cfg, Options{Counter: counter})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	// The repo routes only workspace errors to ops, and "everything" to a provider named like a URL.
	n.SetRoutes([]Route{{Provider: "ops", Events: []string{WorkspaceError}}, {Provider: evilSrv.URL}, {Provider: "evil"}})
	n.Send(Event{Key: "k1", Type: RevisionApplied, Workspace: "root/web", Message: "applied"})
	n.Send(Event{Key: "k2", Type: WorkspaceError, Workspace: "root/web", Message: "broken"})
	deadline := time.Now().Add(10 * time.Second)
	for ops.count() < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if ops.count() != 1 || evil.count() != 0 {
		t.Fatalf("ops got %d requests (want 1: the routed WorkspaceError), the repo's URL got %d (want 0)", ops.count(), evil.count())
	}
	var ev Event
	if err := json.Unmarshal(ops.body[0], &ev); err != nil || ev.Type != WorkspaceError || ev.Key != "k2" || ev.FormatVersion != FormatVersion {
		t.Errorf("body %s: %v", ops.body[0], err)
	}
	if got, want := ops.reqs[0].Header.Get("X-Tmc-Signature-256"), "sha256="+Sign([]byte("hmac-key-of-the-operator"), ops.body[0]); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	if v := testutil.ToFloat64(counter.WithLabelValues("ops", "success")); v != 1 {
		t.Errorf("success count %v", v)
	}
	// A providers file may name only http(s) URLs.
	if _, err := LoadConfig(writeFile(t, "bad.yaml", "providers:\n  - {name: x, type: webhook, url: file:///etc/passwd}\n")); err == nil || !strings.Contains(err.Error(), "is not an http(s) URL") {
		t.Errorf("file URL: %v", err)
	}
}

// TestNotificationsNeverBlock: a provider that hangs fills its own queue;
// Send returns at once and the other provider still gets its events.
func TestNotificationsNeverBlock(t *testing.T) {
	slow, fast := &recorder{hang: time.Minute}, &recorder{}
	slowSrv, fastSrv := httptest.NewServer(slow), httptest.NewServer(fast)
	defer slowSrv.Close()
	defer fastSrv.Close()
	cfg, err := LoadConfig(writeFile(t, "p.yaml", "providers:\n  - {name: slow, type: slack, url: "+slowSrv.URL+"}\n  - {name: fast, type: teams, url: "+fastSrv.URL+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "n"}, []string{"provider", "result"})
	n := New(cfg, Options{Queue: 4, Timeout: 30 * time.Second, Counter: counter})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	done := make(chan struct{})
	go func() {
		for i := 0; i < 50; i++ {
			n.Send(Event{Key: string(rune('a' + i)), Type: DriftCorrected, Message: "m"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Send blocked behind a hanging provider")
	}
	deadline := time.Now().Add(10 * time.Second)
	for fast.count() < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if fast.count() < 4 {
		t.Errorf("the fast provider got %d events", fast.count())
	}
	if v := testutil.ToFloat64(counter.WithLabelValues("slow", "dropped")); v < 40 {
		t.Errorf("dropped for the slow provider: %v, want most of 50", v)
	}
	var text map[string]string
	_ = json.Unmarshal(fast.body[0], &text)
	if !strings.HasPrefix(text["text"], "tmc DriftCorrected: m") {
		t.Errorf("chat body %s", fast.body[0])
	}
}

// TestNotificationsCommitStatus: GitHub and GitLab get the revision's
// status on the commit, with the operator's token.
func TestNotificationsCommitStatus(t *testing.T) {
	gh := &recorder{}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	cfg, err := LoadConfig(writeFile(t, "p.yaml", "providers:\n  - {name: gh, type: github, url: "+srv.URL+", repository: org/policies, tokenFile: "+writeFile(t, "tok", "ghp_token")+"}\n  - {name: gl, type: gitlab, url: "+srv.URL+", repository: org/policies, tokenFile: "+writeFile(t, "tok2", "glpat")+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	n := New(cfg, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	n.Send(Event{Key: "a", Type: RevisionApplied, Revision: "abc123", Workspace: "root/web", Clusters: 3, Converged: 3})
	n.Send(Event{Key: "b", Type: DriftCorrected, Revision: "abc123"}) // not a commit status
	deadline := time.Now().Add(10 * time.Second)
	for gh.count() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if gh.count() != 2 {
		t.Fatalf("%d requests, want 2", gh.count())
	}
	paths := map[string]*http.Request{}
	for _, r := range gh.reqs {
		paths[r.URL.Path] = r
	}
	g := paths["/repos/org/policies/statuses/abc123"]
	l := paths["/api/v4/projects/org/policies/statuses/abc123"]
	if g == nil || g.Header.Get("Authorization") != "Bearer ghp_token" || l == nil || l.Header.Get("PRIVATE-TOKEN") != "glpat" || l.URL.Query().Get("state") != "success" {
		t.Fatalf("requests: %v", paths)
	}
	for i, r := range gh.reqs {
		if r.URL.Path == g.URL.Path && !strings.Contains(string(gh.body[i]), `"description":"tmc: 3/3 clusters converged"`) {
			t.Errorf("github body %s", gh.body[i])
		}
	}
}

// TestNotificationsCommitStatusFollowsTheWorkspace: the commit status a
// workspace leaves on a revision is its last word on it — a workspace in
// error or a halted rollout fails the commit, a recovery sets it back to
// success once every cluster converged (pending before), and events that
// say nothing of the commit set no status.
func TestNotificationsCommitStatusFollowsTheWorkspace(t *testing.T) {
	for _, tc := range []struct {
		ev          Event
		state, desc string
	}{
		{Event{Type: RevisionApplied, Workspace: "root/web", Clusters: 3, Converged: 3}, "success", "tmc: 3/3 clusters converged"},
		{Event{Type: RevisionApplied, Workspace: "root/web", Clusters: 3, Converged: 2}, "pending", "tmc: 2/3 clusters converged"},
		{Event{Type: RevisionRejected, Message: "web.yaml:7: bad"}, "failure", "tmc: rejected: web.yaml:7: bad"},
		{Event{Type: WorkspaceError, Workspace: "root/web", Message: "cluster east: connection refused"}, "failure", "tmc: error: cluster east: connection refused"},
		{Event{Type: WorkspaceRecovered, Workspace: "root/web", Clusters: 3, Converged: 3}, "success", "tmc: recovered, 3/3 clusters converged"},
		{Event{Type: WorkspaceRecovered, Workspace: "root/web", Clusters: 3}, "pending", "tmc: recovered, 0/3 clusters converged"},
		{Event{Type: WaveHalted, Workspace: "root/web", Wave: "canary", Message: "edge-1 unhealthy"}, "failure", "tmc: rollout halted at wave canary: edge-1 unhealthy"},
		{Event{Type: WaveStarted, Workspace: "root/web", Wave: "canary"}, "", ""},
		{Event{Type: DriftCorrected, Workspace: "root/web"}, "", ""},
		{Event{Type: ClusterUnreachable, Cluster: "east"}, "", ""},
	} {
		state, desc, _ := commitStatus(tc.ev)
		if state != tc.state || desc != tc.desc {
			t.Errorf("%s: %q %q, want %q %q", tc.ev.Type, state, desc, tc.state, tc.desc)
		}
		tc.ev.Revision = "abc123"
		out, err := request(&Provider{Name: "gh", Type: "github", Repository: "org/policies"}, tc.ev)
		if err != nil || (out != nil) != (tc.state != "") {
			t.Errorf("%s: request %v, %v", tc.ev.Type, out, err)
		}
	}
}

// TestNotificationsMatchTheDocumentedSchema: every event type, as the
// generic webhook sends it, validates against docs/notifications.schema.json.
func TestNotificationsMatchTheDocumentedSchema(t *testing.T) {
	f, err := os.Open("../../docs/notifications.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range Types {
		ev := Event{FormatVersion: FormatVersion, Key: NewKey(typ, "x"), Type: typ, Time: "2026-12-02T10:00:00Z", Revision: "abc", Workspace: "root/web", Cluster: "east", Message: "m",
			Counts: &Counts{Create: 1}, Clusters: 3, Converged: 3, Errors: []string{"e"}}
		req, err := request(&Provider{Type: "webhook", URL: "http://x"}, ev)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(req.body)))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

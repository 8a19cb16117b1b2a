package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/notify"
)

// capture is a local HTTP server standing in for a provider.
type capture struct {
	mu   sync.Mutex
	reqs []captured
	hang bool
}

type captured struct {
	path   string
	header http.Header
	body   []byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.reqs = append(c.reqs, captured{r.URL.RequestURI(), r.Header.Clone(), b})
	hang := c.hang
	c.mu.Unlock()
	if hang {
		<-r.Context().Done() // never answers
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (c *capture) all() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.reqs...)
}

// events decodes the generic webhook's requests, checking each signature.
func (c *capture) events(t *testing.T, secret string) []notify.Event {
	t.Helper()
	var out []notify.Event
	for _, r := range c.all() {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(r.body)
		if r.header.Get("X-Tmc-Signature-256") != "sha256="+hex.EncodeToString(m.Sum(nil)) {
			t.Errorf("a webhook request with a wrong signature: %s", r.body)
		}
		var ev notify.Event
		if err := json.Unmarshal(r.body, &ev); err != nil || ev.FormatVersion != "1" || ev.Key == "" || ev.Type == "" || ev.Time == "" || ev.Message == "" || r.header.Get("X-Tmc-Event") != ev.Type {
			t.Errorf("a malformed event (%v): %s", err, r.body)
		}
		out = append(out, ev)
	}
	return out
}

func countOf(evs []notify.Event, typ, subject string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ && (subject == "" || e.Workspace == subject || e.Cluster == subject || e.Revision == subject) {
			n++
		}
	}
	return n
}

// TestNotificationsOnceEach: with local servers standing in for Slack, a
// generic webhook and GitHub's commit-status API (and a provider that
// hangs), a revision applied, a revision rejected, a cluster cut and a
// drift each make exactly one well-formed request to each provider that
// takes it — bodies in the documented format, HMAC verified, the commit's
// SHA in the status URL — and the hanging provider delays no reconcile.
func TestNotificationsOnceEach(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	gitInit(t, f.dir)
	slack, hook, github, hung := &capture{}, &capture{}, &capture{}, &capture{hang: true}
	for _, c := range []*capture{slack, hook, github, hung} {
		srv := httptest.NewServer(c)
		t.Cleanup(srv.Close)
		switch c {
		case slack:
			t.Setenv("SLACK_URL", srv.URL+"/services/T0/B0/secret")
		case hook:
			t.Setenv("HOOK_URL", srv.URL+"/tmc")
		case github:
			t.Setenv("GITHUB_API", srv.URL)
		case hung:
			t.Setenv("HUNG_URL", srv.URL+"/hang")
		}
	}
	cfgDir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(cfgDir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const secret = "the operator's webhook HMAC key"
	providers := write("providers.yaml", fmt.Sprintf(`providers:
  - {name: team-slack, type: slack, urlFile: %s}
  - {name: audit, type: webhook, url: %s, secretFile: %s}
  - {name: commits, type: github, url: %s, repository: org/policies, tokenFile: %s}
  - {name: hung, type: webhook, url: %s}
`, write("slack-url", os.Getenv("SLACK_URL")), os.Getenv("HOOK_URL"), write("hmac", secret), os.Getenv("GITHUB_API"), write("token", "ghp_operator_token"), os.Getenv("HUNG_URL")))
	addr := freePort(t)
	startTMC(t, "tmc sync", "sync", "--repo", f.dir, "--branch", "main", "--kubeconfig", f.kubeconfig, "--workdir", t.TempDir(),
		"--interval", "1s", "--health-interval", "500ms", "--listen", addr, "--request-timeout", "5s", "--no-push-reports", "--notifications", providers)
	waitReady(t, addr)
	head := func() string { return strings.TrimSpace(gitCLI(t, f.dir, "rev-parse", "HEAD")) }
	first := head()

	// A revision applied: one event per provider, the commit status on its SHA.
	eventually(t, "RevisionApplied delivered", 30*time.Second, func() (bool, string) {
		return countOf(hook.events(t, secret), notify.RevisionApplied, "root:production/web-app") == 1 && len(github.all()) >= 1 && len(slack.all()) >= 1, fmt.Sprint(len(hook.all()))
	})
	gh := github.all()[0]
	if gh.path != "/repos/org/policies/statuses/"+first || gh.header.Get("Authorization") != "Bearer ghp_operator_token" ||
		!strings.Contains(string(gh.body), `"state":"success"`) || !strings.Contains(string(gh.body), `"description":"tmc: 3/3 clusters converged"`) || !strings.Contains(string(gh.body), `"context":"tmc/root:production/web-app"`) {
		t.Errorf("commit status: %s %s", gh.path, gh.body)
	}
	var text map[string]string
	if err := json.Unmarshal(slack.all()[0].body, &text); err != nil || !strings.HasPrefix(text["text"], "tmc RevisionApplied root:production/web-app @ "+first[:12]) {
		t.Errorf("slack body %s", slack.all()[0].body)
	}
	for _, e := range hook.events(t, secret) {
		if e.Type == notify.RevisionApplied && (e.Revision != first || e.Counts == nil || e.Counts.Create == 0 || e.Clusters != 3) {
			t.Errorf("RevisionApplied %+v", e)
		}
	}

	// A revision rejected: once, with its errors, and a failed commit status.
	f.write("workspaces/web-app.yaml", "apiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: web-app}\nspec:\n  sources: [{path: apps/web-app}]\n  prune: maybe\n")
	gitCommit(t, f.dir, "a broken workspace")
	bad := head()
	eventually(t, "RevisionRejected delivered", 30*time.Second, func() (bool, string) {
		return countOf(hook.events(t, secret), notify.RevisionRejected, bad) == 1, fmt.Sprint(len(hook.all()))
	})
	eventually(t, "a failed commit status on the bad commit", 30*time.Second, func() (bool, string) {
		for _, r := range github.all() {
			if r.path == "/repos/org/policies/statuses/"+bad && strings.Contains(string(r.body), `"state":"failure"`) && strings.Contains(string(r.body), `"description":"tmc: rejected: workspaces/web-app.yaml:`) {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(github.all()))
	})
	gitCLI(t, f.dir, "revert", "--no-edit", "HEAD")
	reverted := head()
	eventually(t, "the revert applied", 30*time.Second, func() (bool, string) {
		return countOf(hook.events(t, secret), notify.RevisionApplied, reverted) == 1, fmt.Sprint(len(hook.all()))
	})

	// A cluster cut: once, however many health checks see it.
	f.proxy.Cut()
	eventually(t, "ClusterUnreachable delivered", 30*time.Second, func() (bool, string) {
		return countOf(hook.events(t, secret), notify.ClusterUnreachable, "prod-west") == 1, fmt.Sprint(len(hook.all()))
	})
	time.Sleep(3 * time.Second) // six more health checks
	if err := f.proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ClusterBack delivered", 30*time.Second, func() (bool, string) {
		return countOf(hook.events(t, secret), notify.ClusterBack, "prod-west") == 1, fmt.Sprint(len(hook.all()))
	})
	// The commit's status followed the workspace: failed while it was in
	// error, success again once it recovered.
	eventually(t, "the revert's commit status failed, then recovered", 30*time.Second, func() (bool, string) {
		var states []string
		for _, r := range github.all() {
			if r.path != "/repos/org/policies/statuses/"+reverted || !strings.Contains(string(r.body), `"context":"tmc/root:production/web-app"`) {
				continue
			}
			var st struct{ State, Description string }
			_ = json.Unmarshal(r.body, &st)
			switch {
			case st.State == "failure" && strings.HasPrefix(st.Description, "tmc: error: target cluster prod-west is unhealthy"):
				states = append(states, "error")
			case st.State == "success" && st.Description == "tmc: recovered, 3/3 clusters converged":
				states = append(states, "recovered")
			default:
				states = append(states, st.State)
			}
		}
		var all []string
		for _, r := range github.all() {
			all = append(all, r.path+" "+string(r.body))
		}
		return slices.Equal(states, []string{"success", "error", "recovered"}), fmt.Sprint(states, " ", reverted, " ", all)
	})

	// A drift: the hand edit is reverted and announced once.
	d := &appsv1.Deployment{}
	if err := f.cs.Get("prod-east").Client.Get(ctx, client.ObjectKey{Namespace: "web", Name: "web"}, d); err != nil {
		t.Fatal(err)
	}
	d.Spec.Replicas = ptr(int32(9))
	if err := f.cs.Get("prod-east").Client.Update(ctx, d, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "DriftCorrected delivered", 30*time.Second, func() (bool, string) {
		return countOf(hook.events(t, secret), notify.DriftCorrected, "prod-west") == 0 && countOf(hook.events(t, secret), notify.DriftCorrected, "prod-east") == 1, fmt.Sprint(len(hook.all()))
	})

	// The hanging provider got its requests and answered none, and the
	// reconciles went on: a last commit still converges.
	if len(hung.all()) == 0 {
		t.Errorf("the hanging provider got no request")
	}
	f.write("policies/replicas-by-capacity.yaml", strings.Replace(readFile(t, filepath.Join(f.dir, "policies/replicas-by-capacity.yaml")), "value: 3", "value: 4", 1))
	gitCommit(t, f.dir, "more replicas")
	eventually(t, "a commit converges while a provider hangs", 30*time.Second, func() (bool, string) {
		return f.deployment("prod-east").Spec.Replicas != nil && *f.deployment("prod-east").Spec.Replicas == 4, ""
	})
	time.Sleep(2 * time.Second)
	evs := hook.events(t, secret)
	for typ, subject := range map[string]string{notify.RevisionRejected: bad, notify.ClusterUnreachable: "prod-west", notify.ClusterBack: "prod-west", notify.DriftCorrected: "prod-east",
		notify.WorkspaceError: "root:production/web-app", notify.WorkspaceRecovered: "root:production/web-app"} {
		if n := countOf(evs, typ, subject); n != 1 {
			t.Errorf("%s %s: %d requests, want exactly 1", typ, subject, n)
		}
	}
	if n := countOf(evs, notify.RevisionApplied, first); n != 1 {
		t.Errorf("RevisionApplied of the first revision: %d requests, want 1", n)
	}
	keys := map[string]int{}
	for _, e := range evs {
		keys[e.Key]++
	}
	for k, n := range keys {
		if n > 1 {
			t.Errorf("event key %s sent %d times", k, n)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/test/harness"
)

const hookSecret = "a webhook secret of the operator"

func signed(body []byte) string {
	m := hmac.New(sha256.New, []byte(hookSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func metricValue(t *testing.T, api syncAPI, name string) float64 {
	t.Helper()
	_, body := api.get("/metrics", nil)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in /metrics", name)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// hookRepo is the webhook tests' world: one API server, a repo whose
// workspace puts the ConfigMap settings (data.level) on it, and the
// operator's secret in a file.
type hookRepo struct {
	cs         *harness.Clusters
	dir        string
	secretFile string
}

func newHookRepo(t *testing.T) *hookRepo {
	h := &hookRepo{cs: harness.StartT(t, "solo"), dir: t.TempDir(), secretFile: filepath.Join(t.TempDir(), "hook-secret")}
	writeRepo(t, h.dir, map[string]string{
		"policies.yaml": "apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: solo}\n---\napiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: settings}\nspec:\n  sources: [{path: app}]\n",
		"app/cm.yaml":   h.cm("info"),
	})
	gitInit(t, h.dir)
	if err := os.WriteFile(h.secretFile, []byte(hookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *hookRepo) cm(level string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {level: " + level + "}\n"
}

// commitLevel commits the settings ConfigMap at level and returns the commit.
func (h *hookRepo) commitLevel(t *testing.T, level string) string {
	writeRepo(t, h.dir, map[string]string{"app/cm.yaml": h.cm(level)})
	gitCommit(t, h.dir, "level "+level)
	return strings.TrimSpace(gitCLI(t, h.dir, "rev-parse", "HEAD"))
}

// hookRequest sends one request to a tmc sync listener and returns its status.
func hookRequest(t *testing.T, method, addr, path string, body []byte, header map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// level is the settings ConfigMap's data.level on the cluster (or the error reading it).
func (h *hookRepo) level() string {
	c := &corev1.ConfigMap{}
	if err := h.cs.Get("solo").Client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "settings"}, c); err != nil {
		return err.Error()
	}
	return c.Data["level"]
}

// TestWebhookTriggersSync: with the interval at ten minutes, a correctly
// signed GitHub push to the synced branch makes tmc sync fetch and converge
// the cluster at once; a wrong signature, a GitLab token that is wrong,
// another branch, an oversized body, a non-push event and replayed requests
// are refused and fetch nothing; a burst of pushes makes at most one fetch
// beyond the one in flight.
func TestWebhookTriggersSync(t *testing.T) {
	hr := newHookRepo(t)
	cs, dir, secretFile, level := hr.cs, hr.dir, hr.secretFile, hr.level
	addr := freePort(t)
	startTMC(t, "tmc sync", "sync", "--repo", dir, "--branch", "main", "--kubeconfig", cs.KubeconfigPath, "--workdir", t.TempDir(),
		"--interval", "10m", "--health-interval", "10m", "--listen", addr, "--no-push-reports", "--webhook-secret-file", secretFile)
	waitReady(t, addr)
	api := syncAPI{base: "http://" + addr}
	post := func(host string, body []byte, header map[string]string) int {
		t.Helper()
		return hookRequest(t, "POST", addr, "/hooks/"+host, body, header)
	}
	head := hr.commitLevel(t, "debug")
	push := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":%q,"repository":{"full_name":"org/policies"}}`, head))

	fetches := metricValue(t, api, "tmc_git_fetches_total")
	for _, tc := range []struct {
		name   string
		host   string
		body   []byte
		header map[string]string
		want   int
	}{
		{"a wrong signature", "github", push, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": "sha256=" + strings.Repeat("0", 64)}, 401},
		{"no signature", "github", push, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-2"}, 401},
		{"a wrong GitLab token", "gitlab", push, map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "guess"}, 401},
		{"another branch", "github", []byte(`{"ref":"refs/heads/feature","after":"abc"}`), nil, 202},
		{"an oversized body", "github", append(push, bytes.Repeat([]byte(" "), 300<<10)...), map[string]string{"X-GitHub-Event": "push"}, 413},
		{"a non-push event", "github", []byte(`{"action":"opened"}`), map[string]string{"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-3"}, 202},
		{"an unknown host", "sourceforge", push, nil, 404},
	} {
		h := map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-" + tc.name}
		for k, v := range tc.header {
			h[k] = v
		}
		if _, ok := tc.header["X-Hub-Signature-256"]; !ok && tc.want != 401 {
			h["X-Hub-Signature-256"] = signed(tc.body)
		}
		if code := post(tc.host, tc.body, h); code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, code, tc.want)
		}
	}
	time.Sleep(time.Second)
	if got := metricValue(t, api, "tmc_git_fetches_total"); got != fetches || level() != "info" {
		t.Fatalf("refused requests fetched: %v fetches (were %v), level %q", got, fetches, level())
	}

	start := time.Now()
	if code := post("github", push, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "delivery-1", "X-Hub-Signature-256": signed(push)}); code != 202 {
		t.Fatalf("a valid push: status %d", code)
	}
	eventually(t, "the push converged without waiting for the 10m interval", 60*time.Second, func() (bool, string) { return level() == "debug", level() })
	t.Logf("webhook to converged cluster: %s (the poll it replaces: up to the 10m interval)", time.Since(start).Round(time.Millisecond))

	time.Sleep(time.Second)
	fetches = metricValue(t, api, "tmc_git_fetches_total")
	if code := post("github", push, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "delivery-1", "X-Hub-Signature-256": signed(push)}); code != 409 {
		t.Errorf("a replayed delivery: status %d, want 409", code)
	}
	if code := post("github", push, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "delivery-2", "X-Hub-Signature-256": signed(push)}); code != 409 {
		t.Errorf("the same push again under a new delivery ID: status %d, want 409", code)
	}
	time.Sleep(time.Second)
	if got := metricValue(t, api, "tmc_git_fetches_total"); got != fetches {
		t.Errorf("replays fetched: %v, were %v", got, fetches)
	}
	// A burst of five pushes: one fetch runs, one more is queued, the rest coalesce.
	for i := 0; i < 5; i++ {
		b := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":"burst-%d"}`, i))
		if code := post("github", b, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": fmt.Sprintf("burst-%d", i), "X-Hub-Signature-256": signed(b)}); code != 202 {
			t.Errorf("burst push %d: status %d", i, code)
		}
	}
	time.Sleep(3 * time.Second)
	if got := metricValue(t, api, "tmc_git_fetches_total"); got-fetches > 2 || got-fetches < 1 {
		t.Errorf("a burst of 5 pushes made %v fetches, want 1 or 2", got-fetches)
	}
}

// TestWebhookOnItsOwnListener: with --webhook-listen the receiver answers
// on its own address alone — a valid push there converges the cluster —
// while --listen keeps the page and the status API and no longer takes
// pushes, and the receiver's address serves nothing else.
func TestWebhookOnItsOwnListener(t *testing.T) {
	hr := newHookRepo(t)
	cs, dir, secretFile, level := hr.cs, hr.dir, hr.secretFile, hr.level
	addr, hooksAddr := freePort(t), freePort(t)
	startTMC(t, "tmc sync", "sync", "--repo", dir, "--branch", "main", "--kubeconfig", cs.KubeconfigPath, "--workdir", t.TempDir(),
		"--interval", "10m", "--health-interval", "10m", "--listen", addr, "--no-push-reports", "--webhook-secret-file", secretFile,
		"--webhook-listen", hooksAddr)
	waitReady(t, addr)
	eventually(t, "the first reconcile", 30*time.Second, func() (bool, string) { return level() == "info", level() })
	do := func(method, base, path string, body []byte, header map[string]string) int {
		t.Helper()
		return hookRequest(t, method, base, path, body, header)
	}
	head := hr.commitLevel(t, "debug")
	push := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":%q}`, head))
	h := func(id string) map[string]string {
		return map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": id, "X-Hub-Signature-256": signed(push)}
	}
	api := syncAPI{base: "http://" + addr}
	fetches := metricValue(t, api, "tmc_git_fetches_total")
	if code := do("POST", addr, "/hooks/github", push, h("on-listen")); code == http.StatusAccepted || code == http.StatusOK {
		t.Errorf("--listen took a push (status %d)", code)
	}
	for _, path := range []string{"/", "/api/v1/workspaces", "/metrics"} {
		if code := do("GET", hooksAddr, path, nil, nil); code != http.StatusNotFound {
			t.Errorf("the receiver's address serves %s (status %d)", path, code)
		}
	}
	time.Sleep(time.Second)
	if got := metricValue(t, api, "tmc_git_fetches_total"); got != fetches || level() != "info" {
		t.Fatalf("a push to --listen fetched: %v fetches (were %v), level %q", got, fetches, level())
	}
	if code := do("POST", hooksAddr, "/hooks/github", push, h("on-hooks")); code != http.StatusAccepted {
		t.Fatalf("a valid push to --webhook-listen: status %d", code)
	}
	eventually(t, "the push converged", 60*time.Second, func() (bool, string) { return level() == "debug", level() })
	if code := do("GET", addr, "/api/v1/workspaces", nil, nil); code != http.StatusOK {
		t.Errorf("--listen's status API: status %d", code)
	}
}

package syncer

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/status"
)

// TestServedErrorsCarryNoCredentials: errors that quote a git remote with
// user:token@ or a request URL with a query string are served by the status
// API, /healthz and the page without either.
func TestServedErrorsCarryNoCredentials(t *testing.T) {
	s := New(Options{})
	s.statuses["root/web"] = status.Workspace{Name: "web", LogicalCluster: "root", Phase: status.Error,
		Message:        `Get "https://10.0.0.1:6443/api/v1/nodes?limit=500&token=s3cr3tQ": dial tcp: refused`,
		TargetClusters: []aggregate.TargetCluster{{State: cluster.Unreached("east", errors.New(`Get "https://east:6443/version?timeout=5s&access_token=s3cr3tQ": refused`))}}}
	s.setRevErr("fedcba9876543210", errors.New("fetch https://bot:s3cr3tQ@git.example/org/policies.git: authentication required"))
	s.mu.Lock()
	s.noteErrorLocked("root/web", "push to ssh://deploy:s3cr3tQ@git.example/x: refused")
	s.mu.Unlock()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, p := range []string{"/api/v1/workspaces", "/healthz", "/"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "s3cr3tQ") {
			t.Errorf("%s serves a credential:\n%s", p, body)
		}
		if !strings.Contains(string(body), "git.example/org/policies.git") && p != "/" {
			t.Errorf("%s lost the error itself:\n%s", p, body)
		}
		if p != "/" && !json.Valid(body) {
			t.Errorf("%s is no longer valid JSON after redaction:\n%s", p, body)
		}
	}
}

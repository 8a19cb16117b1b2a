package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/syncer"
	"github.com/kcp-dev/tmc/test/harness"
)

// webhookBench measures, on three API servers, the time from a signed push
// webhook to every cluster holding the pushed change, for a few commits,
// against the poll it replaces (the interval, here 10 minutes).
func webhookBench(commits int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	work, err := os.MkdirTemp("", "tmc-bench-webhook-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Fprintf(os.Stderr, "starting %d API servers...\n", len(names))
	cs, err := harness.Start(ctx, work, names...)
	defer cs.Stop()
	if err != nil {
		return err
	}
	repo := filepath.Join(work, "repo")
	var pol strings.Builder
	for _, c := range names {
		fmt.Fprintf(&pol, "---\napiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: %s}\n", c)
	}
	pol.WriteString("---\napiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: hooks}\nspec:\n  sources: [{path: app}]\n")
	cm := func(v int) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pushed, namespace: default}\ndata: {version: \"%d\"}\n", v)
	}
	if err := os.MkdirAll(filepath.Join(repo, "app"), 0o755); err != nil {
		return err
	}
	_ = os.WriteFile(filepath.Join(repo, "policies.yaml"), []byte(pol.String()), 0o644)
	_ = os.WriteFile(filepath.Join(repo, "app/cm.yaml"), []byte(cm(0)), 0o644)
	git := func(args ...string) (string, error) {
		out, err := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=bench", "-c", "user.email=bench@example.com"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	for _, a := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-qm", "v0"}} {
		if out, err := git(a...); err != nil {
			return fmt.Errorf("git %v: %v: %s", a, err, out)
		}
	}
	secret := []byte("the bench's webhook secret, 32 b")
	o := cluster.DefaultOptions()
	o.Kubeconfig = cs.KubeconfigPath
	s := syncer.New(syncer.Options{Repo: repo, Branch: "main", Interval: 10 * time.Minute, HealthInterval: 10 * time.Minute, WorkDir: filepath.Join(work, "sync"),
		Cluster: o, ForceConflicts: true, WebhookSecret: secret})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	go func() { _ = s.Run(ctx, ctx) }()
	version := func(c *harness.Cluster) string {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "pushed"}, u); err != nil {
			return ""
		}
		v, _, _ := unstructured.NestedString(u.Object, "data", "version")
		return v
	}
	converged := func(v string, limit time.Duration) bool {
		deadline := time.Now().Add(limit)
		for time.Now().Before(deadline) {
			all := true
			for _, c := range cs.Clusters {
				all = all && version(c) == v
			}
			if all {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return false
	}
	if !converged("0", 60*time.Second) {
		return fmt.Errorf("the first reconcile did not converge")
	}
	var total, worst time.Duration
	for i := 1; i <= commits; i++ {
		_ = os.WriteFile(filepath.Join(repo, "app/cm.yaml"), []byte(cm(i)), 0o644)
		if out, err := git("commit", "-qam", fmt.Sprint("v", i)); err != nil {
			return fmt.Errorf("git commit: %v: %s", err, out)
		}
		sha, _ := git("rev-parse", "HEAD")
		body := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":%q}`, sha))
		m := hmac.New(sha256.New, secret)
		m.Write(body)
		req, _ := http.NewRequest("POST", srv.URL+"/hooks/github", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", fmt.Sprint("bench-", i))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if !converged(fmt.Sprint(i), 60*time.Second) {
			return fmt.Errorf("commit %d did not converge within a minute of its webhook", i)
		}
		d := time.Since(start)
		total += d
		worst = max(worst, d)
	}
	fmt.Printf("\nwebhook to %d converged clusters: mean %s, worst %s over %d pushes (the poll it replaces: up to the interval, 10m here; 30s by default)\n",
		len(names), (total / time.Duration(commits)).Round(time.Millisecond), worst.Round(time.Millisecond), commits)
	return nil
}

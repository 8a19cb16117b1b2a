package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestUnreachableClusterProbedOnce: three clusters that accept TCP and never
// answer TLS, with healthCheckTimeout 1s. The probe's verdict is final for
// the run: tmc plan, status and aggregate open one connection per cluster
// (the probe's) and send nothing else there, and each names every cluster.
func TestUnreachableClusterProbedOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	dir := t.TempDir()
	var clusters, kc strings.Builder
	kc.WriteString("apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {token: x}\nclusters:\n")
	for _, n := range []string{"d1", "d2", "d3"} {
		fmt.Fprintf(&clusters, "---\napiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: %s}\nspec: {healthCheckTimeout: 1s}\n", n)
		fmt.Fprintf(&kc, "- name: %s\n  cluster: {server: \"https://%s\", insecure-skip-tls-verify: true}\n", n, ln.Addr())
	}
	kc.WriteString("contexts:\n- {name: d1, context: {cluster: d1, user: u}}\n- {name: d2, context: {cluster: d2, user: u}}\n- {name: d3, context: {cluster: d3, user: u}}\n")
	files := map[string]string{
		"clusters.yaml": clusters.String(),
		"ws.yaml":       "apiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: ws}\nspec:\n  sources: [{path: app}]\n",
		"app/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: default}\ndata: {a: b}\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kubeconfig := filepath.Join(t.TempDir(), "kc")
	if err := os.WriteFile(kubeconfig, []byte(kc.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"plan", "status", "aggregate"} {
		before := accepted.Load()
		out, errOut, _ := runTMC(t, cmd, dir, "--kubeconfig", kubeconfig, "--insecure-skip-tls-verify")
		time.Sleep(100 * time.Millisecond) // a late connection would land by now
		if n := accepted.Load() - before; n != 3 {
			t.Errorf("tmc %s opened %d connections to three dead clusters: want one probe each, nothing more", cmd, n)
		}
		for _, n := range []string{"d1", "d2", "d3"} {
			if !strings.Contains(out+errOut, n) {
				t.Errorf("tmc %s does not name %s:\n%s%s", cmd, n, out, errOut)
			}
		}
	}
}

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	. "github.com/kcp-dev/tmc"
	"github.com/kcp-dev/tmc/test/harness"
)

// TestShardedManagerStatusesShowTheFleet: two sharded managers of the Go
// API share four workspaces; each one's Statuses lists all four with the
// owner the other agrees on, while ListVirtualWorkspaces holds only the
// replica's own share (the views live with their owner) — no Pending
// stand-in for the other's, no stale view of one handed over.
func TestShardedManagerStatusesShowTheFleet(t *testing.T) {
	cs := harness.StartT(t, "home", "m1")
	dir := t.TempDir()
	files := map[string]string{"clusters.yaml": "apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: m1}\n"}
	for i := 1; i <= 4; i++ {
		files[fmt.Sprintf("ws-%d.yaml", i)] = fmt.Sprintf("apiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: ws-%d}\nspec:\n  placement: {clusters: [m1]}\n  sources: [{path: apps/ws-%d}]\n", i, i)
		files[fmt.Sprintf("apps/ws-%d/cm.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ws-%d, namespace: default}\ndata: {n: \"%d\"}\n", i, i)
	}
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitInit(t, dir)
	start := func(id string) *VirtualWorkspaceManager {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		copts := DefaultClusterOptions()
		copts.Kubeconfig = cs.KubeconfigPath
		logs := &safeBuffer{}
		m, err := NewVirtualWorkspaceManager(ManagerOptions{Repo: dir, Branch: "main", WorkDir: t.TempDir(), Cluster: copts,
			HomeKubeconfig: cs.KubeconfigPath, Namespace: "default", Interval: 2 * time.Second, HealthInterval: 2 * time.Second,
			Sharding: &Sharding{Group: "tmc-api", Identity: id, Address: l.Addr().String(), LeaseDuration: 4 * time.Second},
			Logf:     func(f string, args ...any) { fmt.Fprintf(logs, f+"\n", args...) }})
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(l) }()
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = m.Start(ctx, 2) }()
		t.Cleanup(func() {
			stop()
			<-done
			_ = srv.Close()
			if t.Failed() {
				t.Logf("%s logs:\n%s", id, logs.String())
			}
		})
		return m
	}
	a, b := start("a"), start("b")
	own := func(m *VirtualWorkspaceManager) []string {
		var out []string
		for _, vw := range m.ListVirtualWorkspaces() {
			out = append(out, vw.Name)
		}
		return out
	}
	// A replica that has not yet seen the other's Lease renewed shows the
	// other's share as owned by nobody (honest, never stale): wait until
	// each sees both, then compare.
	eventually(t, "both replicas own some of the four, all active and owned in both views", 60*time.Second, func() (bool, string) {
		oa, ob := own(a), own(b)
		ok := len(oa) > 0 && len(ob) > 0 && len(oa)+len(ob) == 4
		var views []string
		for _, m := range []*VirtualWorkspaceManager{a, b} {
			st := m.Statuses()
			seen := 0
			for _, w := range st.Workspaces {
				if w.Phase == "Active" && w.Owner != "" {
					seen++
				}
			}
			ok = ok && seen == 4
			views = append(views, fmt.Sprintf("%+v", st.Workspaces))
		}
		return ok, fmt.Sprintf("a %v, b %v, views %v", oa, ob, views)
	})
	oa, ob := own(a), own(b)
	for _, tc := range []struct {
		name string
		m    *VirtualWorkspaceManager
	}{{"a", a}, {"b", b}} {
		st := tc.m.Statuses()
		if len(st.Workspaces) != 4 {
			t.Errorf("%s's Statuses lists %d workspaces, want the fleet's four", tc.name, len(st.Workspaces))
		}
		for _, w := range st.Workspaces {
			want := "a"
			if slices.Contains(ob, w.Name) {
				want = "b"
			}
			if w.Owner != want || (want == "a") != slices.Contains(oa, w.Name) {
				t.Errorf("%s's Statuses shows %s owned by %q; a holds %v, b %v", tc.name, w.Name, w.Owner, oa, ob)
			}
		}
	}
	for _, n := range oa {
		if _, ok := b.GetVirtualWorkspace("root", n); ok {
			t.Errorf("b serves a view of %s, which a owns", n)
		}
	}
}

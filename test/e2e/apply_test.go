package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/test/harness"
)

const canary = "canary-s3cr3t-value-9f2c"

// planJSON is the part of `tmc plan -o json` the tests read.
type planJSON struct {
	FormatVersion string `json:"formatVersion"`
	Changes       []struct {
		Workspace, Cluster, Action, Kind, Namespace, Name, Diff, Conflict, Error, Reason string
	} `json:"changes"`
	Clusters []struct {
		Name      string `json:"name"`
		Reachable bool   `json:"reachable"`
		Error     string `json:"error"`
	} `json:"clusters"`
	Summary counts `json:"summary"`
}

// changed lists "cluster action Kind/ns/name" for every change that is not unchanged.
func (p planJSON) changed() []string {
	var out []string
	for _, c := range p.Changes {
		if c.Action != "unchanged" {
			id := c.Kind + "/" + c.Name
			if c.Namespace != "" {
				id = c.Kind + "/" + c.Namespace + "/" + c.Name
			}
			out = append(out, c.Cluster+" "+c.Action+" "+id)
		}
	}
	return out
}

type fixture struct {
	t          *testing.T
	cs         *harness.Clusters
	dir        string
	kubeconfig string
	proxy      *harness.Proxy
}

// newFixture starts three clusters (prod-west behind a proxy that can cut it),
// gives them Nodes, and copies examples/policies into a temp dir with a canary Secret.
func newFixture(t *testing.T) *fixture {
	ctx := context.Background()
	cs := harness.StartT(t, "prod-east", "prod-west", "edge-1")
	for name, cpu := range map[string]string{"prod-east": "16", "prod-west": "8", "edge-1": "2"} {
		if _, err := cs.Get(name).CreateNode(ctx, harness.NodeSpec{Name: name + "-n1", CPU: cpu, Memory: "32Gi", Pods: "110"}); err != nil {
			t.Fatal(err)
		}
	}
	proxy := harness.ProxyT(t, cs.Get("prod-west"))
	f := &fixture{t: t, cs: cs, dir: t.TempDir(), proxy: proxy}
	f.kubeconfig = filepath.Join(f.dir, "kubeconfig")
	if err := cs.WriteKubeconfig(f.kubeconfig, map[string]string{"prod-west": "https://" + proxy.Addr}); err != nil {
		t.Fatal(err)
	}
	f.dir = filepath.Join(f.dir, "repo")
	if err := os.CopyFS(f.dir, os.DirFS("../../examples/policies")); err != nil {
		t.Fatal(err)
	}
	// The fixture's tests are about web-app; the chart workspace has its own
	// (TestHelmChartOnThreeClusters, TestExamplesChartWorkspace).
	if err := os.Remove(filepath.Join(f.dir, "workspaces/podinfo.yaml")); err != nil {
		t.Fatal(err)
	}
	f.write("apps/web-app/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-credentials\n  namespace: web\nstringData:\n  password: "+canary+"\n")
	return f
}

func (f *fixture) write(rel, content string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, rel), []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// tmc runs the binary against the fixture's kubeconfig and checks no output leaks the canary.
func (f *fixture) tmc(args ...string) (string, string, int) {
	f.t.Helper()
	out, errOut, code := tmc(f.t, append(args, "--kubeconfig", f.kubeconfig)...)
	if strings.Contains(out, canary) || strings.Contains(errOut, canary) {
		f.t.Fatalf("tmc %v leaked the canary Secret value:\n%s\n%s", args, out, errOut)
	}
	return out, errOut, code
}

func (f *fixture) plan(extra ...string) planJSON {
	f.t.Helper()
	out, errOut, _ := f.tmc(append([]string{"plan", "-o", "json", f.dir}, extra...)...)
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		f.t.Fatalf("plan JSON: %v\n%s\n%s", err, out, errOut)
	}
	return p
}

func (f *fixture) apply(wantCode int, extra ...string) string {
	f.t.Helper()
	out, errOut, code := f.tmc(append([]string{"apply", f.dir}, extra...)...)
	if code != wantCode {
		f.t.Fatalf("apply exit %d, want %d\n%s\n%s", code, wantCode, out, errOut)
	}
	return out
}

func (f *fixture) deployment(cluster string) *appsv1.Deployment {
	f.t.Helper()
	d := &appsv1.Deployment{}
	if err := f.cs.Get(cluster).Client.Get(context.Background(), client.ObjectKey{Namespace: "web", Name: "web"}, d); err != nil {
		f.t.Fatalf("%s: %v", cluster, err)
	}
	return d
}

func exists(t *testing.T, c *harness.Cluster, obj client.Object, ns, name string) bool {
	t.Helper()
	err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// TestPlanApplyLifecycle walks one policy repo through create, no-op, drift,
// conflicts, prune, placement changes, an unreachable cluster and a stale
// saved plan, on three real API servers.
func TestPlanApplyLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	all := []string{"edge-1", "prod-east", "prod-west"}

	t.Run("create", func(t *testing.T) {
		p := f.plan()
		if p.FormatVersion != "1" || p.Summary["create"] != 18 || p.Summary["update"] != 0 {
			t.Fatalf("plan summary %v, want 18 creates", p.Summary)
		}
		for _, fmtArg := range []string{"text", "markdown"} {
			out, _, code := f.tmc("plan", "-o", fmtArg, "--detailed-exitcode", f.dir)
			if code != 2 || !strings.Contains(out, "web-credentials") || !strings.Contains(out, "***") {
				t.Errorf("plan -o %s: exit %d, want 2 and a masked Secret:\n%s", fmtArg, code, out)
			}
		}
		f.apply(0)
		if r := *f.deployment("prod-east").Spec.Replicas; r != 3 {
			t.Errorf("prod-east replicas %d, want 3", r)
		}
		edge := f.deployment("edge-1")
		if *edge.Spec.Replicas != 1 || edge.Spec.Template.Spec.Containers[0].Image != "nginx:1.27-alpine-slim" {
			t.Errorf("edge-1 deployment: replicas %d image %s", *edge.Spec.Replicas, edge.Spec.Template.Spec.Containers[0].Image)
		}
		cm := &corev1.ConfigMap{}
		if !exists(t, f.cs.Get("prod-west"), cm, "web", "web-config-prod-west") || cm.Labels["workload.kcp.io/projected"] != "true" {
			t.Errorf("prod-west ConfigMap: %+v", cm.ObjectMeta)
		}
	})

	t.Run("no-op makes zero writes", func(t *testing.T) {
		// Count the requests of a second apply in-process, through the same code the binary runs.
		res := applyInProcess(t, f, false)
		for _, c := range res.clusters {
			if c.writes != 0 {
				t.Errorf("%s: %d write requests on an unchanged tree: %v", c.name, c.writes, c.requests)
			}
		}
		if res.created+res.updated+res.deleted != 0 {
			t.Errorf("changes on an unchanged tree: %+v", res)
		}
		p := f.plan()
		if len(p.changed()) != 0 {
			t.Errorf("plan after apply: %v", p.changed())
		}
		// A no-op plan decides every object without a dry-run but the three
		// Secrets, whose stringData only the server can compare.
		if p.Summary["local"] != 15 || p.Summary["dryRuns/"+plan.DryRunWriteOnly] != 3 || p.Summary["unchanged"] != 18 {
			t.Errorf("no-op plan: %d unchanged, %d decided locally; summary %v", p.Summary["unchanged"], p.Summary["local"], p.Summary)
		}
		if got := f.status(); got != "web-app=Active" {
			t.Errorf("status %s, want web-app=Active", got)
		}
	})

	t.Run("drift", func(t *testing.T) {
		// Someone deletes a ConfigMap in prod-east, and edits the Deployment in prod-west.
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "web-content-prod-east"}}
		if err := f.cs.Get("prod-east").Client.Delete(ctx, cm); err != nil {
			t.Fatal(err)
		}
		d := f.deployment("prod-west")
		d.Spec.Replicas = ptr(int32(7))
		if err := f.cs.Get("prod-west").Client.Update(ctx, d, client.FieldOwner("kubectl-edit")); err != nil {
			t.Fatal(err)
		}
		p := f.plan()
		want := []string{"prod-east create ConfigMap/web/web-content-prod-east", "prod-west update Deployment/web/web"}
		if diff := cmp.Diff(want, p.changed()); diff != "" {
			t.Fatalf("plan after drift (-want +got):\n%s", diff)
		}
		var upd = p.Changes[0]
		for _, c := range p.Changes {
			if c.Action == "update" {
				upd = c
			}
		}
		if !strings.Contains(upd.Diff, "-  replicas: 7") || !strings.Contains(upd.Diff, "+  replicas: 3") {
			t.Errorf("update diff:\n%s", upd.Diff)
		}
		if !strings.Contains(upd.Conflict, "kubectl-edit") {
			t.Errorf("the hand edit's manager owns spec.replicas: want a conflict naming kubectl-edit, got %q", upd.Conflict)
		}
		out := f.apply(1)
		if !strings.Contains(out, "Deployment/web/web: conflict:") || !strings.Contains(out, "--force-conflicts") {
			t.Errorf("apply without --force-conflicts:\n%s", out)
		}
		if !exists(t, f.cs.Get("prod-east"), &corev1.ConfigMap{}, "web", "web-content-prod-east") {
			t.Error("the deleted ConfigMap was not recreated while prod-west failed")
		}
		f.apply(0, "--force-conflicts")
		if r := *f.deployment("prod-west").Spec.Replicas; r != 3 {
			t.Errorf("prod-west replicas %d after --force-conflicts, want 3", r)
		}
		if p := f.plan(); len(p.changed()) != 0 {
			t.Errorf("plan after converging: %v", p.changed())
		}
	})

	t.Run("delete from git prunes only tmc's objects", func(t *testing.T) {
		// An unrelated ConfigMap with tmc's very labels, which tmc never applied.
		for _, n := range all {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "bystander", Labels: map[string]string{
				"app.kubernetes.io/managed-by": "tmc", "tmc.kcp.io/workspace": "web-app"}}}
			if err := f.cs.Get(n).Client.Create(ctx, cm); err != nil {
				t.Fatal(err)
			}
		}
		f.write("apps/web-app/configmaps.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: web\ndata:\n  LOG_LEVEL: info\n  FEATURE_FLAGS: \"search,checkout\"\n")
		p := f.plan()
		want := []string{"edge-1 delete ConfigMap/web/web-content-edge-1", "prod-east delete ConfigMap/web/web-content-prod-east", "prod-west delete ConfigMap/web/web-content-prod-west"}
		if diff := cmp.Diff(want, p.changed()); diff != "" {
			t.Fatalf("plan (-want +got):\n%s", diff)
		}
		f.apply(0)
		for _, n := range all {
			if exists(t, f.cs.Get(n), &corev1.ConfigMap{}, "web", "web-content-"+n) {
				t.Errorf("%s: web-content not pruned", n)
			}
			if !exists(t, f.cs.Get(n), &corev1.ConfigMap{}, "web", "bystander") {
				t.Errorf("%s: the bystander ConfigMap was pruned", n)
			}
		}
	})

	t.Run("cluster leaves the placement", func(t *testing.T) {
		orig, _ := os.ReadFile(filepath.Join(f.dir, "clusters/edge-1.yaml"))
		f.write("clusters/edge-1.yaml", strings.Replace(string(orig), "  healthCheckTimeout: 5s\n", "  healthCheckTimeout: 5s\n  projectionEnabled: false\n", 1))
		got := f.plan().changed()
		want := []string{"edge-1 delete Namespace/web", "edge-1 delete Secret/web/web-credentials", "edge-1 delete ConfigMap/web/web-config-edge-1", "edge-1 delete Service/web/web", "edge-1 delete Deployment/web/web"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("plan (-want +got):\n%s", diff)
		}
		f.apply(0)
		if exists(t, f.cs.Get("edge-1"), &appsv1.Deployment{}, "web", "web") {
			t.Error("edge-1 still holds the Deployment")
		}
		var invs corev1.ConfigMapList
		if err := f.cs.Get("edge-1").Client.List(ctx, &invs, client.InNamespace("tmc-system")); err != nil || len(invs.Items) != 0 {
			t.Errorf("edge-1 keeps an inventory after every object left: %v %d", err, len(invs.Items))
		}
		// envtest runs no namespace controller: finish the Namespace's deletion by hand.
		finalizeNamespace(t, f.cs.Get("edge-1"), "web")
		f.write("clusters/edge-1.yaml", string(orig))
		f.apply(0)
		if !exists(t, f.cs.Get("edge-1"), &appsv1.Deployment{}, "web", "web") {
			t.Error("edge-1 did not get the Deployment back")
		}
	})

	t.Run("unreachable cluster", func(t *testing.T) {
		f.write("apps/web-app/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: web\n")
		planFile := filepath.Join(t.TempDir(), "plan.json")
		if _, errOut, code := f.tmc("plan", "--out", planFile, f.dir); code != 0 {
			t.Fatalf("plan: exit %d: %s", code, errOut)
		}
		if data, err := os.ReadFile(planFile); err != nil || strings.Contains(string(data), canary) || !strings.Contains(string(data), "web-credentials") {
			t.Fatalf("saved plan must list the Secret without its value (err %v)", err)
		}
		// Between plan and apply, prod-west's network goes away.
		f.proxy.Cut()
		out, errOut, code := f.tmc("apply", "--plan", planFile, f.dir)
		if code != 1 || !strings.Contains(out, "cluster prod-west: FAILED") || !strings.Contains(out, "cluster prod-east: ok: 1 created") {
			t.Fatalf("apply with prod-west cut: exit %d\n%s\n%s", code, out, errOut)
		}
		// A fresh plan shows prod-west unreachable with its objects skipped and nothing to prune there.
		p := f.plan()
		for _, c := range p.Clusters {
			if c.Name == "prod-west" && (c.Reachable || c.Error == "") {
				t.Errorf("prod-west: %+v", c)
			}
		}
		for _, c := range p.Changes {
			if c.Cluster == "prod-west" && c.Action != "skip" {
				t.Errorf("prod-west change %s %s/%s while unreachable", c.Action, c.Kind, c.Name)
			}
		}
		if err := f.proxy.Restore(); err != nil {
			t.Fatal(err)
		}
		f.apply(0)
		if !exists(t, f.cs.Get("prod-west"), &corev1.ConfigMap{}, "web", "extra-prod-west") || !exists(t, f.cs.Get("prod-west"), &appsv1.Deployment{}, "web", "web") {
			t.Error("prod-west did not converge after it came back")
		}
	})

	t.Run("stale saved plan is refused", func(t *testing.T) {
		f.write("apps/web-app/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: web\ndata: {a: b}\n")
		planFile := filepath.Join(t.TempDir(), "plan.json")
		if out, errOut, code := f.tmc("plan", "--out", planFile, f.dir); code != 0 {
			t.Fatalf("plan: exit %d: %s\n%s", code, out, errOut)
		}
		cm := &corev1.ConfigMap{}
		exists(t, f.cs.Get("prod-east"), cm, "web", "extra-prod-east")
		cm.Data = map[string]string{"someone": "else"}
		if err := f.cs.Get("prod-east").Client.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
		out, _, code := f.tmc("apply", "--plan", planFile, f.dir)
		if code != 1 || !strings.Contains(out, "cluster prod-east changed since the plan was made") || !strings.Contains(out, "ConfigMap/web/extra-prod-east: resourceVersion") {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if !strings.Contains(out, "cluster prod-west: ok: 0 created, 1 updated") {
			t.Errorf("the unchanged clusters should still apply:\n%s", out)
		}
	})

	t.Run("workspace deleted from git", func(t *testing.T) {
		f.apply(0, "--force-conflicts")
		if err := os.Remove(filepath.Join(f.dir, "workspaces/web-app.yaml")); err != nil {
			t.Fatal(err)
		}
		if got := f.status(); got != "web-app=Terminating" {
			t.Errorf("status %q, want web-app=Terminating", got)
		}
		f.apply(0)
		for _, n := range all {
			if exists(t, f.cs.Get(n), &appsv1.Deployment{}, "web", "web") {
				t.Errorf("%s still holds the Deployment of a deleted workspace", n)
			}
		}
		if got := f.status(); got != "" {
			t.Errorf("status after pruning %q, want no workspaces", got)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// status returns "name=Phase" for every workspace of `tmc status -o json`.
func (f *fixture) status() string {
	f.t.Helper()
	out, errOut, code := f.tmc("status", "-o", "json", f.dir)
	if code != 0 {
		f.t.Fatalf("status: exit %d\n%s\n%s", code, out, errOut)
	}
	var rep struct {
		Workspaces []struct{ Name, Status string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		f.t.Fatal(err)
	}
	var parts []string
	for _, w := range rep.Workspaces {
		parts = append(parts, w.Name+"="+w.Status)
	}
	return strings.Join(parts, ",")
}

// finalizeNamespace completes a Namespace deletion, as the namespace controller
// of a real cluster would.
func finalizeNamespace(t *testing.T, c *harness.Cluster, name string) {
	t.Helper()
	ctx := context.Background()
	ns, err := c.Clientset.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.DeletionTimestamp == nil {
		t.Fatalf("namespace %s is not being deleted", name)
	}
	ns.Spec.Finalizers = nil
	if _, err := c.Clientset.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// counts reads the plan summary's counts by name (create, update, local, …);
// its dryRuns map is read into DryRuns.
type counts map[string]int

func (c *counts) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*c = counts{}
	for k, v := range raw {
		var n int
		if json.Unmarshal(v, &n) == nil {
			(*c)[k] = n
			continue
		}
		var byReason map[string]int
		if err := json.Unmarshal(v, &byReason); err != nil {
			return fmt.Errorf("summary.%s: %w", k, err)
		}
		for reason, n := range byReason {
			(*c)[k+"/"+reason] = n
		}
	}
	return nil
}

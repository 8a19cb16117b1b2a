package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/test/harness"
)

var profileGVR = schema.GroupVersionResource{Group: "multicluster.x-k8s.io", Version: "v1alpha1", Resource: "clusterprofiles"}

// inventoryFixture is a hub with the ClusterProfile CRD and a clusterset
// namespace "fleet" whose profiles point at three member API servers; the
// access provider tmc-test runs a test exec plugin that answers with the
// bearer token each member accepts, and logs every run.
type inventoryFixture struct {
	t                         *testing.T
	cs                        *harness.Clusters
	hub                       dynamic.Interface
	repo                      string
	providers, pluginLog, dir string
}

func newInventoryFixture(t *testing.T) *inventoryFixture {
	ctx := context.Background()
	cs := harness.StartT(t, "hub", "east-1", "east-2", "west-1")
	f := &inventoryFixture{t: t, cs: cs, dir: t.TempDir()}
	var err error
	if f.hub, err = dynamic.NewForConfig(cs.Get("hub").Config); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/clusterprofile-crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &crd.Object); err != nil {
		t.Fatal(err)
	}
	if err := cs.Get("hub").Client.Create(ctx, crd); err != nil {
		t.Fatal(err)
	}
	if err := cs.Get("hub").Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleet", Labels: map[string]string{"multicluster.x-k8s.io/clusterset": "fleet"}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the ClusterProfile CRD is served", 30*time.Second, func() (bool, string) {
		_, err := f.hub.Resource(profileGVR).Namespace("fleet").List(ctx, metav1.ListOptions{})
		return err == nil, fmt.Sprint(err)
	})

	plugin := filepath.Join(f.dir, "execplugin")
	if out, err := exec.Command("go", "build", "-o", plugin, "github.com/kcp-dev/tmc/test/execplugin").CombinedOutput(); err != nil {
		t.Fatalf("build the exec plugin: %v\n%s", err, out)
	}
	tokens := map[string]string{}
	for _, m := range []string{"east-1", "east-2", "west-1"} {
		tokens[cs.Get(m).Config.Host] = cs.Get(m).Token
	}
	f.pluginLog = filepath.Join(f.dir, "plugin.log")
	tokensFile := f.writeFile("tokens.json", mustJSON(t, tokens))
	f.providers = f.writeFile("providers.json", mustJSON(t, map[string]any{"providers": []any{map[string]any{
		"name": "tmc-test",
		"execConfig": map[string]any{"apiVersion": "client.authentication.k8s.io/v1", "command": plugin,
			"args": []string{"--tokens", tokensFile, "--log", f.pluginLog}, "provideClusterInfo": true},
	}}}))
	for name, zone := range map[string]string{"east-1": "eu-1a", "east-2": "eu-1b", "west-1": "us-1a"} {
		f.createProfile(name, zone[:2], zone)
	}

	f.repo = filepath.Join(f.dir, "repo")
	f.writeRepo("workspaces.yaml", `apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: eu-app}
spec:
  placement:
    conditional: cluster.properties["topology.kubernetes.io/region"] == "eu"
  sources: [{path: apps/eu}]
`)
	f.writeRepo("apps/eu/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: eu-app, namespace: default}\ndata: {greeting: hello}\n")
	// The repo refines east-2, an inventory cluster, and says it is in eu.
	f.writeRepo("refine.yaml", "apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: east-2}\nspec:\n  region: eu\n  priority: 5\n")
	return f
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (f *inventoryFixture) writeFile(name, content string) string {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *inventoryFixture) writeRepo(rel, content string) {
	f.t.Helper()
	f.writeFile(filepath.Join("repo", rel), content)
}

// createProfile writes a profile and its status (a subresource) pointing at the member of its name.
func (f *inventoryFixture) createProfile(name, region, zone string) {
	f.t.Helper()
	ctx := context.Background()
	m := f.cs.Get(name)
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ClusterProfile",
		"metadata": map[string]any{"name": name, "namespace": "fleet", "labels": map[string]any{"x-k8s.io/cluster-manager": "test", "env": "prod"}},
		"spec":     map[string]any{"displayName": name, "clusterManager": map[string]any{"name": "test"}},
	}}
	created, err := f.hub.Resource(profileGVR).Namespace("fleet").Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	created.Object["status"] = map[string]any{
		"version":    map[string]any{"kubernetes": "v1.37.2"},
		"conditions": []any{condition("True")},
		"properties": []any{
			map[string]any{"name": "topology.kubernetes.io/region", "value": region},
			map[string]any{"name": "topology.kubernetes.io/zone", "value": zone},
			map[string]any{"name": "clusterset.k8s.io/cluster-id", "value": name + "-id"},
		},
		"accessProviders": []any{map[string]any{"name": "tmc-test", "cluster": map[string]any{
			"server": m.Config.Host, "certificate-authority-data": base64.StdEncoding.EncodeToString(m.Config.CAData),
			"extensions": []any{map[string]any{"name": "client.authentication.k8s.io/exec", "extension": map[string]any{"audience": name}}},
		}}},
	}
	if _, err := f.hub.Resource(profileGVR).Namespace("fleet").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func condition(status string) map[string]any {
	return map[string]any{"type": "ControlPlaneHealthy", "status": status, "reason": "Probe" + status, "message": "control plane " + status,
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
}

// editStatus changes a profile's status with edit and writes it back.
func (f *inventoryFixture) editStatus(name string, edit func(status map[string]any)) {
	f.t.Helper()
	ctx := context.Background()
	ri := f.hub.Resource(profileGVR).Namespace("fleet")
	p, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	edit(p.Object["status"].(map[string]any))
	if _, err := ri.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

// setHealthy sets a profile's ControlPlaneHealthy condition.
func (f *inventoryFixture) setHealthy(name, status string) {
	f.editStatus(name, func(st map[string]any) { st["conditions"] = []any{condition(status)} })
}

// setProperty sets one property of a profile's status.
func (f *inventoryFixture) setProperty(name, key, value string) {
	f.editStatus(name, func(st map[string]any) {
		for _, pr := range st["properties"].([]any) {
			if m := pr.(map[string]any); m["name"] == key {
				m["value"] = value
			}
		}
	})
}

// snapshot writes the namespace's profiles as `kubectl get clusterprofiles -o yaml` does.
func (f *inventoryFixture) snapshot(path string) {
	f.t.Helper()
	list, err := f.hub.Resource(profileGVR).Namespace("fleet").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	items := []any{}
	for _, it := range list.Items {
		items = append(items, it.Object)
	}
	data, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{"resourceVersion": ""}})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *inventoryFixture) pluginRuns() string {
	b, _ := os.ReadFile(f.pluginLog)
	return string(b)
}

// metricOrZero reads a metric series of tmc sync, 0 while it has none.
func metricOrZero(api syncAPI, series string) float64 {
	_, body := api.get("/metrics", nil)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

func (f *inventoryFixture) greeting(cluster string) string {
	cm := &corev1.ConfigMap{}
	if err := f.cs.Get(cluster).Client.Get(context.Background(), objectKey("default", "eu-app"), cm); err != nil {
		return err.Error()
	}
	return cm.Data["greeting"]
}

func (f *inventoryFixture) hasConfigMap(cluster string) bool {
	err := f.cs.Get(cluster).Client.Get(context.Background(), objectKey("default", "eu-app"), &corev1.ConfigMap{})
	if err != nil && !apierrors.IsNotFound(err) {
		f.t.Fatalf("%s: %v", cluster, err)
	}
	return err == nil
}

// TestClusterInventory: ClusterProfiles of a hub are tmc's target clusters,
// reached through the operator's exec plugin with tokens the members accept.
func TestClusterInventory(t *testing.T) {
	f := newInventoryFixture(t)
	t.Run("PlanFromSnapshotMatchesLive", f.planFromSnapshotMatchesLive)
	t.Run("RepoCannotRunExecPlugin", f.repoCannotRunExecPlugin)
	t.Run("SyncFollowsProfiles", f.syncFollowsProfiles)
}

// planFromSnapshotMatchesLive: `tmc plan --cluster-inventory snapshot.yaml`
// with no way to the hub makes the plan the live inventory makes; the
// workspace placed by a property lands on the two eu clusters; render
// --explain names the profile and the property.
func (f *inventoryFixture) planFromSnapshotMatchesLive(t *testing.T) {
	live, errOut, code := tmc(t, "plan", "-o", "json", f.repo, "--kubeconfig", f.cs.KubeconfigPath,
		"--cluster-inventory-namespace", "fleet", "--cluster-access-providers", f.providers)
	if code != 0 && code != 2 {
		t.Fatalf("live plan exit %d\n%s\n%s", code, live, errOut)
	}
	snap := filepath.Join(f.dir, "ci", "snapshot.yaml")
	f.snapshot(snap)
	noHub := f.writeFile("empty-kubeconfig", "apiVersion: v1\nkind: Config\n")
	hermetic, errOut2, code2 := tmc(t, "plan", "-o", "json", f.repo, "--kubeconfig", noHub,
		"--cluster-inventory", snap, "--cluster-access-providers", f.providers)
	if code2 != code {
		t.Fatalf("snapshot plan exit %d, live %d\n%s\n%s", code2, code, hermetic, errOut2)
	}
	if live != hermetic {
		t.Errorf("the snapshot's plan differs from the live inventory's:\nlive:\n%s\nsnapshot:\n%s", live, hermetic)
	}
	pl := planOf(t, hermetic)
	var creates []string
	for _, c := range pl.Changes {
		if c.Action == "create" {
			creates = append(creates, c.Cluster+"/"+c.Name)
		}
	}
	slices.Sort(creates)
	if want := []string{"east-1/eu-app", "east-2/eu-app"}; !slices.Equal(creates, want) {
		t.Errorf("creates %v, want %v", creates, want)
	}
	runs := f.pluginRuns()
	for _, m := range []string{"east-1", "east-2", "west-1"} {
		if !strings.Contains(runs, "server="+f.cs.Get(m).Config.Host) || !strings.Contains(runs, `config={"audience":"`+m+`"}`) {
			t.Errorf("the plugin never ran for %s with its profile's exec extension:\n%s", m, runs)
		}
	}
	out, errOut, code := tmc(t, "render", "--explain", f.repo, "--cluster-inventory", snap)
	if code != 0 {
		t.Fatalf("render --explain exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"from ClusterProfile fleet/east-1 of the cluster inventory (" + snap + ")",
		`placement.conditional ` + "`" + `cluster.properties["topology.kubernetes.io/region"] == "eu"` + "`" + ` is true (cluster.properties["topology.kubernetes.io/region"]=eu)`,
		`is false (cluster.properties["topology.kubernetes.io/region"]=us)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("render --explain lacks %q:\n%s", want, out)
		}
	}
}

// repoCannotRunExecPlugin: nothing in the policy repo makes tmc run an
// exec plugin through the inventory path — not a repo Cluster of an
// inventory cluster's name with its own kubeconfig, not a ClusterProfile
// written in the repo (read only as a manifest), not a snapshot or provider
// file inside the repo, not a Config field.
func (f *inventoryFixture) repoCannotRunExecPlugin(t *testing.T) {
	marker := filepath.Join(f.dir, "pwned")
	evil := f.writeFile("evil.sh", "#!/bin/sh\ntouch "+marker+"\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"x\"}}'\n")
	if err := os.Chmod(evil, 0o755); err != nil {
		t.Fatal(err)
	}
	var attacker atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { attacker.Add(1) }))
	t.Cleanup(srv.Close)
	snap := filepath.Join(f.dir, "ci2", "snapshot.yaml")
	f.snapshot(snap)
	hostile := func(files map[string]string) string {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(f.repo)); err != nil {
			t.Fatal(err)
		}
		for rel, content := range files {
			p := filepath.Join(dir, rel)
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: east-1, cluster: {server: %s}}]
users: [{name: east-1, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: %s}}}]
contexts: [{name: east-1, context: {cluster: east-1, user: east-1}}]
`, srv.URL, evil)
	runsBefore := f.pluginRuns()
	plan := func(dir string, extra ...string) (string, int) {
		out, errOut, code := tmc(t, append([]string{"plan", dir, "--allow-exec-plugins", "--cluster-access-providers", f.providers}, extra...)...)
		return out + errOut, code
	}

	// A repo Cluster of an inventory cluster's name may not point it elsewhere.
	dir := hostile(map[string]string{
		"clusters.yaml": "apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: east-1}\nspec:\n  kubeconfig: {path: kubeconfig}\n",
		"kubeconfig":    kubeconfig,
	})
	if out, code := plan(dir, "--cluster-inventory", snap); code == 0 || !strings.Contains(out, `clusters.yaml:5:15: Cluster/east-1: spec.kubeconfig: Cluster "east-1" is ClusterProfile fleet/east-1 of the cluster inventory`) {
		t.Errorf("a repo Cluster redirecting an inventory cluster: exit %d\n%s", code, out)
	}
	// A ClusterProfile in the repo is a manifest, never inventory.
	dir = hostile(map[string]string{"apps/eu/profile.yaml": fmt.Sprintf(`apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ClusterProfile
metadata: {name: east-1, namespace: fleet}
spec: {clusterManager: {name: evil}}
status:
  accessProviders: [{name: tmc-test, cluster: {server: %s}}]
`, srv.URL)})
	plan(dir, "--cluster-inventory", snap) // the checks below: the repo's server got nothing, the plugin never ran for it
	// Trusted files inside the repo are refused before anything runs.
	dir = hostile(map[string]string{"fleet.yaml": readFile(t, snap), "providers.json": readFile(t, f.providers)})
	if out, code := plan(dir, "--cluster-inventory", filepath.Join(dir, "fleet.yaml")); code == 0 || !strings.Contains(out, "--cluster-inventory "+filepath.Join(dir, "fleet.yaml")+" is inside the policy directory") {
		t.Errorf("a snapshot inside the repo: exit %d\n%s", code, out)
	}
	if _, errOut, code := tmc(t, "plan", dir, "--cluster-inventory", snap, "--cluster-access-providers", filepath.Join(dir, "providers.json")); code == 0 ||
		!strings.Contains(errOut, "--cluster-access-providers "+filepath.Join(dir, "providers.json")+" is inside the policy directory") {
		t.Errorf("a provider file inside the repo: exit %d\n%s", code, errOut)
	}
	// No Config field chooses an inventory.
	dir = hostile(map[string]string{"config.yaml": "apiVersion: tmc.kcp.io/v1alpha1\nkind: Config\nmetadata: {name: c}\nspec:\n  clusterInventory: {namespace: fleet, providers: providers.json}\n"})
	if out, code := plan(dir, "--cluster-inventory", snap); code == 0 || !strings.Contains(out, `unknown field "clusterInventory"`) {
		t.Errorf("a Config choosing an inventory: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("the repo's exec plugin ran")
	}
	if n := attacker.Load(); n != 0 {
		t.Errorf("the repo's server got %d requests", n)
	}
	for _, line := range strings.Split(strings.TrimPrefix(f.pluginRuns(), runsBefore), "\n") {
		if strings.Contains(line, srv.URL) {
			t.Errorf("the operator's plugin ran for the repo's server: %s", line)
		}
	}
}

// syncFollowsProfiles: tmc sync converges the workspace on the two eu
// clusters; a profile turning unhealthy leaves the placement within an
// interval (its objects stay); a profile whose region property changes
// joins the placement and leaves it again (pruned); a deleted profile's objects are pruned only
// once it has been missing for the removal rule's grace; an empty and then
// a failing inventory read prune nothing.
func (f *inventoryFixture) syncFollowsProfiles(t *testing.T) {
	gitInit(t, f.repo)
	// Through a remote, with the reports pushed (the default): the syncer's
	// head is then its own report commit, which must count as the good
	// revision when an inventory change is refused below.
	remote := filepath.Join(f.dir, "remote.git")
	gitCLI(t, f.dir, "clone", "-q", "--bare", f.repo, remote)
	gitCLI(t, f.repo, "remote", "add", "origin", remote)
	push := func() {
		for attempt := 0; ; attempt++ {
			gitCLI(t, f.repo, "pull", "-q", "--rebase", "origin", "main") // the syncer's report commits
			if _, err := execGit(f.repo, "push", "-q", "origin", "HEAD:main"); err == nil {
				return
			} else if attempt == 10 {
				t.Fatalf("push: %v", err)
			}
		}
	}
	addr := freePort(t)
	api := syncAPI{base: "http://" + addr}
	startTMC(t, "tmc sync", "sync", "--repo", remote, "--branch", "main", "--kubeconfig", f.cs.KubeconfigPath, "--workdir", t.TempDir(),
		"--interval", "2s", "--health-interval", "2s", "--listen", addr, "--request-timeout", "5s",
		"--cluster-inventory-namespace", "fleet", "--cluster-access-providers", f.providers)
	waitReady(t, addr)
	type targetCluster struct {
		Name    string `json:"name"`
		Healthy bool   `json:"healthy"`
		Error   string `json:"error"`
	}
	read := func() []targetCluster {
		var ws struct {
			TargetClusters []targetCluster `json:"targetClusters"`
		}
		api.get("/api/v1/workspaces/root/eu-app", &ws)
		return ws.TargetClusters
	}
	targets := func() []string {
		var out []string
		for _, c := range read() {
			out = append(out, c.Name)
		}
		slices.Sort(out)
		return out
	}
	target := func(name string) *targetCluster {
		for _, c := range read() {
			if c.Name == name {
				return &c
			}
		}
		return nil
	}
	eventually(t, "eu-app converges on east-1 and east-2", 60*time.Second, func() (bool, string) {
		return f.hasConfigMap("east-1") && f.hasConfigMap("east-2") && slices.Equal(targets(), []string{"east-1", "east-2"}), fmt.Sprint(targets())
	})
	if f.hasConfigMap("west-1") {
		t.Errorf("west-1 (region us) got eu-app")
	}
	cm := &corev1.ConfigMap{}
	if err := f.cs.Get("east-1").Client.Get(context.Background(), objectKey("default", "eu-app"), cm); err != nil {
		t.Fatal(err)
	}
	if len(cm.ManagedFields) == 0 || cm.ManagedFields[0].Manager != "tmc" {
		t.Errorf("eu-app on east-1 is not tmc's: %+v", cm.ManagedFields)
	}

	// Unhealthy by the inventory's word: out of the placement (a new
	// revision does not reach it, and nothing there is pruned), shown as
	// an unhealthy target with the inventory's reason.
	f.setHealthy("east-2", "False")
	eventually(t, "east-2 is out of eu-app's placement", 20*time.Second, func() (bool, string) {
		tc := target("east-2")
		return tc != nil && !tc.Healthy && strings.Contains(tc.Error, "ControlPlaneHealthy is False (ProbeFalse)"), fmt.Sprintf("%+v", tc)
	})
	f.writeRepo("apps/eu/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: eu-app, namespace: default}\ndata: {greeting: hola}\n")
	gitCommit(t, f.repo, "hola")
	push()
	eventually(t, "east-1 says hola", 30*time.Second, func() (bool, string) { return f.greeting("east-1") == "hola", f.greeting("east-1") })
	time.Sleep(2 * time.Second) // another interval
	if g := f.greeting("east-2"); g != "hello" {
		t.Errorf("east-2, unhealthy by the inventory, got greeting %q", g)
	}
	f.setHealthy("east-2", "True")
	eventually(t, "east-2 is back and says hola", 30*time.Second, func() (bool, string) {
		tc := target("east-2")
		return tc != nil && tc.Healthy && f.greeting("east-2") == "hola", fmt.Sprintf("%+v %s", tc, f.greeting("east-2"))
	})

	// A profile whose properties change moves in and out of the placement.
	f.setProperty("west-1", "topology.kubernetes.io/region", "eu")
	eventually(t, "west-1, now in eu, gets eu-app", 30*time.Second, func() (bool, string) {
		return f.greeting("west-1") == "hola" && slices.Equal(targets(), []string{"east-1", "east-2", "west-1"}), fmt.Sprint(targets())
	})
	f.setProperty("west-1", "topology.kubernetes.io/region", "us")
	eventually(t, "west-1, back in us, loses eu-app", 30*time.Second, func() (bool, string) {
		return !f.hasConfigMap("west-1") && slices.Equal(targets(), []string{"east-1", "east-2"}), fmt.Sprint(targets())
	})

	// A profile change the good revision does not validate with (east-2
	// moves to us, which the repo's refinement contradicts) is refused:
	// east-2 stays where it was, the status API says why, and the revision
	// is not called rejected. Moved back, the inventory is taken again.
	f.setProperty("east-2", "topology.kubernetes.io/region", "us")
	var st struct {
		RevisionError  string `json:"revisionError"`
		InventoryError string `json:"inventoryError"`
	}
	eventually(t, "east-2's move to us refused", 30*time.Second, func() (bool, string) {
		api.get("/api/v1/workspaces", &st)
		return strings.Contains(st.InventoryError, `refine.yaml:5:11: Cluster/east-2: spec.region: region "eu" contradicts ClusterProfile fleet/east-2`), fmt.Sprintf("%+v", st)
	})
	if st.RevisionError != "" || !slices.Equal(targets(), []string{"east-1", "east-2"}) || !f.hasConfigMap("east-2") {
		t.Errorf("a refused inventory change rejected the revision or moved east-2: %+v, targets %v", st, targets())
	}
	if n := metricOrZero(api, `tmc_reconciles_total{result="invalid_inventory"}`); n < 1 {
		t.Errorf("tmc_reconciles_total{result=\"invalid_inventory\"} is %v", n)
	}
	if n := metricOrZero(api, `tmc_reconciles_total{result="invalid_revision"}`); n != 0 {
		t.Errorf("tmc_reconciles_total{result=\"invalid_revision\"} is %v", n)
	}
	f.setProperty("east-2", "topology.kubernetes.io/region", "eu")
	eventually(t, "the inventory taken again", 30*time.Second, func() (bool, string) {
		st.InventoryError = ""
		api.get("/api/v1/workspaces", &st)
		return st.InventoryError == "", st.InventoryError
	})

	// A deleted profile: kept for the grace, then pruned, then forgotten.
	ri := f.hub.Resource(profileGVR).Namespace("fleet")
	if err := ri.Delete(context.Background(), "east-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // within the grace (one health interval, two reads)
	if !f.hasConfigMap("east-1") {
		t.Fatalf("east-1 was pruned as soon as its profile went")
	}
	eventually(t, "east-1's objects are pruned", 60*time.Second, func() (bool, string) {
		return !f.hasConfigMap("east-1"), fmt.Sprint(targets())
	})
	eventually(t, "east-1 is forgotten", 30*time.Second, func() (bool, string) {
		return metricValue(t, api, `tmc_inventory_clusters{state="departing"}`) == 0 && metricValue(t, api, `tmc_inventory_clusters{state="present"}`) == 2, ""
	})

	// An inventory emptied at once, then unreadable: nothing is pruned.
	for _, n := range []string{"east-2", "west-1"} {
		if err := ri.Delete(context.Background(), n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "empty reads", 30*time.Second, func() (bool, string) {
		return metricOrZero(api, `tmc_inventory_reads_total{result="empty"}`) >= 3, ""
	})
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	crd.SetName("clusterprofiles.multicluster.x-k8s.io")
	if err := f.cs.Get("hub").Client.Delete(context.Background(), crd); err != nil {
		t.Fatal(err)
	}
	eventually(t, "failing reads", 30*time.Second, func() (bool, string) {
		return metricOrZero(api, `tmc_inventory_reads_total{result="error"}`) >= 3, ""
	})
	if !f.hasConfigMap("east-2") || !slices.Equal(targets(), []string{"east-2"}) {
		t.Errorf("an empty or failing inventory pruned east-2 or moved it out: targets %v", targets())
	}
	if metricValue(t, api, `tmc_inventory_clusters{state="present"}`) != 2 {
		t.Errorf("the last good inventory is not kept")
	}
}

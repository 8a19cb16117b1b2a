package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/test/harness"
)

// TestSyncJudgesEachWorkspaceOnItsOwnTargets runs tmc sync on five API
// servers with three workspaces of disjoint placements and one whose
// placement selects nothing. Cutting one cluster turns only the workspace
// targeting it to Error (its message names that cluster); the others stay
// Active, /healthz names the one workspace, the alert expression's series
// for workspaces in error is one, the scheduler retries only that
// workspace, and the clusters of the others see fewer LISTs than those of
// the workspace retried. tmc status and tmc plan --workspace on the same
// tree agree.
func TestSyncJudgesEachWorkspaceOnItsOwnTargets(t *testing.T) {
	ctx := context.Background()
	names := []string{"a1", "a2", "b1", "b2", "c1"}
	cs := harness.StartT(t, names...)
	proxy := harness.ProxyT(t, cs.Get("b1"))
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := cs.WriteKubeconfig(kubeconfig, map[string]string{"b1": "https://" + proxy.Addr}); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(dir, "repo")
	h := "apiVersion: tmc.kcp.io/v1alpha1\n"
	files := map[string]string{
		"config.yaml": h + "kind: Config\nmetadata: {name: tmc}\nspec: {aggregationEnabled: false}\n",
	}
	var clusters strings.Builder
	for _, n := range names {
		fmt.Fprintf(&clusters, "---\n%skind: Cluster\nmetadata: {name: %s}\nspec: {healthCheckTimeout: 2s}\n", h, n)
	}
	files["clusters.yaml"] = clusters.String()
	for ws, targets := range map[string]string{"wa": "[a1, a2]", "wb": "[b1, b2]", "wc": "[c1]"} {
		files["workspaces/"+ws+".yaml"] = h + "kind: VirtualWorkspace\nmetadata: {name: " + ws + "}\nspec:\n  placement: {clusters: " + targets + "}\n  sources: [{path: apps/" + ws + "}]\n"
		files["apps/"+ws+"/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + ws + "-config, namespace: default}\ndata: {a: b}\n"
	}
	files["workspaces/nowhere.yaml"] = h + "kind: VirtualWorkspace\nmetadata: {name: nowhere}\nspec:\n  placement: {clusterSelector: {matchLabels: {no: such}}}\n  sources: [{path: apps/wa}]\n"
	writeRepo(t, repo, files)
	gitInit(t, repo)
	addr := freePort(t)
	_, logs := startTMC(t, "tmc sync", "sync", "--repo", repo, "--branch", "main", "--kubeconfig", kubeconfig, "--workdir", t.TempDir(),
		"--interval", "1s", "--health-interval", "1s", "--listen", addr, "--request-timeout", "3s", "--no-push-reports")
	api := syncAPI{base: "http://" + addr}
	phases := func() (map[string]string, map[string]string, string) {
		var w wsAPI
		_, body := api.get("/api/v1/workspaces", &w)
		ph, msg := map[string]string{}, map[string]string{}
		for _, ws := range w.Workspaces {
			ph[ws.Name], msg[ws.Name] = ws.Status, ws.Message
		}
		return ph, msg, body
	}
	eventually(t, "every workspace Active", 90*time.Second, func() (bool, string) {
		ph, _, body := phases()
		return ph["wa"] == "Active" && ph["wb"] == "Active" && ph["wc"] == "Active" && ph["nowhere"] == "Active", body
	})
	proxy.Cut()
	eventually(t, "only wb in Error, naming b1", 30*time.Second, func() (bool, string) {
		ph, msg, body := phases()
		return ph["wb"] == "Error" && strings.Contains(msg["wb"], "b1") && !strings.Contains(msg["wb"], "a1"), body
	})
	listsOf := func(cluster string) int {
		_, m := api.get("/metrics", nil)
		re := regexp.MustCompile(`tmc_api_requests_total\{cluster="` + cluster + `",verb="list"\} (\d+)`)
		if s := re.FindStringSubmatch(m); s != nil {
			n, _ := strconv.Atoi(s[1])
			return n
		}
		return 0
	}
	a0, b0 := listsOf("a1"), listsOf("b2")
	time.Sleep(6 * time.Second) // six intervals with b1 cut
	a, b := listsOf("a1")-a0, listsOf("b2")-b0
	ph, msg, body := phases()
	for ws, want := range map[string]string{"wa": "Active", "wb": "Error", "wc": "Active", "nowhere": "Active"} {
		if ph[ws] != want {
			t.Errorf("%s: %s (%s), want %s", ws, ph[ws], msg[ws], want)
		}
	}
	if !strings.Contains(msg["wb"], "target clusters unreachable: b1") {
		t.Errorf("wb's message %q should name b1", msg["wb"])
	}
	var hz struct{ Status, Message string }
	api.get("/healthz", &hz)
	if hz.Status != "degraded" || !strings.Contains(hz.Message, "root/wb") || strings.Contains(hz.Message, "root/wa") || strings.Contains(hz.Message, "root/wc") {
		t.Errorf("/healthz %+v: want degraded naming root/wb only", hz)
	}
	_, metrics := api.get("/metrics", nil)
	inError := regexp.MustCompile(`(?m)^tmc_workspace_status\{[^}]*status="error"[^}]*\} 1$`).FindAllString(metrics, -1)
	if len(inError) != 1 || !strings.Contains(inError[0], `workspace="wb"`) {
		t.Errorf("series of workspaces in error: %q, want wb's alone", inError)
	}
	if !strings.Contains(logs.String(), "retrying 1 workspaces in error") {
		t.Errorf("the scheduler should retry only wb:\n%s", logs.String())
	}
	if a >= b {
		t.Errorf("LISTs in six intervals: %d on a1 (its workspace converged, watched) vs %d on b2 (its workspace retried): want fewer on a1", a, b)
	}
	t.Logf("LISTs in six intervals with b1 cut: a1 %d, b2 %d", a, b)

	// The CLI on the same tree says the same: one function builds both.
	out, _, code := tmc(t, "status", repo, "--kubeconfig", kubeconfig, "-o", "json")
	if code != 1 || !strings.Contains(out, `"name": "wb"`) {
		t.Fatalf("tmc status: exit %d (want 1: wb is in Error)\n%s", code, out)
	}
	type tc struct {
		Name               string
		Healthy, Reachable bool
	}
	type ws struct {
		Name, Status, Message string
		TargetClusters        []tc
	}
	var cli, srv struct{ Workspaces []ws }
	if err := json.Unmarshal([]byte(out), &cli); err != nil {
		t.Fatal(err)
	}
	_, apiBody := api.get("/api/v1/workspaces", &srv)
	if diff := cmp.Diff(cli.Workspaces, srv.Workspaces); diff != "" {
		t.Errorf("tmc status and tmc sync disagree (-cli +sync):\n%s\n%s", diff, apiBody)
	}
	for _, ws := range []string{"wa", "wc"} {
		if _, _, code := tmc(t, "plan", repo, "--workspace", ws, "--detailed-exitcode", "--kubeconfig", kubeconfig); code != 0 {
			t.Errorf("tmc plan --workspace %s: exit %d: b1 is not its cluster", ws, code)
		}
	}
	if _, _, code := tmc(t, "plan", repo, "--workspace", "wb", "--detailed-exitcode", "--kubeconfig", kubeconfig); code != 1 {
		t.Errorf("tmc plan --workspace wb: exit %d, want 1", code)
	}
	_ = ctx
	_ = body
	_ = http.StatusOK
}

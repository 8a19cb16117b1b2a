package e2e

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kcp-dev/tmc/test/harness"
)

// writeRepo writes files under dir.
func writeRepo(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// gitInit makes dir a git repository with everything in it committed on main.
func gitInit(t *testing.T, dir string) {
	t.Helper()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "user.name=e2e", "-c", "user.email=e2e@example.com", "commit", "-qm", "policies"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// waitReady waits until tmc sync on addr has finished its first reconcile.
func waitReady(t *testing.T, addr string) {
	t.Helper()
	eventually(t, "tmc sync is ready", 90*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
}

// noCanary fails when any output or file holds the Secret's value, plain
// or base64.
func noCanary(t *testing.T, what, s string) {
	t.Helper()
	for _, v := range []string{taintCanary, base64.StdEncoding.EncodeToString([]byte(taintCanary))} {
		if strings.Contains(s, v) {
			t.Fatalf("%s shows the Secret's value:\n%s", what, s)
		}
	}
}

const taintCanary = "czNjcmV0-kube-system-token"

// TestSecretTaintLiveSourceAndAggregation attacks the taint rule on real API
// servers: another team's Secret in kube-system of a source cluster, read as
// a live source and by a Selected AggregationPolicy. Changing its kind is a
// validation error; a conditional guessing at its value never fires and its
// errors quote nothing; plan (text, markdown, JSON, --out) and the reports
// committed to git never hold the value.
func TestSecretTaintLiveSourceAndAggregation(t *testing.T) {
	ctx := context.Background()
	cs := harness.StartT(t, "hub", "t1")
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "team-token", Labels: map[string]string{"team": "c"}},
		Data: map[string][]byte{"password": []byte(taintCanary)}}
	for _, c := range []string{"hub", "t1"} {
		if err := cs.Get(c).Client.Create(ctx, sec.DeepCopy()); err != nil {
			t.Fatal(err)
		}
	}
	h := "apiVersion: tmc.kcp.io/v1alpha1\n"
	files := map[string]string{
		"clusters.yaml": h + "kind: Cluster\nmetadata: {name: hub}\nspec: {projectionEnabled: false}\n---\n" + h + "kind: Cluster\nmetadata: {name: t1}\n",
		"ws.yaml": h + "kind: VirtualWorkspace\nmetadata: {name: steal}\nspec:\n  placement: {clusters: [t1]}\n  sources:\n    - cluster: hub\n      resourceSelectors: [{version: v1, kind: Secret, fieldSelector: metadata.namespace=kube-system}]\n" +
			"  projectionPolicies: [guess]\n  aggregationPolicies: [secrets]\n",
		"pp.yaml": h + "kind: ProjectionPolicy\nmetadata: {name: guess}\nspec:\n  resourceSelectors: [{kind: Secret}]\n  transformations:\n" +
			"    - {type: Set, jsonPath: metadata.namespace, value: default}\n" +
			"    - {type: Set, jsonPath: metadata.labels.guess, value: hit, conditional: 'resource.data.password startsWith \"" + base64.StdEncoding.EncodeToString([]byte("czNj"))[:4] + "\"'}\n",
		"ap.yaml": h + "kind: AggregationPolicy\nmetadata: {name: secrets}\nspec:\n  gvk: {version: v1, kind: Secret}\n  scope: Selected\n  namespaces: [kube-system]\n  transformations:\n" +
			"    - {type: Set, jsonPath: metadata.annotations.copied, value: x, conditional: 'int(resource.data.password) > 0'}\n",
	}
	dir := t.TempDir()
	writeRepo(t, dir, files)
	run := func(args ...string) (string, int) {
		t.Helper()
		out, errOut, code := tmc(t, append(args, "--kubeconfig", cs.KubeconfigPath)...)
		noCanary(t, "tmc "+strings.Join(args, " "), out+errOut)
		return out + errOut, code
	}

	// Changing the kind, the first way out, is refused.
	bad := t.TempDir()
	files2 := map[string]string{}
	for k, v := range files {
		files2[k] = v
	}
	files2["pp.yaml"] = strings.Replace(files["pp.yaml"], "    - {type: Set, jsonPath: metadata.namespace, value: default}\n", "    - {type: Set, jsonPath: kind, value: ConfigMap}\n", 1)
	writeRepo(t, bad, files2)
	if out, code := run("plan", bad); code != 1 || !strings.Contains(out, "pp.yaml:") || !strings.Contains(out, "a transformation may not change kind") {
		t.Fatalf("plan with Set kind: exit %d\n%s", code, out)
	}

	// The plan in every format: the guess never fires, the value never shows.
	planFile := filepath.Join(t.TempDir(), "plan.json")
	for _, o := range []string{"text", "markdown", "json"} {
		out, code := run("plan", "-o", o, "--out", planFile, dir)
		if code != 0 || !strings.Contains(out, "team-token") {
			t.Fatalf("plan -o %s: exit %d\n%s", o, code, out)
		}
		if strings.Contains(out, "guess") && strings.Contains(out, "hit") {
			t.Errorf("plan -o %s: the guarded label was set:\n%s", o, out)
		}
		saved, _ := os.ReadFile(planFile)
		noCanary(t, "the saved plan", string(saved))
	}
	// Aggregation: the failing conditional's error withholds the value, and
	// the reports committed to git hold none of it.
	gitInit(t, dir)
	if out, _ := run("aggregate", "-o", "json", dir); !strings.Contains(out, "the error is withheld") {
		t.Errorf("aggregate: want the conditional's error withheld:\n%s", out)
	}
	// A guess that does not fail: it never fires, and the report names the
	// Secret with its values masked.
	writeRepo(t, dir, map[string]string{"ap.yaml": strings.Replace(files["ap.yaml"], "int(resource.data.password) > 0", "resource.data.password startsWith \"Y3pO\"", 1)})
	if out, code := run("aggregate", "--write-reports", "--commit", dir); code > 1 {
		t.Fatalf("aggregate --commit: exit %d\n%s", code, out)
	}
	found := 0
	_ = filepath.WalkDir(filepath.Join(dir, "reports"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			noCanary(t, p, string(b))
			found++
		}
		return nil
	})
	if found == 0 {
		t.Fatal("no report was written")
	}
	cmd := exec.Command("git", "log", "-p", "--all", "--", "reports")
	cmd.Dir = dir
	log, _ := cmd.CombinedOutput()
	noCanary(t, "git history", string(log))
	if !strings.Contains(string(log), "team-token") || strings.Contains(string(log), "copied") {
		t.Errorf("the report should name the Secret it aggregated, without the guarded annotation:\n%s", log)
	}
}

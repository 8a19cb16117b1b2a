package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcp-dev/tmc/test/harness"
)

const publishedRepo = `apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: east}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: west}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: edge}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: monitoring}
spec:
  sources: [{path: kube-prometheus/manifests}, {path: big}]
  prune: true
`

// TestPublishedManifestsConverge: kube-prometheus's published manifests, as
// vendored — ten CRDs of up to 0.8 MB and their custom resources in one
// source, RoleList and RoleBindingList documents, a 1 MB ConfigMapList, and
// an APIService whose backend never runs (so discovery of its group fails)
// — and a 1 MB ConfigMap converge on three real API servers in one apply; afterwards the second
// plan is empty and kubectl diff --server-side shows nothing.
func TestPublishedManifestsConverge(t *testing.T) {
	cs := harness.StartT(t, "east", "west", "edge")
	dir := t.TempDir()
	// And a ConfigMap of 1 MB: about as large as the API server lets one be (1 MiB of data).
	writeRepo(t, dir, map[string]string{"policies.yaml": publishedRepo,
		"big/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, namespace: monitoring}\ndata:\n  blob: " + strings.Repeat("x", 1040000) + "\n"})
	if err := os.CopyFS(filepath.Join(dir, "kube-prometheus"), os.DirFS("testdata/kube-prometheus")); err != nil {
		t.Fatal(err)
	}
	run := func(wantCodes []int, args ...string) (string, string) {
		t.Helper()
		start := time.Now()
		out, errOut, code := tmc(t, append(args, "--kubeconfig", cs.KubeconfigPath)...)
		t.Logf("tmc %s: exit %d in %s", args[0], code, time.Since(start).Round(time.Millisecond))
		ok := false
		for _, c := range wantCodes {
			ok = ok || c == code
		}
		if !ok {
			t.Fatalf("tmc %v: exit %d\n%s\n%s", args, code, tail(out), tail(errOut))
		}
		return out, errOut
	}
	run([]int{0}, "apply", dir)
	out, _ := run([]int{0}, "plan", "-o", "json", dir)
	if changed := planOf(t, out).changed(); len(changed) != 0 {
		t.Errorf("second plan not empty: %v", changed)
	}
	// kubectl sees no difference either, on every cluster.
	assets, err := harness.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := func(c string, args ...string) string {
		t.Helper()
		b, err := exec.Command(filepath.Join(assets, "kubectl"), append([]string{"--kubeconfig", cs.KubeconfigPath, "--context", c}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v on %s: %v\n%s", args, c, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	for _, c := range []string{"east", "west", "edge"} {
		// What each kind of document became: an item of a RoleList, of the
		// ConfigMapList, a custom resource next to its CRD, the APIService
		// — whose backend never runs, so its group's discovery fails.
		for _, get := range [][]string{{"-n", "kube-system", "get", "role", "prometheus-k8s"}, {"-n", "monitoring", "get", "configmap", "grafana-dashboard-apiserver"},
			{"-n", "monitoring", "get", "prometheus", "k8s"}, {"get", "crd", "prometheuses.monitoring.coreos.com"}, {"-n", "monitoring", "get", "configmap", "big"}} {
			kubectl(c, append(get, "-o", "name")...)
		}
		if got := kubectl(c, "get", "apiservice", "v1beta1.metrics.k8s.io", "-o", `jsonpath={.status.conditions[?(@.type=="Available")].status}`); got == "True" {
			t.Errorf("%s: the metrics APIService is available; the test needs it down", c)
		}
	}
	desired := desiredFor(t, dir, cs.KubeconfigPath)
	for _, c := range []string{"east", "west", "edge"} {
		cmd := exec.Command(filepath.Join(assets, "kubectl"), "--kubeconfig", cs.KubeconfigPath, "--context", c, "diff", "--server-side", "--field-manager", "tmc", "-f", "-")
		cmd.Stdin = bytes.NewReader(desired[c])
		b, err := cmd.CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(b))) > 0 {
			t.Errorf("kubectl diff --server-side on %s: %v\n%s", c, err, tail(string(b)))
		}
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/chart"
	"github.com/kcp-dev/tmc/test/harness"
)

const chartE2ERepo = `apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: east}
spec: {capacity: {cpu: "16"}}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: west}
spec: {capacity: {cpu: "8"}}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: edge}
spec: {type: edge, capacity: {cpu: "2"}}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: podinfo}
spec:
  sources:
    - path: namespace
    - chart:
        path: charts/podinfo
        namespace: podinfo
        values: {redis: {enabled: true}}
        clusterValues:
          - {type: Set, jsonPath: replicaCount, value: 3, conditional: "cluster.capacity.cpu > 4"}
          - {type: Template, jsonPath: ui.message, value: "served from {{.TargetCluster}}"}
    - chart:
        path: charts/secret
        releaseName: credentials
        namespace: podinfo
  prune: true
`

// TestHelmChartOnThreeClusters: the vendored podinfo chart and a chart that
// generates a password with randAlphaNum render, plan and apply on three
// real API servers with per-cluster values from facts; tmc plan shows the
// chart's objects like any others; the second plan is empty; a render
// twice is byte-identical.
func TestHelmChartOnThreeClusters(t *testing.T) {
	ctx := context.Background()
	cs := harness.StartT(t, "east", "west", "edge")
	for name, cpu := range map[string]string{"east": "16", "west": "8", "edge": "2"} {
		if _, err := cs.Get(name).CreateNode(ctx, harness.NodeSpec{Name: name + "-n1", CPU: cpu, Memory: "32Gi", Pods: "110"}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	writeRepo(t, dir, map[string]string{
		"policies.yaml":                        chartE2ERepo,
		"namespace/ns.yaml":                    "apiVersion: v1\nkind: Namespace\nmetadata: {name: podinfo}\n",
		"charts/secret/Chart.yaml":             "apiVersion: v2\nname: secret\nversion: 0.1.0\n",
		"charts/secret/templates/secret.yaml":  "apiVersion: v1\nkind: Secret\nmetadata: {name: {{ .Release.Name }}}\nstringData:\n  password: {{ randAlphaNum 20 | quote }}\n",
		"charts/secret/templates/NOTES.txt":    "The password is in the Secret {{ .Release.Name }}.\n",
		"charts/secret/templates/_helpers.tpl": "{{- define \"x\" -}}x{{- end -}}\n",
	})
	if err := os.CopyFS(filepath.Join(dir, "charts/podinfo"), os.DirFS("../../examples/policies/charts/podinfo")); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "chart.key")
	if err := os.WriteFile(keyFile, []byte("the operator's chart key, not in git\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(chart.EnvKeyFile, keyFile)
	run := func(args ...string) string {
		t.Helper()
		if args[0] != "render" {
			args = append(args, "--kubeconfig", cs.KubeconfigPath)
		}
		out, errOut, code := tmc(t, args...)
		if code != 0 && !(args[0] == "plan" && code == 2) {
			t.Fatalf("tmc %v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		return out
	}

	// A render twice is byte-identical, the generated password included.
	if a, b := run("render", dir), run("render", dir); a != b || !strings.Contains(a, "password: ") {
		t.Fatalf("two renders differ or lack the password")
	}
	explain := run("render", "--explain", dir)
	for _, want := range []string{"chart charts/podinfo (sha256 ", `"ui":{"message":"served from edge"`, "clusterValues[0] Set replicaCount = 3: created (when `cluster.capacity.cpu > 4`; cluster.capacity.cpu=16)", "dropped test hook podinfo/templates/tests/"} {
		if !strings.Contains(explain, want) {
			t.Errorf("render --explain lacks %q:\n%s", want, explain)
		}
	}
	text := run("plan", dir)
	for _, want := range []string{"Deployment/podinfo/podinfo", "Deployment/podinfo/podinfo-redis", "Secret/podinfo/credentials"} {
		if !strings.Contains(text, want) {
			t.Errorf("tmc plan does not show %s:\n%s", want, text)
		}
	}
	run("apply", dir)
	if p := planOf(t, run("plan", "-o", "json", dir)); len(p.changed()) != 0 {
		t.Errorf("second plan not empty: %v", p.changed())
	}
	for c, want := range map[string]int32{"east": 3, "west": 3, "edge": 1} {
		d := &appsv1.Deployment{}
		if err := cs.Get(c).Client.Get(ctx, client.ObjectKey{Namespace: "podinfo", Name: "podinfo"}, d); err != nil {
			t.Fatal(err)
		}
		var msg string
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "PODINFO_UI_MESSAGE" {
				msg = e.Value
			}
		}
		if *d.Spec.Replicas != want || msg != "served from "+c {
			t.Errorf("%s: replicas %d (want %d), message %q", c, *d.Spec.Replicas, want, msg)
		}
	}
	// One generated password per cluster, the same after a second apply.
	passwords := func() map[string]string {
		out := map[string]string{}
		for _, c := range []string{"east", "west", "edge"} {
			s := &corev1.Secret{}
			if err := cs.Get(c).Client.Get(ctx, client.ObjectKey{Namespace: "podinfo", Name: "credentials"}, s); err != nil {
				t.Fatal(err)
			}
			out[c] = string(s.Data["password"])
		}
		return out
	}
	pw := passwords()
	if pw["east"] == pw["west"] || len(pw["east"]) != 20 {
		t.Errorf("passwords: %v", pw)
	}
	run("apply", dir)
	again := passwords()
	if diff := cmp.Diff(pw, again); diff != "" {
		t.Errorf("a second apply changed the passwords (-first +second):\n%s", diff)
	}

	// What the chart stops rendering is pruned like any other object.
	writeRepo(t, dir, map[string]string{"policies.yaml": strings.Replace(chartE2ERepo, "values: {redis: {enabled: true}}", "values: {redis: {enabled: false}}", 1)})
	var deletes []string
	for _, c := range planOf(t, run("plan", "-o", "json", dir)).changed() {
		if strings.Contains(c, " delete ") {
			deletes = append(deletes, c)
		}
	}
	if len(deletes) != 9 { // the redis ConfigMap, Service and Deployment on each of three clusters
		t.Errorf("deletes planned: %v", deletes)
	}
	run("apply", dir)
	for _, c := range []string{"east", "west", "edge"} {
		if exists(t, cs.Get(c), &appsv1.Deployment{}, "podinfo", "podinfo-redis") {
			t.Errorf("%s: podinfo-redis not pruned", c)
		}
	}
}

func planOf(t *testing.T, out string) planJSON {
	t.Helper()
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, out)
	}
	return p
}
